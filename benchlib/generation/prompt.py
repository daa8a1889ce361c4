"""The request evalplus 0.3.1's `openai` backend sends for each problem (system message, instruction
prefix, greedy, top_p 0.95, n 1, max_tokens), so scores stay comparable with the leaderboard."""

from __future__ import annotations

__all__ = ["SYSTEM_MESSAGE", "INSTRUCTION_PREFIX", "PROMPT_VERSION", "LEADERBOARD_MAX_TOKENS", "build_messages",
           "request_body"]

PROMPT_VERSION = "evalplus-0.3.1-openai-chat"  # bump with any change to the request below
LEADERBOARD_MAX_TOKENS = 768  # evalplus's max_new_tokens: the leaderboard's completion cap
SYSTEM_MESSAGE = "You are a helpful assistant good at coding."
INSTRUCTION_PREFIX = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
)


def build_messages(task_prompt: str) -> list[dict]:
    user = INSTRUCTION_PREFIX + f"\n```python\n{task_prompt.strip()}\n```"
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def request_body(model: str, task_prompt: str, max_tokens: int, extra: dict | None = None) -> dict:
    """evalplus's greedy request; `extra` holds fields a server backend adds (e.g. cache_prompt)."""
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
