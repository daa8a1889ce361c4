"""results/REPORT.md, and the files beside it that it links to:

    REPORT.md        verdicts first (intervals, paired comparisons, published neighbours), then tables
    PROBLEMS.md      per problem and local profile: solved, or why not; disagreements first
    problems.csv     the same, one row per problem and profile
    COMPARISONS.md   every pair of local profiles (REPORT.md shows each against the best when there are many)
    summary.json     everything above, machine-readable
    charts/*.svg     the local profiles among their published neighbours; score against speed

Everything is computed from the files `results.report_inputs` lists (the report task's up-to-date check).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from . import __version__
from .analysis import CATEGORIES, Comparison, ProfileResults, classify, compare_all, published_interval, verdict
from .config import Profile
from .datasets import DATASETS, SELF_TEST
from .leaderboard import PublishedScore, load_leaderboard
from .prompt import LEADERBOARD_MAX_TOKENS
from .results import (DATASET_KEYS, ProfilePaths, parse_run_key, profile_names, profile_paths, read_manifest,
                      read_or_empty, read_status, report_files, run_keys, run_paths, utc_now)
from .servers import is_self_test
from .storage import atomic_write_text

__all__ = ["write_report", "collect_local", "LocalRow", "REPORT_VERSION"]

REPORT_VERSION = 6  # bump with any change to what the report shows


def _label(key: str, plus: bool = True) -> str:
    """`HumanEval+`, or `HumanEval+ subset of 20` for a subset run's folder."""
    dataset, subset = parse_run_key(key) or (key, 0)
    name = (DATASETS[dataset].label if dataset in DATASETS else dataset) + ("+" if plus else "")
    return f"{name} subset of {subset}" if subset else name


def _is_subset(key: str) -> bool:
    return bool((parse_run_key(key) or ("", 0))[1])
PAIRS_INLINE = 6  # up to this many pairs per dataset, REPORT.md lists them all; beyond, each against the best


@dataclass
class LocalRow:
    profile: str
    description: str = ""
    quant: str = ""
    scores: dict[str, float | None] = field(default_factory=dict)
    state: str = "not run"  # done | failed | not run | partial
    reason: str = ""
    date: str = ""
    comparable: bool = True
    sandboxed: bool = True  # False when any of its evaluations ran without isolation
    details: dict[str, dict] = field(default_factory=dict)  # per dataset: token limit hits, timings
    results: dict[str, ProfileResults] = field(default_factory=dict)  # per dataset, when evaluated


def _read_jsonl(path: Path) -> dict[str, dict]:
    records: dict[str, dict] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and "task_id" in record:
                    records.setdefault(record["task_id"], record)
    except OSError:
        pass
    return records


def _profile_results(name: str, key: str, evaluated: dict, generation: dict, comparable: bool,
                     self_test: bool) -> ProfileResults | None:
    try:
        per_task = evaluated["eval"]
        samples = _read_jsonl(Path(evaluated.get("samples", "")))
        outcomes = {task: classify(records[0], samples.get(task)) for task, records in per_task.items() if records}
    except (KeyError, TypeError, IndexError, AttributeError):
        return None
    return ProfileResults(profile=name, dataset=key, dataset_md5=evaluated.get("dataset", {}).get("md5", ""),
                          outcomes=outcomes, tokens_per_second=generation.get("tokens_per_second"),
                          sandboxed=evaluated.get("sandbox", {}).get("sandboxed", True), comparable=comparable,
                          self_test=self_test)


def _run_state(paths: ProfilePaths, evaluated: dict, status: dict) -> tuple[str, str]:
    """(state, reason) of one run folder: failed, done, partial or not run."""
    if status:
        return "failed", f"{status.get('stage')}: {status.get('reason')}"
    if evaluated:
        return "done", ""
    if paths.samples.exists():
        return "partial", "samples generated, not yet evaluated"
    if paths.samples_journal.exists():
        return "partial", "generation interrupted (rerun to resume)"
    return "not run", ""


