"""What one profile's run says, per problem: the outcome of each answer (passed, or why it failed), its
pass rates, and the run's score with its interval. Read from the results folder by collect.py; compared,
pair by pair, by comparisons.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..evaluation.verdicts import LOAD_ERROR, RAISED, TIMEOUT, VANISHED, failure_of
from ..generation.loops import cut_kind
from . import statistics as stats
from .statistics import wilson

__all__ = ["CATEGORIES", "OPTIONAL", "PASSED", "SHORT", "PHASES", "Outcome", "ProfileResults", "classify", "digest",
           "published_interval"]

PASSED = "passed"
CATEGORIES = (PASSED, "wrong output", "exception", "time limit", "no code / syntax error", "cut at token cap",
              "cut while thinking", "looped", "empty answer")
OPTIONAL = ("cut while thinking", "looped")  # reasoning models' categories: shown where they occur
SHORT = {PASSED: "pass", "wrong output": "wrong", "exception": "raised", "time limit": "time",
         "no code / syntax error": "no code", "cut at token cap": "cut", "cut while thinking": "thinking",
         "looped": "looped", "empty answer": "empty"}
PHASES = ("base", "plus")
# how report.html colours a category (its CSS class cat-<kind>) and what it says of it
KIND = {PASSED: "pass", "wrong output": "fail", "exception": "fail", "time limit": "time"}  # others: "other"
WHY = {
    "cut at token cap": "The answer was cut at the token cap (finish_reason length) before it was complete.",
    "cut while thinking": "The token budget ran out while the model was still reasoning: no answer was written.",
    "looped": "The model repeated itself until the budget ran out (a loop).",
    "empty answer": "The model's answer was empty.",
    "no code / syntax error": "The answer holds no loadable code with the entry point.",
}


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


def digest(text: object) -> str:
    """A short fingerprint of an answer's text: identical answers across profiles, without keeping the text."""
    return hashlib.blake2b(str(text).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@dataclass
class ProfileResults:
    """One local profile's evaluated results on one run (a dataset, a subset, both datasets together)."""

    profile: str
    dataset: str  # the run key: humaneval | mbpp | humaneval-subset40 | ...
    dataset_md5: str
    outcomes: dict[str, Outcome]  # task_id -> the first answer's outcome, in dataset order
    tokens_per_second: float | None = None
    sandboxed: bool = True
    comparable: bool = True  # generated with the leaderboard's settings
    prompted: bool = True  # asked with evalplus's chat prompt (the leaderboard's prompted rows), else its base prompt
    self_test: bool = False  # the built-in reference profile: canonical solutions, not a model
    rates: dict[str, tuple[float, float]] = field(default_factory=dict)  # sampled: task -> (base, plus) pass rates
    answers: int = 1  # the most answers any problem has (n_samples); more than 1: sampled, scored by the rates
    pass_at_k: dict = field(default_factory=dict)  # eval_results.json's, for sampled answers
    tokens_per_answer: float | None = None  # mean completion tokens of an answer (what more answers cost)
    first_answers: dict[str, str] = field(default_factory=dict)  # task -> the first answer's raw text
    # sampled answers, per problem in answer-index order: (base, plus) outcomes, the seed indices, and a
    # digest of each answer's text (what seed pairing and the coupling figures read)
    answer_outcomes: dict[str, tuple[tuple[bool, bool], ...]] = field(default_factory=dict)
    answer_indices: dict[str, tuple[int, ...]] = field(default_factory=dict)
    answer_digests: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sampling: tuple | None = None  # (temperature, top_p, seed scheme) as generated; None: unknown (not seeded by us)

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def sampled(self) -> bool:
        return self.answers > 1

    def count(self, task: str) -> int:
        """The answers this problem has (a partial run may have fewer on some)."""
        return len(self.answer_outcomes.get(task, ())) or 1

    def rate(self, task: str, phase: str) -> float:
        """The fraction of the problem's answers that pass (0 or 1 for a single answer)."""
        if task in self.rates:
            return self.rates[task][0 if phase == "base" else 1]
        return float(getattr(self.outcomes[task], phase))

    def row(self, task: str, phase: str) -> tuple[int, ...]:
        """Each answer's outcome (1 passed) on `phase`, in answer-index order."""
        if task in self.answer_outcomes:
            return tuple(int(o[0 if phase == "base" else 1]) for o in self.answer_outcomes[task])
        return (int(getattr(self.outcomes[task], phase)),)

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
        import numpy as np

        values = np.array([self.rate(t, phase) for t in self.outcomes])
        half = stats.z(0.975) * float(np.std(values, ddof=1) if len(values) > 1 else 0.0) / len(values) ** 0.5
        mean = float(values.mean())
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


def published_interval(score: float, n: int) -> tuple[float, float]:
    """The 95% interval of a published pass@1 (in percent), on the same n problems as a local run."""
    return wilson(round(score * n / 100), n)


