"""A check's outcome as data: rendered to the words eval_results.json has always held, read back from
them for older files, and what the report's categories are decided from."""

import pytest

from benchlib.evaluation.verdicts import (INCOMPLETE, KINDS, LOAD_ERROR, PROTOCOL, RAISED, TIMEOUT, VANISHED,
                                          WRONG_OUTPUT, Failure, failure_of)
from benchlib.report.analysis import classify

EVERY_KIND = [
    Failure(LOAD_ERROR, exception="SyntaxError"),
    Failure(RAISED, exception="IndexError", input=3),
    Failure(TIMEOUT, input=0),
    Failure(WRONG_OUTPUT, input=7),
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
