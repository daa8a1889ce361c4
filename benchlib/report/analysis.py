"""What the scores mean: uncertainty, paired comparisons, where profiles differ, why answers fail.

Pure functions over evaluated results (no files written here; report.py renders them):
- a 95% Wilson interval for every pass@1 (one greedy sample per problem: pass@1 = k / n);
- exact McNemar tests between local profiles of the same dataset, on the problems only one of them
  solves (a two-sided binomial test with p = 1/2 on the discordant pairs), Holm-adjusted for the number
  of pairs compared;
- per problem and profile, an outcome: passed, or the category of the failure.
The distributions come from scipy (scipy.special's binomial CDF and normal quantile: the same numbers as
scipy.stats.binomtest, without its second of import time); Holm's step-down adjustment is a few lines of
arithmetic on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import combinations

from ..evaluation.verdicts import LOAD_ERROR, RAISED, TIMEOUT, VANISHED, failure_of
from ..generation.loops import cut_kind

__all__ = ["COMBINED", "paired_permutation", "mean_interval", "detectable_difference", "answers_needed", "TARGET", "POWER",
           "CATEGORIES", "OPTIONAL", "Outcome", "ProfileResults", "Comparison", "classify", "wilson", "published_interval",
           "mcnemar", "holm", "compare_all", "verdict", "ALPHA"]

ALPHA = 0.05
PASSED = "passed"
CATEGORIES = (PASSED, "wrong output", "exception", "time limit", "no code / syntax error", "cut at token cap",
              "cut while thinking", "looped", "empty answer")
OPTIONAL = ("cut while thinking", "looped")  # reasoning models' categories: shown where they occur
SHORT = {PASSED: "pass", "wrong output": "wrong", "exception": "raised", "time limit": "time",
         "no code / syntax error": "no code", "cut at token cap": "cut", "cut while thinking": "thinking",
         "looped": "looped", "empty answer": "empty"}


@dataclass(frozen=True)
class Outcome:
    """One profile's result on one problem."""

    base: bool  # passed the base tests
    plus: bool  # passed base and plus tests
    category: str  # PASSED when plus, else why it failed (one of CATEGORIES)
    exception: str = ""  # the exception type, for "exception"

    @property
    def short(self) -> str:
        if self.plus:
            return "pass"
        if self.base:
            return f"base only ({SHORT[self.category]})"
        return SHORT[self.category] + (f": {self.exception}" if self.exception else "")


def classify(record: dict, sample: dict | None = None) -> Outcome:
    """The outcome of an eval_results.json record (its failures as data: `verdicts.failure_of`), with what
    generation recorded about the answer (`finish_reason`, `empty_answer`) when the samples file has it."""
    base = record.get("base_status") == "pass"
    plus = base and record.get("plus_status") == "pass"
    if plus:
        return Outcome(True, True, PASSED)
    sample = sample or {}
    cut = cut_kind(sample)  # the budget ran out: in a loop, while thinking, or answering
    if cut:
        return Outcome(base, False, cut)
    if sample.get("empty_answer"):
        return Outcome(base, False, "empty answer")
    failure = failure_of(record, "base" if not base else "plus")
    solution = record.get("solution")
    if (solution is not None and not str(solution).strip()) or (failure is not None and failure.no_code):
        return Outcome(base, False, "no code / syntax error")
    if failure is None:  # a record that says neither pass nor why: count it as wrong
        return Outcome(base, False, "wrong output")
    if failure.kind in (LOAD_ERROR, RAISED):
        return Outcome(base, False, "exception", failure.exception)
    if failure.kind in (TIMEOUT, VANISHED):
        return Outcome(base, False, "time limit")
    return Outcome(base, False, "wrong output")


