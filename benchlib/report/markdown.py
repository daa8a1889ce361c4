"""REPORT.md, PROBLEMS.md, problems.csv and COMPARISONS.md, rendered from the collected rows and the
analysis (no statistic is computed here: `analysis.analyse` did, once, for every rendering).
"""

from __future__ import annotations

import csv
import io

from tabulate import tabulate

from .. import __version__
from ..datasets import DATASETS
from ..generation.prompt import LEADERBOARD_MAX_TOKENS
from ..results import RunKey, parse_run_key, utc_now
from .analysis import CATEGORIES, COMBINED, OPTIONAL, TARGET, Analysis, agreement, RunAnalysis, SelfTestCheck, Standing, verdict
from .collect import LocalRow, is_subset

__all__ = ["render_report", "render_problems", "render_comparisons", "label", "run_verdicts", "self_test_verdict", "PAIRS_INLINE"]

PAIRS_INLINE = 6  # up to this many pairs per dataset, REPORT.md lists them all; beyond, each against the best
SCORED = [spec for spec in DATASETS.values() if spec.leaderboard]  # the datasets with published scores: columns


def label(key: str, plus: bool = True) -> str:
    """`HumanEval+`, `HumanEval+ subset of 20` for a subset run's folder, `... at 8192 tokens` for a
    reasoning model's run at its budget."""
    if key == COMBINED:
        return " and ".join(spec.plus_label if plus else spec.base_label for spec in SCORED) + " together"
    dataset, subset, budget = parse_run_key(key) or RunKey(key)
    spec = DATASETS.get(dataset)
    name = (spec.plus_label if plus else spec.base_label) if spec else dataset + ("+" if plus else "")
    return name + (f" subset of {subset}" if subset else "") + (f" at {budget} tokens" if budget else "")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ci(interval: tuple[float, float]) -> str:
    return f"{interval[0]:.1f}–{interval[1]:.1f}"


def _sort_key(scores: dict) -> tuple:
    return tuple(-(scores.get(key) if scores.get(key) is not None else -1) for key in
                 (spec.leaderboard + "+" for spec in SCORED))


def _standing(where: Standing) -> str:
    """Where a local profile stands among the published models, in words."""
    if not where.level and not where.above and not where.below:
        return "no published scores to compare with."
    key, parts = where.key, []
    if where.level:
        names = ", ".join(f"{m.name} ({m.scores[key]:.1f})" for m in where.closest)
        parts.append(f"level with {len(where.level)} published model{'s' if len(where.level) != 1 else ''} "
                     f"(intervals overlap; closest: {names})")
    if where.above:
        parts.append(f"below {len(where.above)} (lowest of them: {min(where.above, key=lambda m: m.scores[key]).name})")
    if where.below:
        parts.append(f"above {len(where.below)} (highest of them: {max(where.below, key=lambda m: m.scores[key]).name})")
    return "; ".join(parts) + "."


def self_test_verdict(check: SelfTestCheck) -> str:
    """Whether the self-test failed exactly the problems its dataset file is known to fail."""
    expectation = check.expectation
    if expectation is None:
        if not check.failing:
            return "every canonical solution passes"
        return f"no expectation is recorded for this dataset file; failing: {', '.join(check.failing)} (see PROBLEMS.md)"
    if check.unexpected:
        return (f"**unexpected failures: {', '.join(check.unexpected)}**: a benchlib bug or a damaged dataset file "
                f"(see PROBLEMS.md and the profile's evaluation.log)")
    if check.recovered:
        return f"known failures of {expectation.file} now pass: {', '.join(check.recovered)} (worth a look)"
    if not check.known:
        return f"as expected for {expectation.file} (every canonical solution passes)"
    reasons = "; ".join(f"{t}{'' if len(expectation.fails[t][0]) == 2 else ' (' + expectation.fails[t][0][0] + ')'}: "
                        f"{why}" for t, why in check.known.items())
    return f"as expected for {expectation.file}, whose known failures are {reasons}"


