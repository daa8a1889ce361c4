"""Where untrusted solutions run: a fork server (benchlib/runner.py --serve) in a separate, resource-
limited process (`local`) or in a container (`docker`).

The evaluator sends each check to a fork server and streams back its JSON records; it never loads a
pickle from the untrusted side. The sandbox enforces limits only; judging happens in `evaluation`.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
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

__all__ = ["RunOutcome", "LocalSandbox", "DockerSandbox", "make_sandbox", "RUNNER", "OUTPUT_LIMIT"]

RUNNER = Path(__file__).with_name("runner.py")
MEMORY_LIMIT = int(os.environ.get("EVALPLUS_MAX_MEMORY_BYTES", 4 * 1024**3))  # evalplus's default, 4 GiB
# outputs may be huge integers (factorials, Fibonacci numbers): decode them whole
sys.set_int_max_str_digits(0)
OUTPUT_LIMIT = 64 * 1024**2  # bytes of records one check may send back (at least; see evaluation)
SLACK = 15.0  # seconds past a check's own wall budget before the fork server itself is presumed stuck


@dataclass
class RunOutcome:
    """How a check ended, apart from the records it sent."""

    finished: bool  # the judge stopped it, or it sent "done"/"load_error" and exited
    reason: str  # why the process ended: "" (normally), CPU limit, wall-clock limit, exit code, output limit
    wall: float
    received: int = 0  # bytes of records


def _clean_env(home: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",  # set and str ordering must not depend on the run
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


class ForkServer:
    """One `runner.py --serve` process and the protocol to run checks on it, one at a time."""

    def __init__(self, command: list[str], **popen: object) -> None:
        popen.setdefault("stderr", subprocess.DEVNULL)
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, **popen)
        try:  # large outputs arrive in fewer, larger reads
            fcntl.fcntl(self.proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        self.seq = 0
        self.uid = 0  # the user id checks run under (0: unchanged)
        self.pending: list[bytes] = []  # pieces of a record line not yet complete

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.proc.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.proc.wait()

    def _send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def run(self, payload: dict, cpu_budget: float, wall_budget: float, memory: int | None,
            on_record: Callable[[dict], bool], output_limit: int | None) -> RunOutcome:
        started = time.monotonic()
        self.seq += 1
        seq = self.seq
        data = pickle.dumps({**payload, "seq": seq, "cpu_budget": cpu_budget, "wall_budget": wall_budget,
                             "memory": memory, "uid": self.uid}, protocol=pickle.HIGHEST_PROTOCOL)
        stop = b"S" + seq.to_bytes(8, "big")
        self._send(b"P" + len(data).to_bytes(8, "big") + data)
        deadline = started + wall_budget + SLACK
        judging = True
        finished = False
        reason = ""
        received = 0
        fd = self.proc.stdout.fileno()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Stuck("wall-clock limit")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise _Stuck("the sandbox process ended")
            received += len(chunk)
            if judging and output_limit is not None and received > output_limit:
                judging, reason = False, "output limit"
                self._send(stop)
            lines = chunk.split(b"\n")
            if len(lines) == 1:  # inside a long line: keep the pieces, join once (no quadratic copying)
                self.pending.append(chunk)
                continue
            if self.pending:
                self.pending.append(lines[0])
                lines[0] = b"".join(self.pending)
            last = lines.pop()
            self.pending = [last] if last else []
            for line in lines:
                if not line:
                    continue  # the server ends a killed child's partial line before its "exit"
                try:
                    record = _parse_record(line)
                except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                    if judging:
                        judging, reason = False, "malformed record"
                        self._send(stop)
                    continue
                if not isinstance(record, dict) or record.get("seq") != seq:
                    continue  # stale, or forged by a previous check's leftovers
                if record.get("event") == "exit" and "pid" not in record:
                    self.pending = []
                    return RunOutcome(finished=finished, reason=reason or record.get("reason", ""),
                                      wall=time.monotonic() - started, received=received)
                if judging and record.get("event") != "pid" and not on_record(record):
                    judging, finished = False, True
                    self._send(stop)


def _parse_record(line: bytes):
    """A runner line: `=seq i cpu encoding` (an output, its encoding kept as raw bytes) or a JSON record."""
    if line[:1] == b"=":
        seq, index, cpu, raw = line.split(b" ", 3)  # ValueError if malformed; raw is copied once
        return {"seq": int(seq[1:]), "i": int(index), "cpu": float(cpu), "out_raw": raw}
    return json.loads(line)


class _Stuck(Exception):
    pass


class _ForkServerPool:
    """Fork servers shared by the evaluation's worker threads; a broken one is replaced."""

    def __init__(self, start: Callable[[], ForkServer], memory: int | None) -> None:
        self._start = start
        self.memory = memory
        self._lock = threading.Lock()
        self._free: list[ForkServer] = []
        self._all: list[ForkServer] = []

    def run(self, payload: dict, cpu_budget: float, wall_budget: float, on_record: Callable[[dict], bool],
            output_limit: int | None = OUTPUT_LIMIT) -> RunOutcome:
        with self._lock:
            server = self._free.pop() if self._free else None
        if server is None or not server.alive():
            server = self._start()
            with self._lock:
                self._all.append(server)
        started = time.monotonic()
        try:
            outcome = server.run(payload, cpu_budget, wall_budget, self.memory, on_record, output_limit)
        except (_Stuck, BrokenPipeError, OSError) as exc:
            server.close()
            return RunOutcome(finished=False, reason=str(exc) or type(exc).__name__, wall=time.monotonic() - started)
        with self._lock:
            self._free.append(server)
        return outcome

    def close(self) -> None:
        with self._lock:
            for server in self._all:
                server.close()
            self._all.clear()
            self._free.clear()

    def diagnostics(self) -> str:
        """What the sandbox processes said on stderr (e.g. bubblewrap refusing a mount)."""
        return ""

    def self_test(self) -> None:
        """Run a trivial known-good check: a sandbox that cannot run Python must fail loudly, not score 0."""
        outputs: list[bytes] = []

        def on_record(record: dict) -> bool:
            if "out_raw" in record:
                outputs.append(record["out_raw"])
            return record.get("event") not in ("done", "load_error")

        outcome = self.run({"code": "def probe():\n    return 41 + 1\n", "entry_point": "probe", "inputs": [[]],
                            "time_limits": [30.0]}, 32, 120, on_record)
        if outputs != [b"42"]:
            said = self.diagnostics()
            raise SandboxError(
                f"the {getattr(self, 'name', '')} sandbox cannot run a trivial solution "
                f"({outcome.reason or 'no result'}){': ' + said if said else ''}",
                "see evaluation.log; try BENCH_SANDBOX=local, or check bubblewrap/docker on this machine",
            )


