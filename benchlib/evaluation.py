"""Scoring samples: ground truth, sandboxed checks, evalplus-equivalent judging, eval_results.json."""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import pickle
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import runner
from .datasets import Dataset
from .errors import SandboxError
from .layout import ProfilePaths, cache_dir
from .oracle import FIND_ZERO_RULE, MBPP_OUTPUT_NOT_NONE_TASKS, Judge, Opaque, decode, is_floats
from .samples import read_samples, samples_digest
from .sandbox import OUTPUT_LIMIT, LocalSandbox
from .storage import Journal, atomic_write_bytes, atomic_write_json

__all__ = ["EVAL_VERSION", "evaluate_samples", "load_ground_truth", "check_solution", "PhaseTruth",
           "eval_settings", "default_workers"]

EVAL_VERSION = 1  # bump when eval_results.json's meaning or format changes
GT_VERSION = 4
MIN_TIME_LIMIT = 1.0  # evalplus DEFAULT_MIN_TIME_LIMIT
GT_TIME_LIMIT_FACTOR = 4.0  # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
PHASES = ("base", "plus")


def default_workers() -> int:
    return int(os.environ.get("BENCH_EVAL_WORKERS") or os.cpu_count() or 1)


def eval_settings(dataset_id: str, sandbox: str) -> dict:
    """The settings that change scores; a change makes eval_results.json stale."""
    return {"eval_version": EVAL_VERSION, "dataset": dataset_id, "sandbox": sandbox}


@dataclass
class PhaseTruth:
    """Expected outputs of one phase (as their wire encoding) and the CPU time limit of each input.

    The encodings stay in the ground-truth file (memory-mapped, shared by concurrent evaluations) and
    are sliced out one at a time: input i's is at `base + offsets[i]` up to `base + offsets[i + 1]`."""

    blob: bytes | mmap.mmap
    base: int  # where the encodings start in blob
    offsets: list[int]
    limits: list[float]
    floaty: list[bool]  # evalplus widens atol once it meets a float expected output
    exact_ok: list[bool]  # identical encodings mean equal values (not so with NaN inside)
    size: int = 0  # bytes the canonical solution's records took: a correct solution sends about as much
    _decoded: dict = field(default_factory=dict)

    def raw(self, index: int) -> bytes:
        return self.blob[self.base + self.offsets[index]:self.base + self.offsets[index + 1]]

    def expected(self, index: int):
        if index not in self._decoded:
            self._decoded[index] = decode(json.loads(self.raw(index)))
        return self._decoded[index]


@dataclass
class PhaseResult:
    status: str  # pass | fail | timeout (evalplus's names and meanings)
    detail: str = ""
    failed_input: int | None = None
    cpu: float = 0.0


def _time_limits(ref_cpu: list[float]) -> list[float]:
    return [max(MIN_TIME_LIMIT, GT_TIME_LIMIT_FACTOR * t) for t in ref_cpu]


def _budgets(limits: list[float]) -> tuple[float, float]:
    # evalplus allows min(60, sum(limits)) + 2 seconds for the whole phase; ours counts CPU seconds
    cpu = min(60.0, sum(limits)) + 2.0
    return cpu, 3 * cpu + 10.0


def _payload(code: str, entry_point: str, inputs: list, limits: list[float]) -> dict:
    return {"code": code, "entry_point": entry_point, "inputs": inputs, "time_limits": limits}


