"""A check's outcome as data: what failed, how, and on which input. The sentence a person reads
(`base_detail` / `plus_detail` in eval_results.json) is rendered from it, never parsed back, except once,
here, for eval_results.json files written before the data was stored (`Failure.from_legacy`).

In eval_results.json, each sample's record holds evalplus's fields (`base_status`, `plus_status`,
`base_fail_tests`, `plus_fail_tests`) and, beside them, `base_failure` / `plus_failure`: null for a
passed phase, else `Failure.to_json()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Failure", "KINDS", "LOAD_ERROR", "RAISED", "TIMEOUT", "WRONG_OUTPUT", "INCOMPLETE", "PROTOCOL",
           "VANISHED", "failure_of", "NO_CODE_EXCEPTIONS"]

LOAD_ERROR = "load_error"  # executing the solution's code (or finding its entry point) raised
RAISED = "raised"  # the call raised on an input
TIMEOUT = "timeout"  # an input exceeded its time limit
WRONG_OUTPUT = "wrong_output"  # an output differs from the expected one
INCOMPLETE = "incomplete"  # the runner said "done" before every input had an output
PROTOCOL = "protocol"  # a record out of order: the runner's stream was tampered with
VANISHED = "vanished"  # the process ended without a verdict (evalplus's "timeout"): killed by a limit, exited
KINDS = (LOAD_ERROR, RAISED, TIMEOUT, WRONG_OUTPUT, INCOMPLETE, PROTOCOL, VANISHED)

# a load error of these means the answer held no usable code (KeyError: the entry point is not defined)
NO_CODE_EXCEPTIONS = ("SyntaxError", "IndentationError", "TabError", "KeyError", "NameError")


@dataclass(frozen=True)
class Failure:
    """Why one phase of one sample failed."""

    kind: str  # one of KINDS
    exception: str = ""  # the exception type, for LOAD_ERROR and RAISED
    input: int | None = None  # index of the failing input in the phase's inputs, when one is known
    reason: str = ""  # VANISHED: how the process ended (the sandbox's words)

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
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Failure":
        return cls(kind=str(data.get("kind", VANISHED)), exception=str(data.get("exception", "")),
                   input=data.get("input") if isinstance(data.get("input"), int) else None,
                   reason=str(data.get("reason", "")))

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
