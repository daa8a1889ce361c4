"""Where untrusted solutions run: a separate, resource-limited process (`local`) or a container (`docker`).

Both run benchlib/runner.py and stream its JSON records back; neither ever loads a pickle produced by
the untrusted side. The sandbox only enforces limits; judging happens in `evaluation`.
"""

from __future__ import annotations

import json
import math
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import SandboxError

__all__ = ["RunOutcome", "LocalSandbox", "DockerSandbox", "make_sandbox", "RUNNER"]

RUNNER = Path(__file__).with_name("runner.py")
MEMORY_LIMIT = int(os.environ.get("EVALPLUS_MAX_MEMORY_BYTES", 4 * 1024**3))  # evalplus's default, 4 GiB
# outputs may be huge integers (factorials, Fibonacci numbers): decode them whole
sys.set_int_max_str_digits(0)
OUTPUT_LIMIT = 64 * 1024**2  # bytes of records one run may send back (at least; see evaluation)
FILE_SIZE_LIMIT = 64 * 1024**2


@dataclass
class RunOutcome:
    """How a sandboxed run ended, apart from the records it sent."""

    finished: bool  # the runner reported "done" or "load_error", or the judge stopped it early
    reason: str  # "" when finished; else why it ended: cpu limit, wall limit, exit code, output limit
    wall: float
    received: int = 0  # bytes of records


def _clean_env(tmp: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tmp,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",  # set and str ordering must not depend on the run
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _read_records(proc: subprocess.Popen, deadline: float, on_record: Callable[[dict], bool],
                  output_limit: int | None) -> tuple[bool, str, int]:
    """Feed records to `on_record` until it returns False, the stream ends, or a limit is hit."""
    fd = proc.stdout.fileno()
    pending: list[bytes] = []  # pieces of the current, unfinished line (one record can be huge)
    received = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, "wall-clock limit", received
        ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return False, "", received
        received += len(chunk)
        if output_limit is not None and received > output_limit:
            return False, "output limit", received
        lines = chunk.split(b"\n")
        for piece in lines[:-1]:
            pending.append(piece)
            line = b"".join(pending)
            pending = []
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                return False, "malformed record", received
            if not isinstance(record, dict) or not on_record(record):
                return True, "", received
        if lines[-1]:
            pending.append(lines[-1])


def _exit_reason(returncode: int | None, cpu_budget: float) -> str:
    if returncode is None:
        return "killed"
    if returncode < 0:
        sig = -returncode
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return f"CPU limit ({cpu_budget:.0f} s) or killed"
        return f"died of signal {signal.Signals(sig).name}"
    return f"exit code {returncode}"


class LocalSandbox:
    """A fresh Python per run: own session, private temp dir, clean environment, rlimits on memory,
    CPU time, file size and core dumps, and a wall-clock backstop."""

    name = "local"

    def __init__(self, python: str | None = None, memory_limit: int | None = MEMORY_LIMIT) -> None:
        self.python = python or sys.executable
        self.memory_limit = memory_limit

    def describe(self) -> dict:
        return {"backend": self.name, "python": self.python, "memory_limit": self.memory_limit,
                "isolation": "process limits (rlimits, own session, private tmp)"}

    def close(self) -> None:
        pass

    def _limits(self, cpu_budget: float) -> Callable[[], None]:
        cpu = max(1, math.ceil(cpu_budget))
        memory = self.memory_limit

        def apply() -> None:
            limits = [(resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT), (resource.RLIMIT_CORE, 0)]
            if memory:
                limits += [(resource.RLIMIT_AS, memory), (resource.RLIMIT_DATA, memory)]
            for limit, value in limits:
                resource.setrlimit(limit, (value, value))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))

        return apply

    def run(self, payload: bytes, cpu_budget: float, wall_budget: float,
            on_record: Callable[[dict], bool], output_limit: int | None = OUTPUT_LIMIT) -> RunOutcome:
        start = time.monotonic()
        tmp = tempfile.mkdtemp(prefix="benchlib-sbx-")
        try:
            stdin_path = os.path.join(tmp, ".payload")
            with open(stdin_path, "wb") as handle:
                handle.write(payload)
            with open(stdin_path, "rb") as stdin:
                os.unlink(stdin_path)
                proc = subprocess.Popen(
                    [self.python, "-s", str(RUNNER)], stdin=stdin, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, cwd=tmp, env=_clean_env(tmp), start_new_session=True,
                    preexec_fn=self._limits(cpu_budget), close_fds=True,
                )
            try:
                finished, reason, received = _read_records(proc, start + wall_budget, on_record, output_limit)
            finally:
                _kill_group(proc)
            if not finished and not reason:
                reason = _exit_reason(proc.returncode, cpu_budget)
            return RunOutcome(finished=finished, reason=reason, wall=time.monotonic() - start, received=received)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.stdout.close()
    proc.wait()


