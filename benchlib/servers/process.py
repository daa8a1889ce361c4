"""A server we run as a child process (reference, native): its own session, a log file, a pid file, and
PR_SET_PDEATHSIG so it dies with us even on kill -9."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

from ..errors import ServerError
from . import ServerHandle
from .base import LOG_TAIL_LINES, exit_words, signal_on_parent_death, tail, wait_healthy

__all__ = ["ProcessServer", "reap_orphan", "serve_process"]

_LISTENING = re.compile(r"listening on (http://[\w.\-\[\]:]+)")


def _die_with_parent() -> None:
    os.setsid()
    signal_on_parent_death(signal.SIGTERM)  # the server gets SIGTERM if benchlib is killed, even by kill -9


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
        reap_orphan(self.pid_file)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            log.write(f"\n$ {shlex.join(self.command)}\n".encode())
            log.flush()
            self.log_offset = log.tell()  # earlier runs' lines (and their ports) are above this
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent, env=self.env)
        self.pid_file.write_text(f"{self.proc.pid}\n{self.command[0]}\n")

    def gone_reason(self) -> str:
        if self.proc is None:
            return "not started"
        code = self.proc.poll()
        return "" if code is None else exit_words(code)

    def log_text(self, limit: int = 1 << 18) -> str:
        """The start of this run's lines of its log (where llama-server names its devices)."""
        try:
            with open(self.log_file, "rb") as log:
                log.seek(self.log_offset)
                return log.read(limit).decode("utf-8", "replace")
        except OSError:
            return ""

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
            dead = self.gone_reason()
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


def reap_orphan(pid_file: Path) -> None:
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


@contextlib.contextmanager
def serve_process(server: ProcessServer, health_timeout: float, log: logging.Logger, info: dict,
                  extra_body: dict, probe_token_cap: bool = True) -> Iterator[ServerHandle]:
    """Start `server`, wait for health, yield its handle, always stop it."""
    log.info(f"starting {info.get('backend')} server: {shlex.join(server.command)}")
    started = time.monotonic()
    server.start()
    try:
        base_url = server.base_url(health_timeout)
        wait_healthy(base_url, max(1.0, health_timeout - (time.monotonic() - started)), server.gone_reason,
                     lambda: tail(server.log_file), str(server.log_file))
        log.info(f"server healthy at {base_url} after {time.monotonic() - started:.1f} s")
        yield ServerHandle(base_url=base_url, gone_reason=server.gone_reason, extra_body=extra_body,
                           info={**info, "startup_seconds": round(time.monotonic() - started, 1)},
                           probe_token_cap=probe_token_cap, log_text=server.log_text)
    finally:
        server.stop()
        log.info("server stopped")
