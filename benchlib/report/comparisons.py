"""Two profiles compared on the same problems: the paired test, its interval, the smallest difference it
detects, what a TARGET-point difference and the margin would need (answers per problem, GPU hours), the
verdict at the margin, and for sampled answers how much the shared seeds couple them. Structured
findings only (markdown.py writes the sentences); the numbers come from statistics.py.

One level per comparison: a primary comparison is judged at ALPHA over the family of every pair's
primary comparison (Holm for the verdict; ALPHA / family for its interval, its power figures and what it
needs: the level Holm gives the smallest p); a secondary one within its own run's family, likewise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from . import statistics as stats
from .outcomes import ProfileResults
from .statistics import ALPHA, POWER

__all__ = ["TARGET", "Need", "Coupling", "MarginVerdict", "Comparison", "Pair", "mcnemar", "seed_pairing", "compare"]

TARGET = stats.MARGIN  # points: the difference "what it would take" plans for, by default the margin


def mcnemar(a: dict[str, bool], b: dict[str, bool]) -> tuple[int, int, float, list[str]]:
    """(only a, only b, exact two-sided p, discordant problems) over the problems both have."""
    common = [t for t in a if t in b]
    only_a = [t for t in common if a[t] and not b[t]]
    only_b = [t for t in common if b[t] and not a[t]]
    return len(only_a), len(only_b), stats.mcnemar_p(len(only_a), len(only_b)), sorted(only_a + only_b, key=common.index)


@dataclass(frozen=True)
class Need:
    """What an answer would take: answers per problem for each of the two profiles (n_samples, temperature
    > 0), on `problems` problems (a subset pilot's figure is the full dataset's), and its GPU cost."""

    answers: int | None  # None: no number of answers can (the problems differ too much: more problems would)
    problems: int  # the problems it is computed for: the full dataset's, for a subset pilot
    measured: bool  # B and W estimated from sampled answers; False: from one greedy answer (B assumed 0)
    low: int | None = None  # the 80% range over the measured problems (sampled: B is noisy on few problems)
    high: int | None = None
    hours: float | None = None  # GPU hours for both profiles at the measured speeds (None: a speed unknown)
    projected: bool = False  # measured on a subset, projected to the full dataset


@dataclass(frozen=True)
class Coupling:
    """Two sampled profiles' answers paired by seed index (the same seed for both): how alike they are."""

    pairs: int  # answer pairs compared (problem, seed index)
    identical: int  # identical text
    agree: float  # share of pairs with the same outcome (plus tests)
    agree_independent: float  # the same share if the two answers were independent draws at their rates
    gain: float  # answers needed unpaired / paired (what pairing by seed saves)


@dataclass(frozen=True)
class MarginVerdict:
    """Is the candidate within `margin` points of the comparator? Non-inferiority (one-sided) where the
    candidate names the comparator as its `reference_profile`; else equivalence (two one-sided tests)."""

    kind: str  # "non-inferiority" | "equivalence"
    candidate: str
    comparator: str
    margin: float  # points
    level: float  # each one-sided test's level (ALPHA over the family of margin verdicts)
    low: float  # the candidate minus the comparator: bounds at that level, in points
    high: float
    outcome: str  # "within" | "outside" | "inconclusive"
    need: Need | None = None  # for "inconclusive": what the margin needs (planned at equal rates)


@dataclass
class Comparison:
    """Profile a against profile b on the same problems, one phase (base or plus)."""

    a: str
    b: str
    phase: str
    only_a: int  # problems a solves and b does not (sampled: problems where a's rate is higher)
    only_b: int
    p: float  # exact McNemar (two-sided), or the paired permutation test's
    p_adjusted: float = 1.0  # Holm, over the comparisons of its family
    problems: list[str] = field(default_factory=list)  # the discordant problems
    method: str = "exact McNemar"  # or "paired permutation" (sampled answers: per-problem pass rates)
    difference: float = 0.0  # a - b, in points
    interval: tuple[float, float] = (0.0, 0.0)  # of the difference, at `level` (Tango; sampled: bootstrap)
    n: int = 0  # problems compared
    run: str = ""  # the run key
    primary: bool = True  # the pair's one verdict (else secondary: shown, never a verdict)
    family: int = 1  # comparisons in its Holm family
    level: float = ALPHA  # the two-sided level of its interval and power figures: ALPHA / family
    detectable: float | None = None  # the smallest difference (points) detected with 80% power at `level`; None: none
    need: Need | None = None  # what detecting the target difference (the margin) would take
    target: float = TARGET  # points
    paired_by_seed: bool = False  # sampled answers paired by seed index
    unpaired_why: str = ""  # sampled, not paired: why
    coupling: Coupling | None = None
    margin: MarginVerdict | None = None  # plus tests only

    @property
    def differ(self) -> int:
        return self.only_a + self.only_b

    @property
    def significant(self) -> bool:
        return self.p_adjusted < ALPHA


