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
from .analysis import (ALPHA, CATEGORIES, COMBINED, OPTIONAL, POWER, Analysis, Comparison, MarginVerdict, Need,
                       RunAnalysis, SelfTestCheck, Standing)
from .collect import LocalRow
from .prose import BLANK, Block, Code, Emphasis, Link, Strong, Text, blocks_markdown, heading, item, paragraph

__all__ = ["render_report", "render_problems", "render_comparisons", "label", "run_verdicts", "self_test_verdict",
           "verdict", "margin_sentence", "need_sentence", "provenance_blocks", "PAIRS_INLINE"]

PAIRS_INLINE = 6  # up to this many pairs per dataset, REPORT.md lists them all; beyond, each against the best
SCORED = [spec for spec in DATASETS.values() if spec.leaderboard]  # the datasets with published scores: columns


def label(key: str, plus: bool = True) -> str:
    """`HumanEval+`, `HumanEval+ subset of 20` for a subset run's folder, `... at 8192 tokens` for a
    reasoning model's run at its budget."""
    if key == COMBINED:
        return " and ".join(spec.plus_label if plus else spec.base_label for spec in SCORED) + " together"
    dataset, subset, budget, think = parse_run_key(key) or RunKey(key)
    spec = DATASETS.get(dataset)
    name = (spec.plus_label if plus else spec.base_label) if spec else dataset + ("+" if plus else "")
    return (name + (f" subset of {subset}" if subset else "") + (f" at {budget} tokens" if budget else "")
            + (f", thinking at most {think}" if think else ""))


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


def self_test_verdict(check: SelfTestCheck) -> Text:
    """Whether the self-test failed exactly the problems its dataset file is known to fail."""
    expectation = check.expectation
    if expectation is None:
        if not check.failing:
            return Text("every canonical solution passes")
        return Text(f"no expectation is recorded for this dataset file; failing: {', '.join(check.failing)} "
                    "(see PROBLEMS.md)")
    if check.unexpected:
        return Text(Strong(f"unexpected failures: {', '.join(check.unexpected)}"), ": a benchlib bug or a damaged "
                    "dataset file (see PROBLEMS.md and the profile's evaluation.log)")
    if check.recovered:
        return Text(f"known failures of {expectation.file} now pass: {', '.join(check.recovered)} (worth a look)")
    if not check.known:
        return Text(f"as expected for {expectation.file} (every canonical solution passes)")
    reasons = "; ".join(f"{t}{'' if len(expectation.fails[t][0]) == 2 else ' (' + expectation.fails[t][0][0] + ')'}: "
                        f"{why}" for t, why in check.known.items())
    return Text(f"as expected for {expectation.file}, whose known failures are {reasons}")


def run_verdicts(run: RunAnalysis) -> list[Block]:
    """The verdicts on one run, worded once for REPORT.md and report.html: scores with intervals, standings,
    paired comparisons, the verdicts at the margin, and what a decision would take."""
    name, base_name = label(run.key), label(run.key, plus=False)
    parsed = parse_run_key(run.key) or RunKey(run.key)
    spec = DATASETS.get(parsed.dataset)
    smoke = (" — a smoke test: never ranked among the published full-dataset scores" if run.subset else
             f" — the reasoning budget ({parsed.budget} tokens, not the leaderboard's {LEADERBOARD_MAX_TOKENS}): "
             "never compared with the published scores" if parsed.budget else
             f" — evalplus's {spec.variant} file: never compared with the published full-set scores"
             if spec is not None and not spec.leaderboard else "")
    lines = [heading(f"{name} ({', '.join(map(str, run.sizes))} problems){smoke}"), BLANK]
    for check in run.self_tests:
        result = check.result
        lines.append(item(Strong(result.profile), " (self-test: the dataset's canonical solutions through the whole "
                          f"pipeline): {name} {result.score('plus'):.1f}%, {base_name} {result.score('base'):.1f}%: ",
                          self_test_verdict(check)))
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
        lines.append(item(Strong(result.profile), f"{marks}: {name} {result.score('plus'):.1f}% (95% interval "
                          f"{low:.1f}–{high:.1f}), {base_name} {result.score('base'):.1f}%{where}"))
    lines.append(BLANK)
    plus = run.comparisons["plus"]
    if not plus:
        count = "no local profile" if not run.results else "only one local profile"
        lines += [paragraph(f"Paired comparison ({name}): {count} besides the self-test, so no pairs to compare."),
                  BLANK]
    else:
        how = ("exact McNemar test on the problems only one of the two solves, Tango's interval"
               if all(not r.sampled for r in run.results)
               else "exact McNemar and Tango's interval between single greedy answers, else a paired permutation test "
                    "on the per-problem pass rates and a bootstrap interval over problems")
        lines += [paragraph(f"Paired comparisons ({name}, {how}; ", _family_note(plus), "):"), BLANK]
        lines += [item(verdict(c)) for c in run.shown(PAIRS_INLINE)]
        if len(plus) > PAIRS_INLINE:
            lines += [BLANK, paragraph(f"{len(run.results)} profiles: each against the best ({run.best}); every pair "
                                       "is in ", _file("COMPARISONS.md"), ".")]
        changed = run.changed_on_base
        lines += [BLANK, paragraph(f"On the base tests ({base_name}) alone (secondary): ",
                                   "the same verdicts." if not changed else Text("; ").join(
                                       [verdict(b) for b in changed]) + ".",
                                   " Every pair: ", _file("COMPARISONS.md"), "."), BLANK]
        lines += _margins(run)
        lines += _what_it_would_take(run)
    if len(run.results) > 1:
        lines += [paragraph(f"Where they differ: {len(run.disagreements)} of {max(run.sizes)} problems have different "
                            "outcomes among the local profiles: ", _file("PROBLEMS.md"), " (also ",
                            _file("problems.csv"), ")."), BLANK]
    return lines + _server_caveats(run)


