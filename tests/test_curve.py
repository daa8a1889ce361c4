"""generation/curve.py's decisions: which budgets by default, which answers are taken as they are."""

from benchlib.generation.curve import auto_budgets, taken_as_is


def test_the_default_budgets_are_powers_of_two_up_to_the_long_runs_90th_percentile():
    lengths = [300] * 50 + [1500] * 40 + [3000] * 10  # p90: 1500 (3000 only in the top decile)
    assert auto_budgets(lengths, 8192) == [512, 1024, 2048]
    assert auto_budgets([6000] * 10, 8192) == [512, 1024, 2048, 4096]  # never the long run's own cap
    assert auto_budgets([60000] * 10, 10**6)[-1] == 65536 and len(auto_budgets([60000] * 10, 10**6)) == 5
    assert auto_budgets([100] * 10, 8192) == [512]
    assert auto_budgets([], 8192) == [] and auto_budgets([300], 512) == []


def test_an_answer_is_taken_only_when_it_finished_thinking_within_the_budget():
    answered = {"finish_reason": "stop", "empty_answer": False}
    cut_answering = {"finish_reason": "length", "empty_answer": False}  # thinking closed, answer cut at the cap
    still_thinking = {"finish_reason": "length", "empty_answer": True, "reasoning": "..."}
    assert taken_as_is(answered, 1000, 1024) and taken_as_is(answered, 1024, 1024)
    assert not taken_as_is(answered, 1025, 1024)  # it thought past the budget: the budget would have cut it
    assert taken_as_is(cut_answering, 900, 1024)  # a run at the budget thinks the same, then answers the same
    assert not taken_as_is(still_thinking, 900, 1024)  # (its count is what was left when the cap hit)
    assert taken_as_is({"finish_reason": "stop", "empty_answer": False}, 0, 128)  # no thinking at all