@dataclass(frozen=True, eq=False)  # (identity: a pair is one run's, used as a set member)
class Pair:
    """Two profiles' results on one run, before any statistic: what `compare` needs."""

    x: ProfileResults
    y: ProfileResults
    run: str
    subset: bool = False
    budget: bool = False

    @cached_property
    def common(self) -> list[str]:
        return [t for t in self.x.outcomes if t in self.y.outcomes]

    @property
    def names(self) -> frozenset:
        return frozenset((self.x.profile, self.y.profile))

    @property
    def rank(self) -> tuple:
        """Which of a pair's runs is its verdict: a full run before a subset, the leaderboard's cap before a
        reasoning budget, then the most problems (both datasets together)."""
        return not self.subset, not self.budget, len(self.common)


def seed_pairing(x: ProfileResults, y: ProfileResults, tasks: list[str]) -> str:
    """Why two sampled runs cannot be paired by seed index ("" when they can): only answers asked with the
    same sampling settings and the same answer indices share their seeds."""
    if x.sampling is None or y.sampling is None:
        who = x.profile if x.sampling is None else y.profile
        return f"{who}'s answers carry no sampling settings (not generated by benchlib)"
    if x.sampling != y.sampling:
        return f"different sampling settings ({_settings(x.sampling)} vs {_settings(y.sampling)})"
    differing = sum(x.answer_indices.get(t) != y.answer_indices.get(t) for t in tasks)
    if differing:
        return f"the answer indices differ on {differing} problem{'s' if differing != 1 else ''} (a partial run)"
    return ""


def _settings(sampling: tuple) -> str:
    return f"temperature {sampling[0]}, top_p {sampling[1]}"


def _rows(pair: Pair, phase: str) -> tuple[list, list]:
    return ([pair.x.row(t, phase) for t in pair.common], [pair.y.row(t, phase) for t in pair.common])


def _differences(pair: Pair, phase: str) -> list[float]:
    return [pair.x.rate(t, phase) - pair.y.rate(t, phase) for t in pair.common]


def _greedy(pair: Pair) -> bool:
    return not pair.x.sampled and not pair.y.sampled


def _sampled_interval(d: list[float], confidence: float, resamples: int) -> tuple[float, float]:
    """The interval of a sampled pair's mean difference: the bootstrap over problems; where no problem's
    rates differ at all the bootstrap collapses to a point, and Tango's interval for no discordant problem
    (what one greedy answer each would give: wider than the sampled truth) is taken instead."""
    if not any(d):
        return stats.tango_interval(0, 0, len(d), confidence)
    return stats.bootstrap_interval(d, confidence, resamples)


def _interval(pair: Pair, phase: str, only: tuple[int, int], d: list[float], confidence: float,
              resamples: int) -> tuple[float, float]:
    """The interval of a - b (points) at `confidence`: Tango's for greedy pairs, else `_sampled_interval`."""
    low, high = (stats.tango_interval(*only, len(d), confidence) if _greedy(pair)
                 else _sampled_interval(d, confidence, resamples))
    return 100 * low, 100 * high


def _hours(pair: Pair, answers: int | None, problems: int) -> float | None:
    """Generation time of `answers` answers to `problems` problems for both profiles, at their measured
    tokens per answer and tokens per second; None when a speed is unknown."""
    if answers is None:
        return None
    total = 0.0
    for result in (pair.x, pair.y):
        if not result.tokens_per_answer or not result.tokens_per_second:
            return None
        total += answers * problems * result.tokens_per_answer / result.tokens_per_second
    return total / 3600


def need(pair: Pair, phase: str, effect: float, spread: float, problems: int, paired: bool) -> Need:
    """Answers per problem that make a difference of `effect` points detectable (spread: the sum of the
    test's and the power's normal quantiles), on `problems` problems. From sampled answers, B and W are
    estimated (paired by seed where the runs allow) with a range over the measured problems; from one greedy
    answer each they cannot be told apart: the whole variance is taken as W (B = 0): an estimate that
    assumes every disagreement is sampling noise."""
    import numpy as np

    projected = problems != len(pair.common)
    if _greedy(pair):
        d = np.asarray(_differences(pair, phase))
        parts = stats.Components(0.0, float(np.var(d, ddof=1)) if len(d) > 1 else 0.0, len(d), False)
        answers = stats.answers_needed(parts, problems, effect / 100, spread)
        return Need(answers, problems, False, hours=_hours(pair, answers, problems), projected=projected)
    a_rows, b_rows = _rows(pair, phase)
    parts = stats.components(a_rows, b_rows, paired)
    answers = stats.answers_needed(parts, problems, effect / 100, spread)
    low, high = stats.answers_range(a_rows, b_rows, paired, problems, effect / 100, spread)
    return Need(answers, problems, True, low, high, _hours(pair, answers, problems), projected)