def _shown_tasks(tasks: list[str], limit: int = 8) -> str:
    return ", ".join(tasks[:limit]) + (f" and {len(tasks) - limit} more" if len(tasks) > limit else "")


def _server_caveats(run: RunAnalysis) -> list[Block]:
    """What the servers that made the answers mean for this run's verdicts: pairs made by different builds or
    GPUs, profiles whose server changed since their samples (canary), answers that depend on the replica."""
    lines: list[Block] = []
    if run.mismatches:
        said = Text("; ").join([Text(Strong(m.a), " and ", Strong(m.b), f": different {m.what} ({m.a_value} / "
                                     f"{m.b_value})") for m in run.mismatches])
        lines += [paragraph("Made by different servers: ", said, ". Greedy answers are not the same across llama.cpp "
                            "builds and GPUs, so part of a difference between these profiles may be the server's, not "
                            "the model's: serve both from one build on one kind of GPU to compare the models alone."),
                  BLANK]
    for made in run.made:
        canary = made.canary
        if made.canary_changed:
            what = "; ".join(canary.get("changes") or []) or "asked again"
            kept = canary.get("action") == "kept"
            lines.append(item(Strong(made.profile), f": its server changed since its samples ({what}), and "
                              f"{len(canary.get('differing') or [])} of {canary.get('asked')} canary answers differ "
                              f"({_shown_tasks(canary.get('differing') or [])})" +
                              (": these scores are the server's before the change (samples kept: on_server_change = "
                               f"warn); `doit clean gen:{made.profile}` then `doit` makes them with the new one."
                               if kept else f" ({canary.get('action')}).")))
        if made.replicas_differ:
            agreement = made.agreement
            lines.append(item(Strong(made.profile), f": answers depend on the replica ({len(agreement['differing'])} of "
                              f"{agreement['checked']} asked again on another replica differ: "
                              f"{_shown_tasks([d['task'] for d in agreement['differing']])}): a problem only one "
                              "profile of a pair solves may be this noise, which the paired test counts as a "
                              "difference; `reproducible = yes` and one build on one kind of GPU remove it."))
    return lines + ([BLANK] if lines and lines[-1] is not BLANK else [])


