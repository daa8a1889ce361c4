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

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

__all__ = ["CATEGORIES", "Outcome", "ProfileResults", "Comparison", "classify", "wilson", "published_interval",
           "mcnemar", "holm", "compare_all", "verdict", "ALPHA"]

ALPHA = 0.05
PASSED = "passed"
CATEGORIES = (PASSED, "wrong output", "exception", "time limit", "no code / syntax error", "cut at token cap",
              "empty answer")
SHORT = {PASSED: "pass", "wrong output": "wrong", "exception": "raised", "time limit": "time",
         "no code / syntax error": "no code", "cut at token cap": "cut", "empty answer": "empty"}
_RAISED = re.compile(r"raised (\w+)")
_NO_CODE = ("SyntaxError", "IndentationError", "TabError", "KeyError", "NameError")  # KeyError: no entry point


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
    """The outcome of an eval_results.json record, with what generation recorded about the answer
    (`finish_reason`, `empty_answer`) when the samples file has it."""
    base = record.get("base_status") == "pass"
    plus = base and record.get("plus_status") == "pass"
    if plus:
        return Outcome(True, True, PASSED)
    sample = sample or {}
    if sample.get("empty_answer"):
        return Outcome(base, False, "empty answer")
    if sample.get("finish_reason") == "length":
        return Outcome(base, False, "cut at token cap")
    status, detail = ((record.get("base_status"), record.get("base_detail") or "") if not base
                      else (record.get("plus_status"), record.get("plus_detail") or ""))
    solution = record.get("solution")
    if solution is not None and not str(solution).strip():
        return Outcome(base, False, "no code / syntax error")
    if detail.startswith("loading the solution raised"):
        error = detail.rsplit(" ", 1)[-1]
        if error in _NO_CODE:
            return Outcome(base, False, "no code / syntax error")
        return Outcome(base, False, "exception", error)
    if status == "timeout" or "time limit" in detail:
        return Outcome(base, False, "time limit")
    raised = _RAISED.match(detail)
    if raised:
        return Outcome(base, False, "exception", raised.group(1))
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
    self_test: bool = False  # the built-in reference profile: canonical solutions, not a model

    @property
    def n(self) -> int:
        return len(self.outcomes)

    def solved(self, phase: str) -> int:
        return sum(getattr(o, phase) for o in self.outcomes.values())

    def score(self, phase: str) -> float:
        return 100.0 * self.solved(phase) / self.n if self.n else 0.0

    def interval(self, phase: str) -> tuple[float, float]:
        return wilson(self.solved(phase), self.n)

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
    p: float  # exact McNemar (two-sided)
    p_adjusted: float = 1.0  # Holm, over the pairs of its family
    problems: list[str] = field(default_factory=list)  # the discordant problems

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


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (controls the family-wise error rate), in the input's order."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def compare_all(results: list[ProfileResults], phase: str) -> list[Comparison]:
    """Every pair of profiles evaluated on the same dataset file, Holm-adjusted as one family."""
    pairs = [(x, y) for x, y in combinations(results, 2) if x.dataset_md5 == y.dataset_md5]
    comparisons = []
    for x, y in pairs:
        only_a, only_b, p, problems = mcnemar({t: getattr(o, phase) for t, o in x.outcomes.items()},
                                              {t: getattr(o, phase) for t, o in y.outcomes.items()})
        comparisons.append(Comparison(x.profile, y.profile, phase, only_a, only_b, p, problems=problems))
    for comparison, adjusted in zip(comparisons, holm([c.p for c in comparisons])):
        comparison.p_adjusted = adjusted
    return comparisons


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}" if value < 0.01 else f"p = {value:.2f}"


def verdict(comparison: Comparison, family: int) -> str:
    """One plain sentence, e.g. 'q5 vs q6: 6 problems differ (2 vs 4), p = 0.69: no evidence of a difference'."""
    c = comparison
    head = f"{c.a} vs {c.b}: "
    if c.differ == 0:
        return head + "they solve exactly the same problems: no evidence of a difference"
    adjusted = ""
    if family > 1:
        adjusted = (f" (unchanged after Holm over {family} pairs)" if _p(c.p_adjusted) == _p(c.p)
                    else f", {_p(c.p_adjusted)} after Holm over {family} pairs")
    text = f"{head}{c.differ} problem{'s' if c.differ != 1 else ''} differ ({c.only_a} vs {c.only_b}), {_p(c.p)}{adjusted}"
    if c.significant:
        better = c.a if c.only_a > c.only_b else c.b
        return f"{text}: **{better} is better**"
    return f"{text}: no evidence of a difference"