def coupling(pair: Pair, phase: str, problems: int, level: float, target: float, paired: int | None) -> Coupling:
    """How alike two seed-paired sampled runs' answers are, and what pairing by seed saves against the
    answers the paired estimate asked for (`paired`: need(...).answers at the same level and target)."""
    a_rows, b_rows = _rows(pair, phase)
    pairs = sum(len(r) for r in a_rows)
    identical = sum(x == y for t in pair.common
                    for x, y in zip(pair.x.answer_digests.get(t, ()), pair.y.answer_digests.get(t, ())))
    agree = sum(x == y for a, b in zip(a_rows, b_rows) for x, y in zip(a, b)) / pairs if pairs else 0.0
    independent = sum(len(a) * (pa * pb + (1 - pa) * (1 - pb)) for a, b in zip(a_rows, b_rows)
                      for pa, pb in [(sum(a) / len(a), sum(b) / len(b))]) / pairs if pairs else 0.0
    spread = stats.z(1 - level / 2) + stats.z(POWER)
    unpaired = stats.answers_needed(stats.components(a_rows, b_rows, False), problems, target / 100, spread)
    gain = (unpaired / paired) if paired and unpaired else 1.0
    return Coupling(pairs, identical, agree, independent, gain)


def margin_verdict(pair: Pair, comparison: Comparison, kind: str, candidate_is_a: bool, margin: float,
                   level: float, problems: int, resamples: int) -> MarginVerdict:
    """The verdict at `margin` points, each one-sided test at `level`: non-inferiority (the candidate at
    most `margin` worse) or equivalence (within `margin` either way), from the interval at 1 - 2 level."""
    d = _differences(pair, "plus")
    low, high = _interval(pair, "plus", (comparison.only_a, comparison.only_b), d, 1 - 2 * level, resamples)
    if not candidate_is_a:
        low, high = -high, -low
    if kind == "non-inferiority":
        outcome = "within" if low > -margin else "outside" if high < -margin else "inconclusive"
        spread = stats.z(1 - level) + stats.z(POWER)
    else:
        outcome = ("within" if -margin < low and high < margin else
                   "outside" if low >= margin or high <= -margin else "inconclusive")
        spread = stats.z(1 - level) + stats.z(1 - (1 - POWER) / 2)  # both one-sided tests at once, at equal rates
    needed = (need(pair, "plus", margin, spread, problems, comparison.paired_by_seed)
              if outcome == "inconclusive" else None)
    names = (pair.x.profile, pair.y.profile) if candidate_is_a else (pair.y.profile, pair.x.profile)
    return MarginVerdict(kind, *names, margin, level, low, high, outcome, needed)


def compare(pair: Pair, phase: str, family: int, level: float, problems: int, resamples: int,
            target: float = TARGET) -> Comparison:
    """The paired comparison of a pair on one phase, at `level` (its p is adjusted later, with its family);
    what detecting `target` points would need. `problems`: the full dataset's size (what a subset pilot's
    needs are projected to)."""
    x, y, tasks = pair.x, pair.y, pair.common
    d = _differences(pair, phase)
    if _greedy(pair):
        only_a, only_b, p, discordant = mcnemar({t: getattr(x.outcomes[t], phase) for t in tasks},
                                                {t: getattr(y.outcomes[t], phase) for t in tasks})
        found = Comparison(x.profile, y.profile, phase, only_a, only_b, p, problems=discordant)
    else:
        why = seed_pairing(x, y, tasks)
        found = Comparison(x.profile, y.profile, phase, sum(v > 0 for v in d), sum(v < 0 for v in d),
                           stats.sign_flip_p(d, resamples), problems=[t for t, v in zip(tasks, d) if v],
                           method="paired permutation", paired_by_seed=not why, unpaired_why=why)
    found.run, found.n, found.family, found.level, found.target = pair.run, len(tasks), family, level, target
    found.difference = 100 * sum(d) / len(d) if d else 0.0
    found.interval = _interval(pair, phase, (found.only_a, found.only_b), d, 1 - level, resamples)
    if phase != "plus":
        return found
    if _greedy(pair):
        detectable = stats.greedy_detectable(len(tasks), found.differ, level)
    else:
        detectable = stats.normal_detectable(d, level)
    found.detectable = None if detectable is None else 100 * detectable
    found.need = need(pair, phase, target, stats.z(1 - level / 2) + stats.z(POWER), problems, found.paired_by_seed)
    if found.paired_by_seed:
        found.coupling = coupling(pair, phase, problems, level, target, found.need.answers)
    return found