def provenance_blocks(analysis: Analysis) -> list[Block]:
    """What made each run's answers (servers, builds, GPUs, model files, templates; the canary; replica
    agreement), worded once for REPORT.md and report.html; [] when no manifest recorded any."""
    lines: list[Block] = []
    for made in analysis.provenance:
        parts = [f"build {', '.join(made.builds) or 'not reported'}",
                 "GPU not seen (a server benchlib does not start)" if made.gpus is None else
                 "no GPU (the server's log names none)" if made.gpus == ("CPU",) else f"GPU {', '.join(made.gpus)}"]
        first = made.servers[0]
        for name, value in (("model", first.model), ("chat template", first.template), ("image", first.image)):
            values = {getattr(s, {"model": "model", "chat template": "template", "image": "image"}[name])
                      for s in made.servers}
            if value:
                parts.append(f"{name} {value}" if len(values) == 1 else f"{name}s differ between replicas")
        if len(made.servers) > 1:
            parts.append(f"{len(made.servers)} replicas: " + ", ".join(
                f"{s.label} ({s.answers if s.answers is not None else '?'} answers"
                + (f", lost: {s.lost}" if s.lost else "") + ")" for s in made.servers))
        agreement = made.agreement
        if agreement.get("checked"):
            parts.append(f"replicas agree ({agreement['identical']} of {agreement['checked']} asked again identical)"
                         if not agreement.get("differing") else
                         f"answers depend on the replica ({len(agreement['differing'])} of {agreement['checked']} "
                         "asked again differ)")
        canary = made.canary
        if canary.get("verdict") in ("identical", "changed"):
            parts.append(f"canary {canary.get('date', '')}: {'; '.join(canary.get('changes') or []) or 'asked for'}, "
                         f"{canary.get('identical')} of {canary.get('asked')} answers identical"
                         + (f" (differ: {_shown_tasks(canary.get('differing') or [])}; {canary.get('action')})"
                            if canary.get("differing") else ""))
        elif canary.get("verdict") == "unchecked":
            parts.append(f"server changed ({'; '.join(canary.get('changes') or [])}), not checked (canary_problems = 0)")
        lines.append(item(Strong(made.profile), f" ({label(made.run)}): " + "; ".join(parts) + "."))
    return lines


def _file(name: str) -> Link:
    """A link to a file the report writes beside REPORT.md."""
    return Link(name, name)


def _agreements(analysis: Analysis) -> list[str]:
    """Per profile with a reference profile: how many of its answers are the reference's, and how the
    others split: what quantization changed, at no extra GPU cost."""
    table = [[a.profile, a.reference, label(a.run), f"{a.identical} of {a.problems}", str(a.problems - a.identical),
              str(a.both_pass), str(a.both_fail), str(a.only_profile), str(a.only_reference)] for a in analysis.agreements]
    if not table:
        return []
    return ["## Agreement with the reference profiles", "",
            "Each profile's first answer to each problem against its `reference_profile`'s: identical (character "
            "for character), or how the differing ones split by their plus-test outcome.", "",
            tabulate(table, headers=["Profile", "Reference", "Dataset", "Identical answers", "Differ", "Both pass",
                                     "Both fail", "Only the profile passes", "Only the reference passes"],
                     tablefmt="github", disable_numparse=True), ""]


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}" if value < 0.01 else f"p = {value:.2f}"


def _pct(level: float) -> str:
    """A coverage or level in percent, as short as it reads right: 95, 98.3, 99.75."""
    return f"{100 * level:.2f}".rstrip("0").rstrip(".")


def _family_note(comparisons: list[Comparison]) -> Text:
    """How a run's comparisons are judged: the primary family's size and level, and what is secondary."""
    primary = [c for c in comparisons if c.primary]
    parts = []
    if primary:
        c = primary[0]
        parts.append(f"the pairs' verdicts: Holm over {c.family} primary comparison{'s' if c.family != 1 else ''}, "
                     f"intervals at {_pct(1 - c.level)}%" if c.family > 1 else "intervals at 95%")
    if len(primary) < len(comparisons):
        parts.append(Text(Emphasis("secondary"), " comparisons are shown, never a verdict (each pair has one: README, ",
                          Emphasis("Primary and secondary comparisons"), ")"))
    return Text("; ").join(parts)


def verdict(comparison: Comparison) -> Text:
    """One plain sentence, e.g. 'q5 vs q6: 6 problems differ (2 vs 4), q5 1.2 points lower (95% interval -4.0
    to +1.6), p = 0.69: no evidence of a difference'."""
    c = comparison
    head = f"{c.a} vs {c.b}" + ("" if c.primary or c.phase != "plus" else " (secondary)") + ": "
    higher, lower = (c.a, c.b) if c.difference >= 0 else (c.b, c.a)
    low, high = c.interval if c.difference >= 0 else (-c.interval[1], -c.interval[0])  # as `higher` minus the other
    size = (f"{higher} {abs(c.difference):.1f} points higher ({_pct(1 - c.level)}% interval {low:+.1f} to {high:+.1f})"
            if c.difference else f"the same score ({_pct(1 - c.level)}% interval of the difference {c.interval[0]:+.1f} "
                                 f"to {c.interval[1]:+.1f})")
    adjusted = ""
    if c.family > 1:
        adjusted = (f" (unchanged after Holm over {c.family})" if _p(c.p_adjusted) == _p(c.p)
                    else f", {_p(c.p_adjusted)} after Holm over {c.family}")
    if c.method != "exact McNemar":
        text = f"{head}{size}, {_p(c.p)}{adjusted}, paired permutation over {c.n} problems"
    elif c.differ == 0:
        text = f"{head}they solve exactly the same problems, {size}"
    else:
        text = (f"{head}{c.differ} problem{'s differ' if c.differ != 1 else ' differs'} ({c.only_a} vs {c.only_b}), "
                f"{size}, {_p(c.p)}{adjusted}")
    if not c.significant:
        return Text(f"{text}: no evidence of a difference")
    if c.primary:
        return Text(f"{text}: ", Strong(f"{higher} is better"))
    return Text(f"{text}: {higher} higher on this run alone (not a verdict)")


