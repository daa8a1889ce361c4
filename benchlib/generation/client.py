"""An OpenAI-compatible chat-completions client with bounded retries, built on requests."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import requests

from ..errors import GenerationError

__all__ = ["ChatClient", "Completion", "ReplicaLost", "split_reasoning"]

RETRY_STATUS = {429, 500, 502, 503, 504}


class ReplicaLost(GenerationError):
    """The server stopped, or gave no answer through every retry: lost to this run (the answer it was making
    can be asked of another replica), unlike a request the server rejects."""


@dataclass
class Completion:
    content: str
    reasoning: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency: float
    timings: dict = field(default_factory=dict)  # llama-server's prompt/predicted ms and counts
    answer_empty: bool = False  # no answer once the reasoning is taken out (`content` is empty or blank)
    stopped: str = ""  # why benchlib ended the answer itself ("looped"), "" when the server did
    reasoning_tokens: int | None = None  # as the server reports them (usage.completion_tokens_details)
    system_fingerprint: str = ""  # the build that answered, where the response names it (llama-server does)


def split_reasoning(content: str, reasoning: str, opened: bool = False) -> tuple[str, str]:
    """(answer, reasoning): inline `<think>...</think>` text moved out of the answer (code is taken from the
    answer only), in every shape a model writes it: a separate field (`reasoning`), inline and closed,
    inline and cut while thinking (no closing tag), or, where the chat template opened the thinking itself
    (`opened`: its prompt ends with `<think>`), bare reasoning up to the closing tag, or with none at all
    when the budget ran out first."""
    if "</think>" in content:
        head, _, tail = content.rpartition("</think>")
        thought = head.replace("<think>", "", 1).strip()
        return tail.lstrip("\n"), "\n".join(x for x in (reasoning, thought) if x)
    if content.lstrip().startswith("<think>"):  # cut off while still thinking
        return "", "\n".join(x for x in (reasoning, content.lstrip()[len("<think>"):]) if x)
    if opened and content.strip():  # the template opened it, and no closing tag came: all of it is reasoning
        return "", "\n".join(x for x in (reasoning, content) if x)
    return content, reasoning


def _reasoning_tokens(usage: dict) -> int | None:
    """The reasoning tokens a server reports (OpenAI's usage.completion_tokens_details; vLLM, OpenRouter)."""
    details = usage.get("completion_tokens_details")
    count = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None


class ChatClient:
    """POSTs to {base_url}{path} (/v1/chat/completions, or /v1/completions for the completion prompt
    style); one pooled connection per thread.

    Connection errors, timeouts, 429 and 5xx are retried with exponential backoff, at most `attempts`
    times and all within one deadline per request (`timeout` seconds from its first try: a stuck request
    costs `timeout`, not attempts x timeout); any other 4xx fails at once with the server's own message.
    """

    def __init__(self, base_url: str, timeout: float, attempts: int = 6, backoff: float = 1.0,
                 gone_reason: Callable[[], str] | None = None, stop: threading.Event | None = None,
                 path: str = "/v1/chat/completions", opened_thinking: bool = False) -> None:
        self.url = base_url.rstrip("/") + path
        self.opened_thinking = opened_thinking  # the chat template opens the thinking (split_reasoning)
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.gone_reason = gone_reason or (lambda: "")
        self.stop = stop or threading.Event()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def complete(self, body: dict, watch: Callable[[str], bool] | None = None) -> Completion:
        """One answer. With `watch`, it is streamed and ended as soon as watch(text so far) says so (a
        runaway answer): the Completion then says `stopped = "looped"`."""
        if watch is not None:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        last = ""
        deadline = time.monotonic() + self.timeout
        attempt = 0
        for attempt in range(self.attempts):
            if self.stop.is_set():
                raise GenerationError("generation stopped")
            started = time.monotonic()
            remaining = deadline - started
            if remaining <= 0:
                break
            try:
                response = self._session().post(self.url, json=body, timeout=(min(10.0, remaining), remaining),
                                                stream=watch is not None)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    if watch is None:
                        return _parse(response, time.monotonic() - started, self.opened_thinking)
                    try:
                        return _stream(response, started, watch, self.opened_thinking)
                    except requests.RequestException as exc:  # cut mid-stream: the whole answer again
                        last = f"{type(exc).__name__}: {exc}"
                        response.close()
                        continue
                message = _error_message(response)
                if response.status_code in (404, 405):
                    raise GenerationError(
                        f"the server has no {self.url} endpoint (HTTP {response.status_code}: {message})",
                        "prompt_style = completion needs an OpenAI-compatible /v1/completions endpoint (llama-server "
                        "has one); chat models: prompt_style = chat")
                if response.status_code not in RETRY_STATUS:
                    raise GenerationError(
                        f"the server rejected a request with HTTP {response.status_code}: {message}",
                        "check the profile's max_tokens, ctx_size and parallel (context per slot = ctx_size / parallel)",
                    )
                last = f"HTTP {response.status_code}: {message}"
            dead = self.gone_reason()
            if dead:
                raise ReplicaLost(f"the model server stopped: {dead}", "see server.log; rerun to resume")
            if attempt + 1 < self.attempts:
                self.stop.wait(min(self.backoff * 2**attempt, max(0.0, deadline - time.monotonic())))
        raise ReplicaLost(
            f"no answer from {self.url} after {attempt + 1} attempt(s) within {self.timeout:.0f} s ({last})",
            "is the server still running? see server.log; rerun to resume where it stopped",
        )


WATCH_EVERY = 64  # streamed pieces between two looks of the watch (the detector reads the whole text)


def _stream(response: requests.Response, started: float, watch: Callable[[str], bool], opened: bool = False) -> Completion:
    """A streamed answer (server-sent events, chat or completions), read to its end or until `watch`
    says stop; closing the connection makes llama-server cancel the request and free its slot."""
    content, reasoning, finish, usage, timings, pieces, stopped, fingerprint = [], [], None, {}, {}, 0, "", ""
    try:
        for line in response.iter_lines():
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            try:
                event = json.loads(data)
            except ValueError:
                continue
            usage = event.get("usage") or usage
            timings = event.get("timings") or timings
            fingerprint = event.get("system_fingerprint") or fingerprint
            for choice in event.get("choices") or []:
                delta = choice.get("delta") or {}
                text = delta.get("content") if "delta" in choice else choice.get("text")
                thought = delta.get("reasoning_content") or delta.get("reasoning")
                if text:
                    content.append(text)
                    pieces += 1
                if thought:
                    reasoning.append(thought)
                    pieces += 1
                finish = choice.get("finish_reason") or finish
            if pieces and pieces % WATCH_EVERY == 0 and finish is None and watch("".join(reasoning) + "".join(content)):
                stopped = "looped"
                break
    finally:
        response.close()
    raw_content = "".join(content)
    answer, thought = split_reasoning(raw_content, "".join(reasoning), opened)
    return Completion(
        content=answer, reasoning=thought, finish_reason="length" if stopped else finish,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=pieces if stopped or not usage.get("completion_tokens") else usage["completion_tokens"],
        latency=time.monotonic() - started, answer_empty=not answer.strip(), stopped=stopped,
        timings={k: v for k, v in timings.items() if isinstance(v, (int, float))},
        reasoning_tokens=None if stopped else _reasoning_tokens(usage), system_fingerprint=_text(fingerprint))


def _error_message(response: requests.Response) -> str:
    try:
        data = response.json()
        error = data.get("error", data)
        return str(error.get("message", error) if isinstance(error, dict) else error)[:500]
    except ValueError:
        return response.text.strip()[:500] or response.reason


def _parse(response: requests.Response, latency: float, opened: bool = False) -> Completion:
    try:
        data = response.json()
        choice = data["choices"][0]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GenerationError(f"the server's answer is not a completion ({exc}): {response.text[:300]}",
                              "is base_url an OpenAI-compatible endpoint?") from None
    message = choice.get("message") or {}
    raw_content = message.get("content") if "message" in choice else choice.get("text")  # chat | completions
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    content, reasoning = split_reasoning(raw_content or "", reasoning, opened)
    usage = data.get("usage") or {}
    timings = {k: v for k, v in (data.get("timings") or {}).items() if isinstance(v, (int, float))}
    return Completion(
        content=content, reasoning=reasoning, finish_reason=choice.get("finish_reason"),
        prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
        latency=latency, timings=timings, answer_empty=not content.strip(), reasoning_tokens=_reasoning_tokens(usage),
        system_fingerprint=_text(data.get("system_fingerprint")),
    )


def _text(value: object) -> str:
    return value[:200] if isinstance(value, str) else ""
