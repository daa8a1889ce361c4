"""A check's outcome as data: rendered to the words eval_results.json has always held, read back from
them for older files, and what the report's categories are decided from."""

import pytest

from benchlib.evaluation.verdicts import (EXCERPT_CHARS, INCOMPLETE, KINDS, LOAD_ERROR, PROTOCOL, RAISED, TIMEOUT,
                                          VANISHED, WRONG_OUTPUT, Excerpt, Failure, excerpt, failure_of)
from benchlib.report.analysis import classify

EVERY_KIND = [
    Failure(LOAD_ERROR, exception="SyntaxError"),
    Failure(RAISED, exception="IndexError", input=3, message="list index out of range",
            shown_input=Excerpt("([1, 2],)", 9), expected=Excerpt("2", 1)),
    Failure(TIMEOUT, input=0),
    Failure(WRONG_OUTPUT, input=7, shown_input=Excerpt("('" + "a" * 10, 5000), expected=Excerpt("[1]", 3),
            actual=Excerpt("[1, 2, 3", 1 << 21, at_least=True)),
    Failure(INCOMPLETE),
    Failure(PROTOCOL),
    Failure(VANISHED, input=2, reason="exceeded its CPU budget"),
]


def test_every_kind_is_covered():
    assert {f.kind for f in EVERY_KIND} == set(KINDS)


@pytest.mark.parametrize("failure, sentence, status", [
    (EVERY_KIND[0], "loading the solution raised SyntaxError", "fail"),
    (EVERY_KIND[1], "raised IndexError", "fail"),
    (EVERY_KIND[2], "exceeded the time limit", "fail"),
    (EVERY_KIND[3], "wrong output", "fail"),
    (EVERY_KIND[4], "ended before all inputs", "fail"),
    (EVERY_KIND[5], "out-of-order record", "fail"),
    (EVERY_KIND[6], "exceeded its CPU budget", "timeout"),  # evalplus's name for a vanished process
])
def test_the_words_and_status_are_rendered_from_the_data(failure, sentence, status):
    assert failure.sentence == sentence and failure.status == status


@pytest.mark.parametrize("failure", EVERY_KIND)
def test_json_round_trip_and_the_words_read_back(failure):
    assert Failure.from_json(failure.to_json()) == failure
    legacy = Failure.from_legacy(failure.status, failure.sentence)
    # the words never held the failing input: everything else comes back
    assert legacy.kind == failure.kind and legacy.exception == failure.exception


def test_failure_of_prefers_the_data_and_reads_old_files():
    data = {"base_status": "fail", "base_detail": "wrong output",
            "base_failure": {"kind": RAISED, "exception": "ZeroDivisionError", "input": 1}, "plus_status": "pass"}
    assert failure_of(data, "base") == Failure(RAISED, exception="ZeroDivisionError", input=1)
    assert failure_of(data, "plus") is None
    old = {"base_status": "fail", "base_detail": "raised KeyError"}
    assert failure_of(old, "base") == Failure(RAISED, exception="KeyError")
    assert failure_of({"base_status": "timeout", "base_detail": ""}, "base").kind == VANISHED
    assert failure_of({"base_status": "fail"}, "base").kind == WRONG_OUTPUT  # evalplus's own files


@pytest.mark.parametrize("failure, category, exception", [
    (Failure(LOAD_ERROR, exception="SyntaxError"), "no code / syntax error", ""),
    (Failure(LOAD_ERROR, exception="KeyError"), "no code / syntax error", ""),  # no entry point
    (Failure(LOAD_ERROR, exception="ImportError"), "exception", "ImportError"),
    (Failure(RAISED, exception="IndexError", input=0), "exception", "IndexError"),
    (Failure(TIMEOUT, input=0), "time limit", ""),
    (Failure(VANISHED, reason="killed"), "time limit", ""),
    (Failure(WRONG_OUTPUT, input=4), "wrong output", ""),
    (Failure(INCOMPLETE), "wrong output", ""),
])
def test_the_report_category_comes_from_the_data_not_the_words(failure, category, exception):
    record = {"base_status": failure.status, "base_detail": "something else entirely",
              "base_failure": failure.to_json(), "plus_status": failure.status, "solution": "def f(): pass"}
    outcome = classify(record)
    assert (outcome.category, outcome.exception, outcome.base, outcome.plus) == (category, exception, False, False)


@pytest.mark.parametrize("value", [0, -7, 2**300, 1.5, float("nan"), float("-inf"), "it's \"q\"\n", b"\x00b", None, True,
                                   [], [1, [2, (3,)]], (), (1,), (1, 2), {}, {1: "a", (2, 3): [None]}, set(), {1},
                                   frozenset(), frozenset({"x"}), 1 + 2j, [[[]]] * 3])
def test_an_excerpt_is_the_values_repr(value):
    assert excerpt(value) == Excerpt(repr(value), len(repr(value)))


def test_an_excerpt_is_cut_and_states_the_full_size_at_a_bounded_cost():
    long = list(range(5000))
    shown = excerpt(long)
    assert shown.text == repr(long)[:EXCERPT_CHARS] and shown.size == len(repr(long)) and shown.cut
    huge = excerpt(list(range(3_000_000)))  # past a megabyte of text: counted no further
    assert huge.at_least and huge.size > 1 << 20 and len(huge.text) == EXCERPT_CHARS
    assert excerpt(7 ** 100_000).text.startswith("<int of about 845")  # never converted to decimal
    assert excerpt("x" * 10**7).at_least
    assert Excerpt.from_json(huge.to_json()) == huge and Excerpt.from_json("text") is None