def run_verdicts(run: RunAnalysis) -> list[str]:
    """REPORT.md's verdicts on one run (Markdown lines): scores with intervals, standings, paired comparisons."""
    name, base_name = label(run.key), label(run.key, plus=False)
    parsed = parse_run_key(run.key) or RunKey(run.key)
    spec = DATASETS.get(parsed.dataset)
    smoke = (" — a smoke test: never ranked among the published full-dataset scores" if run.subset else
             f" — the reasoning budget ({parsed.budget} tokens, not the leaderboard's {LEADERBOARD_MAX_TOKENS}): "
             "never compared with the published scores" if parsed.budget else
             f" — evalplus's {spec.variant} file: never compared with the published full-set scores"
             if spec is not None and not spec.leaderboard else "")
    lines = [f"### {name} ({', '.join(map(str, run.sizes))} problems){smoke}", ""]
    for check in run.self_tests:
        result = check.result
        lines.append(f"- **{result.profile}** (self-test: the dataset's canonical solutions through the whole "
                     f"pipeline): {name} {result.score('plus'):.1f}%, {base_name} {result.score('base'):.1f}%: "
                     f"{self_test_verdict(check)}")
    for result in run.results:
        low, high = result.interval("plus")
        marks = (("" if result.comparable else " †") + ("" if result.prompted else " (base prompt)")
                 + (f" (sampled, {result.answers} answers per problem)" if result.sampled else "")
                 + ("" if result.sandboxed else " (UNSANDBOXED)"))
        where = "; " + _standing(run.standings[result.profile]) if result.profile in run.standings else ""
        if result.sampled:
            at_k = ", ".join(f"{k} {v:.1f}" for k, v in result.pass_at_k.get("plus", {}).items())
            where = (f"; {name} {at_k}" if at_k else "") + ("; a sampled measurement, never ranked among the "
                                                             "leaderboard's greedy scores" if not run.subset else "")
        lines.append(f"- **{result.profile}**{marks}: {name} {result.score('plus'):.1f}% (95% interval "
                     f"{low:.1f}–{high:.1f}), {base_name} {result.score('base'):.1f}%{where}")
    lines.append("")
    plus, base = run.comparisons["plus"], run.comparisons["base"]
    if not plus:
        count = "no local profile" if not run.results else "only one local profile"
        lines += [f"Paired comparison ({name}): {count} besides the self-test, so no pairs to compare.", ""]
    else:
        how = ("exact McNemar test on the problems only one of the two solves" if all(not r.sampled for r in run.results)
               else "exact McNemar between single greedy answers, else a paired permutation test on the per-problem "
                    "pass rates")
        lines += [f"Paired comparisons ({name}, {how}):", ""]
        lines += [f"- {verdict(c, len(plus))}" for c in run.shown(PAIRS_INLINE)]
        if len(plus) > PAIRS_INLINE:
            lines += ["", f"{len(run.results)} profiles: each against the best ({run.best}); every pair is in "
                          f"[COMPARISONS.md](COMPARISONS.md)."]
        changed = run.changed_on_base
        lines += ["", f"On the base tests ({base_name}) alone: " + (
            "the same verdicts." if not changed else
            "; ".join(verdict(b, len(base)) for b in changed) + ".") + " Every pair: [COMPARISONS.md](COMPARISONS.md).", ""]
    if plus:
        lines += _what_it_would_take(run)
    if len(run.results) > 1:
        lines += [f"Where they differ: {len(run.disagreements)} of {max(run.sizes)} problems have different outcomes "
                  f"among the local profiles: [PROBLEMS.md](PROBLEMS.md) (also [problems.csv](problems.csv)).", ""]
    return lines


def _agreements(rows: list[LocalRow]) -> list[str]:
    """Per profile with a reference profile: how many of its answers are the reference's, and how the
    others split: what quantization changed, at no extra GPU cost."""
    by_name = {row.profile: row for row in rows}
    table = []
    for row in rows:
        reference = by_name.get(row.reference)
        if reference is None:
            continue
        for key, result in row.results.items():
            if key in reference.results and not is_subset(key):
                a = agreement(result, reference.results[key])
                differ = a.problems - a.identical
                table.append([row.profile, row.reference, label(key), f"{a.identical} of {a.problems}", str(differ),
                              str(a.both_pass), str(a.both_fail), str(a.only_profile), str(a.only_reference)])
    if not table:
        return []
    return ["## Agreement with the reference profiles", "",
            "Each profile's first answer to each problem against its `reference_profile`'s: identical (character "
            "for character), or how the differing ones split by their plus-test outcome.", "",
            tabulate(table, headers=["Profile", "Reference", "Dataset", "Identical answers", "Differ", "Both pass",
                                     "Both fail", "Only the profile passes", "Only the reference passes"],
                     tablefmt="github", disable_numparse=True), ""]


