"""Ground truth: the canonical solutions' outputs and CPU times, computed once per dataset and machine.

Stored as one file per dataset version in the cache (`<cache>/groundtruth/<ds>-<md5>-w<wire>-g<version>
.truth`): magic, header length, a pickled header (offsets, CPU times, flags per input), then every expected
output's encoding back to back, read through mmap (never unpickled as a whole), so concurrent
evaluations share the page cache. The file is written and read only by the evaluator, never by the
sandbox, so its pickled header is safe to load.
"""

from __future__ import annotations

import fcntl
import logging
import json
import mmap
import pickle
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..inside import limits, wire
from ..datasets import Dataset
from ..errors import SandboxError
from .oracle import is_floats, only_not_none
from .sandbox import LocalSandbox
from .verdicts import Excerpt, excerpt
from ..storage import AtomicFile

__all__ = ["PHASES", "PhaseTruth", "GroundTruth", "load_ground_truth", "truth_path", "trusted_sandbox",
           "TruthWriter", "write_truth", "read_truth", "GT_VERSION", "CanonicalRun"]

GT_VERSION = 6  # bump when the file's layout or what it records changes
PHASES = ("base", "plus")
SHOWN_BYTES = 1 << 22  # an expected output's encoding up to this is decoded to show its start (a few ms)
TRUTH_MAGIC = b"benchlib-truth\n"
TRUTH_END = b"\nend-of-truth\n"

GroundTruth = dict  # task_id -> {phase: PhaseTruth}


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
            self._decoded[index] = wire.decode(json.loads(self.raw(index)))
        return self._decoded[index]

    def shown(self, index: int) -> Excerpt:
        """The expected output as a failure shows it, at a bounded cost: an encoding past SHOWN_BYTES is
        described, not decoded (Mbpp/255's 1 GB output took 43 s to decode only to show its first line)."""
        if index in self._decoded:
            return excerpt(self._decoded[index])
        size = self.offsets[index + 1] - self.offsets[index]
        if size > SHOWN_BYTES:
            return Excerpt(f"<an output of {size:,} bytes encoded: too large to show>", size, at_least=True)
        return excerpt(wire.decode(json.loads(self.raw(index))))


def truth_path(dataset: Dataset, cache: Path) -> Path:
    """Where the ground truth of `dataset` lives in the cache folder."""
    return Path(cache) / "groundtruth" / f"{dataset.spec.key}-{dataset.md5}-w{wire.WIRE_VERSION}-g{GT_VERSION}.truth"


@dataclass
class _Range:
    """Inputs lo..hi-1 of one phase, run as one check. `hi` shrinks when an idle worker takes the tail."""

    task_id: str
    phase: str
    lo: int
    hi: int
    next: int = 0  # the next input whose output is awaited
    started: float = 0.0


class _PhaseOutputs:
    """One phase's outputs and CPU times, filled in by index by whichever range computed them."""

    def __init__(self, n: int) -> None:
        self.raw: list[bytes | None] = [None] * n
        self.cpu = [0.0] * n
        self.missing = n


