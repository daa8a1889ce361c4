"""The statistics of the report, as pure functions of numbers (no benchlib data types, no files): each one
is tested alone, by hand-computed values and by seeded simulation (tests/test_statistics.py).

Every function takes its level explicitly: the report decides one level per comparison (the 5% level
divided over the family of primary comparisons, `analysis.Family`) and passes the same level to the test,
its interval, its power figure and the answers it asks for.

    wilson              the 95% interval of one score (k of n)
    mcnemar_p           exact McNemar (two-sided binomial at 1/2 on the discordant problems)
    tango_interval      Tango's score interval for a paired difference of proportions (greedy pairs)
    greedy_power        the exact McNemar test's power at a discordance rate (unconditional over the
    greedy_detectable   discordant count) and the smallest difference it detects, or None
    sign_flip_p         the paired permutation test (sign flips; exact where few problems differ)
    bootstrap_interval  the percentile bootstrap over problems (sampled pairs)
    Components          B and W of the per-problem difference (between problems, per answer), paired
                        by seed or independent, and what they imply: answers_needed, its range
    holm                Holm's step-down adjustment
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["ALPHA", "POWER", "MARGIN", "z", "wilson", "mcnemar_p", "tango_interval", "greedy_power",
           "greedy_detectable", "sign_flip_p", "bootstrap_interval", "normal_detectable", "Components",
           "components", "answers_needed", "answers_range", "holm", "EXACT_FLIPS", "resamples_for"]

ALPHA = 0.05  # the family-wise error rate of the verdicts
POWER = 0.8  # the power every "detects" and "needs" figure is computed for
MARGIN = 3.0  # points: the default margin of the "within" verdict (BENCH_MARGIN)
EXACT_FLIPS = 16  # up to this many problems with a non-zero difference, the permutation test enumerates
BASE_RESAMPLES = 9999


def z(probability: float) -> float:
    """The standard normal quantile."""
    from scipy.special import ndtri

    return float(ndtri(probability))


@lru_cache(maxsize=4096)  # the report asks for the same (k, n) many times (published neighbours)
def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for k successes in n trials, in percent."""
    if n == 0:
        return 0.0, 100.0
    q = z(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + q * q / (2 * n)) / (1 + q * q / n)
    half = q * (p * (1 - p) / n + q * q / (4 * n * n)) ** 0.5 / (1 + q * q / n)
    low = 0.0 if k == 0 else 100.0 * max(0.0, centre - half)
    high = 100.0 if k == n else 100.0 * min(1.0, centre + half)
    return min(low, 100.0 * p), max(high, 100.0 * p)  # rounding never puts the estimate outside


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar: twice the smaller binomial tail at p = 1/2 of the discordant pairs, at most 1."""
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    from scipy.special import bdtr

    return min(1.0, 2.0 * float(bdtr(min(only_a, only_b), discordant, 0.5)))


def _tango_z(delta: float, only_a: int, only_b: int, n: int) -> float:
    """Tango's score statistic at a hypothesised difference `delta` (= P(only a) - P(only b)), with
    P(only b) at its maximum-likelihood value under that difference (the root of a quadratic)."""
    a_coef = 2.0 * n
    b_coef = -only_a - only_b + (2.0 * n - only_a + only_b) * delta
    c_coef = -only_b * delta * (1.0 - delta)
    q = (-b_coef + math.sqrt(max(0.0, b_coef * b_coef - 4 * a_coef * c_coef))) / (2 * a_coef)
    variance = n * (2 * q + delta - delta * delta)
    if variance <= 0:
        return math.copysign(math.inf, only_a - only_b - n * delta) if only_a - only_b != n * delta else 0.0
    return (only_a - only_b - n * delta) / math.sqrt(variance)


def tango_interval(only_a: int, only_b: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Tango's (1998) score interval for the paired difference of proportions a - b, from the problems
    only a solves, only b solves, and all problems (`n`); as proportions. It keeps its coverage at 164
    problems and at none or few discordant ones, where the normal (Wald) interval collapses to a point."""
    if n == 0:
        return -1.0, 1.0
    from scipy.optimize import brentq

    q = z(1 - (1 - confidence) / 2)
    estimate = (only_a - only_b) / n
    edge = 1 - 1e-12

    def bound(target: float, lo: float, hi: float) -> float:
        f = lambda d: _tango_z(d, only_a, only_b, n) - target  # noqa: E731 - decreasing in d
        if f(lo) * f(hi) > 0:
            return lo if f(lo) < 0 else hi
        return brentq(f, lo, hi, xtol=1e-10)

    low = bound(q, -edge, min(estimate, edge)) if estimate > -edge else -1.0
    high = bound(-q, max(estimate, -edge), edge) if estimate < edge else 1.0
    return max(-1.0, min(low, estimate)), min(1.0, max(high, estimate))