def _what_it_would_take(run: RunAnalysis) -> list[str]:
    """Per pair shown: the smallest difference this data could detect, and where it found none, how many
    answers per problem (and GPU hours at the measured speeds) would detect TARGET points."""
    by_name = {r.profile: r for r in run.results}
    lines = [f"What it would take (80% power at the 5% level, plus tests): the smallest difference each comparison "
             f"could detect, and for \"no evidence\", what detecting {TARGET:.0f} points would need:", ""]
    for c in run.shown(PAIRS_INLINE):
        text = f"- {c.a} vs {c.b}: detects {c.detectable:.1f} points or more"
        if not c.significant:
            need = c.answers_for
            if need.get("answers") is None:
                text += (f"; {TARGET:.0f} points: not with more answers, the problems themselves differ too much "
                         f"(more problems would)")
            else:
                answers = need["answers"]
                hours = _gpu_hours(by_name[c.a], by_name[c.b], answers, c.n)
                more = "at least " if need.get("lower_bound") else "about "
                text += (f"; {TARGET:.0f} points: {more}{answers} answer{'s' if answers != 1 else ''} per problem for "
                         f"each (n_samples, temperature > 0)" + (f", about {hours:.1f} GPU hours at the measured speeds"
                                                                 if hours is not None else ""))
                if need.get("lower_bound"):
                    text += " (one greedy answer each cannot tell noise from real differences: measure on a subset)"
        lines.append(text)
    return [*lines, ""]


def _gpu_hours(a, b, answers: int, problems: int) -> float | None:
    """Generation time of `answers` answers to `problems` problems for both profiles, at their measured
    tokens per answer and tokens per second; None when a speed is unknown."""
    total = 0.0
    for result in (a, b):
        if not result.tokens_per_answer or not result.tokens_per_second:
            return None
        total += answers * problems * result.tokens_per_answer / result.tokens_per_second
    return total / 3600


def _scores_table(rows: list[LocalRow], published: list) -> list[str]:
    table = []
    for row in rows:
        if row.state not in ("done", "failed") or not any(spec.key in row.scores for spec in SCORED):
            continue  # (a variant's score, e.g. Mini, is never ranked among the published full-set scores)
        mark = "" if row.comparable else " †"
        unsafe = "" if row.sandboxed else ", UNSANDBOXED"
        base = "" if row.prompted else ", base prompt"
        name = f"**{row.profile}** (local{', ' + row.quant if row.quant else ''}{base}, {row.date}{unsafe}){mark}"
        cells = []
        for spec in SCORED:
            interval = _ci(row.results[spec.key].interval("plus")) if spec.key in row.results else "-"
            cells += [_fmt(row.scores.get(spec.key)), _fmt(row.scores.get(spec.key + "+")), interval]
        table.append(({spec.leaderboard + "+": row.scores.get(spec.key + "+") for spec in SCORED},
                      [name, "local", *cells]))
    for model in published:
        size = f"{model.size:g}B" if model.size else "?"
        size += "" if model.prompted else ", base prompt"  # the leaderboard's rows not marked as prompted
        cells = []
        for spec in SCORED:
            cells += [_fmt(model.scores.get(spec.leaderboard)), _fmt(model.scores.get(spec.leaderboard + "+")), ""]
        table.append((model.scores, [model.name, f"published, {size}", *cells]))
    table.sort(key=lambda item: _sort_key(item[0]))
    ranked = [[i, *cells] for i, (_, cells) in enumerate(table, start=1)]
    headers = ["#", "Model", "Source"]
    for spec in SCORED:
        headers += [spec.base_label, spec.plus_label, f"95% interval ({spec.abbreviation}+)"]
    lines = ["## Scores", "", tabulate(ranked, headers=headers, tablefmt="github", disable_numparse=True), ""]
    if any(not r.comparable for r in rows if r.scores):
        lines += [f"† generated with a token cap other than the leaderboard's {LEADERBOARD_MAX_TOKENS}: "
                  "not leaderboard-comparable.", ""]
    return lines


