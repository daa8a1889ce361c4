"""Statistics of the report, checked against values computed here by hand."""

import math

import pytest

from benchlib.report.analysis import CATEGORIES, Outcome, ProfileResults, classify, compare_all, mcnemar
from benchlib.report.markdown import verdict
from benchlib.report.statistics import holm, wilson


def exact_mcnemar(b: int, c: int) -> float:
    """Two-sided exact McNemar by hand: twice the smaller binomial tail at p = 1/2, capped at 1."""
    n = b + c
    tail = sum(math.comb(n, k) for k in range(0, min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


@pytest.mark.parametrize("k, n", [(0, 164), (70, 164), (118, 164), (164, 164), (1, 20), (19, 20)])
def test_wilson_interval_matches_the_formula(k, n):
    assert wilson(k, n) == pytest.approx(wilson_by_hand(k, n), abs=1e-9)


@pytest.mark.parametrize("b, c", [(2, 4), (0, 6), (6, 0), (1, 1), (10, 25), (0, 1), (40, 42)])
def test_exact_mcnemar_matches_the_binomial_by_hand(b, c):
    a = {f"T/{i}": i < b for i in range(b + c + 5)}
    other = {f"T/{i}": b <= i < b + c for i in range(b + c + 5)}
    only_a, only_b, p, problems = mcnemar(a, other)
    assert (only_a, only_b) == (b, c) and len(problems) == b + c
    assert p == pytest.approx(exact_mcnemar(b, c), rel=1e-9)


def test_the_issue_example_and_no_discordant_problems():
    assert exact_mcnemar(2, 4) == pytest.approx(0.6875)
    same = {"T/0": True, "T/1": False}
    assert mcnemar(same, dict(same)) == (0, 0, 1.0, [])


def test_holm_step_down():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.02, 0.9]) == pytest.approx([0.04, 0.9])
    assert holm([]) == []


def results(name, passes, md5="d", base=None):
    base = base or passes
    outcomes = {f"T/{i}": Outcome(base[i], p, "passed" if p else "wrong output") for i, p in enumerate(passes)}
    return ProfileResults(profile=name, dataset="humaneval", dataset_md5=md5, outcomes=outcomes)


def test_pairs_are_compared_within_a_dataset_file_and_adjusted_together():
    a = results("a", [True] * 30 + [False] * 10)
    b = results("b", [True] * 20 + [False] * 20)
    c = results("c", [True] * 29 + [False] * 11)
    other = results("mbpp-profile", [True] * 40, md5="other")
    comparisons = compare_all([a, b, c, other], "plus")
    assert [(x.a, x.b) for x in comparisons] == [("a", "b"), ("a", "c"), ("b", "c")]
    ab = comparisons[0]
    assert (ab.only_a, ab.only_b) == (10, 0) and ab.p == pytest.approx(exact_mcnemar(10, 0))
    assert [x.p_adjusted for x in comparisons] == pytest.approx(holm([x.p for x in comparisons]))
    assert ab.significant and "**a is better**" in verdict(ab).markdown()
    ac = comparisons[1]
    assert verdict(ac).markdown().startswith("a vs c: 1 problem differs (1 vs 0), a 2.5 points higher (98.33% interval")
    assert "p = 1.00" in verdict(ac).markdown() and "no evidence" in verdict(ac).markdown()
    assert compare_all([a], "plus") == []


def test_the_sentence_of_the_issue():
    a = results("bench-qwen3-coder-q5", [True] * 2 + [False] * 4 + [True] * 10)
    b = results("bench-qwen3-coder", [False] * 2 + [True] * 4 + [True] * 10)
    (only,) = compare_all([a, b], "plus")
    assert verdict(only).markdown() == ("bench-qwen3-coder-q5 vs bench-qwen3-coder: 6 problems differ (2 vs 4), bench-qwen3-coder "
                             "12.5 points higher (95% interval -19.2 to +41.9), p = 0.69: no evidence of a difference")


@pytest.mark.parametrize("record, sample, category, exception", [
    ({"base_status": "pass", "plus_status": "pass"}, None, "passed", ""),
    ({"base_status": "fail", "base_detail": "wrong output"}, {"finish_reason": "stop"}, "wrong output", ""),
    ({"base_status": "fail", "base_detail": "raised IndexError"}, None, "exception", "IndexError"),
    ({"base_status": "fail", "base_detail": "exceeded the time limit"}, None, "time limit", ""),
    ({"base_status": "timeout", "base_detail": "CPU limit (3 s)"}, None, "time limit", ""),
    ({"base_status": "fail", "base_detail": "loading the solution raised SyntaxError"}, None, "no code / syntax error", ""),
    ({"base_status": "fail", "base_detail": "loading the solution raised KeyError", "solution": "x = 1"}, None,
     "no code / syntax error", ""),
    ({"base_status": "fail", "base_detail": "loading the solution raised ImportError"}, None, "exception", "ImportError"),
    ({"base_status": "fail", "base_detail": "wrong output", "solution": ""}, None, "no code / syntax error", ""),
    ({"base_status": "fail", "base_detail": "loading the solution raised SyntaxError"}, {"finish_reason": "length"},
     "cut at token cap", ""),
    ({"base_status": "fail"}, {"finish_reason": "length", "empty_answer": True}, "empty answer", ""),
    ({"base_status": "pass", "plus_status": "fail", "plus_detail": "raised ValueError"}, None, "exception", "ValueError"),
])
def test_failure_categories(record, sample, category, exception):
    outcome = classify(record, sample)
    assert (outcome.category, outcome.exception) == (category, exception)
    assert outcome.category in CATEGORIES
    assert outcome.base == (record.get("base_status") == "pass")


