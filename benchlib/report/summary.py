"""summary.json: the report's content, machine-readable, rendered from the same rows and analysis."""

from __future__ import annotations

import json

from dataclasses import asdict

from .. import __version__
from ..results import utc_now
from .analysis import Analysis, Comparison
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
    comparisons = {run.key: {phase: [_comparison(c) for c in items] for phase, items in run.comparisons.items()}
                   for run in analysis.runs}
    extra = {**({"thinking": [_rounded(asdict(t)) for t in analysis.thinking]} if analysis.thinking else {}),
             **({"curves": [_rounded(asdict(c)) for c in analysis.curves]} if analysis.curves else {}),
             **({"provenance": [asdict(p) for p in analysis.provenance],
                 "made_by_different_servers": [asdict(m) for run in analysis.runs for m in run.mismatches]}
                if analysis.provenance else {})}
    return json.dumps({"generated": utc_now(), "benchlib": __version__, "profiles": profiles,
                       "comparisons": comparisons, **extra}, indent=1) + "\n"


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def _comparison(c: Comparison) -> dict:
    """One comparison as data: every field of it (README, *Reading the report*, says what each means)."""
    return {**_rounded({k: v for k, v in asdict(c).items() if k != "problems"}),
            "significant": c.significant, "problems": c.problems}