def check_phase(sandbox, dataset: Dataset, task_id: str, code: str, phase: str, truth: PhaseTruth) -> PhaseResult:
    """Run `code` on one phase's inputs in the sandbox and judge each output as it arrives."""
    problem = dataset.problems[task_id]
    entry_point = problem["entry_point"]
    inputs = dataset.inputs(task_id, phase)
    judge = Judge(dataset.spec.key, entry_point, float(problem["atol"]),
                  dataset.spec.key == "mbpp" and entry_point in MBPP_OUTPUT_NOT_NONE_TASKS)
    result = PhaseResult(status="")
    state = {"next": 0}
    exact_is_enough = judge.exact_match_decides

    def on_record(record: dict) -> bool:
        event = record.get("event")
        if event == "start":
            return True
        if event == "load_error":
            result.status, result.detail = "fail", f"loading the solution raised {record.get('error')}"
            return False
        if event == "done":
            if state["next"] == len(inputs):
                result.status = "pass"
            else:
                result.status, result.detail = "fail", "ended before all inputs"
            return False
        index = record.get("i")
        if index != state["next"] or index >= len(inputs):
            result.status, result.detail = "fail", "out-of-order record"
            return False
        result.cpu += float(record.get("cpu") or 0.0)
        if "error" in record or "out_raw" not in record:
            error = record.get("error", "no output")
            result.detail = "exceeded the time limit" if error == "timeout" else f"raised {error}"
            result.status, result.failed_input = "fail", index
            return False
        raw = record["out_raw"]
        if exact_is_enough and truth.exact_ok[index] and raw == truth.raw(index):
            judge.saw_expected(truth.floaty[index])  # identical encodings: out == expected
        elif not judge.passes(inputs[index], _decode_raw(raw), truth.expected(index)):
            result.status, result.detail, result.failed_input = "fail", "wrong output", index
            return False
        state["next"] += 1
        return True

    cpu_budget, wall_budget = _budgets(truth.limits)
    outcome = sandbox.run(_payload(code, entry_point, inputs, truth.limits), cpu_budget, wall_budget, on_record,
                          output_limit=max(OUTPUT_LIMIT, 4 * truth.size))
    if not result.status:
        # the process vanished without a verdict: evalplus reports that as "timeout"
        result.status = "timeout"
        result.detail = outcome.reason or "ended without a result"
        result.failed_input = state["next"]
    return result


def check_solution(sandbox, dataset: Dataset, task_id: str, code: str, truth: dict[str, PhaseTruth]) -> dict:
    """Both phases of one sample, in evalplus's result shape (plus details)."""
    record: dict = {"task_id": task_id}
    for phase in PHASES:
        outcome = check_phase(sandbox, dataset, task_id, code, phase, truth[phase])
        record[f"{phase}_status"] = outcome.status
        record[f"{phase}_detail"] = outcome.detail
        failed = outcome.failed_input
        fail_tests = []
        if outcome.status != "pass" and failed is not None:
            inputs = dataset.inputs(task_id, phase)  # MBPP+ inputs are rebuilt on each call: once here
            fail_tests = [_short(inputs[failed]) if failed < len(inputs) else "?"]
        record[f"{phase}_fail_tests"] = fail_tests
    return record


def _decode_raw(raw: bytes):
    try:
        return decode(json.loads(raw))
    except (ValueError, RecursionError, TypeError, KeyError):
        return Opaque("undecodable output")