def collect_local(profiles: dict[str, Profile], results: Path) -> list[LocalRow]:
    """One row per profile in models.conf, and per results folder whose profile was removed."""
    names = list(profiles) + [name for name in profile_names(results) if name not in profiles
                               and any(profile_paths(results, name, key).eval_results.exists() for key in DATASET_KEYS)]
    results = Path(results)
    rows = []
    for name in names:
        profile = profiles.get(name)
        row = LocalRow(profile=name, description=profile.description if profile else "(no longer in models.conf)",
                       quant=profile.quant_label if profile else "", comparable=profile.comparable if profile else True)
        for key in dict.fromkeys([*DATASET_KEYS, *run_keys(results, name)]):
            paths = run_paths(results, name, key)
            subset = _is_subset(key)
            evaluated = read_or_empty(paths.eval_results)
            status = read_status(paths)
            generation = read_manifest(paths).get("generation", {})
            if evaluated.get("pass_at_1"):
                if not subset:  # a subset's score is never ranked among full-dataset scores
                    row.scores[key] = evaluated["pass_at_1"]["base"]
                    row.scores[key + "+"] = evaluated["pass_at_1"]["plus"]
                    row.state = "done"
                    row.date = evaluated.get("date", "")[:10]
                elif row.state == "not run":
                    row.state = "done"
                row.sandboxed = row.sandboxed and evaluated.get("sandbox", {}).get("sandboxed", True)
                if generation.get("profile", {}).get("max_tokens") not in (None, LEADERBOARD_MAX_TOKENS):
                    row.comparable = False
                analysed = _profile_results(name, key, evaluated, generation, row.comparable,
                                            bool(profile and is_self_test(profile)))
                if analysed is not None:
                    row.results[key] = analysed
            state, reason = _run_state(paths, evaluated, status)
            if not subset and state in ("failed", "partial"):
                row.state, row.reason = state, reason
            if evaluated or generation or status:
                sandbox = evaluated.get("sandbox", {})
                row.details[key] = {
                    "state": state + (f": {reason}" if reason else ""),
                    "reused": generation.get("reuse"),
                    "pass@1": evaluated.get("pass_at_1"),
                    "hit_token_limit": generation.get("hit_token_limit"),
                    "empty_answers": generation.get("empty_answers"),
                    "gen_seconds": generation.get("seconds"),
                    "tokens_per_second": generation.get("tokens_per_second"),
                    "eval_seconds": evaluated.get("eval_seconds"),
                    "sandbox": sandbox.get("label") or sandbox.get("backend"),
                    "host": generation.get("server", {}).get("host"),
                }
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------------
# text pieces


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ci(interval: tuple[float, float]) -> str:
    return f"{interval[0]:.1f}–{interval[1]:.1f}"


def _sort_key(scores: dict) -> tuple:
    return (-(scores.get("humaneval+") if scores.get("humaneval+") is not None else -1),
            -(scores.get("mbpp+") if scores.get("mbpp+") is not None else -1))


def _evaluated(rows: list[LocalRow], key: str, self_tests: bool = False) -> list[ProfileResults]:
    """The evaluated profiles of a run folder: models only, unless `self_tests` (the reference profile's
    canonical solutions are a check of benchlib, not a model to compare)."""
    return [row.results[key] for row in rows if key in row.results and (self_tests or not row.results[key].self_test)]


def _keys(rows: list[LocalRow]) -> list[str]:
    """Every run folder with evaluated results: full datasets first, then subsets."""
    found = {key for row in rows for key in row.results}
    return sorted(found, key=lambda k: (_is_subset(k), DATASET_KEYS.index((parse_run_key(k) or (k, 0))[0]), k))


