"""The requests evalplus 0.3.1 builds, one per prompt style, so scores stay comparable with the leaderboard:

- `chat` (the default): what its `openai` backend sends for each problem (system message, instruction
  prefix, greedy, top_p 0.95, n 1, max_tokens) to /v1/chat/completions; the leaderboard's prompted rows.
- `completion`: what it does for a base model (`--force-base-prompt`, or a model without a chat
  template): the task's prompt itself, continued greedily (top_p 1.0) until one of its stop strings, at
  most max_tokens; the solution is the prompt plus the continuation (tabs as four spaces, as its vLLM and
  HF backends do). Sent to /v1/completions; the leaderboard's rows not marked as prompted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["SYSTEM_MESSAGE", "INSTRUCTION_PREFIX", "PROMPT_VERSION", "LEADERBOARD_MAX_TOKENS", "build_messages",
           "request_body", "sanitize", "Sampling", "PromptStyle", "PROMPT_STYLES", "EOS", "completion_stops", "completion_prompt"]

PROMPT_VERSION = "evalplus-0.3.1-openai-chat"  # bump with any change to the chat request below
LEADERBOARD_MAX_TOKENS = 768  # evalplus's max_new_tokens: the leaderboard's completion cap
SYSTEM_MESSAGE = "You are a helpful assistant good at coding."
INSTRUCTION_PREFIX = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
)
# evalplus.provider.utility.EOS and extra_eos_for_direct_completion (tests/test_codegen.py compares)
EOS = ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(")
_EXTRA_EOS = {"humaneval": ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "),
              "mbpp": ('\n"""', "\nassert")}


def sanitize(program: str, entry_point: str) -> str:
    """evalplus's own sanitizer: the code of an answer, as evalplus scores it."""
    from evalplus.sanitize import sanitize as evalplus_sanitize

    return evalplus_sanitize(program, entrypoint=entry_point)


def build_messages(task_prompt: str) -> list[dict]:
    user = INSTRUCTION_PREFIX + f"\n```python\n{task_prompt.strip()}\n```"
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def request_body(model: str, task_prompt: str, max_tokens: int, extra: dict | None = None) -> dict:
    """evalplus's greedy chat request; `extra` holds fields a server backend adds (e.g. cache_prompt)."""
    body = {
        "messages": build_messages(task_prompt),
        "model": model,
        "max_tokens": max_tokens,
        "n": 1,
        "temperature": 0.0,
        "top_p": 0.95,
    }
    body.update(extra or {})
    return body


def completion_prompt(task_prompt: str) -> str:
    """evalplus's base prompt: the task's prompt, stripped, and a newline (codegen.codegen)."""
    return task_prompt.strip() + "\n"


def completion_stops(family: str) -> list[str]:
    """evalplus's stop strings for a base model on a dataset family (humaneval | mbpp)."""
    return [*EOS, *_EXTRA_EOS[family]]


def completion_body(model: str, task_prompt: str, max_tokens: int, extra: dict | None = None,
                    family: str = "humaneval") -> dict:
    """evalplus's greedy base-model request, as an OpenAI completions body."""
    body = {
        "prompt": completion_prompt(task_prompt),
        "model": model,
        "max_tokens": max_tokens,
        "n": 1,
        "temperature": 0.0,
        "top_p": 1.0,
        "stop": completion_stops(family),
    }
    body.update(extra or {})
    return body


@dataclass(frozen=True)
class Sampling:
    """A sampled answer's settings (the greedy request sends none of these): temperature, top_p, and a
    seed fixed by (problem, answer index), so a rerun on a reproducible server gives the same answers."""

    temperature: float
    top_p: float
    seed: int

    @staticmethod
    def seed_of(task_id: str, index: int) -> int:
        return int.from_bytes(hashlib.sha256(f"{task_id}#{index}".encode()).digest()[:4], "big") & 0x7FFFFFFF

    def apply(self, body: dict) -> dict:
        return {**body, "temperature": self.temperature, "top_p": self.top_p, "seed": self.seed}


@dataclass(frozen=True)
class PromptStyle:
    """One way of asking for a solution: the endpoint, the request, and what the solution is made of.
    Everything that differs between styles is a field or a method here: callers never test a style's name."""

    name: str
    path: str  # the OpenAI-compatible endpoint
    version: str  # part of the generation fingerprint: bump with any change to the request
    prompted: bool  # the leaderboard's `prompted` flag for rows made this way
    chat: bool  # messages the server renders with the model's chat template; else a raw prompt, continued
    help: str

    def body(self, model: str, task_prompt: str, max_tokens: int, extra: dict | None, family: str,
             sampling: Sampling | None = None) -> dict:
        """The request; with `sampling`, a sampled one (evalplus's do_sample: temperature, top_p), seeded."""
        body = (request_body(model, task_prompt, max_tokens, None) if self.chat
                else completion_body(model, task_prompt, max_tokens, None, family))
        if sampling is not None:
            body = sampling.apply(body)
        body.update(extra or {})
        return body

    def texts(self, task_prompt: str) -> list[str]:
        """The texts the model reads, before a chat template wraps them (the slot check counts them)."""
        if self.chat:
            return [m["content"] for m in build_messages(task_prompt)]
        return [completion_prompt(task_prompt)]

    @property
    def template_messages(self) -> int:
        """Messages a chat template wraps (each adds role markers); 0: the prompt is sent as it is."""
        return len(build_messages("")) if self.chat else 0

    def asked(self, body: dict) -> str:
        """The problem's text in a request of this style: the user message, or the prompt."""
        if self.chat:
            return next(m["content"] for m in body["messages"] if m.get("role") == "user")
        return body["prompt"]

    def asking(self, task_prompt: str) -> str:
        """What `asked` finds in this style's request for a problem."""
        return self.asked(self.body("", task_prompt, 0, None, "humaneval"))

    def reply(self, content: str) -> tuple[str, dict]:
        """(object, choice) of a response of this style's endpoint holding `content` (a test server's)."""
        if self.chat:
            return "chat.completion", {"index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": content}}
        return "text_completion", {"index": 0, "finish_reason": "stop", "text": content}

    def solution(self, task_prompt: str, content: str) -> str:
        """The program evalplus sanitizes: the chat answer, or the prompt and its continuation."""
        if self.chat:
            return content
        return completion_prompt(task_prompt) + content.replace("\t", "    ")


PROMPT_STYLES = {
    "chat": PromptStyle("chat", "/v1/chat/completions", PROMPT_VERSION, True, True,
                        "evalplus's chat request (instruction models; the leaderboard's prompted rows)"),
    "completion": PromptStyle("completion", "/v1/completions", "evalplus-0.3.1-base-completion", False, False,
                              "evalplus's base-model prompt, continued until its stop strings (base models)"),
}