class CanonicalRun:
    """Runs every canonical solution on every input, `workers` checks at a time, and hands each task's
    outputs to `on_task` as soon as both its phases are complete.

    The unit of work is a range of a phase's inputs, at first the whole phase, in dataset order (the
    costs are unknown until measured). A worker that finds nothing left to start takes the second half
    of the remaining inputs of the range that has the most of them (work stealing), so one slow phase
    (Mbpp/599: 22 s) does not leave the other workers idle at the end. Canonical solutions are trusted
    and deterministic: each input's output and CPU time are the same whichever process runs it."""

    STEAL_AFTER = 0.1  # seconds a range runs before its tail may be taken (short phases just finish)

    def __init__(self, sandbox, dataset: Dataset, on_task: Callable[[str, dict], None]) -> None:
        self.sandbox = sandbox
        self.dataset = dataset
        self.on_task = on_task
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.queue: deque[_Range] = deque()
        self.running: list[_Range] = []
        self.outputs: dict[str, dict[str, _PhaseOutputs]] = {}
        self.inputs: dict[tuple[str, str], list] = {}  # rebuilt by the first range of a phase, kept for its tails
        self.failure: BaseException | None = None
        for task_id in dataset.task_ids:
            self.outputs[task_id] = {}
            for phase in PHASES:
                count = dataset.input_count(task_id, phase)
                self.outputs[task_id][phase] = _PhaseOutputs(count)
                self.queue.append(_Range(task_id, phase, 0, count))
        self.pending_tasks = {t: len(PHASES) for t in dataset.task_ids}
        self.splits = 0  # ranges taken from a running one (reported in the log)

    def run(self, workers: int) -> None:
        threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(max(1, workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.failure is not None:
            raise self.failure

    def _take(self) -> _Range | None:
        with self.lock:
            if self.failure is not None:
                return None
            if self.queue:
                taken = self.queue.popleft()
            else:
                now = time.monotonic()
                victims = [r for r in self.running if r.hi - r.next >= 2 and now - r.started >= self.STEAL_AFTER]
                if not victims:
                    return None
                victim = max(victims, key=lambda r: r.hi - r.next)
                middle = victim.next + (victim.hi - victim.next + 1) // 2
                taken = _Range(victim.task_id, victim.phase, middle, victim.hi)
                victim.hi = middle
                self.splits += 1
            taken.next, taken.started = taken.lo, time.monotonic()
            self.running.append(taken)
            return taken

    def _worker(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                with self.lock:
                    if not self.running or self.failure is not None:
                        return
                time.sleep(0.05)  # others still run: their tails may become worth taking
                continue
            try:
                self._run_range(taken)
            except BaseException as exc:  # noqa: BLE001 - reported once, by run()
                with self.lock:
                    self.failure = self.failure or exc
            finally:
                with self.lock:
                    self.running.remove(taken)

    def _inputs(self, task_id: str, phase: str) -> list:
        """A phase's inputs, rebuilt once (MBPP+'s are deserialized on each call), outside the lock."""
        with self.lock:
            found = self.inputs.get((task_id, phase))
        if found is None:
            found = list(self.dataset.inputs(task_id, phase))
            with self.lock:
                found = self.inputs.setdefault((task_id, phase), found)
        return found

    def _run_range(self, taken: _Range) -> None:
        task_id, phase = taken.task_id, taken.phase
        inputs = self._inputs(task_id, phase)[taken.lo:taken.hi]
        outputs = self.outputs[task_id][phase]
        errors: list[str] = []

        def on_record(record: dict) -> bool:
            if record.get("event") == "load_error":
                errors.append(f"load: {record.get('error')}")
                return False
            if record.get("event") == "done":
                return False
            if "i" not in record:
                return True
            index = taken.lo + record["i"]
            with self.lock:
                if index >= taken.hi:
                    return False  # past a tail another worker took
                if index != taken.next or "error" in record:
                    errors.append(f"input {index}: {'out of order' if index != taken.next else record['error']}")
                    return False
                outputs.raw[index] = record["out_raw"]
                outputs.cpu[index] = float(record.get("cpu") or 0.0)
                taken.next = index + 1
                return taken.next < taken.hi

        entry_point = self.dataset.problems[task_id]["entry_point"]
        payload = check_payload(self.dataset.solution_of(task_id), entry_point, inputs,
                                [limits.CANONICAL_INPUT_LIMIT] * len(inputs))
        outcome = self.sandbox.run(payload, *limits.CANONICAL_BUDGETS, on_record, output_limit=None)
        with self.lock:
            complete = taken.next >= taken.hi
            if complete:
                outputs.missing -= taken.hi - taken.lo
                phase_done = outputs.missing == 0
                if phase_done:
                    self.pending_tasks[task_id] -= 1
                    self.inputs.pop((task_id, phase), None)
                task_done = phase_done and self.pending_tasks[task_id] == 0
        if not complete:
            raise SandboxError(
                f"the canonical solution of {task_id} ({phase}) failed in the sandbox: "
                f"{'; '.join(errors[:3]) or outcome.reason or 'no output'}",
                "check evaluation.log; the sandbox may be too restricted for this dataset",
            )
        if task_done:
            finished = self._finish(task_id)
            with self.write_lock:
                self.on_task(task_id, finished)

    def _finish(self, task_id: str) -> dict:
        """A task's phases as TruthWriter.add takes them."""
        entry_point = self.dataset.problems[task_id]["entry_point"]
        not_none = only_not_none(self.dataset.spec.family, entry_point)
        truth = {}
        for phase in PHASES:
            outputs = self.outputs[task_id].pop(phase)
            raw = outputs.raw
            size = sum(len(r) + RECORD_OVERHEAD for r in raw)
            if not_none:  # evalplus keeps only whether these outputs are None
                raw = [json.dumps(wire.decode(json.loads(r)) is not None).encode() for r in raw]
            truth[phase] = {"raw": raw, "cpu": outputs.cpu, "bytes": size, "floaty": [floaty(r) for r in raw]}
        return truth


RECORD_OVERHEAD = 32  # bytes of an output record besides the encoding (`=seq i cpu `, newline)


CHEAP = 1 << 16  # outputs up to this size are simply decoded


def floaty(raw: bytes, cheap: int = CHEAP) -> bool:
    """oracle.is_floats of an output, from its encoding. A huge output (Mbpp/255's canonical one is 1.3 GB)
    is not decoded whole when its head decides: the first element of a list or tuple that is not a float,
    a number list's header, a list of tuples, a numpy array's dtype. Anything else is decoded, as before."""
    first = raw[:1]
    if first in (b'"', b"t", b"f", b"n"):
        return False  # a string, true, false, null
    if first and first in b"-0123456789":  # a bare number: a float's repr has a point or an exponent
        return b"." in raw or b"e" in raw or b"E" in raw
    if len(raw) > cheap:
        verdict = _floaty_from_head(raw)
        if verdict is not None:
            return verdict
    return is_floats(wire.decode(json.loads(raw)))


_MISSING = object()


def _first_element(raw: bytes, start: int):
    """The first JSON value at `start`, read from a prefix of the encoding (never the whole of it)."""
    for size in (1 << 12, 1 << 16, 1 << 20):
        text = raw[start:start + size].decode("utf-8", "replace").lstrip()
        try:
            return json.JSONDecoder().raw_decode(text)[0]
        except ValueError:
            continue
    return _MISSING


def _floaty_from_head(raw: bytes) -> bool | None:
    """True/False when the head of the encoding decides is_floats; None when it does not."""
    if raw.startswith(b'{"$n": '):  # a number list: all floats exactly when no int or bool positions
        return raw.startswith(b'{"$n": [[], [], "')
    if raw.startswith(b'{"$nd": ["float64"') or raw.startswith(b'{"$nd": ["float32"'):
        return True
    if raw.startswith(b'{"$lt": [['):  # a non-empty list of tuples: its first element is no float
        return False
    for head in (b"[", b'{"$t": ['):
        if raw.startswith(head):
            first = _first_element(raw, len(head))
            if first is _MISSING:
                return None
            try:
                decoded = wire.decode(first)
            except (ValueError, TypeError, KeyError, RecursionError):
                return None
            return None if isinstance(decoded, float) else False  # all(...) fails on the first element
    return None


def load_ground_truth(dataset: Dataset, cache: Path, workers: int, log: logging.Logger,
                      sandbox_factory: Callable[[], object] | None = None) -> GroundTruth:
    """Expected outputs per task and phase, from the cache or computed (under a lock, stored atomically)."""
    dataset = dataset.whole  # a subset's truth is its file's: computed for every problem, once
    path = truth_path(dataset, cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent evaluations compute it once
        if not path.exists():
            log.info(f"computing ground truth for {dataset.version} (once per dataset and machine) ...")
            started = time.monotonic()
            sandbox = (sandbox_factory or trusted_sandbox)()
            try:
                sandbox.self_test()
                with TruthWriter(path, dataset.md5) as writer:
                    run = CanonicalRun(sandbox, dataset, writer.add)
                    run.run(workers)
            finally:
                sandbox.close()
            log.info(f"ground truth computed in {time.monotonic() - started:.1f} s ({run.splits} ranges split "
                     f"between workers) -> {path}")
            _remove_older_truths(path, dataset)
        blob, base, header = read_truth(path)
    return {
        task_id: {phase: PhaseTruth(blob=blob, base=base, offsets=t[phase]["offsets"],
                                    limits=limits.input_limits(t[phase]["cpu"]), floaty=t[phase]["floaty"],
                                    exact_ok=t[phase]["exact_ok"], size=t[phase]["bytes"])
                  for phase in PHASES}
        for task_id, t in header["tasks"].items()
    }



def _remove_older_truths(current: Path, dataset: Dataset) -> None:
    """Ground truths of the same dataset left by earlier benchlib versions (hundreds of MB each)."""
    for old in current.parent.glob(f"{dataset.spec.key}-{dataset.md5}-w*-g*"):
        if old != current and old.suffix != ".lock":
            old.unlink(missing_ok=True)  # a reader that has it open or mapped keeps its copy


def _exact_ok(raw: bytes) -> bool:
    """Whether an identical encoding means an equal value: not so with a NaN inside, which never appears in
    a string's, a number list's or a tuple rows' encoding (finite values only: their huge ones are not scanned)."""
    return raw[:1] == b'"' or raw.startswith(b'{"$n": ') or raw.startswith(b'{"$lt": ') or b'"nan"' not in raw


class TruthWriter:
    """Writes a ground-truth file as the tasks finish (`add`), atomically: the file appears only whole."""

    def __init__(self, path: Path, dataset_md5: str) -> None:
        self.file = AtomicFile(path)
        self.dataset_md5 = dataset_md5
        self.tasks: dict[str, dict] = {}
        self.position = 0

    def __enter__(self) -> "TruthWriter":
        self.handle = self.file.__enter__()
        self.handle.write(TRUTH_MAGIC)
        return self

    def add(self, task_id: str, phases: dict[str, dict]) -> None:
        self.tasks[task_id] = {}
        for phase, truth in phases.items():
            offsets = [self.position]
            for raw in truth["raw"]:
                self.handle.write(raw)
                self.position += len(raw)
                offsets.append(self.position)
            self.tasks[task_id][phase] = {"offsets": offsets, "cpu": truth["cpu"], "floaty": truth["floaty"],
                                          "exact_ok": [_exact_ok(raw) for raw in truth["raw"]],
                                          "bytes": truth["bytes"]}

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            header = pickle.dumps({"dataset_md5": self.dataset_md5, "tasks": self.tasks},
                                  protocol=pickle.HIGHEST_PROTOCOL)
            self.handle.write(header + len(header).to_bytes(8, "big") + TRUTH_END)
        self.file.__exit__(kind, value, traceback)


def write_truth(path: Path, dataset_md5: str, computed: dict[str, dict]) -> None:
    """The whole ground truth at once (TruthWriter's layout)."""
    with TruthWriter(path, dataset_md5) as writer:
        for task_id, phases in computed.items():
            writer.add(task_id, phases)


def read_truth(path: Path) -> tuple[mmap.mmap, int, dict]:
    """The mapped file, where the encodings start, and the header."""
    with open(path, "rb") as handle:
        try:
            blob = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file cannot be mapped
            blob = b""
    end = len(blob) - len(TRUTH_END) - 8
    if blob[:len(TRUTH_MAGIC)] != TRUTH_MAGIC or end < len(TRUTH_MAGIC) or blob[end + 8:] != TRUTH_END:
        raise SandboxError(f"{path} is not a benchlib ground-truth file (damaged or replaced)",
                           "delete it: the next evaluation computes the ground truth again")
    size = int.from_bytes(blob[end:end + 8], "big")
    return blob, len(TRUTH_MAGIC), pickle.loads(blob[end - size:end])


def check_payload(code: str, entry_point: str, inputs: list, time_limits: list[float]) -> dict:
    """What one check sends the runner (besides seq, budgets and memory, which the sandbox adds)."""
    return {"code": code, "entry_point": entry_point, "inputs": inputs, "time_limits": time_limits}


def trusted_sandbox() -> LocalSandbox:
    """Canonical solutions are trusted: no memory cap (evalplus computes them in-process)."""
    return LocalSandbox(memory_limit=None, bwrap=None)