def _neighbours(result: ProfileResults, published: list[PublishedScore]) -> str:
    """Where a local profile stands among the published models (plus tests), by interval overlap."""
    key = f"{result.dataset}+"
    low, high = result.interval("plus")
    level, above, below = [], [], []
    for model in published:
        score = model.scores.get(key)
        if score is None:
            continue
        theirs = published_interval(score, result.n)
        if theirs[1] < low:
            below.append(model)
        elif theirs[0] > high:
            above.append(model)
        else:
            level.append(model)
    if not level and not above and not below:
        return "no published scores to compare with."
    parts = []
    if level:
        closest = sorted(level, key=lambda m: abs(m.scores[key] - result.score("plus")))[:3]
        names = ", ".join(f"{m.name} ({m.scores[key]:.1f})" for m in closest)
        parts.append(f"level with {len(level)} published model{'s' if len(level) != 1 else ''} (intervals overlap; "
                     f"closest: {names})")
    if above:
        parts.append(f"below {len(above)} (lowest of them: {min(above, key=lambda m: m.scores[key]).name})")
    if below:
        parts.append(f"above {len(below)} (highest of them: {max(below, key=lambda m: m.scores[key]).name})")
    return "; ".join(parts) + "."


def _family(comparisons: list[Comparison], results: list[ProfileResults]) -> tuple[list[Comparison], str]:
    """The comparisons REPORT.md shows: all pairs, or with many profiles each against the best."""
    if len(comparisons) <= PAIRS_INLINE:
        return comparisons, ""
    best = max(results, key=lambda r: r.solved("plus")).profile
    shown = [c for c in comparisons if best in (c.a, c.b)]
    return shown, (f"{len(results)} profiles: each against the best ({best}); every pair is in "
                   f"[COMPARISONS.md](COMPARISONS.md).")


def self_test_verdict(check: ProfileResults) -> str:
    """Whether the self-test failed exactly the problems its dataset file is known to fail (datasets.SELF_TEST)."""
    failing = {phase: {t for t, o in check.outcomes.items() if not getattr(o, phase)} for phase in ("base", "plus")}
    expectation = SELF_TEST.get(check.dataset_md5)
    if expectation is None:
        if not failing["plus"] and not failing["base"]:
            return "every canonical solution passes"
        names = ", ".join(sorted(failing["base"] | failing["plus"]))
        return f"no expectation is recorded for this dataset file; failing: {names} (see PROBLEMS.md)"
    known = {t: why for t, (phases, why) in expectation.fails.items() if t in check.outcomes}
    expected = {phase: {t for t in known if phase in expectation.fails[t][0]} for phase in ("base", "plus")}
    unexpected = sorted(f"{t} ({phase})" for phase in ("base", "plus") for t in failing[phase] - expected[phase])
    recovered = sorted(f"{t} ({phase})" for phase in ("base", "plus") for t in expected[phase] - failing[phase])
    if unexpected:
        return (f"**unexpected failures: {', '.join(unexpected)}**: a benchlib bug or a damaged dataset file "
                f"(see PROBLEMS.md and the profile's evaluation.log)")
    if recovered:
        return f"known failures of {expectation.file} now pass: {', '.join(recovered)} (worth a look)"
    if not known:
        return f"as expected for {expectation.file} (every canonical solution passes)"
    reasons = "; ".join(f"{t}{'' if len(expectation.fails[t][0]) == 2 else ' (' + expectation.fails[t][0][0] + ')'}: "
                        f"{why}" for t, why in known.items())
    return f"as expected for {expectation.file}, whose known failures are {reasons}"