def need_sentence(need: Need, what: str) -> str:
    """What `what` (e.g. '3 points') would take, in words."""
    if need.answers is None:
        return (f"{what}: not with more answers: the problems themselves differ too much (or every answer to a "
                f"problem is the same), more problems would")
    answers = need.answers
    text = f"{what}: about {answers} answer{'s' if answers != 1 else ''} per problem for each (n_samples, temperature > 0)"
    if need.measured and (need.low, need.high) != (answers, answers):
        span = f"{need.low}–{need.high}" if need.high is not None else f"{need.low} to more than any number"
        text += f" (80% range {span}: B is estimated from {('these problems' if not need.projected else 'the subset')})"
    if need.projected:
        text += f", on the full {need.problems} problems (projected from this subset)"
    if need.hours is not None:
        text += f", about {need.hours:.1f} GPU hours at the measured speeds"
    if not need.measured:
        text += (" — an estimate: one greedy answer each cannot tell noise from real differences, so it assumes every "
                 "disagreement is noise (B = 0); a sampled pilot on a subset measures it")
    return text


def margin_sentence(m: MarginVerdict) -> Text:
    """The verdict at the margin, in words, with its bound at the level it was reached at."""
    one = f"one-sided {_pct(1 - m.level)}%"
    if m.kind == "non-inferiority":
        if m.outcome == "within":
            worst = "not worse" if m.low >= 0 else f"at most {-m.low:.1f} points worse"
            return Text(Strong(f"{m.candidate} is within {m.margin:g} points of {m.comparator}"), f" ({one}: {worst})")
        if m.outcome == "outside":
            return Text(Strong(f"{m.candidate} is more than {m.margin:g} points worse than {m.comparator}"),
                        f" ({one}: at least {-m.high:.1f} points worse)")
        best = f"{m.high:.1f} points better" if m.high > 0 else f"{-m.high:.1f} points worse"
        return Text(f"{m.candidate} vs {m.comparator}: inconclusive at {m.margin:g} points ({one}: between "
                    f"{-m.low:.1f} points worse and {best}); " + need_sentence(m.need, "the margin"))
    both = f"{_pct(1 - 2 * m.level)}% interval {m.low:+.1f} to {m.high:+.1f}"
    if m.outcome == "within":
        return Text(Strong(f"{m.candidate} and {m.comparator} are within {m.margin:g} points of each other"), f" ({both})")
    if m.outcome == "outside":
        higher, gap = (m.candidate, m.low) if m.low > 0 else (m.comparator, -m.high)
        return Text(Strong(f"{m.candidate} and {m.comparator} differ by more than {m.margin:g} points"),
                    f" ({higher} at least {gap:.1f} higher; {both})")
    return Text(f"{m.candidate} vs {m.comparator}: inconclusive at {m.margin:g} points ({both}); "
                + need_sentence(m.need, "the margin"))


def _margins(run: RunAnalysis) -> list[Block]:
    """The verdicts at the margin of the pairs shown: non-inferiority to a reference profile, else equivalence."""
    shown = [c for c in run.shown(PAIRS_INLINE) if c.margin is not None]
    if not shown:
        return []
    first = shown[0].margin
    count = round(ALPHA / first.level)
    kind = (Text("non-inferiority to the ", Code("reference_profile")) if first.kind == "non-inferiority"
            else Text("equivalence: two one-sided tests"))
    level = f"each one-sided test at {_pct(first.level)}%" + (f" (5% over {count} verdicts)" if count > 1 else "")
    lines = [paragraph(f"Within {run.margin:g} points? (", kind, f"; {level}):"), BLANK]
    lines += [item("" if c.primary else "secondary: ", margin_sentence(c.margin)) for c in shown]
    return [*lines, BLANK]


