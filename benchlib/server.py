"""Model servers: start the profile's server, wait for GET /health, always stop it.

`model_server(...)` is a context manager holding a machine-wide lock, so only one model server runs at a
time even under `doit -n 4`. Backends: reference (built-in self-test), native (llama-server process),
compose (docker compose, as in production), external (already running; never started or stopped).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import requests

from .config import Profile
from .errors import ServerError

__all__ = ["ServerHandle", "model_server", "wait_healthy", "lock_path", "tail"]

LOG_TAIL_LINES = 30
_LISTENING = re.compile(r"listening on (http://[\w.\-\[\]:]+)")


@dataclass
class ServerHandle:
    base_url: str
    alive: Callable[[], str]  # "" while running, else why it is gone
    extra_body: dict = field(default_factory=dict)  # request fields this server needs
    info: dict = field(default_factory=dict)  # for the manifest


def lock_path() -> Path:
    return Path(os.environ.get("BENCH_SERVER_LOCK") or Path(tempfile.gettempdir()) / "benchlib-model-server.lock")


@contextlib.contextmanager
def _server_lock(log: Callable[[str], None]) -> Iterator[None]:
    path = lock_path()
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another model server to finish (lock {path}) ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_healthy(base_url: str, timeout: float, alive: Callable[[], str], log_file: Path | None = None) -> None:
    """Poll GET /health (503 while loading) until 200; fail early if the server is gone."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    delay = 0.1
    while True:
        dead = alive()
        if dead:
            raise ServerError(f"the model server stopped while starting: {dead}\n--- last {LOG_TAIL_LINES} lines of "
                              f"{log_file} ---\n{tail(log_file) if log_file else ''}",
                              "check the model file and server arguments in models.conf")
        try:
            response = requests.get(base_url.rstrip("/") + "/health", timeout=5)
            if response.status_code == 200:
                return
            if response.status_code == 404:  # an OpenAI-compatible server without /health
                if requests.get(base_url.rstrip("/") + "/v1/models", timeout=5).status_code == 200:
                    return
            last = f"HTTP {response.status_code} {response.text.strip()[:200]}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        if time.monotonic() > deadline:
            logs = f"\n--- last {LOG_TAIL_LINES} lines of {log_file} ---\n{tail(log_file)}" if log_file else ""
            raise ServerError(
                f"the model server at {base_url} was not healthy after {timeout:.0f} s (last: {last}){logs}",
                "large models can take minutes to load: raise health_timeout in the profile",
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)


# ---------------------------------------------------------------------------------------------------
# a server we run as a child process (reference, native)