def _verdicts(rows: list[LocalRow], published: list[PublishedScore]) -> tuple[list[str], dict]:
    lines: list[str] = []
    summary: dict = {}
    for key in _keys(rows):
        everything = _evaluated(rows, key, self_tests=True)
        results = [r for r in everything if not r.self_test]
        label, base_label = _label(key), _label(key, plus=False)
        sizes = sorted({r.n for r in everything})
        smoke = " — a smoke test: never ranked among the published full-dataset scores" if _is_subset(key) else ""
        lines += [f"### {label} ({', '.join(map(str, sizes))} problems){smoke}", ""]
        for check in (r for r in everything if r.self_test):
            lines.append(f"- **{check.profile}** (self-test: the dataset's canonical solutions through the whole "
                         f"pipeline): {label} {check.score('plus'):.1f}%, {base_label} {check.score('base'):.1f}%: "
                         f"{self_test_verdict(check)}")
        for result in sorted(results, key=lambda r: -r.solved("plus")):
            low, high = result.interval("plus")
            marks = ("" if result.comparable else " †") + ("" if result.sandboxed else " (UNSANDBOXED)")
            where = "" if _is_subset(key) else "; " + _neighbours(result, published)
            lines.append(f"- **{result.profile}**{marks}: {label} {result.score('plus'):.1f}% (95% interval "
                         f"{low:.1f}–{high:.1f}), {base_label} {result.score('base'):.1f}%{where}")
        lines.append("")
        results.sort(key=lambda r: -r.solved("plus"))
        summary[key] = {"comparisons": {phase: compare_all(results, phase) for phase in ("plus", "base")}}
        plus, base = summary[key]["comparisons"]["plus"], summary[key]["comparisons"]["base"]
        if not plus:
            count = "no local profile" if not results else "only one local profile"
            lines += [f"Paired comparison ({label}): {count} besides the self-test, so no pairs to compare.", ""]
        else:
            shown, note = _family(plus, results)
            lines += [f"Paired comparisons ({label}, exact McNemar test on the problems only one of the two solves):", ""]
            lines += [f"- {verdict(c, len(plus))}" for c in shown]
            if note:
                lines += ["", note]
            changed = [b for p_, b in zip(plus, base) if p_.significant != b.significant]
            lines += ["", f"On the base tests ({base_label}) alone: " + (
                "the same verdicts." if not changed else
                "; ".join(verdict(b, len(base)) for b in changed) + ".") + " Every pair: [COMPARISONS.md](COMPARISONS.md).", ""]
        differing = _disagreements(results) if results else []
        if len(results) > 1:
            lines += [f"Where they differ: {len(differing)} of {max(sizes)} problems have different outcomes among "
                      f"the local profiles: [PROBLEMS.md](PROBLEMS.md) (also [problems.csv](problems.csv)).", ""]
    return lines, summary


def _tasks(results: list[ProfileResults]) -> list[str]:
    return list(dict.fromkeys(t for r in results for t in r.outcomes))


def _disagreements(results: list[ProfileResults]) -> list[str]:
    return [t for t in _tasks(results) if len({(r.outcomes[t].plus if t in r.outcomes else None) for r in results}) > 1]


def _failures(rows: list[LocalRow]) -> list[str]:
    table = []
    for row in rows:
        for key, result in row.results.items():
            counts = result.categories()
            exceptions = result.exceptions()
            top = ", ".join(f"{name} {count}" for name, count in list(exceptions.items())[:3])
            cells = [str(counts[c]) if c != "exception" else (f"{counts[c]} ({top})" if top else str(counts[c]))
                     for c in CATEGORIES]
            table.append([row.profile, key, *cells])
    if not table:
        return []
    return ["## Why answers fail", "",
            "One outcome per problem (plus tests included): passed, or the first reason it failed. *Cut at token "
            "cap*: the answer ended at max_tokens (finish_reason = length), typical of a reasoning model that "
            "thinks past its budget; *empty answer*: no content at all.", "",
            tabulate(table, headers=["Profile", "Dataset", *[c.capitalize() for c in CATEGORIES]],
                     tablefmt="github", disable_numparse=True), ""]


def _scores_table(rows: list[LocalRow], published: list[PublishedScore]) -> list[str]:
    table = []
    for row in rows:
        if row.state not in ("done", "failed") or not row.scores:
            continue
        mark = "" if row.comparable else " †"
        unsafe = "" if row.sandboxed else ", UNSANDBOXED"
        name = f"**{row.profile}** (local{', ' + row.quant if row.quant else ''}, {row.date}{unsafe}){mark}"
        intervals = {key: _ci(row.results[key].interval("plus")) if key in row.results else "-" for key in DATASET_KEYS}
        cells = [_fmt(row.scores.get("humaneval")), _fmt(row.scores.get("humaneval+")), intervals["humaneval"],
                 _fmt(row.scores.get("mbpp")), _fmt(row.scores.get("mbpp+")), intervals["mbpp"]]
        table.append((row.scores, [name, "local", *cells]))
    for model in published:
        size = f"{model.size:g}B" if model.size else "?"
        s = model.scores
        table.append((s, [model.name, f"published, {size}", _fmt(s.get("humaneval")), _fmt(s.get("humaneval+")), "",
                          _fmt(s.get("mbpp")), _fmt(s.get("mbpp+")), ""]))
    table.sort(key=lambda item: _sort_key(item[0]))
    ranked = [[i, *cells] for i, (_, cells) in enumerate(table, start=1)]
    lines = ["## Scores", "",
             tabulate(ranked, headers=["#", "Model", "Source", "HumanEval", "HumanEval+", "95% interval (HE+)", "MBPP",
                                       "MBPP+", "95% interval (MBPP+)"], tablefmt="github", disable_numparse=True), ""]
    if any(not r.comparable for r in rows if r.scores):
        lines += [f"† generated with a token cap other than the leaderboard's {LEADERBOARD_MAX_TOKENS}: "
                  "not leaderboard-comparable.", ""]
    return lines