def _failures(rows: list[LocalRow]) -> list[str]:
    table = []
    counted = [(row, key, result.categories(), result.exceptions()) for row in rows for key, result in row.results.items()]
    shown = [c for c in CATEGORIES if c not in OPTIONAL or any(counts[c] for _, _, counts, _ in counted)]
    for row, key, counts, exceptions in counted:
        top = ", ".join(f"{name} {count}" for name, count in list(exceptions.items())[:3])
        cells = [str(counts[c]) if c != "exception" else (f"{counts[c]} ({top})" if top else str(counts[c]))
                 for c in shown]
        table.append([row.profile, key, *cells])
    if not table:
        return []
    thinking = (" *Cut while thinking*: the budget ran out before the answer began (a reasoning model: raise "
                "max_tokens); *looped*: the answer repeated itself until the cap." if len(shown) > len(CATEGORIES) - len(OPTIONAL)
                else "")
    return ["## Why answers fail", "",
            "One outcome per problem (plus tests included): passed, or the first reason it failed. *Cut at token "
            "cap*: the answer ended at max_tokens (finish_reason = length), typical of a reasoning model that "
            f"thinks past its budget; *empty answer*: no content at all.{thinking}", "",
            tabulate(table, headers=["Profile", "Dataset", *[c.capitalize() for c in shown]],
                     tablefmt="github", disable_numparse=True), ""]


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


def _reasoning(rows: list[LocalRow]) -> list[str]:
    """Reasoning models: the leaderboard's row beside the reasoning-budget row, and what the thinking cost.
    Only where a model reasons or has a budget run."""
    table = []
    for row in rows:
        runs = {run.key: run for run in row.runs}
        for run in row.runs:
            parsed = parse_run_key(run.key) or RunKey(run.key)
            reasoning = run.generation.get("reasoning") or {}
            budget = run.generation.get("reasoning_budget") or {}
            if parsed.budget or not (reasoning.get("detected") or budget):
                continue
            long_key = budget.get("folder")
            long = row.results.get(long_key) if long_key else None
            short = row.results.get(run.key)
            reuse = run.generation.get("reuse") or {}
            made = (f"reused {reuse.get('reused', 0)}, derived {reuse.get('derived_cut_while_thinking', 0)}, "
                    f"asked {reuse.get('regenerated', 0)}") if budget else "asked"
            spread = lambda d: f"{d['median']} / {d['max']}" if d else "-"  # noqa: E731
            long_reasoning = (runs[long_key].generation.get("reasoning") or {}) if long_key in runs else {}
            table.append([
                row.profile, label(run.key), _fmt(short.score("plus")) if short else "-",
                f"{_fmt(long.score('plus'))} at {budget['max_tokens']}" if long else "-", made,
                spread((long_reasoning or reasoning).get("reasoning_tokens")),
                spread((long_reasoning or reasoning).get("answer_tokens")),
                str(short.categories()["cut while thinking"]) if short else "-",
                str((long or short).categories()["looped"]) if (long or short) else "-",
            ])
    if not table:
        return []
    return ["## Reasoning models", "",
            f"Each reasoning model has two rows: at the leaderboard's {LEADERBOARD_MAX_TOKENS} tokens (comparable with the "
            "published scores) and at its reasoning budget (what it does when it may finish; never ranked among "
            "the published scores). The leaderboard row is taken from the long run where that determines it "
            "(README: Reasoning models). Tokens: median / max per answer, of the long run where there is one.", "",
            tabulate(table, headers=["Profile", "Dataset", f"plus at {LEADERBOARD_MAX_TOKENS}", "plus at the budget",
                                     f"the {LEADERBOARD_MAX_TOKENS} row's answers", "reasoning tokens", "answer tokens",
                                     "cut while thinking", "looped"],
                     tablefmt="github", disable_numparse=True), ""]


