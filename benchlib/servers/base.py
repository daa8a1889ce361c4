"""What every backend shares: the health wait, the machine-wide lock, SIGTERM handling, log tails,
server facts for the manifest."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import requests

from ..errors import ServerError

__all__ = ["cancel_on", "exit_words", "wait_healthy", "host_lock", "sigterm_as_interrupt", "signal_on_parent_death", "tail", "server_props", "model_fingerprint",
           "LOG_TAIL_LINES", "STOPPED_TIP"]

LOG_TAIL_LINES = 30
STOPPED_TIP = "check the model file and server arguments in models.conf"


@contextlib.contextmanager
def host_lock(path: str | Path, host: str, log: logging.Logger) -> Iterator[None]:
    """One model server at a time on a host (an flock: released by the kernel if we die)."""
    path = Path(path)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info(f"waiting for another model server on {host} to finish (lock {path}) ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so the server is stopped on `kill` as on Ctrl-C; further SIGTERMs
    are ignored while it stops."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    # once: the cleanup this starts (stopping the server) must not be cut short by a next SIGTERM, and one
    # does come (a worker of a doit killed with -9 was seen to get two, the second during `compose down`)
    signal.signal(signum, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def signal_on_parent_death(sig: int = signal.SIGTERM) -> bool:
    """Linux: this process gets `sig` when its parent dies, even by kill -9 (PR_SET_PDEATHSIG)."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(sig)) == 0
    except OSError:
        return False


def tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None:
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


_cancel = threading.local()  # this thread's fleet release event (fleet.py): a health wait ends when it is set


@contextlib.contextmanager
def cancel_on(event: threading.Event) -> Iterator[None]:
    """In this thread, end a health wait as soon as `event` is set (a fleet stopping while a replica loads)."""
    _cancel.event = event
    try:
        yield
    finally:
        _cancel.event = None


def exit_words(code: int, container: bool = False) -> str:
    """How a server ended, naming the signal of a crash: a process's code is -N for signal N, a
    container's 128 + N ("exited with code 139 (SIGSEGV)")."""
    number = code - 128 if container and code > 128 else -code if code < 0 else 0
    try:
        return f"exited with code {code}" + (f" ({signal.Signals(number).name})" if number else "")
    except ValueError:
        return f"exited with code {code}"


def wait_healthy(base_url: str, timeout: float, gone_reason: Callable[[], str], log_tail: Callable[[], str] | None = None,
                 where: str = "", stopped_tip: str = STOPPED_TIP) -> None:
    """Poll GET /health (503 while loading) until 200; fail early if the server is gone. `log_tail` gives
    the server's last log lines for the error message, `where` names them."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    delay = 0.1

    def logs() -> str:
        return f"\n--- last {LOG_TAIL_LINES} lines of {where} ---\n{log_tail()}" if log_tail else ""

    cancel = getattr(_cancel, "event", None)
    while True:
        dead = gone_reason()
        if dead:
            raise ServerError(f"the model server stopped while starting: {dead}{logs()}", stopped_tip)
        if cancel is not None and cancel.is_set():
            raise ServerError("stopped while starting: the run is ending")
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
            raise ServerError(
                f"the model server at {base_url} was not healthy after {timeout:.0f} s (last: {last}){logs()}",
                "large models can take minutes to load: raise health_timeout in the profile",
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)


def server_props(base_url: str) -> dict:
    """llama-server's GET /props (build, model, slots, chat template), or {} if it has none."""
    with contextlib.suppress(Exception):
        response = requests.get(base_url.rstrip("/") + "/props", timeout=5)
        if response.ok:
            props = response.json()
            keep = ("build_info", "model_path", "total_slots", "chat_template", "default_generation_settings")
            return {k: props[k] for k in keep if k in props}
    return {}


def model_fingerprint(path: Path) -> dict:
    """Size and sha256 of the first and last MiB: identifies a 60 GB file in milliseconds."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    return {"file": path.name, "size": size, "sha256_head_tail": digest.hexdigest()}
