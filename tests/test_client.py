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
