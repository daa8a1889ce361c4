"""The evaluation stage: a samples file scored into eval_results.json, as an `Evaluation` whose steps
read on their own:

    plan     read the samples; the verdicts that still hold (fingerprints.verdicts_hold), per sample
    resume   the journal of an interrupted evaluation: its verdicts count, its samples are not rerun
    run      the remaining samples, checked in the sandbox (checks.py), each verdict journaled at once
    finish   pass@1, eval_results.json (atomically), the journal removed

The expected outputs come from `truth`, the limits from `inside.limits`, the comparison rules from
`oracle`, a check's outcome as data from `verdicts`.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..datasets import Dataset
from ..fingerprints import EVAL_VERSION, evaluation_header, evaluation_journal_header, verdicts_hold
from ..inside import limits
from ..results import RunFolder, utc_now
from ..samples import Sample, read_samples, sample_key, samples_digest
from ..storage import Journal, atomic_write_json
from .checks import check_solution
from .oracle import FIND_ZERO_RULE
from .sandbox import Sandbox
from .truth import PHASES, load_ground_truth
from .verdicts import failure_of

__all__ = ["EvaluationJob", "Evaluation", "pass_at_1", "pass_at_k", "estimate_pass_at_k", "Scores"]


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


K_VALUES = (1, 10, 100)  # evalplus's pass@k, each where every task has at least k samples


def estimate_pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one task with `c` of `n` samples correct: 1 - C(n-c, k) / C(n, k) (Chen et
    al. 2021, as evalplus computes it: a product, no huge binomials)."""
    if n - c < k:
        return 1.0
    ratio = 1.0
    for m in range(n - c + 1, n + 1):
        ratio *= 1.0 - k / m
    return 1.0 - ratio


