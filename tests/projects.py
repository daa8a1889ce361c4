"""doit projects for end-to-end tests: a copy of the project's top level, its environment, doit runs (and
kill -9 of one), and the processes a run leaves behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import DATASETS, ROOT

def make_project(folder: Path, models_conf: str = "[bench-reference]\nserver = reference\nparallel = 4\n") -> Path:
    """A copy of the project's top level (dodo.py, reference scores, compose file) with its own models.conf."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("dodo.py", "reference-scores.json", "docker-compose.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    (folder / "models.conf").write_text(models_conf)
    return folder


def doit_env(project: Path, **extra) -> dict:
    """The environment of a doit run in `project`: offline datasets, its own lock and temp dir."""
    tmp = project / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_DATA_DIR": str(DATASETS), "BENCH_SANDBOX": "local",
           "BENCH_SERVER_LOCK": str(project / "server.lock"), "TMPDIR": str(tmp)}
    env.pop("HUMANEVAL_OVERRIDE_PATH", None)
    env.pop("MBPP_OVERRIDE_PATH", None)
    env.update(extra)
    return env


def doit(project: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "doit", *args], cwd=project, env=env or doit_env(project),
                          capture_output=True, text=True, timeout=1800)
    if check and done.returncode != 0:
        raise AssertionError(f"doit {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def our_processes(project: Path) -> list[str]:
    """Processes still running that belong to this project's runs (servers, sandboxes)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text().split()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if not cwd.startswith(str(project)):  # servers run in the project, sandboxes in its TMPDIR
            continue
        if stat[2] != "Z" and ("servers.reference" in cmdline or "runner.py" in cmdline or "llama-server" in cmdline):
            found.append(cmdline)
    return found


def journal_samples(path: Path) -> int:
    """How many answers a generation journal holds: its records less the header and the server marks (a
    torn last line of a killed run is not one: storage.read_journal reads as the resuming run does)."""
    from benchlib.generation.codegen import SERVERS_MARK
    from benchlib.storage import read_journal

    return sum(SERVERS_MARK not in record for record in read_journal(path)[1:])


def wait_for_lines(path: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {count} lines")


def kill_doit_at(project: Path, target: Path, lines: int, args: list[str], env: dict) -> None:
    """Start doit, kill -9 it once `target` has `lines` lines."""
    proc = subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=project, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_lines(target, lines)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def shipped_profile(name: str, **overrides) -> str:
    """models.conf text holding only the shipped profile `name` (README's models.conf), with `overrides`."""
    import configparser

    shipped = configparser.ConfigParser(interpolation=None)
    shipped.read(ROOT / "models.conf")
    section = {**dict(shipped.items(name)), **{k: str(v) for k, v in overrides.items()}}
    return f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in section.items())