def _short(value: object, width: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# ---------------------------------------------------------------------------------------------------
# ground truth: the canonical solutions' outputs and CPU times, computed once per dataset and machine


def _truth_path(dataset: Dataset) -> Path:
    return cache_dir() / "groundtruth" / f"{dataset.spec.key}-{dataset.md5}-w{runner.WIRE_VERSION}-g{GT_VERSION}.truth"


def _run_canonical(sandbox, dataset: Dataset, task_id: str) -> dict:
    entry_point = dataset.problems[task_id]["entry_point"]
    not_none = dataset.spec.key == "mbpp" and entry_point in MBPP_OUTPUT_NOT_NONE_TASKS
    truth = {}
    for phase in PHASES:
        inputs = dataset.inputs(task_id, phase)
        raw: list[bytes] = []
        cpu: list[float] = []
        errors: list[str] = []

        def on_record(record: dict) -> bool:
            if record.get("event") == "load_error":
                errors.append(f"load: {record.get('error')}")
                return False
            if record.get("event") == "done":
                return False
            if "i" in record:
                if "error" in record:
                    errors.append(f"input {record['i']}: {record['error']}")
                    return False
                raw.append(record["out_raw"])
                cpu.append(float(record.get("cpu") or 0.0))
            return True

        limits = [60.0] * len(inputs)
        outcome = sandbox.run(_payload(dataset.solution_of(task_id), entry_point, inputs, limits), 600, 1200, on_record,
                              output_limit=None)
        if errors or len(raw) != len(inputs):
            raise SandboxError(
                f"the canonical solution of {task_id} ({phase}) failed in the sandbox: "
                f"{'; '.join(errors[:3]) or outcome.reason or 'no output'}",
                "check evaluation.log; the sandbox may be too restricted for this dataset",
            )
        values = [decode(json.loads(r)) for r in raw]
        if not_none:  # evalplus keeps only whether these outputs are None
            values = [v is not None for v in values]
            raw = [json.dumps(v).encode() for v in values]
        truth[phase] = {"raw": raw, "cpu": cpu, "bytes": outcome.received, "floaty": [is_floats(v) for v in values]}
    return truth


def load_ground_truth(dataset: Dataset, sandbox_factory: Callable[[], object], workers: int,
                      log: Callable[[str], None]) -> dict[str, dict[str, PhaseTruth]]:
    """Expected outputs per task and phase, from the cache or computed (under a lock, stored atomically).

    The cache is written and read only by the evaluator (never by the sandbox), so its pickled header is
    safe to load here.
    """
    path = _truth_path(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent evaluations compute it once
        if not path.exists():
            log(f"computing ground truth for {dataset.version} (once per dataset and machine) ...")
            started = time.monotonic()
            sandbox = sandbox_factory()
            computed: dict[str, dict] = {}
            try:
                sandbox.self_test()
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    futures = {pool.submit(_run_canonical, sandbox, dataset, t): t for t in dataset.task_ids}
                    for future in as_completed(futures):
                        computed[futures[future]] = future.result()
            finally:
                sandbox.close()
            _write_truth(path, dataset.md5, computed)
            log(f"ground truth computed in {time.monotonic() - started:.1f} s -> {path}")
            _remove_older_truths(path, dataset)
        blob, base, header = _read_truth(path)
    return {
        task_id: {phase: PhaseTruth(blob=blob, base=base, offsets=t[phase]["offsets"],
                                    limits=_time_limits(t[phase]["cpu"]), floaty=t[phase]["floaty"],
                                    exact_ok=t[phase]["exact_ok"], size=t[phase]["bytes"])
                  for phase in PHASES}
        for task_id, t in header["tasks"].items()
    }


TRUTH_MAGIC = b"benchlib-truth\n"


def _remove_older_truths(current: Path, dataset: Dataset) -> None:
    """Ground truths of the same dataset left by earlier benchlib versions (hundreds of MB each)."""
    for old in current.parent.glob(f"{dataset.spec.key}-{dataset.md5}-w*-g*"):
        if old != current and old.suffix != ".lock":
            old.unlink(missing_ok=True)  # a reader that has it open or mapped keeps its copy


def _write_truth(path: Path, dataset_md5: str, computed: dict[str, dict]) -> None:
    """One file: magic, header length, a pickled header (offsets, CPU times, flags per input), then every
    expected output's encoding back to back (read through mmap, never unpickled)."""
    chunks: list[bytes] = []
    tasks: dict[str, dict] = {}
    position = 0
    for task_id, phases in computed.items():
        tasks[task_id] = {}
        for phase, truth in phases.items():
            offsets = [position]
            for raw in truth["raw"]:
                chunks.append(raw)
                position += len(raw)
                offsets.append(position)
            tasks[task_id][phase] = {"offsets": offsets, "cpu": truth["cpu"], "floaty": truth["floaty"],
                                     "exact_ok": [b'"nan"' not in raw for raw in truth["raw"]],
                                     "bytes": truth["bytes"]}
    header = pickle.dumps({"dataset_md5": dataset_md5, "tasks": tasks}, protocol=pickle.HIGHEST_PROTOCOL)
    atomic_write_bytes(path, [TRUTH_MAGIC, len(header).to_bytes(8, "big"), header, *chunks])


def _read_truth(path: Path) -> tuple[mmap.mmap, int, dict]:
    """The mapped file, where the encodings start, and the header."""
    with open(path, "rb") as handle:
        blob = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    start = len(TRUTH_MAGIC) + 8
    if blob[:len(TRUTH_MAGIC)] != TRUTH_MAGIC:
        raise SandboxError(f"{path} is not a benchlib ground-truth file (damaged or replaced)",
                           "delete it: the next evaluation computes the ground truth again")
    size = int.from_bytes(blob[len(TRUTH_MAGIC):start], "big")
    return blob, start + size, pickle.loads(blob[start:start + size])


# ---------------------------------------------------------------------------------------------------


@dataclass
class Scores:
    base: float
    plus: float
    n_tasks: int
    n_samples: int


def pass_at_1(results: dict[str, list[dict]]) -> Scores:
    """Mean over tasks of the fraction of passing samples (pass@1), in percent."""
    base = plus = 0.0
    for records in results.values():
        base += sum(r["base_status"] == "pass" for r in records) / len(records)
        plus += sum(r["base_status"] == r["plus_status"] == "pass" for r in records) / len(records)
    n = len(results)
    return Scores(base=round(100 * base / n, 1), plus=round(100 * plus / n, 1), n_tasks=n,
                  n_samples=sum(len(r) for r in results.values()))


def evaluate_samples(
    samples_path: Path,
    dataset: Dataset,
    paths: ProfilePaths,
    sandbox_factory: Callable[[], object],
    sandbox_choice: str,
    workers: int,
    log: Callable[[str], None],
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Score a samples file into paths.eval_results (atomically), resuming an interrupted evaluation."""
    samples = read_samples(samples_path, dataset)
    digest = samples_digest(samples)
    if paths.eval_results.exists():
        try:
            previous = json.loads(paths.eval_results.read_text())
            if (previous.get("samples_sha256") == digest and previous.get("eval_version") == EVAL_VERSION
                    and previous.get("dataset", {}).get("md5") == dataset.md5):
                log(f"{paths.eval_results} is up to date with the samples; nothing to do")
                return previous
        except (json.JSONDecodeError, OSError):
            pass
    started = time.monotonic()
    truth = load_ground_truth(dataset, _trusted_sandbox, workers, log)
    sandbox = sandbox_factory()
    try:
        sandbox.self_test()
    except BaseException:
        sandbox.close()
        raise
    header = {"samples_sha256": digest, "dataset_md5": dataset.md5, "eval_version": EVAL_VERSION}
    with Journal(paths.eval_journal, header) as journal:
        done = {r["index"]: r for r in journal}
        if done:
            log(f"resuming evaluation: {len(done)} of {len(samples)} samples already checked")
        todo = [s for s in samples if s.index not in done]
        # the slowest tasks (by the canonical solution's CPU time) first, so no straggler ends the run
        todo.sort(key=lambda s: -sum(sum(truth[s.task_id][p].limits) for p in PHASES))
        finished = len(done)
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(check_solution, sandbox, dataset, s.task_id, s.solution, truth[s.task_id]): s
                           for s in todo}
                for future in as_completed(futures):
                    sample = futures[future]
                    record = {"index": sample.index, **future.result()}
                    journal.append(record)
                    done[sample.index] = record
                    finished += 1
                    log(f"{sample.task_id}: base {record['base_status']}, plus {record['plus_status']}"
                        + (f" ({record['base_detail'] or record['plus_detail']})"
                           if record['base_status'] != 'pass' or record['plus_status'] != 'pass' else ""))
                    if progress:
                        progress(finished, len(samples))
        finally:
            sandbox.close()
    per_task: dict[str, list[dict]] = {}
    for sample in samples:
        record = dict(done[sample.index])
        record.pop("index")
        per_task.setdefault(sample.task_id, []).append({**record, "solution": sample.solution})
    scores = pass_at_1(per_task)
    results = {
        "eval_version": EVAL_VERSION,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "hash": dataset.md5,
        "dataset": dataset.describe(),
        "evalplus_version": _evalplus_version(),
        "samples": str(samples_path),
        "samples_sha256": digest,
        "sandbox": {"choice": sandbox_choice, **sandbox.describe()},
        "judging": {
            "time_limits": f"per input max({MIN_TIME_LIMIT} s, {GT_TIME_LIMIT_FACTOR} x canonical) of CPU time",
            "special_cases": {"HumanEval/32": FIND_ZERO_RULE} if dataset.spec.key == "humaneval" else {},
        },
        "pass_at_1": {"base": scores.base, "plus": scores.plus},
        "n_tasks": scores.n_tasks,
        "n_samples": scores.n_samples,
        "eval_seconds": round(time.monotonic() - started, 1),
        "eval": per_task,
    }
    atomic_write_json(paths.eval_results, results)
    paths.eval_journal.unlink(missing_ok=True)
    return results


def _trusted_sandbox():
    """Canonical solutions are trusted: no memory cap (evalplus computes them in-process)."""

    return LocalSandbox(memory_limit=None, isolate=False)


def _evalplus_version() -> str:
    try:
        from importlib.metadata import version

        return version("evalplus")
    except Exception:  # noqa: BLE001
        return "unknown"