@dataclass
class ProfileResults:
    """One local profile's evaluated results on one dataset."""

    profile: str
    dataset: str  # humaneval | mbpp
    dataset_md5: str
    outcomes: dict[str, Outcome]  # task_id -> outcome, in dataset order
    tokens_per_second: float | None = None
    sandboxed: bool = True
    comparable: bool = True  # generated with the leaderboard's settings
    prompted: bool = True  # asked with evalplus's chat prompt (the leaderboard's prompted rows), else its base prompt
    self_test: bool = False  # the built-in reference profile: canonical solutions, not a model
    rates: dict[str, tuple[float, float]] = field(default_factory=dict)  # sampled: task -> (base, plus) pass rates
    answers: int = 1  # answers per problem (n_samples); more than 1: sampled, scored by the rates
    pass_at_k: dict = field(default_factory=dict)  # eval_results.json's, for sampled answers
    tokens_per_answer: float | None = None  # mean completion tokens of an answer (what more answers cost)
    first_answers: dict[str, str] = field(default_factory=dict)  # task -> the first answer's raw text

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def sampled(self) -> bool:
        return self.answers > 1

    def rate(self, task: str, phase: str) -> float:
        """The fraction of the problem's answers that pass (0 or 1 for a single answer)."""
        if task in self.rates:
            return self.rates[task][0 if phase == "base" else 1]
        return float(getattr(self.outcomes[task], phase))

    def solved(self, phase: str) -> float:
        if self.rates:
            return sum(self.rate(t, phase) for t in self.outcomes)
        return sum(getattr(o, phase) for o in self.outcomes.values())

    def score(self, phase: str) -> float:
        return 100.0 * self.solved(phase) / self.n if self.n else 0.0

    def interval(self, phase: str) -> tuple[float, float]:
        """95%: Wilson for one answer per problem; for sampled answers, normal over the problems' rates."""
        if not self.rates:
            return wilson(int(self.solved(phase)), self.n)
        from scipy.special import ndtri

        values = [self.rate(t, phase) for t in self.outcomes]
        mean, variance = _mean_variance(values)
        half = float(ndtri(0.975)) * (variance / len(values)) ** 0.5
        return max(0.0, 100 * (mean - half)), min(100.0, 100 * (mean + half))

    def categories(self) -> dict[str, int]:
        counts = {c: 0 for c in CATEGORIES}
        for outcome in self.outcomes.values():
            counts[outcome.category] += 1
        return counts

    def exceptions(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            if outcome.category == "exception":
                counts[outcome.exception] = counts.get(outcome.exception, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@lru_cache(maxsize=4096)  # the report asks for the same (k, n) many times (published neighbours)
def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for k successes in n trials, in percent."""
    if n == 0:
        return 0.0, 100.0
    from scipy.special import ndtri

    z = float(ndtri(1 - (1 - confidence) / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (1 + z * z / n)
    low = 0.0 if k == 0 else 100.0 * max(0.0, centre - half)
    high = 100.0 if k == n else 100.0 * min(1.0, centre + half)
    return min(low, 100.0 * p), max(high, 100.0 * p)  # rounding never puts the estimate outside


def published_interval(score: float, n: int) -> tuple[float, float]:
    """The 95% interval of a published pass@1 (in percent), on the same n problems as a local run."""
    return wilson(round(score * n / 100), n)


@dataclass
class Comparison:
    """Profile a against profile b on the same problems, one phase (base or plus)."""

    a: str
    b: str
    phase: str
    only_a: int  # problems a solves and b does not
    only_b: int
    p: float  # exact McNemar (two-sided), or the paired permutation test's
    p_adjusted: float = 1.0  # Holm, over the pairs of its family
    problems: list[str] = field(default_factory=list)  # the discordant problems
    method: str = "exact McNemar"  # or "paired permutation" (sampled answers: per-problem pass rates)
    difference: float = 0.0  # a - b, in points
    interval: tuple[float, float] = (0.0, 0.0)  # 95% bootstrap interval of the difference (permutation pairs)
    n: int = 0  # problems compared
    detectable: float = 0.0  # the smallest difference this data detects with 80% power at 5% (points)
    answers_for: dict = field(default_factory=dict)  # what detecting TARGET points would take (see answers_needed)

    @property
    def differ(self) -> int:
        return self.only_a + self.only_b

    @property
    def significant(self) -> bool:
        return self.p_adjusted < ALPHA


def mcnemar(a: dict[str, bool], b: dict[str, bool]) -> tuple[int, int, float, list[str]]:
    """(only a, only b, exact two-sided p, discordant problems) over the problems both have."""
    common = [t for t in a if t in b]
    only_a = [t for t in common if a[t] and not b[t]]
    only_b = [t for t in common if b[t] and not a[t]]
    discordant = len(only_a) + len(only_b)
    if discordant == 0:
        return 0, 0, 1.0, []
    from scipy.special import bdtr

    # two-sided exact binomial test at p = 1/2 (symmetric): twice the smaller tail, at most 1
    p = 2.0 * float(bdtr(min(len(only_a), len(only_b)), discordant, 0.5))
    return len(only_a), len(only_b), min(1.0, p), sorted(only_a + only_b, key=common.index)


COMBINED = "humaneval+mbpp"  # the run key of every full dataset's problems together (report/__init__._together)
POWER = 0.8
TARGET = 3.0  # points: the difference "what it would take" is computed for (quants differ by a few)
RESAMPLES = 9999


def paired_permutation(d: list[float], resamples: int = RESAMPLES, seed: int = 0) -> float:
    """Two-sided p of the mean of paired per-problem differences `d` under sign flips (the null: for every
    problem, a's and b's rates are exchangeable); exact when few problems differ, else `resamples` random
    flips (seeded: the report is reproducible)."""
    import numpy as np
    from scipy.stats import permutation_test

    values = np.asarray(d, dtype=float)
    if not values.any():
        return 1.0
    result = permutation_test((values,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                              vectorized=True, n_resamples=resamples, alternative="two-sided", random_state=seed)
    return float(min(1.0, result.pvalue))


def mean_interval(d: list[float], resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """The 95% bootstrap interval (percentile, over problems) of the mean difference, in points."""
    import numpy as np
    from scipy.stats import bootstrap

    values = np.asarray(d, dtype=float)
    if np.all(values == values[0]):
        return 100 * float(values[0]), 100 * float(values[0])
    result = bootstrap((values,), np.mean, confidence_level=0.95, n_resamples=resamples, method="percentile",
                       random_state=seed, vectorized=True)
    return 100 * float(result.confidence_interval.low), 100 * float(result.confidence_interval.high)


def _mean_variance(values: list[float]) -> tuple[float, float]:
    """The mean and the sample variance (n - 1 in the denominator; 0 for a single value)."""
    mean = sum(values) / len(values)
    return mean, sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)


def _z(power: float = POWER, alpha: float = ALPHA) -> float:
    from scipy.special import ndtri

    return float(ndtri(1 - alpha / 2) + ndtri(power))


def detectable_difference(d: list[float]) -> float:
    """The smallest mean difference (points) a paired test on these problems detects with 80% power at the
    5% level (normal approximation): (z_0.975 + z_0.8) x sd(d) / sqrt(N)."""
    if len(d) < 2:
        return 100.0
    return 100 * _z() * (_mean_variance(d)[1] / len(d)) ** 0.5


def answers_needed(a: "ProfileResults", b: "ProfileResults", tasks: list[str], phase: str,
                   target: float = TARGET) -> dict:
    """How many answers per problem (for both profiles) would detect `target` points with 80% power.

    The per-problem difference of pass rates has variance B + W/n with n answers: B, the spread of the
    true differences between problems (no number of answers removes it), and W, the sampling noise of one
    answer (the Bernoulli variances of both profiles). With sampled answers both are estimated (W from the
    rates, unbiased; B as what remains of the observed variance). With one greedy answer per profile W and
    B cannot be told apart: all of it is taken as W (B = 0), a lower bound on the answers needed.
    {"answers": n} or {"answers": None} (more answers cannot do it: more problems can), and "lower_bound"."""
    d = [a.rate(t, phase) - b.rate(t, phase) for t in tasks]
    size = len(d)
    if size < 2:
        return {"answers": None, "lower_bound": False}
    observed = _mean_variance(d)[1]

    def noise(r: "ProfileResults", t: str) -> float:  # one answer's Bernoulli variance, unbiased from n answers
        p = r.rate(t, phase)
        return p * (1 - p) * r.answers / (r.answers - 1) if r.sampled else 0.0

    if a.sampled or b.sampled:
        per_answer = sum(noise(a, t) + noise(b, t) for t in tasks) / size
        between = max(0.0, observed - sum(noise(a, t) / a.answers + noise(b, t) / b.answers for t in tasks) / size)
        bound = False
    else:
        per_answer, between, bound = observed, 0.0, True
    room = size * (target / 100) ** 2 / _z() ** 2 - between
    if room <= 0 or per_answer <= 0:
        return {"answers": None if per_answer > 0 else 1, "lower_bound": bound}
    import math

    return {"answers": max(1, math.ceil(per_answer / room)), "lower_bound": bound}


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (controls the family-wise error rate), in the input's order."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def compare_all(results: list[ProfileResults], phase: str, resamples: int = RESAMPLES) -> list[Comparison]:
    """Every pair of profiles evaluated on the same dataset file and the same way, Holm-adjusted as one
    family: exact McNemar between single greedy answers, a paired permutation test on the per-problem pass
    rates between sampled ones (a greedy and a sampled row measure different things: never paired)."""
    pairs = [(x, y) for x, y in combinations(results, 2) if x.dataset_md5 == y.dataset_md5 and x.sampled == y.sampled]
    comparisons = []
    for x, y in pairs:
        common = [t for t in x.outcomes if t in y.outcomes]
        d = [x.rate(t, phase) - y.rate(t, phase) for t in common]
        if not x.sampled and not y.sampled:
            only_a, only_b, p, problems = mcnemar({t: getattr(o, phase) for t, o in x.outcomes.items()},
                                                  {t: getattr(o, phase) for t, o in y.outcomes.items()})
            comparison = Comparison(x.profile, y.profile, phase, only_a, only_b, p, problems=problems)
        else:
            problems = [t for t, v in zip(common, d) if v]
            comparison = Comparison(x.profile, y.profile, phase, sum(v > 0 for v in d), sum(v < 0 for v in d),
                                    paired_permutation(d, resamples), problems=problems, method="paired permutation",
                                    interval=mean_interval(d, resamples))
        comparison.n = len(common)
        comparison.difference = 100 * sum(d) / len(d) if d else 0.0
        comparison.detectable = detectable_difference(d)
        comparison.answers_for = answers_needed(x, y, common, phase)
        comparisons.append(comparison)
    for comparison, adjusted in zip(comparisons, holm([c.p for c in comparisons])):
        comparison.p_adjusted = adjusted
    return comparisons


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}" if value < 0.01 else f"p = {value:.2f}"


def verdict(comparison: Comparison, family: int) -> str:
    """One plain sentence, e.g. 'q5 vs q6: 6 problems differ (2 vs 4), p = 0.69: no evidence of a difference'."""
    c = comparison
    head = f"{c.a} vs {c.b}: "
    if c.method != "exact McNemar":
        adjusted = f", {_p(c.p_adjusted)} after Holm over {family} pairs" if family > 1 and _p(c.p_adjusted) != _p(c.p) else ""
        higher = c.a if c.difference >= 0 else c.b
        low, high = c.interval if c.difference >= 0 else (-c.interval[1], -c.interval[0])  # as `higher` minus the other
        text = (f"{head}{higher} {abs(c.difference):.1f} points higher (95% interval {low:+.1f} to "
                f"{high:+.1f}), {_p(c.p)}{adjusted}, paired permutation over {c.n} problems")
        if c.significant:
            return f"{text}: **{higher} is better**"
        return f"{text}: no evidence of a difference"
    if c.differ == 0:
        return head + "they solve exactly the same problems: no evidence of a difference"
    adjusted = ""
    if family > 1:
        adjusted = (f" (unchanged after Holm over {family} pairs)" if _p(c.p_adjusted) == _p(c.p)
                    else f", {_p(c.p_adjusted)} after Holm over {family} pairs")
    text = f"{head}{c.differ} problem{'s differ' if c.differ != 1 else ' differs'} ({c.only_a} vs {c.only_b}), {_p(c.p)}{adjusted}"
    if c.significant:
        better = c.a if c.only_a > c.only_b else c.b
        return f"{text}: **{better} is better**"
    return f"{text}: no evidence of a difference"


# ---------------------------------------------------------------------------------------------------
# the analysis of a whole results folder: what every rendering (markdown, charts, JSON) reads


@dataclass(frozen=True)
class Standing:
    """Where a local profile stands among the published models (plus tests), by interval overlap."""

    key: str  # the published score compared ("humaneval+")
    score: float  # the local profile's
    level: list = field(default_factory=list)  # PublishedScore whose intervals overlap the profile's
    above: list = field(default_factory=list)  # published models clearly above it
    below: list = field(default_factory=list)

    @property
    def closest(self) -> list:
        return sorted(self.level, key=lambda m: abs(m.scores[self.key] - self.score))[:3]


def standing(result: ProfileResults, published: list, key: str) -> Standing:
    """`result` against the published `key` scores, each taken on the same number of problems. A row made
    with the base (completion) prompt is compared with the published base-prompt rows only."""
    low, high = result.interval("plus")
    found = Standing(key=key, score=result.score("plus"))
    for model in published:
        score = model.scores.get(key)
        if score is None or (not result.prompted and model.prompted):
            continue
        theirs = published_interval(score, result.n)
        (found.below if theirs[1] < low else found.above if theirs[0] > high else found.level).append(model)
    return found


@dataclass(frozen=True)
class SelfTestCheck:
    """The self-test against what its dataset file is known to fail (datasets.SELF_TEST)."""

    result: ProfileResults
    expectation: object  # datasets.SelfTestExpectation, or None when none is recorded for the file
    failing: list[str]  # every task failing a phase
    unexpected: list[str]  # "task (phase)" failing although not expected to
    recovered: list[str]  # "task (phase)" expected to fail but passing
    known: dict[str, str]  # task -> why, the expected failures among the run's tasks


def check_self_test(result: ProfileResults) -> SelfTestCheck:
    from ..datasets import SELF_TEST

    failing = {phase: {t for t, o in result.outcomes.items() if not getattr(o, phase)} for phase in PHASES}
    expectation = SELF_TEST.get(result.dataset_md5)
    fails = expectation.fails if expectation else {}
    known = {t: why for t, (phases, why) in fails.items() if t in result.outcomes}
    expected = {phase: {t for t in known if phase in fails[t][0]} for phase in PHASES}
    return SelfTestCheck(
        result=result, expectation=expectation, failing=sorted(failing["base"] | failing["plus"]),
        unexpected=sorted(f"{t} ({phase})" for phase in PHASES for t in failing[phase] - expected[phase])
        if expectation else [],
        recovered=sorted(f"{t} ({phase})" for phase in PHASES for t in expected[phase] - failing[phase]),
        known=known)


@dataclass
class RunAnalysis:
    """Everything the report says about one run folder (a dataset, or a subset of one)."""

    key: str
    subset: bool
    self_tests: list[SelfTestCheck]
    results: list[ProfileResults]  # the models, best first (plus tests)
    matrix: list[ProfileResults]  # the models in the report's profile order (the problem matrix's columns)
    standings: dict[str, Standing]  # profile -> its standing (full datasets with published scores only)
    comparisons: dict[str, list[Comparison]]  # phase -> every pair, Holm-adjusted per phase
    tasks: list[str]  # every problem of the run, in dataset order
    disagreements: list[str]  # problems whose outcome differs among the models

    @property
    def sizes(self) -> list[int]:
        return sorted({r.n for r in [*self.results, *(c.result for c in self.self_tests)]})

    @cached_property
    def best(self) -> str:
        return max(self.results, key=lambda r: r.solved("plus")).profile if self.results else ""

    def shown(self, limit: int) -> list[Comparison]:
        """The plus-test comparisons shown inline: all pairs up to `limit`, else each against the best."""
        plus, best = self.comparisons["plus"], self.best
        return plus if len(plus) <= limit else [c for c in plus if best in (c.a, c.b)]

    @property
    def changed_on_base(self) -> list[Comparison]:
        """Base-test comparisons whose verdict differs from the plus tests'."""
        return [b for p, b in zip(self.comparisons["plus"], self.comparisons["base"]) if p.significant != b.significant]


@dataclass
class Analysis:
    """The analysed results folder: every run's analysis, in the report's order."""

    runs: list[RunAnalysis]

    def run(self, key: str) -> RunAnalysis | None:
        return next((r for r in self.runs if r.key == key), None)


PHASES = ("base", "plus")


def analyse(evaluated: dict[str, list[ProfileResults]], published: list, subsets: set[str],
            leaderboard_key: dict[str, str]) -> Analysis:
    """The analysis of every run folder: `evaluated` maps a run key to its profiles' results (in the
    report's order), `leaderboard_key` a full dataset's key to the published score it compares with."""
    runs = []
    for key, everything in evaluated.items():
        models = sorted((r for r in everything if not r.self_test), key=lambda r: -r.solved("plus"))
        published_key = None if key in subsets else leaderboard_key.get(key)
        matrix = [r for r in everything if not r.self_test]
        tasks = list(dict.fromkeys(t for r in matrix for t in r.outcomes))
        runs.append(RunAnalysis(
            key=key, subset=key in subsets,
            self_tests=[check_self_test(r) for r in everything if r.self_test],
            results=models, matrix=matrix,
            standings={r.profile: standing(r, published, published_key) for r in models if not r.sampled}
            if published_key else {},
            comparisons={phase: compare_all(models, phase) for phase in ("plus", "base")},
            tasks=tasks,
            disagreements=[t for t in tasks if len({(r.outcomes[t].plus if t in r.outcomes else None)
                                                     for r in matrix}) > 1]))
    return Analysis(runs=runs)


@dataclass(frozen=True)
class Agreement:
    """A profile's first answers against its reference profile's, on the problems both answered."""

    profile: str
    reference: str
    run: str
    problems: int
    identical: int  # answers identical to the reference's, character for character
    both_pass: int  # the others, by their plus-test outcomes
    both_fail: int
    only_profile: int  # it passes, the reference does not
    only_reference: int


def agreement(result: ProfileResults, reference: ProfileResults) -> Agreement:
    common = [t for t in result.outcomes if t in reference.outcomes]
    same = [t for t in common if t in result.first_answers and result.first_answers.get(t) == reference.first_answers.get(t)]
    identical = set(same)
    other = [t for t in common if t not in identical]
    mine = {t: result.outcomes[t].plus for t in other}
    theirs = {t: reference.outcomes[t].plus for t in other}
    return Agreement(result.profile, reference.profile, result.dataset, len(common), len(same),
                     sum(mine[t] and theirs[t] for t in other), sum(not mine[t] and not theirs[t] for t in other),
                     sum(mine[t] and not theirs[t] for t in other), sum(theirs[t] and not mine[t] for t in other))