class DockerSandbox:
    """One long-lived container per worker (`--network none`, read-only root, memory/pids/cpu limits),
    each run a `docker exec` of the runner under a hard `timeout`; leftovers are killed after every run."""

    name = "docker"

    def __init__(self, image: str, docker: str = "docker", python: str = "python3") -> None:
        self.image = image
        self.docker = docker
        self.python = python
        self._lock = threading.Lock()
        self._free: list[str] = []
        self._all: list[str] = []

    def describe(self) -> dict:
        return {"backend": self.name, "image": self.image, "memory_limit": MEMORY_LIMIT,
                "isolation": "docker: --network none, read-only root, memory/pids limits"}

    def _start_container(self) -> str:
        name = f"benchlib-sbx-{uuid.uuid4().hex[:12]}"
        command = [
            self.docker, "run", "-d", "--rm", "--name", name, "--network", "none", "--read-only",
            "--tmpfs", "/tmp:rw,exec,size=512m", "--memory", str(MEMORY_LIMIT), "--memory-swap", str(MEMORY_LIMIT),
            "--pids-limit", "256", "--cpus", "1", "--security-opt", "no-new-privileges",
            "-v", f"{RUNNER.parent}:/benchlib:ro", "-w", "/tmp", "-e", "PYTHONHASHSEED=0", "-e", "HOME=/tmp",
            "--entrypoint", "sleep", self.image, "infinity",
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SandboxError(
                f"cannot start the evaluation container from image {self.image}: {done.stderr.strip()[-300:]}",
                "build or pull the image, or use the local sandbox: BENCH_SANDBOX=local",
            )
        self._all.append(name)
        return name

    def _acquire(self) -> str:
        with self._lock:
            if self._free:
                return self._free.pop()
            return self._start_container()

    def run(self, payload: bytes, cpu_budget: float, wall_budget: float,
            on_record: Callable[[dict], bool], output_limit: int | None = OUTPUT_LIMIT) -> RunOutcome:
        start = time.monotonic()
        container = self._acquire()
        hard = max(1, math.ceil(wall_budget))
        cpu = max(1, math.ceil(cpu_budget))
        script = f"ulimit -t {cpu} -f {FILE_SIZE_LIMIT // 1024}; exec timeout -s KILL {hard} {self.python} -s /benchlib/runner.py"
        proc = subprocess.Popen(
            [self.docker, "exec", "-i", container, "sh", "-c", script],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        writer = threading.Thread(target=_feed, args=(proc, payload), daemon=True)
        writer.start()
        try:
            finished, reason, received = _read_records(proc, start + wall_budget + 5, on_record, output_limit)
        finally:
            proc.kill()
            proc.stdout.close()
            proc.wait()
            # end whatever the run left behind; pid 1 (sleep) survives kill -1
            subprocess.run([self.docker, "exec", container, "kill", "-9", "-1"], capture_output=True)
            with self._lock:
                self._free.append(container)
        if not finished and not reason:
            reason = _exit_reason(proc.returncode if proc.returncode != -9 else None, cpu_budget)
        return RunOutcome(finished=finished, reason=reason, wall=time.monotonic() - start, received=received)

    def close(self) -> None:
        if self._all:
            subprocess.run([self.docker, "rm", "-f", *self._all], capture_output=True)
        self._all.clear()
        self._free.clear()


def _feed(proc: subprocess.Popen, payload: bytes) -> None:
    try:
        proc.stdin.write(payload)
        proc.stdin.close()
    except (BrokenPipeError, ValueError, OSError):
        pass


def docker_available(docker: str = "docker") -> bool:
    if not shutil.which(docker):
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def make_sandbox(choice: str, image: str, log: Callable[[str], None]) -> "LocalSandbox | DockerSandbox":
    """`docker`, `local`, or `auto` (docker when an engine answers, else local, saying so)."""
    choice = choice.strip().lower()
    if choice not in ("auto", "docker", "local"):
        raise SandboxError(f"unknown sandbox {choice!r}", "set BENCH_SANDBOX to auto, docker or local")
    if choice == "local":
        return LocalSandbox()
    if docker_available():
        return DockerSandbox(image)
    if choice == "docker":
        raise SandboxError("BENCH_SANDBOX=docker but no Docker engine answers `docker info`",
                           "start dockerd, or use BENCH_SANDBOX=local")
    log("no Docker engine reachable: evaluating in the local process sandbox (BENCH_SANDBOX=local)")
    return LocalSandbox()
