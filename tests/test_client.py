"""The chat client's retry policy: bounded attempts inside one deadline per request."""

import time

import pytest

from benchlib.generation.client import ChatClient
from benchlib.errors import GenerationError

from fakeserver import FakeServer, completion


def slow(seconds):
    def answer(body):
        time.sleep(seconds)
        return completion("late")
    return answer


def test_a_stuck_request_costs_one_timeout_not_attempts_times_timeout():
    with FakeServer([slow(5)]) as server:
        client = ChatClient(server.url, timeout=1.5, attempts=6, backoff=0.01)
        started = time.monotonic()
        with pytest.raises(GenerationError, match=r"within 2 s"):
            client.complete({"messages": []})
        assert time.monotonic() - started < 3.5
        assert len(server.requests) == 1


def test_5xx_then_success_within_the_deadline():
    with FakeServer([(503, {"error": "loading"}), (503, {"error": "loading"}), completion("ok")]) as server:
        answer = ChatClient(server.url, timeout=30, attempts=6, backoff=0.01).complete({"messages": []})
    assert answer.content == "ok" and len(server.requests) == 3


def test_4xx_is_never_retried():
    with FakeServer([(400, {"error": {"message": "bad"}}), completion("ok")]) as server:
        with pytest.raises(GenerationError, match="HTTP 400: bad"):
            ChatClient(server.url, timeout=30, backoff=0.01).complete({"messages": []})
    assert len(server.requests) == 1


THOUGHT, ANSWER = "Let me think. " * 30, "```python\ndef f():\n    return 1\n```"
LOOPING_ANSWER = "```python\ndef f():\n" + "    x = x + 1\n" * 200
SHAPES = {  # id -> (message fields, chat template opens the thinking, (answer, reasoning) expected)
    "separate field, closed": ({"content": ANSWER, "reasoning_content": THOUGHT}, False, (ANSWER, THOUGHT)),
    "vLLM's reasoning field": ({"content": ANSWER, "reasoning": THOUGHT}, False, (ANSWER, THOUGHT)),
    "separate field, cut": ({"content": "", "reasoning_content": THOUGHT}, False, ("", THOUGHT)),
    "inline, closed": ({"content": f"<think>{THOUGHT}</think>\n{ANSWER}"}, False, (ANSWER, THOUGHT.strip())),
    "inline, cut": ({"content": f"<think>{THOUGHT}"}, False, ("", THOUGHT)),
    "template-opened, closed": ({"content": f"{THOUGHT}</think>\n{ANSWER}"}, True, (ANSWER, THOUGHT.strip())),
    "template-opened, cut": ({"content": THOUGHT}, True, ("", THOUGHT)),
    "no reasoning, template-opened": ({"content": ""}, True, ("", "")),
    "looping in the reasoning": ({"content": "<think>" + "Hmm, wait. " * 200}, False, ("", "Hmm, wait. " * 200)),
    "looping in the answer": ({"content": f"<think>{THOUGHT}</think>{LOOPING_ANSWER}"}, False,
                              (LOOPING_ANSWER, THOUGHT.strip())),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_of_a_reasoning_answer_is_read_right(shape):
    """The answer is what follows the reasoning, in every shape a server sends it; `answer_empty` is decided
    on that answer (not on the raw content, which holds reasoning when it was cut while thinking), and the
    reasoning tokens are what the server reports, where it does."""
    from benchlib.generation.loops import cut_kind

    message, opened, (answer, reasoning) = SHAPES[shape]
    finish = "stop" if ANSWER in message["content"] else "length"
    usage = {"prompt_tokens": 5, "completion_tokens": 900, "completion_tokens_details": {"reasoning_tokens": 700}}
    body = {"choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", **message}}], "usage": usage}
    with FakeServer([(200, body)]) as server:
        got = ChatClient(server.url, timeout=5, opened_thinking=opened).complete({"messages": []})
    assert (got.content, got.reasoning) == (answer, reasoning) and got.reasoning_tokens == 700
    assert got.answer_empty is (not answer)
    record = {"finish_reason": finish, "raw_solution": got.content, "reasoning": got.reasoning,
              "empty_answer": got.answer_empty}
    expected = {"stop": None}.get(finish, "looped" if "looping" in shape else
                                  "cut while thinking" if not answer and reasoning else
                                  None if not answer else "cut at token cap")
    assert cut_kind(record) == expected


def test_streamed_reasoning_is_read_as_unstreamed_and_usage_counts_come_through():
    events = [{"choices": [{"index": 0, "delta": {"content": piece}}]} for piece in (THOUGHT[:40], THOUGHT[40:], "</think>", ANSWER)]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": {"completion_tokens": 50, "completion_tokens_details": {"reasoning_tokens": 30}}})
    with FakeServer([(200, events)]) as server:
        got = ChatClient(server.url, timeout=5, opened_thinking=True).complete({"messages": []}, watch=lambda text: False)
    assert (got.content, got.reasoning, got.reasoning_tokens) == (ANSWER, THOUGHT.strip(), 30)