def _bwrap() -> str | None:
    """The bubblewrap binary, if it is installed and works here (it needs namespaces)."""
    path = shutil.which("bwrap")
    if not path:
        return None
    try:
        ok = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
                            capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return path if ok else None


def _world_readable(path: str) -> bool:
    """Whether a user of no group could read `path` (every folder above it searchable by others)."""
    current = Path(path).resolve()
    for folder in [current, *current.parents]:
        try:
            if not folder.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


class LocalSandbox(_ForkServerPool):
    """Fork servers on this machine. With bubblewrap: no network, own pid/ipc namespaces, a read-only
    view of the system with the home folders, results and datasets hidden, a private /tmp. Always: each
    check a fresh child under a user id of its own (when run as root), with rlimits on memory, CPU time,
    processes, file size and core dumps, and a wall-clock limit."""

    name = "local"

    def __init__(self, python: str | None = None, memory_limit: int | None = MEMORY_LIMIT,
                 hide: list[str] | None = None, isolate: bool = True) -> None:
        self.python = python or sys.executable
        self._home = tempfile.mkdtemp(prefix="benchlib-sbx-")
        self.bwrap = _bwrap() if isolate else None
        self.hide = [str(Path(h).resolve()) for h in (hide or []) if h]
        can_drop = os.geteuid() == 0 and (self.bwrap is not None or _world_readable(sys.base_prefix))
        self._uid_base = 200000 + (os.getpid() % 100000) * 16 if can_drop else 0
        super().__init__(self._spawn, memory_limit)

    def _command(self) -> list[str]:
        runner = [self.python, "-s", str(RUNNER)]
        if not self.bwrap:
            return runner
        # a private /tmp, and no home folders, results or datasets
        hidden = sorted(h for h in {"/tmp", os.path.expanduser("~"), "/root", "/home", *self.hide} if os.path.isdir(h))
        args = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for folder in hidden:
            args += ["--perms", "0755", "--tmpfs", folder]
        # what Python needs, bound back where a hidden folder covered it (folders above it searchable,
        # since checks run as an unprivileged user)
        needed = {sys.base_prefix, sys.prefix, sys.exec_prefix, str(RUNNER.parent), str(Path(self.python).parent)}
        needed |= {p for p in sys.path if p and os.path.isdir(p)}
        made: set[str] = set(hidden)
        for path in sorted(needed, key=len):
            cover = next((h for h in hidden if path.startswith(h + os.sep)), None)
            if cover is None or any(path == m or path.startswith(m + os.sep) for m in made - set(hidden)):
                continue
            for parent in reversed(Path(path).parents):
                if str(parent).startswith(cover + os.sep) and str(parent) not in made:
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(str(parent))
            args += ["--ro-bind", path, path]
            made.add(path)
        args += ["--bind", self._home, self._home, "--unshare-net", "--unshare-pid", "--unshare-ipc",
                 "--unshare-uts", "--die-with-parent", "--chdir", self._home, "--"]
        return args + runner

    def _spawn(self) -> ForkServer:
        stderr = open(os.path.join(self._home, ".sandbox-stderr"), "ab")
        server = ForkServer(self._command(), cwd=self._home, env=_clean_env(self._home), start_new_session=True,
                            stderr=stderr)
        stderr.close()
        if self._uid_base:
            server.uid = self._uid_base + len(self._all)
        return server

    def describe(self) -> dict:
        if self.bwrap:
            isolation = ("bubblewrap: no network, own pid/ipc namespaces, read-only system, home/results/"
                         "datasets hidden, private /tmp")
        else:
            isolation = "process limits only (bubblewrap not found: no network or filesystem isolation)"
        return {"backend": self.name, "python": self.python, "memory_limit": self.memory,
                "isolation": isolation, "own_user": bool(self._uid_base),
                "limits": "CPU time, memory, processes, file size, wall clock"}

    def diagnostics(self) -> str:
        try:
            return Path(self._home, ".sandbox-stderr").read_text(errors="replace").strip()[-500:]
        except OSError:
            return ""

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._home, ignore_errors=True)