def _what_it_would_take(run: RunAnalysis) -> list[Block]:
    """Per pair shown: the smallest difference this data could detect, at the level of its verdict; where it
    found none, what detecting the target would need; for seed-paired sampled runs, what pairing saved."""
    shown = run.shown(PAIRS_INLINE)
    target = f"{shown[0].target:g} points" if shown else ""
    lines = [paragraph(f"What it would take ({POWER:.0%} power at each comparison's level, plus tests): the smallest "
                       f"difference each comparison could detect, and for \"no evidence\", what detecting {target} "
                       "would need:"), BLANK]
    for c in shown:
        if c.detectable is not None:
            text = f"{c.a} vs {c.b}: detects {c.detectable:.1f} points or more"
        elif c.method == "exact McNemar":
            text = (f"{c.a} vs {c.b}: nothing is detectable at this discordance: {c.differ} of {c.n} problems differ, so "
                    f"no gap above {100 * c.differ / c.n if c.n else 0:.1f} points can show, and the exact test finds even "
                    f"that one less than {POWER:.0%} of the time")
        else:
            text = (f"{c.a} vs {c.b}: nothing is detectable: only {c.differ} problem{'s' if c.differ != 1 else ''}' "
                    f"pass rates differ, too few for the permutation test to reach its level")
        if not c.significant and c.need is not None:
            text += "; " + need_sentence(c.need, target)
        if c.coupling is not None:
            k = c.coupling
            text += (f"; paired by seed: {k.identical} of {k.pairs} answer pairs identical, the same outcome in "
                     f"{k.agree:.0%} ({k.agree_independent:.0%} if independent), which cuts the answers needed "
                     f"{k.gain:.1f}x")
        elif c.unpaired_why:
            text += f"; not paired by seed: {c.unpaired_why}"
        lines.append(item(text))
    return [*lines, BLANK]


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


def _reasoning(rows: list[LocalRow], analysis: Analysis) -> list[str]:
    """Reasoning models: the leaderboard's row beside the reasoning-budget row, and what the thinking cost.
    Only where a model reasons or has a budget run."""
    table = []
    for row in rows:
        runs = {run.key: run for run in row.runs}
        for run in row.runs:
            parsed = parse_run_key(run.key) or RunKey(run.key)
            reasoning = run.generation.reasoning
            budget = run.generation.reasoning_budget
            if parsed.budget or not (reasoning.get("detected") or budget):
                continue
            long_key = budget.folder if budget else None
            long = row.results.get(long_key) if long_key else None
            short = row.results.get(run.key)
            reuse = run.generation.reuse or {}
            made = (f"reused {reuse.get('reused', 0)}, derived {reuse.get('derived_cut_while_thinking', 0)}, "
                    f"asked {reuse.get('regenerated', 0)}") if budget else "asked"
            spread = lambda d: f"{d['median']} / {d['max']}" if d else "-"  # noqa: E731
            long_reasoning = runs[long_key].generation.reasoning if long_key in runs else {}
            table.append([
                row.profile, label(run.key), _fmt(short.score("plus")) if short else "-",
                f"{_fmt(long.score('plus'))} at {budget.max_tokens}" if long else "-", made,
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
                     tablefmt="github", disable_numparse=True), "", *_thinking(analysis), *_curves(analysis)]


