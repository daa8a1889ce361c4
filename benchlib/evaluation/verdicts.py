"""A check's outcome as data: what failed, how, and on which input. The sentence a person reads
(`base_detail` / `plus_detail` in eval_results.json) is rendered from it, never parsed back, except once,
here, for eval_results.json files written before the data was stored (`Failure.from_legacy`).

In eval_results.json, each sample's record holds evalplus's fields (`base_status`, `plus_status`,
`base_fail_tests`, `plus_fail_tests`) and, beside them, `base_failure` / `plus_failure`: null for a
passed phase, else `Failure.to_json()`. What the failure showed is kept beside its kind, cut to a readable
size (`Excerpt`, with the full size): the failing input, the expected and the actual output, the
exception's message. Files written before those were recorded lack them (the report says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Failure", "Excerpt", "excerpt", "EXCERPT_CHARS", "KINDS", "LOAD_ERROR", "RAISED", "TIMEOUT", "WRONG_OUTPUT", "INCOMPLETE", "PROTOCOL",
           "VANISHED", "failure_of", "NO_CODE_EXCEPTIONS"]

LOAD_ERROR = "load_error"  # executing the solution's code (or finding its entry point) raised
RAISED = "raised"  # the call raised on an input
TIMEOUT = "timeout"  # an input exceeded its time limit
WRONG_OUTPUT = "wrong_output"  # an output differs from the expected one
INCOMPLETE = "incomplete"  # the runner said "done" before every input had an output
PROTOCOL = "protocol"  # a record out of order: the runner's stream was tampered with
VANISHED = "vanished"  # the process ended without a verdict (evalplus's "timeout"): killed by a limit, exited
KINDS = (LOAD_ERROR, RAISED, TIMEOUT, WRONG_OUTPUT, INCOMPLETE, PROTOCOL, VANISHED)

EXCERPT_CHARS = 1000  # of an input or output's repr() kept in eval_results.json
_SIZE_CAP = 1 << 20  # characters counted of a huge output's repr() before its size is stated as "at least"
_HUGE_INT_BITS = 13_000  # ints beyond this (about 3,900 digits) are described, not converted: decimal conversion
# is quadratic, and refused past sys.get_int_max_str_digits() (4,300 by default)

# a load error of these means the answer held no usable code (KeyError: the entry point is not defined)
NO_CODE_EXCEPTIONS = ("SyntaxError", "IndentationError", "TabError", "KeyError", "NameError")


@dataclass(frozen=True)
class Excerpt:
    """The start of a long text (a value's repr()), and how long the whole is."""

    text: str
    size: int  # characters of the whole text
    at_least: bool = False  # the whole was too large to measure: `size` is a lower bound

    @property
    def cut(self) -> bool:
        return self.at_least or self.size > len(self.text)

    def to_json(self) -> dict:
        return {"text": self.text, "size": self.size, **({"at_least": True} if self.at_least else {})}

    @classmethod
    def from_json(cls, data: object) -> "Excerpt | None":
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            return None
        size = data.get("size")
        return cls(data["text"], size if isinstance(size, int) else len(data["text"]), bool(data.get("at_least")))


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> Excerpt:
    """`repr(value)`, its first `limit` characters, and its full length, at a bounded cost whatever the
    value (an output may be tens of megabytes, or an int of millions of digits)."""
    parts: list[str] = []
    kept = size = 0
    for piece in _repr_pieces(value, 0):
        if kept < limit:
            parts.append(piece[: limit - kept])
            kept += len(parts[-1])
        size += len(piece)
        if size > _SIZE_CAP:
            return Excerpt("".join(parts), size, at_least=True)
    return Excerpt("".join(parts), size)


def _repr_pieces(value: object, depth: int):
    """repr(value) in pieces, for the plain data outputs are (anything else: its own repr())."""
    kind = type(value)
    if depth > 100:
        yield "..."
    elif kind is int and value.bit_length() > _HUGE_INT_BITS:
        digits = int(value.bit_length() * 0.30103) + 1
        yield f"<int of about {digits} digits>"
    elif kind in (list, tuple, set, frozenset):
        items = list(value)
        if not items and kind in (set, frozenset):
            yield "set()" if kind is set else "frozenset()"
            return
        yield {list: "[", tuple: "(", set: "{", frozenset: "frozenset({"}[kind]
        for i, item in enumerate(items):
            if i:
                yield ", "
            yield from _repr_pieces(item, depth + 1)
        yield {list: "]", tuple: ",)" if len(items) == 1 else ")", set: "}", frozenset: "})"}[kind]
    elif kind is dict:
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            if i:
                yield ", "
            yield from _repr_pieces(key, depth + 1)
            yield ": "
            yield from _repr_pieces(item, depth + 1)
        yield "}"
    elif kind is str and len(value) > _SIZE_CAP:
        yield repr(value[: _SIZE_CAP + 1])  # its start is all that is shown; its size: "at least"
    else:
        try:
            yield repr(value)
        except Exception as exc:  # noqa: BLE001 - a decoded value's repr is ours, but never fail a verdict on it
            yield f"<{kind.__name__}: repr() raised {type(exc).__name__}>"


@dataclass(frozen=True)
class Failure:
    """Why one phase of one sample failed, and what it showed."""

    kind: str  # one of KINDS
    exception: str = ""  # the exception type, for LOAD_ERROR and RAISED
    input: int | None = None  # index of the failing input in the phase's inputs, when one is known
    reason: str = ""  # VANISHED: how the process ended (the sandbox's words)
    message: str = ""  # the exception's message (str(exc)), cut to limits.MESSAGE_CHARS
    shown_input: Excerpt | None = None  # the failing input's repr()
    expected: Excerpt | None = None  # the expected output's repr()
    actual: Excerpt | None = None  # WRONG_OUTPUT: the solution's output's repr()

    @property
    def status(self) -> str:
        """evalplus's status for this failure: a process that vanished is its "timeout"."""
        return "timeout" if self.kind == VANISHED else "fail"

    @property
    def sentence(self) -> str:
        """What a person reads (eval_results.json's `*_detail`)."""
        if self.kind == LOAD_ERROR:
            return f"loading the solution raised {self.exception}"
        if self.kind == RAISED:
            return f"raised {self.exception}"
        if self.kind == TIMEOUT:
            return "exceeded the time limit"
        if self.kind == WRONG_OUTPUT:
            return "wrong output"
        if self.kind == INCOMPLETE:
            return "ended before all inputs"
        if self.kind == PROTOCOL:
            return "out-of-order record"
        return self.reason or "ended without a result"

    @property
    def on_input(self) -> bool:
        """It happened on one input (not while loading the solution)."""
        return self.kind != LOAD_ERROR

    @property
    def raised(self) -> bool:
        """An exception decided it (its type in `exception`)."""
        return self.kind in (RAISED, LOAD_ERROR)

    @property
    def shows_outputs(self) -> bool:
        """What it showed is worth keeping: the input, the expected and actual output (DETAIL_SINCE)."""
        return self.kind in (WRONG_OUTPUT, RAISED, TIMEOUT)

    @property
    def no_code(self) -> bool:
        """The answer held no loadable code with the entry point."""
        return self.kind == LOAD_ERROR and self.exception in NO_CODE_EXCEPTIONS

    def to_json(self) -> dict:
        data: dict = {"kind": self.kind}
        if self.exception:
            data["exception"] = self.exception
        if self.input is not None:
            data["input"] = self.input
        if self.reason:
            data["reason"] = self.reason
        if self.message:
            data["message"] = self.message
        for name in ("shown_input", "expected", "actual"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name).to_json()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Failure":
        return cls(kind=str(data.get("kind", VANISHED)), exception=str(data.get("exception", "")),
                   input=data.get("input") if isinstance(data.get("input"), int) else None,
                   reason=str(data.get("reason", "")), message=str(data.get("message", "")),
                   shown_input=Excerpt.from_json(data.get("shown_input")),
                   expected=Excerpt.from_json(data.get("expected")), actual=Excerpt.from_json(data.get("actual")))

    @classmethod
    def from_legacy(cls, status: str, detail: str) -> "Failure":
        """The failure an eval_results.json written before `*_failure` existed describes in words
        (the sentences `sentence` renders, and evalplus's bare statuses)."""
        detail = detail or ""
        if detail.startswith("loading the solution raised"):
            return cls(LOAD_ERROR, exception=detail.rsplit(" ", 1)[-1])
        if detail == "exceeded the time limit":
            return cls(TIMEOUT)
        raised = re.fullmatch(r"raised (\S+)", detail)
        if raised:
            return cls(RAISED, exception=raised.group(1))
        for kind in (WRONG_OUTPUT, INCOMPLETE, PROTOCOL):
            if detail == cls(kind).sentence:
                return cls(kind)
        if status == "timeout":
            return cls(VANISHED, reason=detail)
        return cls(WRONG_OUTPUT)  # evalplus's own files: a plain "fail"


def failure_of(record: dict, phase: str) -> Failure | None:
    """The failure of `phase` ("base" or "plus") in an eval_results.json record, None when it passed;
    from the stored data, or (older files) from the words."""
    status = record.get(f"{phase}_status")
    if status == "pass":
        return None
    data = record.get(f"{phase}_failure")
    if isinstance(data, dict):
        return Failure.from_json(data)
    return Failure.from_legacy(str(status or ""), str(record.get(f"{phase}_detail") or ""))
