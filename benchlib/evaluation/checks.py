"""One check: a sample run on one phase's inputs in the sandbox, each output judged as it arrives; and
both phases of a sample in evalplus's result shape, with the failure as data (`verdicts.Failure`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..datasets import Dataset
from ..inside import limits, wire
from .oracle import Judge
from .sandbox import Sandbox
from .truth import PHASES, PhaseTruth, check_payload
from .verdicts import INCOMPLETE, LOAD_ERROR, PROTOCOL, RAISED, TIMEOUT, VANISHED, WRONG_OUTPUT, Failure, excerpt

__all__ = ["PhaseResult", "check_phase", "check_solution"]


@dataclass
class PhaseResult:
    failure: Failure | None = None  # None: every input passed
    cpu: float = 0.0

    @property
    def status(self) -> str:  # evalplus's names and meanings: pass | fail | timeout
        return "pass" if self.failure is None else self.failure.status


class _PhaseJudge:
    """Judges one phase's records as they arrive (the sandbox's `on_record`): True to read on."""

    def __init__(self, dataset: Dataset, task_id: str, phase: str, truth: PhaseTruth) -> None:
        problem = dataset.problems[task_id]
        self.inputs = dataset.inputs(task_id, phase)
        self.judge = Judge(dataset.spec.family, problem["entry_point"], float(problem["atol"]))
        self.truth = truth
        self.next = 0  # the index of the next expected output
        self.cpu = 0.0
        self.failure: Failure | None = None
        self.finished = False

    def _fail(self, failure: Failure, actual: object = None) -> bool:
        self.failure, self.finished = self.shown(failure, actual), True
        return False

    def shown(self, failure: Failure, actual: object = None) -> Failure:
        """`failure` with what a person needs to see it: the input, the expected output, the actual one
        (WRONG_OUTPUT), each cut to a readable size (verdicts.excerpt)."""
        index = failure.input
        if index is None or not 0 <= index < len(self.inputs):
            return failure
        return replace(failure, shown_input=excerpt(self.inputs[index]), expected=self.truth.shown(index),
                       actual=excerpt(actual) if failure.kind == WRONG_OUTPUT else None)

    def __call__(self, record: dict) -> bool:
        event = record.get("event")
        if event == "start":
            return True
        if event == "load_error":
            return self._fail(Failure(LOAD_ERROR, exception=str(record.get("error")), message=_message(record)))
        if event == "done":
            self.finished = True
            if self.next != len(self.inputs):
                self.failure = Failure(INCOMPLETE)
            return False
        index = record.get("i")
        if index != self.next or index >= len(self.inputs):
            return self._fail(Failure(PROTOCOL))
        self.cpu += float(record.get("cpu") or 0.0)
        if "error" in record or "out_raw" not in record:
            error = str(record.get("error", "no output"))
            return self._fail(Failure(TIMEOUT, input=index) if error == "timeout"
                              else Failure(RAISED, exception=error, input=index, message=_message(record)))
        raw = record["out_raw"]
        if self.judge.exact_match_decides and self.truth.exact_ok[index] and raw == self.truth.raw(index):
            self.judge.saw_expected(self.truth.floaty[index])  # identical encodings: out == expected
        else:
            out = wire.decode_raw(raw)
            if not self.judge.passes(self.inputs[index], out, self.truth.expected(index)):
                return self._fail(Failure(WRONG_OUTPUT, input=index), actual=out)
        self.next += 1
        return True


def check_phase(sandbox: Sandbox, dataset: Dataset, task_id: str, code: str, phase: str,
                truth: PhaseTruth) -> PhaseResult:
    """Run `code` on one phase's inputs in the sandbox and judge each output as it arrives."""
    judge = _PhaseJudge(dataset, task_id, phase, truth)
    cpu_budget, wall_budget = limits.phase_budgets(truth.limits)
    entry_point = dataset.problems[task_id]["entry_point"]
    outcome = sandbox.run(check_payload(code, entry_point, judge.inputs, truth.limits), cpu_budget, wall_budget,
                          judge, output_limit=limits.output_limit(truth.size), memory_reserve=truth.size)
    if not judge.finished:
        # the process vanished without a verdict: evalplus reports that as "timeout"
        judge.failure = judge.shown(Failure(VANISHED, input=judge.next, reason=outcome.reason or "ended without a result"))
    return PhaseResult(failure=judge.failure, cpu=judge.cpu)


def check_solution(sandbox: Sandbox, dataset: Dataset, task_id: str, code: str, truth: dict[str, PhaseTruth]) -> dict:
    """Both phases of one sample: evalplus's fields (status, failing input) and the failure as data."""
    record: dict = {"task_id": task_id}
    for phase in PHASES:
        result = check_phase(sandbox, dataset, task_id, code, phase, truth[phase])
        failure = result.failure
        record[f"{phase}_status"] = result.status
        record[f"{phase}_detail"] = failure.sentence if failure else ""
        fail_tests = []
        if failure is not None and failure.input is not None:
            fail_tests = [_short(failure.shown_input) if failure.shown_input else "?"]
        record[f"{phase}_fail_tests"] = fail_tests
        record[f"{phase}_failure"] = failure.to_json() if failure else None
    return record


def _message(record: dict) -> str:
    """The exception's message the runner sent (untrusted: a solution can write records itself), cut."""
    message = record.get("message")
    return message[: limits.MESSAGE_CHARS] if isinstance(message, str) else ""


def _short(shown, width: int = 300) -> str:
    """evalplus's `*_fail_tests` entry: the failing input, shorter still."""
    return shown.text if not shown.cut and len(shown.text) <= width else shown.text[: width - 3] + "..."