def _details_table(rows: list[LocalRow]) -> list[str]:
    detail_rows = []
    for row in rows:
        datasets = row.details or {"": {}}
        for key, info in datasets.items():
            state = info.get("state") or (row.state + (f": {row.reason}" if row.reason else ""))
            if info.get("reused"):
                reuse = info["reused"]
                state += (f" (reused {reuse.get('reused', 0)}, regenerated {reuse.get('regenerated', 0)}, "
                          f"spot-checked {reuse.get('spot_checked', 0)})")
            detail_rows.append([
                row.profile, key or "-", state,
                row.quant or "-", info.get("host") or "-", _fmt((info.get("pass@1") or {}).get("base")),
                _fmt((info.get("pass@1") or {}).get("plus")),
                "-" if info.get("hit_token_limit") is None else str(info["hit_token_limit"]),
                "-" if info.get("empty_answers") is None else str(info["empty_answers"]),
                "-" if info.get("gen_seconds") is None else f"{info['gen_seconds']:.0f} s",
                "-" if info.get("tokens_per_second") is None else f"{info['tokens_per_second']:.0f}",
                "-" if info.get("eval_seconds") is None else f"{info['eval_seconds']:.0f} s",
                info.get("sandbox") or "-",
            ])
    return ["## Local profiles", "",
            tabulate(detail_rows, headers=["Profile", "Dataset", "State", "Quant", "Host", "base", "plus", "Hit token limit",
                                           "Empty answers", "Generation", "tok/s", "Evaluation", "Sandbox"],
                     tablefmt="github", disable_numparse=True), ""]


# ---------------------------------------------------------------------------------------------------
# the files beside REPORT.md


def _problems_files(rows: list[LocalRow]) -> tuple[str, str]:
    lines = ["# Problems by local profile", "",
             "Per problem: `pass` (base and plus tests), `base only (...)` (plus tests failed), or why it failed: "
             "`wrong` output, `raised: <exception>`, `time` limit, `no code` (or syntax error), `cut` at the token "
             "cap, `empty` answer. Problems on which the profiles disagree come first.", ""]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dataset", "task_id", "profile", "base", "plus", "category", "exception"])
    for key in _keys(rows):
        results = _evaluated(rows, key)
        if not results:
            continue
        tasks = _tasks(results)
        differing = _disagreements(results)
        ordered = differing + [t for t in tasks if t not in set(differing)]
        table = [[t, *[(r.outcomes[t].short if t in r.outcomes else "-") for r in results]] for t in ordered]
        lines += [f"## {_label(key)} ({len(differing)} of {len(tasks)} problems differ)", "",
                  tabulate(table, headers=["Problem", *[r.profile for r in results]], tablefmt="github",
                           disable_numparse=True), ""]
        for task in ordered:
            for r in results:
                if task in r.outcomes:
                    o = r.outcomes[task]
                    writer.writerow([key, task, r.profile, int(o.base), int(o.plus), o.category, o.exception])
    return "\n".join(lines), out.getvalue()


