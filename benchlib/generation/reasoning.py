"""Reasoning models: their reasoning counted apart from their answers (which runs they get: runs.py)."""

from __future__ import annotations

from typing import Callable

from ..results import RunFolder
from ..samples import read_records
from .loops import cut_kind

__all__ = ["count_tokens", "reasoning_summary", "template_opens_thinking", "reasoning_counts", "quantile"]

OPEN, CLOSE = "<think>", "</think>"


def count_tokens(base_url: str, text: str) -> int | None:
    """The tokens of `text` by the server's own tokenizer (llama-server's /tokenize); None if it has none."""
    import requests

    try:
        answer = requests.post(f"{base_url}/tokenize", json={"content": text}, timeout=30)
        answer.raise_for_status()
        return len(answer.json()["tokens"])
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None


def template_opens_thinking(base_url: str) -> bool | None:
    """Whether the server's chat template opens the thinking itself (Qwen3, DeepSeek-R1 distills, some GLM
    templates end the generation prompt with `<think>`): the model then writes only the closing tag, and
    an answer cut while thinking is bare reasoning with no tag at all. Asked of llama-server's
    /apply-template with evalplus's messages; None when the server cannot say."""
    import requests

    from .prompt import build_messages

    try:
        rendered = requests.post(f"{base_url}/apply-template", json={"messages": build_messages("def f():\n    pass")},
                                 timeout=30)
        rendered.raise_for_status()
        prompt = rendered.json()["prompt"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None
    return isinstance(prompt, str) and prompt.rstrip().endswith(OPEN)


def reasoning_counts(records: list[dict], count: Callable[[str], int | None]) -> tuple[dict[str, int], str]:
    """Each answer's reasoning tokens (by answer key), and where they come from: what the server reported
    (`reasoning_tokens`, from usage.completion_tokens_details), else its tokenizer (/tokenize); {} and why
    when it has neither."""
    from .reuse import key_of

    counts: dict[str, int] = {}
    reported = counted = 0
    for record in records:
        if not record.get("reasoning"):
            continue
        if isinstance(record.get("reasoning_tokens"), int):
            counts[key_of(record)] = record["reasoning_tokens"]
            reported += 1
            continue
        found = count(record["reasoning"])
        if found is None:
            return {}, ("the server reports no reasoning tokens (usage.completion_tokens_details) and has no "
                        "/tokenize to count them")
        counts[key_of(record)] = found
        counted += 1
    source = ("reported by the server" if reported and not counted else "counted by the server's tokenizer"
              if counted and not reported else "reported by the server, else counted by its tokenizer")
    return counts, source


def reasoning_summary(paths: RunFolder, count: Callable[[str], int | None]) -> dict:
    """Whether the model reasons (a reasoning field, or `<think>` text in its answers), and its tokens split
    into reasoning and answer: as the server reports or counts them (`reasoning_counts`), else in
    proportion to the characters (`source` says which)."""
    import statistics

    records = read_records(paths.samples)
    thinking = [r for r in records if r.get("reasoning")]
    summary: dict = {"detected": bool(thinking), "answers": len(thinking)}
    if not thinking:
        return summary
    from .reuse import key_of

    counts, source = reasoning_counts(records, count)
    if not counts:
        source = f"estimated from characters ({source})"
    split = []
    for record in records:
        total = record.get("completion_tokens") or 0
        text = record.get("reasoning") or ""
        reasoning_tokens = 0
        if text and counts:
            reasoning_tokens = min(total, counts[key_of(record)])
        elif text:
            content = len(record.get("raw_solution") or "")
            reasoning_tokens = round(total * len(text) / (len(text) + content)) if total else 0
        split.append((reasoning_tokens, total - reasoning_tokens))

    def spread(values: list[int]) -> dict:
        return {"median": round(statistics.median(values)), "p90": round(quantile(values, 0.9)), "max": max(values)}

    kinds = [cut_kind(r) for r in records]
    summary.update(source=source, reasoning_tokens=spread([a for a, _ in split]), answer_tokens=spread([b for _, b in split]),
                   looped=kinds.count("looped"), cut_while_thinking=kinds.count("cut while thinking"),
                   stopped_looping=sum(r.get("stopped") == "looped" for r in records),
                   hit_budget=sum(r.get("finish_reason") == "length" for r in records),
                   per_answer={key_of(r): a for r, (a, _) in zip(records, split) if r.get("reasoning")})
    return summary


def quantile(values: list[int], q: float) -> float:
    """The q-quantile of `values` (linear interpolation, as numpy's default)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
