"""Runaway answers and how an answer ran out of budget."""

from benchlib.generation.loops import LOOP_WINDOW, cut_kind, looped


def test_a_loop_is_an_exact_repetition_at_the_end():
    assert looped("def f():\n" + "    x = x + 1\n" * 200)
    assert looped("thinking... " + "Wait, let me reconsider. " * 100)
    assert looped("a" * LOOP_WINDOW)
    prose = " ".join(f"step {i}: consider the case n = {i * i}" for i in range(200))
    assert not looped(prose)  # regular but never repeating exactly
    assert not looped("short " * 10)  # too short to tell


def test_how_an_answer_ran_out_of_budget():
    assert cut_kind({"finish_reason": "stop", "raw_solution": "x" * 5000}) is None
    assert cut_kind({"finish_reason": "length", "raw_solution": "", "empty_answer": True,
                     "reasoning": "Let me think about the edge cases first."}) == "cut while thinking"
    assert cut_kind({"finish_reason": "length", "raw_solution": "def f():\n    return [", "empty_answer": False,
                     "reasoning": "short"}) == "cut at token cap"
    assert cut_kind({"finish_reason": "length", "raw_solution": "", "empty_answer": True,
                     "reasoning": "Hmm. " * 400}) == "looped"


def test_the_report_counts_them_apart_from_empty_answers():
    from benchlib.report.analysis import classify

    failed = {"base_status": "fail", "plus_status": "fail", "base_detail": "wrong output", "solution": ""}
    thinking = {"finish_reason": "length", "empty_answer": True, "reasoning": "Step one, parse the input."}
    assert classify(failed, thinking).category == "cut while thinking"
    assert classify(failed, {"finish_reason": "stop", "empty_answer": True}).category == "empty answer"
    assert classify(failed, {"finish_reason": "length", "raw_solution": "ab" * 1000}).category == "looped"
