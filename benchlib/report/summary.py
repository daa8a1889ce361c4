"""summary.json: the report's content, machine-readable, rendered from the same rows and analysis."""

from __future__ import annotations

import json

from .. import __version__
from ..results import utc_now
from .analysis import Analysis
from .collect import LocalRow

__all__ = ["render_summary"]


def render_summary(rows: list[LocalRow], analysis: Analysis) -> str:
    profiles = []
    for row in rows:
        entry = {"profile": row.profile, "state": row.state, "reason": row.reason, "comparable": row.comparable,
                 "sandboxed": row.sandboxed, "datasets": {}}
        for key, result in row.results.items():
            entry["datasets"][key] = {
                "problems": result.n,
                "pass_at_1": {phase: round(result.score(phase), 2) for phase in ("base", "plus")},
                "interval95": {phase: [round(x, 2) for x in result.interval(phase)] for phase in ("base", "plus")},
                "categories": result.categories(), "exceptions": result.exceptions(),
                "tokens_per_second": result.tokens_per_second,
                **({"answers_per_problem": result.answers, "pass_at_k": result.pass_at_k} if result.sampled else {}),
                "host": row.details.get(key, {}).get("host"),
            }
        profiles.append(entry)
    comparisons = {run.key: {phase: [{"a": c.a, "b": c.b, "method": c.method, "only_a": c.only_a, "only_b": c.only_b,
                                      "difference": round(c.difference, 2),
                                      "interval95": [round(x, 2) for x in c.interval] if c.method != "exact McNemar" else None,
                                      "p": c.p, "p_holm": c.p_adjusted, "significant": c.significant,
                                      "detectable_80": round(c.detectable, 2), "for_3_points": c.answers_for,
                                      "problems": c.problems}
                                     for c in items] for phase, items in run.comparisons.items()}
                   for run in analysis.runs}
    return json.dumps({"generated": utc_now(), "benchlib": __version__, "profiles": profiles,
                       "comparisons": comparisons}, indent=1) + "\n"
