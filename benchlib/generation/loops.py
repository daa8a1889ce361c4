"""Runaway answers: text that repeats itself until the token cap (a reasoning model stuck in a loop wastes
most of its budget there). The detector is conservative: the answer's last LOOP_WINDOW characters must
be one unit repeated exactly at least MIN_REPEATS times (a partial unit at the end allowed); anything
less regular is not a loop. Only answers that ended at the cap are asked."""

from __future__ import annotations

__all__ = ["looped", "cut_kind", "LOOP_WINDOW", "MIN_REPEATS"]

LOOP_WINDOW = 1200  # characters at the end of the text that must be periodic
MIN_REPEATS = 4  # ... made of at least this many copies of one unit


def looped(text: str) -> bool:
    """Whether `text` ends in a loop (see the module's docstring)."""
    tail = text[-LOOP_WINDOW:]
    if len(tail) < LOOP_WINDOW:
        return False
    for period in range(1, len(tail) // MIN_REPEATS + 1):
        if tail[period:] == tail[:-period]:
            return True
    return False


def cut_kind(record: dict) -> str | None:
    """How a samples record ran out of budget: "looped", "cut while thinking" (no answer begun, reasoning
    only), "cut at token cap"; None when it ended by itself (finish_reason is not "length"), or when it
    holds neither answer nor reasoning (an empty answer, whatever ended it)."""
    if record.get("stopped") == "looped":  # ended early by stop_loops: the detector said so then
        return "looped"
    if record.get("finish_reason") != "length":
        return None
    if looped(record.get("raw_solution") or record.get("reasoning") or ""):
        return "looped"
    if record.get("empty_answer"):
        return "cut while thinking" if record.get("reasoning") else None
    return "cut at token cap"