class DockerSandbox(_ForkServerPool):
    """Fork servers inside one container: `--network none`, read-only root, private tmpfs, memory and
    pids limits, no new privileges; only the runner script is mounted (read-only)."""

    name = "docker"

    def __init__(self, image: str, workers: int, docker: str = "docker", python: str = "python3") -> None:
        self.image = image
        self.docker = docker
        self.python = python
        self.workers = workers
        self.container = ""
        super().__init__(self._spawn, MEMORY_LIMIT)

    def _ensure_container(self) -> str:
        if self.container:
            return self.container
        name = f"benchlib-sbx-{uuid.uuid4().hex[:12]}"
        memory = str(MEMORY_LIMIT * max(1, self.workers) + 512 * 1024**2)
        command = [
            self.docker, "run", "-d", "--rm", "--name", name, "--network", "none", "--read-only",
            "--tmpfs", "/tmp:rw,exec,size=1g", "--memory", memory, "--memory-swap", memory,
            "--pids-limit", str(128 * max(1, self.workers)), "--cpus", str(max(1, self.workers)),
            "--security-opt", "no-new-privileges", "-v", f"{RUNNER.parent}:/benchlib:ro", "-w", "/tmp",
            "-e", "PYTHONHASHSEED=0", "-e", "HOME=/tmp", "-e", "TMPDIR=/tmp", "-e", "OMP_NUM_THREADS=1",
            "--entrypoint", "sleep", self.image, "infinity",
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SandboxError(
                f"cannot start the evaluation container from image {self.image}: {done.stderr.strip()[-300:]}",
                "build or pull the image (BENCH_SANDBOX_IMAGE), or use the local sandbox: BENCH_SANDBOX=local",
            )
        self.container = name
        return name

    def _spawn(self) -> ForkServer:
        with self._lock:
            container = self._ensure_container()
        server = ForkServer([self.docker, "exec", "-i", container, self.python, "-s", "/benchlib/runner.py"],
                            start_new_session=True)
        server.uid = 200000 + len(self._all)
        return server

    def describe(self) -> dict:
        return {"backend": self.name, "image": self.image, "memory_limit": self.memory,
                "isolation": "docker: --network none, read-only root, tmpfs /tmp, memory/pids limits"}

    def close(self) -> None:
        super().close()
        if self.container:
            subprocess.run([self.docker, "rm", "-f", self.container], capture_output=True)
            self.container = ""


def docker_status(image: str, docker: str = "docker") -> str:
    """"" when the engine answers and has the image; else why the docker sandbox cannot be used."""
    if not shutil.which(docker):
        return "docker is not installed"
    try:
        if subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode != 0:
            return "no Docker engine answers `docker info`"
        if subprocess.run([docker, "image", "inspect", image], capture_output=True, timeout=20).returncode != 0:
            return f"image {image} is not present (docker pull {image})"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker does not answer ({exc})"
    return ""


def make_sandbox(choice: str, image: str, workers: int, log: Callable[[str], None],
                 hide: list[str] | None = None) -> "LocalSandbox | DockerSandbox":
    """`docker`, `local`, or `auto` (docker when the engine and image are there, else local, saying why)."""
    choice = choice.strip().lower()
    if choice not in ("auto", "docker", "local"):
        raise SandboxError(f"unknown sandbox {choice!r}", "set BENCH_SANDBOX (or sandbox=) to auto, docker or local")
    if choice == "local":
        return _local(log, hide)
    problem = docker_status(image)
    if not problem:
        return DockerSandbox(image, workers)
    if choice == "docker":
        raise SandboxError(f"BENCH_SANDBOX=docker but {problem}", "start dockerd / provide the image, or use BENCH_SANDBOX=local")
    log(f"docker sandbox unavailable ({problem}): evaluating in the local sandbox")
    return _local(log, hide)


def _local(log: Callable[[str], None], hide: list[str] | None) -> LocalSandbox:
    sandbox = LocalSandbox(hide=hide)
    if not sandbox.bwrap:
        log("bubblewrap (bwrap) not found or not usable: the local sandbox has no network or filesystem "
            "isolation, only process limits (apt-get install bubblewrap)")
    return sandbox
