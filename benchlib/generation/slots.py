"""Will every answer fit its server slot? Checked before any model loads, so a 120B model does not load
for minutes only to fail its first long answer.

llama-server sizes each slot at ctx_size / parallel when `parallel` is given (benchlib always gives it);
with the unified KV cache (`--kv-unified`, `-kvu` in extra_args) a slot may grow to ctx_size, but the
shared pool must hold `parallel` answers at once, since running out of it aborts every slot. Either way an
answer needs  parallel x (longest prompt + max_tokens) <= ctx_size.

Before the model loads, the prompts are counted with the model's own tokenizer where the model file is on
this machine: llama.cpp's `llama-tokenize`, beside llama-server, reads the vocabulary only (a fraction of a
second, whatever the model's size); a chat template adds at most TEMPLATE_ALLOWANCE tokens per message.
Where the file is elsewhere (a remote Docker host), the count is bounded from above by the UTF-8 bytes
(every token covers at least one byte): an overflow by that bound alone is reported as possible, and once
the server is up `measure` asks it (/apply-template, /tokenize) for the exact count: the second check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from .prompt import PROMPT_STYLES, PromptStyle, build_messages

__all__ = ["SlotNeed", "prompt_bound", "longest_prompt", "check_slots", "measure", "count_with_tokenizer",
           "TEMPLATE_ALLOWANCE"]

TEMPLATE_ALLOWANCE = 32  # tokens a chat template adds per message at most (role markers, BOS, headers)
ROUND = 256  # suggested sizes are multiples of this
UNIFIED_FLAGS = ("--kv-unified", "-kvu")


def prompt_bound(style: PromptStyle, task_prompt: str) -> int:
    """An upper bound on the prompt's tokens as the server will see it (see the module's docstring)."""
    texts = style.texts(task_prompt)
    return sum(len(text.encode()) for text in texts) + TEMPLATE_ALLOWANCE * (style.template_messages + 1)


def longest_candidates(dataset, style: PromptStyle, candidates: int = 5) -> list[dict]:
    """The problems whose prompts are longest by the byte bound: where the longest in tokens is."""
    return sorted(dataset.problems.values(), key=lambda p: -prompt_bound(style, p["prompt"]))[:candidates]


def longest_prompt(dataset, style: PromptStyle) -> tuple[str, int]:
    """(task, bound) of the dataset's longest prompt by the bound."""
    return max(((t, prompt_bound(style, p["prompt"])) for t, p in dataset.problems.items()), key=lambda x: x[1])


@dataclass(frozen=True)
class SlotNeed:
    """What one answer needs of a slot, and whether the profile's server gives it."""

    profile: str
    max_tokens: int
    prompt: int  # tokens (exact, or an upper bound)
    exact: bool
    ctx_size: int
    parallel: int
    unified: bool  # the unified KV cache: one pool for all slots

    @property
    def need(self) -> int:
        return self.max_tokens + self.prompt

    @property
    def fits(self) -> bool:
        return self.parallel * self.need <= self.ctx_size

    def fix(self) -> str:
        """The settings that make it fit: ctx_size for the same slots, or fewer slots in the same context."""
        per_slot = math.ceil(self.need / ROUND) * ROUND
        options = [f"ctx_size = {self.parallel * per_slot}"]
        if self.ctx_size // per_slot >= 1:
            options.append(f"parallel = {self.ctx_size // per_slot}")
        return " or ".join(options)

    def problem(self) -> str:
        prompt = f"prompt {self.prompt}" if self.exact else f"prompt <= {self.prompt} (upper bound before the model loads)"
        where = (f"the unified KV cache of {self.ctx_size} tokens cannot hold {self.parallel} answers at once"
                 if self.unified else f"{self.ctx_size} / {self.parallel} slots")
        return f"{self.profile}: max_tokens {self.max_tokens} + {prompt} > {where}; set {self.fix()}"


def check_slots(profile, dataset, prompt_tokens: int | None = None) -> SlotNeed:
    """Raise ConfigError (one line, the fix computed) unless every answer fits a slot of `profile`'s server.
    `prompt_tokens`: the longest prompt counted by the model's tokenizer. Without it, the byte bound is
    returned in a SlotNeed that may not fit (`fits`): the caller warns, and the server's count decides."""
    style = PROMPT_STYLES[profile.prompt_style]
    bound = longest_prompt(dataset, style)[1] if prompt_tokens is None else prompt_tokens
    need = SlotNeed(profile=profile.name, max_tokens=profile.max_tokens, prompt=bound, exact=prompt_tokens is not None,
                    ctx_size=profile.ctx_size, parallel=profile.parallel,
                    unified=any(flag in profile.server_args for flag in UNIFIED_FLAGS))
    certain = need.exact or profile.parallel * (profile.max_tokens + TEMPLATE_ALLOWANCE) > profile.ctx_size
    if not need.fits and certain:
        raise ConfigError(need.problem(), "edit the profile in models.conf (context per slot = ctx_size / parallel)")
    return need


def count_with_tokenizer(tokenizer: str, model: str, dataset, style: PromptStyle, candidates: int = 5) -> int | None:
    """The longest prompt's tokens, counted by llama.cpp's `llama-tokenize` on the model file (vocabulary
    only), over the `candidates` longest by the byte bound; None when it cannot count."""
    import subprocess

    longest = 0
    for problem in longest_candidates(dataset, style, candidates):
        total = TEMPLATE_ALLOWANCE * (style.template_messages + 1 if style.template_messages else 0)
        for text in style.texts(problem["prompt"]):
            try:  # --ids: numbers, not the token pieces (a piece may be half a UTF-8 character)
                done = subprocess.run([tokenizer, "-m", model, "-p", text, "--ids", "--show-count", "--log-disable"],
                                      capture_output=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired):
                return None
            lines = done.stdout.decode("utf-8", errors="replace").splitlines()
            counted = [line for line in lines if line.startswith("Total number of tokens:")]
            if done.returncode != 0 or not counted or not counted[-1].rsplit(":", 1)[1].strip().isdigit():
                return None
            total += int(counted[-1].rsplit(":", 1)[1])
        longest = max(longest, total)
    return longest


def measure(base_url: str, dataset, style: PromptStyle, candidates: int = 5) -> int | None:
    """The longest prompt's exact token count from a llama-server (/apply-template, /tokenize), over the
    `candidates` longest by the bound; None when the server cannot say (not a llama-server)."""
    import requests

    longest = 0
    try:
        for problem in longest_candidates(dataset, style, candidates):
            text = style.texts(problem["prompt"])[0]
            if style.chat:  # as the server's chat template renders it
                rendered = requests.post(f"{base_url}/apply-template", json={"messages": build_messages(problem["prompt"])},
                                         timeout=30)
                rendered.raise_for_status()
                text = rendered.json()["prompt"]
            tokens = requests.post(f"{base_url}/tokenize", json={"content": text, "add_special": True}, timeout=30)
            tokens.raise_for_status()
            longest = max(longest, len(tokens.json()["tokens"]))
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None
    return longest
