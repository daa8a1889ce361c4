"""A realistic model of two quants' answers, for simulations of the report's statistics (tests and bench).

Per-problem pass rates as coding benchmarks have them: a third of the problems pinned (every model solves
them, or none does: 0 or 1), the others from Beta(2, 1); mean pass@1 about 67%. The second variant is the
first shifted on the logit scale (pinned problems stay pinned), by the shift that moves the mean by exactly
the difference asked for. Answers: Bernoulli draws at those rates; `coupling` is the chance that the two
variants' answers to the same (problem, seed index) share their random draw (common random numbers: what
a shared seed does to two quants of one model).
"""

from __future__ import annotations

import numpy as np

__all__ = ["rates", "shifted", "answers", "PROBLEMS"]

PROBLEMS = 164


def rates(rng: np.random.Generator, problems: int = PROBLEMS) -> np.ndarray:
    pinned = rng.random(problems) < 1 / 3
    values = rng.beta(2.0, 1.0, problems)
    return np.where(pinned, (rng.random(problems) < 0.7).astype(float), values)


def shifted(p: np.ndarray, difference: float) -> np.ndarray:
    """`p` shifted on the logit scale so that the mean moves by `difference` (a proportion, may be < 0)."""
    free = (p > 0) & (p < 1)
    logit = np.log(p[free] / (1 - p[free]))

    def moved(shift: float) -> np.ndarray:
        out = p.copy()
        out[free] = 1 / (1 + np.exp(-(logit + shift)))
        return out

    low, high = -20.0, 20.0
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if moved(middle).mean() - p.mean() < difference else (low, middle)
    return moved((low + high) / 2)


def answers(p: np.ndarray, q: np.ndarray, n: int, coupling: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): 0/1 outcomes of shape (problems, n) for the two variants, answer j of both with seed j."""
    u = rng.random((len(p), n))
    shared = rng.random((len(p), n)) < coupling
    v = np.where(shared, u, rng.random((len(p), n)))
    return (u < p[:, None]).astype(int), (v < q[:, None]).astype(int)