def pass_at_k(results: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """pass@k in percent, base and plus tests, for every k of K_VALUES that every task has samples for
    (evalplus's rule); {} for one sample per task (its pass@1 is `pass_at_1`, the leaderboard's)."""
    totals = [len(records) for records in results.values()]
    if not totals or max(totals) == 1:
        return {}
    out: dict[str, dict[str, float]] = {}
    for phase in ("base", "plus"):
        correct = [sum(r["base_status"] == "pass" and (phase == "base" or r["plus_status"] == "pass") for r in records)
                   for records in results.values()]
        out[phase] = {f"pass@{k}": round(100 * sum(estimate_pass_at_k(n, c, k) for n, c in zip(totals, correct))
                                         / len(totals), 2)
                      for k in K_VALUES if min(totals) >= k}
    return out


@dataclass(frozen=True)
class EvaluationJob:
    """What one evaluation scores, where, and under which rules."""

    samples: Path
    dataset: Dataset
    paths: RunFolder
    sandbox: Callable[[], Sandbox]  # made only when a sample must run
    workers: int
    cache: Path  # the machine-wide cache (ground truth)
    sandbox_choice: str = ""  # BENCH_SANDBOX, as recorded
    accept_unsandboxed: bool = False  # verdicts made without isolation stand (fingerprints.isolation_accepted)
    regenerate_tip: str | None = None  # how to complete an incomplete samples file

    @property
    def header(self) -> dict:
        return evaluation_header(self.dataset.identity)


@dataclass
class Plan:
    """What an evaluation has to do: every sample, its key, and the verdicts already known."""

    samples: list[Sample]
    digest: str
    previous: dict  # the eval_results.json whose verdicts hold, or {}
    keys: dict[int, str]  # sample index -> sample_key
    known: dict[str, dict]  # sample key -> verdict, from the previous results
    done: dict[str, dict] = field(default_factory=dict)  # sample key -> verdict, from this evaluation
    todo: list[Sample] = field(default_factory=list)  # one sample per key still to check
    sandbox_info: dict = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        return self.previous.get("samples_sha256") == self.digest


class Evaluation:
    """One evaluation of a samples file (see the module's docstring). `progress(done, total)` is called with
    the samples checked so far and the file's samples (several per problem for sampled answers): first when
    the checks start, then after each check."""

    def __init__(self, job: EvaluationJob, log: logging.Logger, progress: Callable[[int, int], None] | None = None):
        self.job = job
        self.log = log
        self.progress = progress or (lambda done, total: None)

    def run(self) -> dict:
        """Score the samples into paths.eval_results (atomically), resuming an interrupted evaluation."""
        started = time.monotonic()
        plan = self.plan()
        if plan.up_to_date:
            self.log.info(f"{self.job.paths.eval_results} is up to date with the samples; nothing to do")
            return plan.previous
        header = evaluation_journal_header(self.job.header, self.job.dataset.md5)
        with Journal(self.job.paths.eval_journal, header) as journal:
            self.resume(plan, journal)
            if plan.todo:
                self.check(plan, journal)
        return self.finish(plan, time.monotonic() - started)

    def plan(self) -> Plan:
        job = self.job
        samples = read_samples(job.samples, job.dataset, job.regenerate_tip)
        previous = self._previous()
        # verdicts are keyed by a hash of each sample: an unchanged sample keeps its verdict (from the last
        # results or from this evaluation's journal), so a rerun after a few answers changed checks only those
        known = {sample_key(task, record["solution"]): _verdict(record)
                 for task, records in previous.get("eval", {}).items() for record in records if "solution" in record}
        return Plan(samples=samples, digest=samples_digest(samples), previous=previous,
                    keys={s.index: sample_key(s.task_id, s.solution) for s in samples}, known=known,
                    sandbox_info=previous.get("sandbox", {}))

    def resume(self, plan: Plan, journal: Journal) -> None:
        """Take the journal's verdicts; what remains to check goes into plan.todo (one sample per key)."""
        plan.done = {r["key"]: _verdict(r) for r in journal if "key" in r}
        if plan.done:
            self.log.info(f"resuming evaluation: {len(plan.done)} samples already checked")
        settled = plan.done.keys() | plan.known.keys()
        plan.todo = list({plan.keys[s.index]: s for s in plan.samples if plan.keys[s.index] not in settled}.values())
        reused = sum(1 for s in plan.samples if plan.keys[s.index] in plan.known and plan.keys[s.index] not in plan.done)
        if plan.known and plan.todo:
            self.log.info(f"{len(plan.todo)} changed samples to check; {reused} unchanged keep their verdicts")

    def check(self, plan: Plan, journal: Journal) -> None:
        """Check plan.todo in the sandbox, the slowest tasks first; each verdict is journaled at once."""
        job = self.job
        truth = load_ground_truth(job.dataset, job.cache, job.workers, self.log)
        sandbox = job.sandbox()
        try:
            sandbox.self_test()
            plan.sandbox_info = {"choice": job.sandbox_choice, **sandbox.describe()}
            # the slowest tasks (by the canonical solution's CPU time) first, so no straggler ends the run
            plan.todo.sort(key=lambda s: -sum(sum(truth[s.task_id][p].limits) for p in PHASES))
            finished = len(plan.samples) - len(plan.todo)
            self.progress(finished, len(plan.samples))  # the checks start now (the ground truth may have taken a while)
            with ThreadPoolExecutor(max_workers=job.workers) as pool:
                futures = {pool.submit(check_solution, sandbox, job.dataset, s.task_id, s.solution,
                                       truth[s.task_id]): s for s in plan.todo}
                for future in as_completed(futures):
                    sample = futures[future]
                    record = future.result()
                    journal.append({"key": plan.keys[sample.index], **record})
                    plan.done[plan.keys[sample.index]] = _verdict(record)
                    finished += 1
                    self._log_verdict(record)
                    self.progress(finished, len(plan.samples))
        finally:
            sandbox.close()

    def _log_verdict(self, record: dict) -> None:
        failures = [failure_of(record, phase) for phase in PHASES]
        why = next((f.sentence for f in failures if f is not None), "")
        self.log.debug(f"{record['task_id']}: base {record['base_status']}, plus {record['plus_status']}"
                       + (f" ({why})" if why else ""))

    def finish(self, plan: Plan, seconds: float) -> dict:
        """eval_results.json: evalplus's fields, and what benchlib adds (failures as data, the sandbox)."""
        job = self.job
        per_task: dict[str, list[dict]] = {}
        for sample in plan.samples:
            key = plan.keys[sample.index]
            record = plan.done.get(key) or plan.known[key]
            per_task.setdefault(sample.task_id, []).append({"task_id": sample.task_id, **record,
                                                            "solution": sample.solution})
        scores = pass_at_1(per_task)
        results = {
            "eval_version": EVAL_VERSION,
            "header": job.header,
            "date": utc_now(),
            "hash": job.dataset.md5,
            "dataset": job.dataset.describe(),
            "evalplus_version": _evalplus_version(),
            "samples": str(job.samples),
            "samples_sha256": plan.digest,
            "sandbox": plan.sandbox_info,
            "judging": {
                "time_limits": limits.LIMITS_TEXT,
                "special_cases": {"HumanEval/32": FIND_ZERO_RULE} if job.dataset.spec.family == "humaneval" else {},
            },
            "pass_at_1": {"base": scores.base, "plus": scores.plus},
            **({"pass_at_k": sampled} if (sampled := pass_at_k(per_task)) else {}),
            "n_tasks": scores.n_tasks,
            "n_samples": scores.n_samples,
            "eval_seconds": round(seconds, 1),
            "checked": len(plan.todo),  # samples checked by this evaluation; the others kept their verdicts
            "eval": per_task,
        }
        atomic_write_json(job.paths.eval_results, results)
        job.paths.eval_journal.unlink(missing_ok=True)
        return results

    def _previous(self) -> dict:
        """The last eval_results.json when its verdicts still hold, else {}."""
        job = self.job
        try:
            previous = json.loads(job.paths.eval_results.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(previous, dict) or not verdicts_hold(previous, job.header, job.dataset.md5,
                                                              job.accept_unsandboxed):
            return {}
        return previous


def _verdict(record: dict) -> dict:
    """The judged part of a check record (what a reused verdict carries), with the failures as data
    (derived from the words for records written before they were stored)."""
    verdict = {k: v for k, v in record.items() if k not in ("key", "solution", "task_id", "index")}
    for phase in PHASES:
        if f"{phase}_failure" not in verdict and f"{phase}_status" in verdict:
            failure = failure_of(verdict, phase)
            verdict[f"{phase}_failure"] = failure.to_json() if failure else None
    return verdict


def _evalplus_version() -> str:
    try:
        from importlib.metadata import version

        return version("evalplus")
    except Exception:  # noqa: BLE001
        return "unknown"