@lru_cache(maxsize=256)
def _mcnemar_cutoffs(n: int, alpha: float) -> tuple[int, ...]:
    """Per discordant count k (0..n): the largest count j on the smaller side that the exact McNemar test
    rejects at `alpha` (-1: none)."""
    from scipy.special import bdtr

    cut = []
    j = 0
    for k in range(n + 1):  # the cut-off never falls as k grows: walk it up
        while j <= k // 2 and 2 * bdtr(j, k, 0.5) <= alpha:
            j += 1
        cut.append(j - 1)
    return tuple(cut)


def _discordance_weights(n: int, rate: float):
    """The discordant counts that matter (probability above 1e-12) and their binomial probabilities."""
    import numpy as np
    from scipy.special import gammaln

    counts = np.arange(n + 1)
    rate = min(max(rate, 1e-300), 1.0)
    with np.errstate(divide="ignore"):
        log = (gammaln(n + 1) - gammaln(counts + 1) - gammaln(n - counts + 1) + counts * np.log(rate)
               + (n - counts) * np.log1p(-rate) if rate < 1 else np.where(counts == n, 0.0, -np.inf))
    weights = np.exp(log)
    keep = weights > 1e-12
    return counts[keep], weights[keep]


def _power_at(counts, weights, cut, favour: float) -> float:
    """The rejection probability, summed over the discordant counts (each a binomial split at `favour`)."""
    import numpy as np
    from scipy.special import bdtr, bdtrc

    lows = cut[counts]
    ok = lows >= 0
    k, low = counts[ok], lows[ok]
    reject = bdtr(low, k, favour) + bdtrc(k - low - 1, k, favour)
    return float(np.sum(weights[ok] * np.clip(reject, 0, 1)))


def greedy_power(n: int, discordance: float, difference: float, alpha: float) -> float:
    """The exact McNemar test's power on `n` problems at level `alpha` when a problem is discordant with
    probability `discordance` and the true difference (a - b) is `difference` (both proportions, |difference|
    at most the discordance): the discordant count is binomial, and each discordant problem favours a with
    probability (discordance + difference) / (2 discordance)."""
    if discordance <= 0 or n == 0:
        return 0.0
    import numpy as np

    counts, weights = _discordance_weights(n, discordance)
    favour = min(1.0, max(0.0, (discordance + abs(difference)) / (2 * discordance)))
    return _power_at(counts, weights, np.asarray(_mcnemar_cutoffs(n, alpha)), favour)


@lru_cache(maxsize=4096)
def greedy_detectable(n: int, discordant: int, alpha: float, power: float = POWER) -> float | None:
    """The smallest difference (a proportion) the exact McNemar test detects with `power` at the observed
    discordance (`discordant` of `n` problems differ), or None when no difference is detectable at it: a
    difference cannot exceed the discordance, and at small discordance even that one is not detected often
    enough (6 of 164: at most 56% at the 5% level)."""
    if n == 0 or discordant == 0:
        return None
    import numpy as np

    rate = discordant / n
    counts, weights = _discordance_weights(n, rate)
    cut = np.asarray(_mcnemar_cutoffs(n, alpha))
    at = lambda difference: _power_at(counts, weights, cut, min(1.0, (rate + difference) / (2 * rate)))  # noqa: E731
    if at(rate) < power:
        return None
    low, high = 0.0, rate
    while high - low > 1e-5:  # bisection: the power grows with the difference
        middle = (low + high) / 2
        low, high = (middle, high) if at(middle) < power else (low, middle)
    return high