def _comparisons_file(summary: dict) -> str:
    lines = ["# Paired comparisons of the local profiles", "",
             "Each cell: problems only the row's profile solves vs only the column's, the exact McNemar p-value, "
             "and the Holm-adjusted one (over every pair of that table).", ""]
    for key, data in summary.items():
        for phase, comparisons in data["comparisons"].items():
            if not comparisons:
                continue
            names = list(dict.fromkeys([c.a for c in comparisons] + [c.b for c in comparisons]))
            cell = {}
            for c in comparisons:
                cell[(c.a, c.b)] = f"{c.only_a} vs {c.only_b}, p {c.p:.3g} (adj. {c.p_adjusted:.3g})"
                cell[(c.b, c.a)] = f"{c.only_b} vs {c.only_a}, p {c.p:.3g} (adj. {c.p_adjusted:.3g})"
            table = [[a, *[cell.get((a, b), "") for b in names]] for a in names]
            label = _label(key, plus=phase == "plus")
            lines += [f"## {label}", "", tabulate(table, headers=["", *names], tablefmt="github",
                                                   disable_numparse=True), ""]
    return "\n".join(lines)


def _summary_json(rows: list[LocalRow], summary: dict) -> str:
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
                "host": row.details.get(key, {}).get("host"),
            }
        profiles.append(entry)
    comparisons = {key: {phase: [{"a": c.a, "b": c.b, "only_a": c.only_a, "only_b": c.only_b, "p": c.p,
                                  "p_holm": c.p_adjusted, "significant": c.significant, "problems": c.problems}
                                 for c in items] for phase, items in data["comparisons"].items()}
                   for key, data in summary.items()}
    return json.dumps({"generated": utc_now(), "benchlib": __version__, "profiles": profiles,
                       "comparisons": comparisons}, indent=1) + "\n"


def render_report(rows: list[LocalRow], meta: dict, published: list, charts: list[tuple[str, str]] | None = None,
                  summary_out: dict | None = None) -> str:
    verdicts, summary = _verdicts(rows, published)
    if summary_out is not None:
        summary_out.update(summary)
    lines = [
        "# EvalPlus benchmark report",
        "",
        f"Generated {utc_now()} by benchlib {__version__}. pass@1 in %: one greedy answer per problem, evalplus's "
        "prompts; the + columns add EvalPlus's extra tests to the base ones. Local profiles are **bold**, with a "
        "95% interval (Wilson): a difference smaller than the intervals is not a difference.",
        "",
    ]
    if verdicts:
        lines += ["## Verdicts", "", *verdicts]
    else:
        lines += ["No local profile has been evaluated yet: run `doit` (or `doit eval:<profile>`).", ""]
    lines += _scores_table(rows, published)
    lines += _failures(rows)
    if charts:
        lines += ["## Charts", ""]
        for path, alt in charts:
            lines += [f"![{alt}]({path})", ""]
    lines += _details_table(rows)
    lines += ["Hit token limit: answers cut at max_tokens (finish_reason = length); reasoning models need a higher cap.",
              ""]
    if meta:
        lines += [f"Published scores: {meta.get('source', '?')}, retrieved {meta.get('retrieved', '?')}.", ""]
    return "\n".join(lines)


def write_report(profiles: dict[str, Profile], results: Path, references: Path) -> None:
    """REPORT.md and the files beside it (`results.report_files`), each written atomically."""
    from .charts import draw_charts

    report_md, problems_md, problems_csv, comparisons_md, summary_json, charts_dir = report_files(results)
    meta, published = load_leaderboard(references)
    rows = collect_local(profiles, results)
    try:
        charts = draw_charts(rows, published, charts_dir)
    except Exception as exc:  # noqa: BLE001 - a chart must never cost the user the report
        charts = []
        logging.getLogger("benchlib").warning(f"REPORT.md: charts could not be drawn ({type(exc).__name__}: {exc})")
    summary: dict = {}
    text = render_report(rows, meta, published, [(str(Path(p).relative_to(results)), alt) for p, alt in charts],
                         summary)
    problems_text, problems_rows = _problems_files(rows)
    atomic_write_text(problems_md, problems_text)
    atomic_write_text(problems_csv, problems_rows)
    atomic_write_text(comparisons_md, _comparisons_file(summary))
    atomic_write_text(summary_json, _summary_json(rows, summary))
    atomic_write_text(report_md, text)