# ---------------------------------------------------------------------------------------------------
# the files beside REPORT.md


def render_problems(analysis: Analysis) -> tuple[str, str]:
    """PROBLEMS.md and problems.csv: per problem and local profile, solved or why not; disagreements first."""
    lines = ["# Problems by local profile", "",
             "Per problem: `pass` (base and plus tests), `base only (...)` (plus tests failed), or why it failed: "
             "`wrong` output, `raised: <exception>`, `time` limit, `no code` (or syntax error), `cut` at the token "
             "cap, `empty` answer. Problems on which the profiles disagree come first.", ""]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dataset", "task_id", "profile", "base", "plus", "category", "exception"])
    for run in analysis.runs:
        results = run.matrix
        if not results or run.key == COMBINED:  # (its problems are listed under each dataset)
            continue
        differing = set(run.disagreements)
        ordered = run.disagreements + [t for t in run.tasks if t not in differing]
        table = [[t, *[(r.outcomes[t].short if t in r.outcomes else "-") for r in results]] for t in ordered]
        lines += [f"## {label(run.key)} ({len(run.disagreements)} of {len(run.tasks)} problems differ)", "",
                  tabulate(table, headers=["Problem", *[r.profile for r in results]], tablefmt="github",
                           disable_numparse=True), ""]
        for task in ordered:
            for r in results:
                if task in r.outcomes:
                    o = r.outcomes[task]
                    writer.writerow([run.key, task, r.profile, int(o.base), int(o.plus), o.category, o.exception])
    return "\n".join(lines), out.getvalue()


def render_comparisons(analysis: Analysis) -> str:
    """COMPARISONS.md: every pair of local profiles, per run and phase."""
    lines = ["# Paired comparisons of the local profiles", "",
             "Each cell: problems only the row's profile solves vs only the column's, the exact McNemar p-value, "
             "and the Holm-adjusted one (over every pair of that table).", ""]
    for run in analysis.runs:
        for phase, comparisons in run.comparisons.items():
            if not comparisons:
                continue
            names = list(dict.fromkeys([c.a for c in comparisons] + [c.b for c in comparisons]))
            cell = {}
            for c in comparisons:
                cell[(c.a, c.b)] = f"{c.only_a} vs {c.only_b}, p {c.p:.3g} (adj. {c.p_adjusted:.3g})"
                cell[(c.b, c.a)] = f"{c.only_b} vs {c.only_a}, p {c.p:.3g} (adj. {c.p_adjusted:.3g})"
            table = [[a, *[cell.get((a, b), "") for b in names]] for a in names]
            lines += [f"## {label(run.key, plus=phase == 'plus')}", "", tabulate(table, headers=["", *names],
                                                                              tablefmt="github", disable_numparse=True), ""]
    return "\n".join(lines)


def render_report(rows: list[LocalRow], analysis: Analysis, meta: dict, published: list,
                  charts: list[tuple[str, str]] | None = None, page: str | None = None) -> str:
    """REPORT.md: verdicts first (intervals, paired comparisons, published neighbours), then tables."""
    verdicts = [line for run in analysis.runs for line in run_verdicts(run)]
    lines = [
        "# EvalPlus benchmark report",
        "",
        f"Generated {utc_now()} by benchlib {__version__}. pass@1 in %: one greedy answer per problem, evalplus's "
        "prompts; the + columns add EvalPlus's extra tests to the base ones. Local profiles are **bold**, with a "
        "95% interval (Wilson): a difference smaller than the intervals is not a difference.",
        "",
    ]
    if page:
        lines += [f"Browse every answer, why it failed (the failing input, expected and actual output) and a diff of "
                  f"two profiles' answers: [{page}]({page}) (one file, opens offline).", ""]
    if verdicts:
        lines += ["## Verdicts", "", *verdicts]
    else:
        lines += ["No local profile has been evaluated yet: run `doit` (or `doit eval:<profile>`).", ""]
    lines += _scores_table(rows, published)
    lines += _agreements(rows)
    lines += _reasoning(rows)
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
