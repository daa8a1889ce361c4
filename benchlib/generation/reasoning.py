"""Reasoning models: their reasoning counted apart from their answers (which runs they get: runs.py)."""

from __future__ import annotations

from typing import Callable

from ..results import RunFolder
from ..samples import read_records
from .loops import cut_kind

__all__ = ["count_tokens", "reasoning_summary"]


def count_tokens(base_url: str, text: str) -> int | None:
    """The tokens of `text` by the server's own tokenizer (llama-server's /tokenize); None if it has none."""
    import requests

    try:
        answer = requests.post(f"{base_url}/tokenize", json={"content": text}, timeout=30)
        answer.raise_for_status()
        return len(answer.json()["tokens"])
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None


def reasoning_summary(paths: RunFolder, count: Callable[[str], int | None]) -> dict:
    """Whether the model reasons (`reasoning_content`, or `<think>` text in its answers), and its tokens
    split into reasoning and answer: the reasoning counted by the server's tokenizer (/tokenize) where it
    has one, else in proportion to the characters (`source` says which)."""
    import statistics

    records = read_records(paths.samples)
    thinking = [r for r in records if r.get("reasoning")]
    summary: dict = {"detected": bool(thinking), "answers": len(thinking)}
    if not thinking:
        return summary
    source = "counted by the server's tokenizer"
    split = []
    for record in records:
        total = record.get("completion_tokens") or 0
        text = record.get("reasoning") or ""
        reasoning_tokens = 0
        if text:
            counted = count(text)
            if counted is not None:
                reasoning_tokens = min(total, counted)
            else:
                source = "estimated from characters (the server has no /tokenize)"
                content = len(record.get("raw_solution") or "")
                reasoning_tokens = round(total * len(text) / (len(text) + content)) if total else 0
        split.append((reasoning_tokens, total - reasoning_tokens))

    def spread(values: list[int]) -> dict:
        return {"median": round(statistics.median(values)), "max": max(values)}

    kinds = [cut_kind(r) for r in records]
    summary.update(source=source, reasoning_tokens=spread([a for a, _ in split]), answer_tokens=spread([b for _, b in split]),
                   looped=kinds.count("looped"), cut_while_thinking=kinds.count("cut while thinking"),
                   stopped_looping=sum(r.get("stopped") == "looped" for r in records))
    return summary