def resamples_for(family: int, alpha: float = ALPHA) -> int:
    """Random sign flips enough for the smallest p that can be significant after Holm over `family`
    (alpha / family) to be reachable 20 times over."""
    return max(BASE_RESAMPLES, math.ceil(20 * family / alpha) - 1)


def sign_flip_p(d, resamples: int = BASE_RESAMPLES, seed: int = 0) -> float:
    """Two-sided p of the mean of paired per-problem differences `d` under random sign flips (the null:
    for every problem, a's and b's answers are exchangeable). Exact (every flip of the non-zero
    differences) up to EXACT_FLIPS of them, else `resamples` seeded random flips, p = (1 + hits) / (1 + R)."""
    import numpy as np

    values = np.asarray(d, dtype=float)
    values = values[values != 0]
    if len(values) == 0:
        return 1.0
    observed = abs(values.sum()) - 1e-12 * len(values)  # (ties with the observed sum count as extreme)
    if len(values) <= EXACT_FLIPS:
        signs = ((np.arange(2 ** len(values))[:, None] >> np.arange(len(values))) & 1) * 2 - 1
        return float(np.mean(np.abs(signs @ values) >= observed))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, resamples, 20000):  # in chunks: 100,000 flips of 542 problems stay small
        signs = rng.choice((-1.0, 1.0), size=(min(20000, resamples - start), len(values)))
        hits += int(np.sum(np.abs(signs @ values) >= observed))
    return min(1.0, (1 + hits) / (1 + resamples))


def bootstrap_interval(d, confidence: float, resamples: int = BASE_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """The percentile bootstrap interval (over problems) of the mean of `d`, as proportions."""
    import numpy as np

    values = np.asarray(d, dtype=float)
    if len(values) == 0:
        return -1.0, 1.0
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 5000):
        size = min(5000, resamples - start)
        means[start:start + size] = values[rng.integers(0, len(values), size=(size, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def ratio_interval(x, y, confidence: float = 0.95, resamples: int = BASE_RESAMPLES,
                   seed: int = 0) -> tuple[float, float, float]:
    """(ratio, low, high): sum(x) / sum(y) over paired values (one pair per problem), with its percentile
    bootstrap interval over problems (a problem's two values resampled together)."""
    import numpy as np

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(a) == 0 or b.sum() <= 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(a), size=(resamples, len(a)))
    ratios = a[picks].sum(axis=1) / np.maximum(b[picks].sum(axis=1), 1e-12)
    tail = (1 - confidence) / 2
    return float(a.sum() / b.sum()), float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1 - tail))


def normal_detectable(d, alpha: float, power: float = POWER) -> float | None:
    """The smallest mean difference (a proportion) the two-sided sign-flip test at `alpha` detects with
    `power` on problems like these; None when it cannot reach `alpha` at all (too few problems differ: its
    smallest p is 2 / 2^k). Normal approximation of the test itself: the mean difference delta has sd
    s / sqrt(N), but the sign flips spread it by sqrt((s^2 + delta^2) / N) (a real difference widens its own
    null), so delta solves delta sqrt(N) = z_alpha sqrt(s^2 + delta^2) + z_power s."""
    import numpy as np

    values = np.asarray(d, dtype=float)
    nonzero = int(np.count_nonzero(values))
    if len(values) < 2 or nonzero == 0 or (nonzero <= 60 and 2.0 ** (1 - nonzero) > alpha):
        return None
    s, root = float(np.std(values, ddof=1)), math.sqrt(len(values))
    test, wanted = z(1 - alpha / 2), z(power)
    delta = (test + wanted) * s / root
    for _ in range(50):  # a contraction: delta^2 enters under a root divided by N
        delta = (test * math.sqrt(s * s + delta * delta) + wanted * s) / root
    return delta