def _die_with_parent() -> None:
    os.setsid()
    try:  # Linux: the server gets SIGTERM if benchlib is killed, even by kill -9
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ProcessServer:
    """A server process in its own session, logging to a file, recorded in a pid file."""

    def __init__(self, command: list[str], log_file: Path, pid_file: Path, env: dict | None = None) -> None:
        self.command = command
        self.log_file = Path(log_file)
        self.pid_file = Path(pid_file)
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.log_offset = 0

    def start(self) -> None:
        _reap_orphan(self.pid_file)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            log.write(f"\n$ {shlex.join(self.command)}\n".encode())
            log.flush()
            self.log_offset = log.tell()  # earlier runs' lines (and their ports) are above this
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent, env=self.env)
        self.pid_file.write_text(f"{self.proc.pid}\n{self.command[0]}\n")

    def alive(self) -> str:
        if self.proc is None:
            return "not started"
        code = self.proc.poll()
        return "" if code is None else f"exited with code {code}"

    def base_url(self, timeout: float) -> str:
        """The URL the server prints once it listens (it may have picked its own port)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(self.log_file, "rb") as log:
                    log.seek(self.log_offset)
                    text = log.read().decode("utf-8", "replace")
            except OSError:
                text = ""
            found = _LISTENING.search(text)
            if found:
                return found.group(1).replace("0.0.0.0", "127.0.0.1")
            dead = self.alive()
            if dead or time.monotonic() > deadline:
                raise ServerError(
                    f"the model server {'stopped' if dead else 'did not start listening'}"
                    f"{': ' + dead if dead else f' within {timeout:.0f} s'}\n--- last {LOG_TAIL_LINES} lines of "
                    f"{self.log_file} ---\n{tail(self.log_file)}",
                    "check the model file and server arguments in models.conf; raise health_timeout for big models",
                )
            time.sleep(0.1)

    def stop(self, grace: float = 10.0) -> None:
        proc = self.proc
        if proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
            # llama-server ignores a first SIGTERM while a client still holds a request open
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace / 2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything left in its session
        proc.wait()
        self.pid_file.unlink(missing_ok=True)


def _reap_orphan(pid_file: Path) -> None:
    """Stop a server left by a run that was killed before it could stop it."""
    try:
        pid_text, program = pid_file.read_text().split("\n")[:2]
        pid = int(pid_text)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return
    if cmdline == program:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------
# docker compose, as the original script and production use it


def compose_command() -> list[str]:
    """`docker compose` (v2) when it works, else the legacy `docker-compose`."""
    override = os.environ.get("BENCH_COMPOSE")
    if override:
        return shlex.split(override)
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise ServerError("neither `docker compose` nor `docker-compose` is installed",
                      "install Docker with the compose plugin, or use `server = native` in the profile")


def compose_env(profile: Profile) -> dict[str, str]:
    """The profile's settings as the variables docker-compose.yml reads (the production .env stays as is)."""
    args = []
    if profile.tensor_split:
        args += ["--tensor-split", profile.tensor_split]
    if profile.reproducible:
        args += ["--flash-attn", "off"]
    args += profile.server_args
    env = {
        "LLAMA_MODEL": profile.model,
        "MODELS_DIR": str(Path(profile.models_dir).expanduser()),
        "LLAMA_CTX_SIZE": str(profile.ctx_size),
        "LLAMA_N_GPU_LAYERS": str(profile.gpu_layers),
        "LLAMA_PARALLEL": str(profile.parallel),
        "LLAMA_PORT": str(profile.port),
        "LLAMA_ARGS": shlex.join(args),
    }
    if profile.image:
        env["LLAMA_IMAGE"] = profile.image
    return env


class ComposeServer:
    container = "llama-server"

    def __init__(self, profile: Profile, compose_file: Path, log_file: Path) -> None:
        self.profile = profile
        self.compose_file = compose_file
        self.log_file = log_file
        self.base = compose_command() + ["-f", str(compose_file)]
        self.env = {**os.environ, **compose_env(profile)}
        self.started = False

    def _run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run(self.base + list(args), capture_output=True, text=True, env=self.env, timeout=timeout)
        with open(self.log_file, "a", encoding="utf-8") as log:
            log.write(f"$ {shlex.join(self.base + list(args))}\n{done.stdout}{done.stderr}")
        if check and done.returncode != 0:
            raise ServerError(f"`{' '.join(args[:2])}` failed: {done.stderr.strip()[-800:]}",
                              f"see {self.log_file}; check docker-compose.yml and the model file")
        return done

    def start(self) -> None:
        model = Path(self.profile.models_dir).expanduser() / self.profile.model
        if not model.is_file():
            raise ServerError(f"[{self.profile.name}] model file not found: {model}",
                              "download it, or fix `model` / `models_dir` in models.conf")
        running = subprocess.run(["docker", "ps", "-q", "--filter", f"name=^{self.container}$"],
                                 capture_output=True, text=True)
        if running.stdout.strip():
            raise ServerError(
                f"Container {self.container} is already running",
                f"stop it first: docker compose -f {self.compose_file} down",
            )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.started = True
        self._run("up", "-d", "--force-recreate", self.profile.compose_service)

    def alive(self) -> str:
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", self.container],
                               capture_output=True, text=True)
        status = state.stdout.strip()
        return "" if status.startswith("running") or status.startswith("created") else f"container {status or 'gone'}"

    def logs(self) -> str:
        done = self._run("logs", "--no-color", "--tail", str(LOG_TAIL_LINES), check=False)
        return done.stdout + done.stderr

    def stop(self) -> None:
        if self.started:
            self._run("down", check=False, timeout=120)


