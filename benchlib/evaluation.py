"""Scoring samples: sandboxed checks, evalplus-equivalent judging, a resumable journal, eval_results.json.

The expected outputs come from `truth`, the limits from `limits`, the wire format from `wire`, the
comparison rules from `oracle`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import limits, wire
from .datasets import Dataset
from .fingerprints import EVAL_VERSION
from .oracle import FIND_ZERO_RULE, Judge
from .results import ProfilePaths
from .samples import read_samples, sample_key, samples_digest
from .storage import Journal, atomic_write_json
from .truth import PHASES, PhaseTruth, check_payload, load_ground_truth

__all__ = ["evaluate_samples", "check_solution", "check_phase", "pass_at_1"]


@dataclass
class PhaseResult:
    status: str  # pass | fail | timeout (evalplus's names and meanings)
    detail: str = ""
    failed_input: int | None = None
    cpu: float = 0.0


def check_phase(sandbox, dataset: Dataset, task_id: str, code: str, phase: str, truth: PhaseTruth) -> PhaseResult:
    """Run `code` on one phase's inputs in the sandbox and judge each output as it arrives."""
    problem = dataset.problems[task_id]
    entry_point = problem["entry_point"]
    inputs = dataset.inputs(task_id, phase)
    judge = Judge(dataset.spec.key, entry_point, float(problem["atol"]))
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
        elif not judge.passes(inputs[index], wire.decode_raw(raw), truth.expected(index)):
            result.status, result.detail, result.failed_input = "fail", "wrong output", index
            return False
        state["next"] += 1
        return True

    cpu_budget, wall_budget = limits.phase_budgets(truth.limits)
    outcome = sandbox.run(check_payload(code, entry_point, inputs, truth.limits), cpu_budget, wall_budget, on_record,
                          output_limit=limits.output_limit(truth.size), memory_reserve=truth.size)
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


def _short(value: object, width: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


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
    *,
    workers: int,
    cache: Path,
    log: logging.Logger,
    sandbox_choice: str = "",
    progress: Callable[[int], None] | None = None,
    accept_unsandboxed: bool = False,
    regenerate_tip: str | None = None,
) -> dict:
    """Score a samples file into paths.eval_results (atomically), resuming an interrupted evaluation.
    `progress(n)` is called with the number of samples checked so far: first when the checks start, then
    after each check."""
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)  # failing inputs are shown with repr(): huge ints among them
    samples = read_samples(samples_path, dataset, regenerate_tip)
    digest = samples_digest(samples)
    previous = _previous_verdicts(paths, dataset, accept_unsandboxed)
    if previous.get("samples_sha256") == digest:
        log.info(f"{paths.eval_results} is up to date with the samples; nothing to do")
        return previous
    started = time.monotonic()
    # verdicts are keyed by a hash of each sample: an unchanged sample keeps its verdict (from the last
    # results or from this evaluation's journal), so a rerun after a few answers changed checks only those
    known = {sample_key(task, record["solution"]): _verdict(record)
             for task, records in previous.get("eval", {}).items() for record in records if "solution" in record}
    header = {"dataset_md5": dataset.md5, "eval_version": EVAL_VERSION}
    sandbox_info = previous.get("sandbox", {})
    with Journal(paths.eval_journal, header) as journal:
        done = {r["key"]: _verdict(r) for r in journal if "key" in r}
        if done:
            log.info(f"resuming evaluation: {len(done)} samples already checked")
        keys = {s.index: sample_key(s.task_id, s.solution) for s in samples}
        todo = list({keys[s.index]: s for s in samples if keys[s.index] not in done and keys[s.index] not in known}.values())
        reused = sum(1 for s in samples if keys[s.index] in known and keys[s.index] not in done)
        if known and todo:
            log.info(f"{len(todo)} changed samples to check; {reused} unchanged keep their verdicts")
        if todo:
            truth = load_ground_truth(dataset, cache, workers, log)
            sandbox = sandbox_factory()
            try:
                sandbox.self_test()
            except BaseException:
                sandbox.close()
                raise
            sandbox_info = {"choice": sandbox_choice, **sandbox.describe()}
            # the slowest tasks (by the canonical solution's CPU time) first, so no straggler ends the run
            todo.sort(key=lambda s: -sum(sum(truth[s.task_id][p].limits) for p in PHASES))
            finished = len(samples) - len(todo)
            if progress:
                progress(finished)  # the checks start now (the ground truth may have taken a while)
            try:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    futures = {pool.submit(check_solution, sandbox, dataset, s.task_id, s.solution,
                                           truth[s.task_id]): s for s in todo}
                    for future in as_completed(futures):
                        sample = futures[future]
                        record = future.result()
                        journal.append({"key": keys[sample.index], **record})
                        done[keys[sample.index]] = _verdict(record)
                        finished += 1
                        log.debug(f"{sample.task_id}: base {record['base_status']}, plus {record['plus_status']}"
                                  + (f" ({record['base_detail'] or record['plus_detail']})"
                                     if record['base_status'] != 'pass' or record['plus_status'] != 'pass' else ""))
                        if progress:
                            progress(finished)
            finally:
                sandbox.close()
    per_task: dict[str, list[dict]] = {}
    for sample in samples:
        key = keys[sample.index]
        record = done.get(key) or known[key]
        per_task.setdefault(sample.task_id, []).append({"task_id": sample.task_id, **record,
                                                        "solution": sample.solution})
    scores = pass_at_1(per_task)
    results = {
        "eval_version": EVAL_VERSION,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "hash": dataset.md5,
        "dataset": dataset.describe(),
        "evalplus_version": _evalplus_version(),
        "samples": str(samples_path),
        "samples_sha256": digest,
        "sandbox": sandbox_info,
        "judging": {
            "time_limits": limits.LIMITS_TEXT,
            "special_cases": {"HumanEval/32": FIND_ZERO_RULE} if dataset.spec.key == "humaneval" else {},
        },
        "pass_at_1": {"base": scores.base, "plus": scores.plus},
        "n_tasks": scores.n_tasks,
        "n_samples": scores.n_samples,
        "eval_seconds": round(time.monotonic() - started, 1),
        "checked": len(todo),  # samples checked by this evaluation; the others kept their verdicts
        "eval": per_task,
    }
    atomic_write_json(paths.eval_results, results)
    paths.eval_journal.unlink(missing_ok=True)
    return results


def _verdict(record: dict) -> dict:
    """The judged part of a check record (what a reused verdict carries)."""
    return {k: v for k, v in record.items() if k not in ("key", "solution", "task_id", "index")}


def _previous_verdicts(paths: ProfilePaths, dataset: Dataset, accept_unsandboxed: bool) -> dict:
    """The last eval_results.json when its verdicts still hold (same judging, dataset file, and a sandbox
    this run accepts), else {}."""
    try:
        previous = json.loads(paths.eval_results.read_text())
    except (OSError, ValueError):
        return {}
    if (not isinstance(previous, dict) or previous.get("eval_version") != EVAL_VERSION
            or previous.get("dataset", {}).get("md5") != dataset.md5
            or not (previous.get("sandbox", {}).get("sandboxed", True) or accept_unsandboxed)):
        return {}
    return previous


def _evalplus_version() -> str:
    try:
        from importlib.metadata import version

        return version("evalplus")
    except Exception:  # noqa: BLE001
        return "unknown"