@dataclass(frozen=True)
class Components:
    """The variance of a per-problem difference of pass rates with n answers each: between + per_answer / n.

    between (B): the spread of the true per-problem differences; no number of answers removes it.
    per_answer (W): the variance one answer pair adds, averaged over problems. Paired by seed index, it is
    estimated from the differences x_ij - y_ij directly (what a shared seed makes the two answers share
    is not noise); independent, it is the sum of the two Bernoulli variances.
    """

    between: float
    per_answer: float
    problems: int
    paired: bool


def _unbiased_bernoulli(passes, count):
    import numpy as np

    rate = passes / count
    return np.where(count > 1, rate * (1 - rate) * count / np.maximum(count - 1, 1), 0.0)


def components(a_rows: list, b_rows: list, paired: bool) -> Components:
    """B and W from per-problem answer outcomes (`a_rows[i]`, `b_rows[i]`: 0/1 sequences, one per answer;
    paired: the same length, element j of both asked with the same seed)."""
    import numpy as np

    d, within, per_answer = _problem_parts(a_rows, b_rows, paired)
    between = max(0.0, float(np.var(d, ddof=1)) - float(np.mean(within))) if len(d) > 1 else 0.0
    return Components(between, float(np.mean(per_answer)) if len(d) else 0.0, len(d), paired)


def _problem_parts(a_rows: list, b_rows: list, paired: bool):
    """Per problem: the difference of pass rates, its sampling variance as measured, and one answer pair's
    variance (W_i)."""
    import numpy as np

    na = np.array([len(r) for r in a_rows], dtype=float)
    nb = np.array([len(r) for r in b_rows], dtype=float)
    sa = np.array([sum(r) for r in a_rows], dtype=float)
    sb = np.array([sum(r) for r in b_rows], dtype=float)
    d = sa / na - sb / nb
    if paired:
        w = np.array([float(np.var(np.asarray(x, float) - np.asarray(y, float), ddof=1)) if len(x) > 1 else 0.0
                      for x, y in zip(a_rows, b_rows)])
        return d, w / na, w
    va, vb = _unbiased_bernoulli(sa, na), _unbiased_bernoulli(sb, nb)
    return d, va / na + vb / nb, va + vb


def answers_needed(parts: Components, problems: int, effect: float, spread: float) -> int | None:
    """Answers per problem (for each profile) that make the standard error of the mean difference over
    `problems` problems at most effect / spread (spread: the sum of the two normal quantiles of the test's
    level and power); None when no number of answers can (B alone exceeds it: more problems would)."""
    room = problems * (effect / spread) ** 2 - parts.between
    if room <= 0:
        return None
    if parts.per_answer <= 0:
        return 1
    return max(1, math.ceil(parts.per_answer / room))


def answers_range(a_rows: list, b_rows: list, paired: bool, problems: int, effect: float, spread: float,
                  resamples: int = 1000, seed: int = 0, coverage: float = 0.8) -> tuple[int | None, int | None]:
    """The range (`coverage`, over a bootstrap of the measured problems) of answers_needed: B from a few
    dozen problems is noisy. None at an end: no number of answers (B too large in that share of resamples)."""
    import numpy as np

    d, within, per_answer = _problem_parts(a_rows, b_rows, paired)
    if len(d) < 2:
        return None, None
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(d), size=(resamples, len(d)))
    between = np.maximum(0.0, d[pick].var(axis=1, ddof=1) - within[pick].mean(axis=1))
    room = problems * (effect / spread) ** 2 - between
    need = np.where(room > 0, np.maximum(1, np.ceil(per_answer[pick].mean(axis=1) / np.where(room > 0, room, 1))),
                    np.inf)
    tail = (1 - coverage) / 2
    low, high = (np.quantile(need, q, method="inverted_cdf") for q in (tail, 1 - tail))  # (no inf - inf)
    return (None if not np.isfinite(low) else int(low)), (None if not np.isfinite(high) else int(high))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (controls the family-wise error rate), in the input's order."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted
