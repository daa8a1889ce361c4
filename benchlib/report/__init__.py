"""Stage 3, the report: REPORT.md and the files beside it that it links to, in three steps with named
data between them:

    collect.py   the results folder -> LocalRow per profile (its runs, states, outcomes per problem)
    analysis.py  rows -> Analysis (outcomes.py per run, comparisons.py per pair, statistics.py the numbers):
                 intervals, paired comparisons (one primary per pair, Holm), verdicts at the margin, standings among
                 the published scores, the self-test's check, where profiles disagree
    markdown.py  REPORT.md, PROBLEMS.md, problems.csv, COMPARISONS.md   } each renders from the same rows
    summary.py   summary.json                                          } and Analysis; none computes a
    charts.py    charts/*.svg                                          } statistic of its own
    page.py      report.html: all of it browsable, down to each answer }
                 (highlight.py: its code highlighting; assets/: its template, script and style)
    leaderboard.py  the published scores (reference-scores.json)

Everything is computed from the files `results.report_inputs` lists (the report task's up-to-date check).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..config import Profile
from ..results import DATASET_KEYS, ReportFiles, RunKey, parse_run_key, run_key
from ..storage import atomic_write_text
from .provenance import mismatches_of, provenance_of
from .analysis import (COMBINED, MARGIN, Analysis, Curve, ProfileResults, ThinkingLength, agreement, analyse,
                       curve_point, thinking_length)
from .collect import LocalRow, collect_local, is_budget, is_curve, is_subset

__all__ = ["write_report", "analyse_rows", "REPORT_VERSION"]

REPORT_VERSION = 9  # bump with any change to what the report shows


def _run_order(key: str) -> tuple:
    """Full datasets first (in the registry's order, each followed by its reasoning-budget run), then subsets."""
    if key == COMBINED:
        return False, len(DATASET_KEYS), 0, key
    parsed = parse_run_key(key) or RunKey(key)
    index = DATASET_KEYS.index(parsed.dataset) if parsed.dataset in DATASET_KEYS else len(DATASET_KEYS)
    return is_subset(key), index, parsed.budget, key


def analyse_rows(rows: list[LocalRow], published: list, margin: float = MARGIN) -> Analysis:
    """The analysis of the collected rows: every run folder with evaluated results, in the report's order."""
    from ..datasets import DATASETS

    keys = sorted({key for row in rows for key in row.results if not is_curve(key)}, key=_run_order)
    evaluated = {key: [row.results[key] for row in rows if key in row.results] for key in keys}
    leaderboard = {key: spec.leaderboard + "+" for key, spec in DATASETS.items() if spec.leaderboard}
    together = _together(rows, list(leaderboard))
    if together:
        evaluated[COMBINED] = together
    analysis = analyse(evaluated, published, {k for k in keys if is_subset(k)}, leaderboard,
                       references={row.profile: row.reference for row in rows if row.reference}, margin=margin)
    by_name = {row.profile: row for row in rows}
    analysis.agreements = [replace(agreement(result, reference.results[key]), run=key)
                           for row in rows if (reference := by_name.get(row.reference)) is not None
                           for key, result in row.results.items() if key in reference.results and not is_subset(key)]
    analysis.thinking = _thinking(rows)
    analysis.curves = _curves(rows)
    analysis.provenance = provenance_of(rows)
    for run in analysis.runs:
        profiles = {r.profile for r in run.results}
        run.made = [p for p in analysis.provenance if p.run == run.key and p.profile in profiles]
        run.mismatches = mismatches_of([(run.key, c.a, c.b) for c in run.comparisons["plus"]], analysis.provenance)
    return analysis


def _curves(rows: list[LocalRow]) -> list[Curve]:
    """Each reasoning model's thinking-budget curve per long run: its points (curve run folders), the long run
    as the last point, the leaderboard's row beside them, and what the curve cost."""
    curves = []
    for row in rows:
        records = {run.key: run for run in row.runs}
        grouped: dict[str, list[int]] = {}
        for key in row.results:
            parsed = parse_run_key(key)
            if parsed and parsed.think:
                grouped.setdefault(run_key(parsed.dataset, parsed.subset, parsed.budget), []).append(parsed.think)
        for long_key, budgets in grouped.items():
            parsed = parse_run_key(long_key)
            main_key = run_key(parsed.dataset, parsed.subset)
            at = {b: run_key(parsed.dataset, parsed.subset, parsed.budget, b) for b in sorted(budgets)}
            points = [curve_point(b, row.results[key]) for b, key in at.items()]
            if long_key in row.results:
                points.append(curve_point(parsed.budget, row.results[long_key], long=True))
            costs = [records[key].generation.curve for key in at.values() if key in records]
            total = lambda name: sum(int(c.get(name) or 0) for c in costs)  # noqa: E731
            main = row.results.get(main_key)
            curves.append(Curve(row.profile, long_key, main_key, points, main.score("plus") if main else None,
                                total("decoded"), total("prefilled"), total("separate_run_tokens")))
    return curves


def _thinking(rows: list[LocalRow]) -> list[ThinkingLength]:
    """Per reasoning model and run (not its long run: that is where the tokens come from), how long it thinks
    and, with a reference profile, how much longer than the reference."""
    def source(row: LocalRow, key: str):
        runs = {run.key: run for run in row.runs}
        run = runs.get(key)
        if run is None or is_budget(key):
            return None
        long = run.generation.reasoning_budget
        counted = runs.get(long.folder) if long and long.folder in runs else run
        return counted if counted.generation.reasoning.get("detected") else None

    by_name = {row.profile: row for row in rows}
    found = []
    for row in rows:
        for run in row.runs:
            counted = source(row, run.key)
            if counted is None:
                continue
            reference = by_name.get(row.reference)
            theirs = source(reference, run.key) if reference is not None else None
            found.append(thinking_length(row.profile, run.key, counted.key, counted.generation.reasoning,
                                         int(counted.evaluated.get("n_samples") or 0),
                                         (reference.profile, theirs.generation.reasoning) if theirs else None))
    return found


def _together(rows: list[LocalRow], keys: list[str]) -> list[ProfileResults]:
    """Each model profile with results on every full dataset (HumanEval+ and MBPP+), as one run over all
    their problems: the larger sample for comparisons. A profile whose parts are not all greedy or all
    sampled is left out (a pooled row never mixes the two measurements); each problem keeps its own answers.
    [] unless two or more have them all."""
    both = [row for row in rows if all(key in row.results and not row.results[key].self_test for key in keys)
            and len({row.results[key].sampled for key in keys}) == 1]
    if len(keys) < 2 or len(both) < 2:
        return []
    merged = []
    for row in both:
        parts = [row.results[key] for key in keys]
        prefixed = lambda field: {f"{p.dataset}:{t}": v for p in parts for t, v in getattr(p, field).items()}  # noqa: E731
        merged.append(replace(
            parts[0], dataset=COMBINED, dataset_md5="+".join(p.dataset_md5 for p in parts),
            outcomes=prefixed("outcomes"), rates=prefixed("rates"), answer_outcomes=prefixed("answer_outcomes"),
            answer_indices=prefixed("answer_indices"), answer_digests=prefixed("answer_digests"),
            first_answers=prefixed("first_answers"), answers=max(p.answers for p in parts),
            sampling=parts[0].sampling if all(p.sampling == parts[0].sampling for p in parts) else None))
    return merged


def write_report(profiles: dict[str, Profile], results: Path, references: Path,
                 prompts: Callable[[str, str], dict[str, str] | None] | None = None, cache: Path | None = None,
                 margin: float = MARGIN) -> None:
    """REPORT.md and the files beside it (`results.ReportFiles`), each written atomically. `prompts`
    finds the problems' prompts for report.html (`page.PromptSource`); `cache` keeps its highlighting."""
    from .charts import draw_charts
    from .highlight import MarkCache
    from .leaderboard import load_leaderboard
    from .markdown import render_comparisons, render_problems, render_report
    from .page import render_page
    from .summary import render_summary

    log = logging.getLogger("benchlib")
    files = ReportFiles(Path(results))
    meta, published = load_leaderboard(references)
    rows = collect_local(profiles, results)
    analysis = analyse_rows(rows, published, margin)
    try:
        charts = draw_charts(analysis, published, files.charts)
    except Exception as exc:  # noqa: BLE001 - a chart must never cost the user the report
        charts = []
        log.warning(f"REPORT.md: charts could not be drawn ({type(exc).__name__}: {exc})")
    problems_text, problems_rows = render_problems(analysis)
    atomic_write_text(files.problems, problems_text)
    atomic_write_text(files.problems_csv, problems_rows)
    atomic_write_text(files.comparisons, render_comparisons(analysis))
    atomic_write_text(files.summary, render_summary(rows, analysis))
    page_written = False
    try:
        started = time.monotonic()
        highlight = MarkCache(Path(cache) / "highlight.json" if cache else None)
        page = render_page(rows, analysis, charts, lru_cache(maxsize=None)(prompts or (lambda key, md5: None)),
                           highlight)
        atomic_write_text(files.page, page)
        page_written = True
        highlight.save()
        log.debug(f"{files.page}: {len(page.encode()) / 1e6:.1f} MB in {time.monotonic() - started:.1f} s "
                  f"({highlight.lexed} answers highlighted, the others cached)")
    except Exception as exc:  # noqa: BLE001 - the page must never cost the user REPORT.md
        tip = (" (it needs Jinja2 and Pygments, benchlib's dependencies: `pip install -e .` installs them)"
               if isinstance(exc, ImportError) else "")
        log.warning(f"{files.page} could not be written ({type(exc).__name__}: {exc}){tip}; the old one is removed")
        files.page.unlink(missing_ok=True)
    text = render_report(rows, analysis, meta, published,
                         [(str(Path(p).relative_to(results)), alt) for p, alt in charts],
                         page=files.page.name if page_written else None)
    atomic_write_text(files.report, text)