# ---------------------------------------------------------------------------------------------------


def _install_sigterm() -> Callable[[], None]:
    """Turn SIGTERM into an exception, so the server is stopped on `kill` as on Ctrl-C."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_exit)
    except ValueError:  # not the main thread
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


def _raise_exit(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def model_server(profile: Profile, dataset_key: str, data_dir: str | None, run_dir: Path, project_dir: Path,
                 log: Callable[[str], None]) -> Iterator[ServerHandle]:
    """Start the profile's server, wait until healthy, yield its handle; always stop it afterwards."""
    if profile.server == "external":
        alive = lambda: ""  # noqa: E731 - not ours to watch
        wait_healthy(profile.base_url, profile.health_timeout, alive)
        yield ServerHandle(base_url=profile.base_url, alive=alive, info={"backend": "external"})
        return
    restore = _install_sigterm()
    log_file = run_dir / "server.log"
    try:
        with _server_lock(log):
            if profile.server == "reference":
                command = [sys.executable, "-m", "benchlib.reference_server", "--dataset", dataset_key]
                if data_dir:
                    command += ["--data-dir", str(data_dir)]
                delay = os.environ.get("BENCH_REFERENCE_DELAY")
                if delay:
                    command += ["--delay", delay]
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent.parent),
                                                                                  os.environ.get("PYTHONPATH")]))}
                server = ProcessServer(command, log_file, run_dir / "server.pid", env=env)
                yield from _run_process_server(server, profile, log, {"backend": "reference"}, {})
            elif profile.server == "native":
                from .native import native_command

                command, info, extra = native_command(profile)
                server = ProcessServer(command, log_file, run_dir / "server.pid")
                yield from _run_process_server(server, profile, log, info, extra)
            elif profile.server == "compose":
                yield from _run_compose(profile, project_dir / "docker-compose.yml", log_file, log)
            else:
                raise ServerError(f"[{profile.name}] server = {profile.server} runs no model server")
    finally:
        restore()


def _run_process_server(server: ProcessServer, profile: Profile, log, info: dict, extra: dict):
    log(f"starting {info.get('backend')} server: {shlex.join(server.command)}")
    started = time.monotonic()
    server.start()
    try:
        base_url = server.base_url(profile.health_timeout)
        wait_healthy(base_url, max(1.0, profile.health_timeout - (time.monotonic() - started)), server.alive,
                     server.log_file)
        log(f"server healthy at {base_url} after {time.monotonic() - started:.1f} s")
        yield ServerHandle(base_url=base_url, alive=server.alive, extra_body=extra,
                           info={**info, "startup_seconds": round(time.monotonic() - started, 1)})
    finally:
        server.stop()
        log("server stopped")


def _run_compose(profile: Profile, compose_file: Path, log_file: Path, log):
    if not compose_file.is_file():
        raise ServerError(f"{compose_file} not found", "run doit from the project folder")
    server = ComposeServer(profile, compose_file, log_file)
    started = time.monotonic()
    log(f"starting {profile.model} with docker compose")
    try:
        server.start()
        base_url = profile.base_url or f"http://127.0.0.1:{profile.port}"
        try:
            wait_healthy(base_url, profile.health_timeout, server.alive)
        except ServerError as exc:
            raise ServerError(f"{exc.message}\n--- last {LOG_TAIL_LINES} lines of the container ---\n{server.logs()}",
                              exc.tip) from None
        log(f"server healthy at {base_url} after {time.monotonic() - started:.1f} s")
        extra = {"cache_prompt": False} if profile.reproducible else {}
        yield ServerHandle(base_url=base_url, alive=server.alive, extra_body=extra,
                           info={"backend": "compose", "env": compose_env(profile), "compose_service": profile.compose_service,
                                 "model_path": str(Path(profile.models_dir).expanduser() / profile.model),
                                 "startup_seconds": round(time.monotonic() - started, 1)})
    finally:
        server.stop()
        log("server stopped (docker compose down)")