def _curves(analysis: Analysis) -> list[str]:
    """Each reasoning model's score at each thinking budget, per long run, and what the curve cost."""
    if not analysis.curves:
        return []
    lines = ["## Score at each thinking budget", "",
             "pass@1 (plus tests, 95% interval) of what a run with llama-server's `--reasoning-budget B` answers, "
             "for each B: taken from the long run (its answers that finished thinking within B as they are; the "
             "others continued after the forced end of thinking; README: Reasoning models). The long run (no "
             "thinking budget) is the last column; the leaderboard's row is beside it, for comparison only: "
             "neither is ranked among the published scores.", ""]
    for run in dict.fromkeys(c.run for c in analysis.curves):
        curves = [c for c in analysis.curves if c.run == run]
        budgets = sorted({p.think for c in curves for p in c.points if not p.long})
        longs = sorted({p.think for c in curves for p in c.points if p.long})
        table = []
        for c in curves:
            at = {p.think: p for p in c.points if not p.long}
            long = next((p for p in c.points if p.long), None)
            cell = lambda p: "-" if p is None else f"{p.plus:.1f} ({p.low:.1f}–{p.high:.1f})"  # noqa: E731
            table.append([c.profile, *(cell(at.get(b)) for b in budgets), cell(long),
                          _fmt(c.leaderboard) + f" at {LEADERBOARD_MAX_TOKENS}" if c.leaderboard is not None else "-"])
        long_head = f"no budget (the {', '.join(map(str, longs))}-token run)" if longs else "no budget"
        lines += [f"{label(curves[0].leaderboard_run)}:", "",
                  tabulate(table, headers=["Profile", *(f"thinking ≤ {b:,}" for b in budgets), long_head,
                                           "leaderboard row"], tablefmt="github", disable_numparse=True), ""]
    cost = [c for c in analysis.curves if c.separate]
    if cost:
        decoded, prefilled, separate = (sum(getattr(c, name) for c in cost) for name in ("decoded", "prefilled", "separate"))
        lines += [f"What the curve cost: {decoded:,} tokens generated (and {prefilled:,} prompt tokens processed) "
                  f"where a separate run at each budget would generate {separate:,}"
                  + (f" ({separate / decoded:.1f}x as many)" if decoded else "") + ".", ""]
    return lines


def _thinking(analysis: Analysis) -> list[str]:
    """How long each reasoning model thinks, and how much longer than its reference profile."""
    if not analysis.thinking:
        return []
    table = []
    for t in analysis.thinking:
        versus = "-"
        if t.reference and t.ratio is not None:
            versus = f"{t.ratio:.2f}x {t.reference} ({t.low:.2f}–{t.high:.2f}, {t.common} problems)"
        elif t.reference:
            versus = f"{t.reference}: no problem both answered with reasoning counted"
        table.append([t.profile, label(t.run), label(t.tokens_from), str(t.answers), _count(t.median), _count(t.p90),
                      "-" if t.hit_budget is None else f"{t.hit_budget:.0%}", versus])
    return ["How long they think: reasoning tokens per answer (median, 90th percentile), the share of answers "
            "that ran out of tokens, and against the `reference_profile` the ratio of reasoning tokens on the "
            "problems both answered, with its 95% bootstrap interval over problems (quantized reasoning models "
            "tend to think longer: a ratio above 1 costs latency at any thinking budget).", "",
            tabulate(table, headers=["Profile", "Dataset", "counted in", "answers with reasoning", "median",
                                     "90th percentile", "ran out of tokens", "against the reference"],
                     tablefmt="github", disable_numparse=True), ""]


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


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
             "Each cell: problems only the row's profile solves vs only the column's (sampled answers: problems where "
             "its pass rate is higher), the p-value (exact McNemar between greedy answers, the paired permutation test "
             "between sampled ones) and the Holm-adjusted one, over the comparison's family: a pair's primary "
             "comparison (plus tests, its largest full run) with every pair's; a secondary one (marked *) with its "
             "table's.", ""]
    for run in analysis.runs:
        for phase, comparisons in run.comparisons.items():
            if not comparisons:
                continue
            names = list(dict.fromkeys([c.a for c in comparisons] + [c.b for c in comparisons]))
            cell = {}
            for c in comparisons:
                mark = "" if c.primary else "*"
                cell[(c.a, c.b)] = f"{c.only_a} vs {c.only_b}, p {c.p:.3g} (adj. {c.p_adjusted:.3g}){mark}"
                cell[(c.b, c.a)] = f"{c.only_b} vs {c.only_a}, p {c.p:.3g} (adj. {c.p_adjusted:.3g}){mark}"
            table = [[a, *[cell.get((a, b), "") for b in names]] for a in names]
            lines += [f"## {label(run.key, plus=phase == 'plus')}", "", tabulate(table, headers=["", *names],
                                                                              tablefmt="github", disable_numparse=True), ""]
    return "\n".join(lines)


def render_report(rows: list[LocalRow], analysis: Analysis, meta: dict, published: list,
                  charts: list[tuple[str, str]] | None = None, page: str | None = None) -> str:
    """REPORT.md: verdicts first (intervals, paired comparisons, published neighbours), then tables."""
    verdicts = [line for run in analysis.runs for line in blocks_markdown(run_verdicts(run))]
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
    lines += _agreements(analysis)
    made = provenance_blocks(analysis)
    if made:
        lines += ["## What made the answers", "", *blocks_markdown(made), ""]
    lines += _reasoning(rows, analysis)
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
