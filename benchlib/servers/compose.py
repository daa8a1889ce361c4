"""`server = compose`: the production docker-compose.yml, started with the profile's settings as the
variables it reads (the production .env is never rewritten), on the Docker host the profile names (the
local engine by default; see hosts.py), always brought down afterwards."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shlex
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..config import Profile
from ..errors import ServerError
from ..results import ServerFiles
from ..settings import Settings
from . import ServerHandle
from .base import LOG_TAIL_LINES, STOPPED_TIP, exit_words, wait_healthy
from .hosts import CHECK_TIMEOUT, DockerHost, clear_record, lock_file, read_record, write_record
from .provenance import FULL_HASH_BYTES, model_identity, with_whole_hash
from .llama import core_share, model_path, request_extras, tuning_flags

__all__ = ["start", "compose_command", "compose_env", "configured_image", "ComposeServer", "CONTAINER"]

CONTAINER = "llama-server"  # docker-compose.yml's container_name: one per host
_RUNNING = ("running", "restarting", "paused")


def compose_command(configured: tuple[str, ...] = ()) -> list[str]:
    """`configured` (BENCH_COMPOSE), else `docker compose` (v2) when it works, else `docker-compose`."""
    if configured:
        return list(configured)
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise ServerError("neither `docker compose` nor `docker-compose` is installed",
                      "install Docker with the compose plugin, or use `server = native` in the profile")


def compose_env(profile: Profile) -> dict[str, str]:
    """The profile's settings as the variables docker-compose.yml reads (the production .env stays as is)."""
    args = core_share(profile) + tuning_flags(profile)
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


def configured_image(profile: Profile, settings: Settings) -> str:
    """The image the profile's service would run (the compose file read with the profile's variables), ""
    where compose cannot say (v1 has no `config --images`)."""
    if profile.image:
        return profile.image
    try:
        stamp = Path(settings.compose_file).stat().st_mtime_ns
    except OSError:
        return ""
    return _service_image(str(settings.compose_file), stamp, profile.compose_service, tuple(settings.compose))


@functools.lru_cache(maxsize=None)
def _service_image(compose_file: str, stamp: int, service: str, configured: tuple[str, ...]) -> str:
    """The image a service of the compose file names, as `up` would read it (the environment's LLAMA_IMAGE,
    else the production .env's, else the file's default), asked once per version of the file and process
    (doit asks it for every compose profile; a process's environment does not change under it)."""
    try:
        base = compose_command(configured)
    except ServerError:
        return ""
    done = subprocess.run([*base, "-f", compose_file, "config"], capture_output=True, text=True, timeout=30)
    return _image_of(done.stdout, service) if done.returncode == 0 else ""


def _image_of(config: str, service: str) -> str:
    """The `image:` of a service in `compose config`'s YAML (v1 and v2 both print it; v1 has no --images)."""
    inside = False
    for line in config.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            inside = line.strip() == f"{service}:"
        elif inside and line.startswith("    image: "):
            return line.split(":", 1)[1].strip().strip("'\"")
    return ""


def _stamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class ComposeServer:
    """The compose service of one profile on one Docker host. While benchlib holds the host's lock, the
    container it starts there is recorded beside the lock (`lock`), so a run killed with -9 leaves a
    record and the next run removes exactly that container, never somebody else's."""

    def __init__(self, profile: Profile, compose_file: Path, log_file: Path, lock: Path, log: logging.Logger,
                 command: tuple[str, ...] = ()) -> None:
        self.profile = profile
        self.host = DockerHost(profile.host)
        self.compose_file = compose_file
        self.log_file = log_file
        self.lock = lock
        self.log = log
        self.base = self.host.compose(compose_command(command)) + ["-f", str(compose_file)]
        self.env = {**os.environ, **compose_env(profile)}
        self.started = False

    def _write_log(self, command: list[str], output: str) -> None:
        with open(self.log_file, "a", encoding="utf-8") as log:
            log.write(f"[{_stamp()}] $ {shlex.join(command)}\n{output}")

    def _run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run(self.base + list(args), capture_output=True, text=True, env=self.env, timeout=timeout)
        self._write_log(self.base + list(args), done.stdout + done.stderr)
        if check and done.returncode != 0:
            raise ServerError(f"`{' '.join(args[:2])}` failed on {self.host.label}: {done.stderr.strip()[-800:]}",
                              f"see {self.log_file}; check docker-compose.yml and the model file")
        return done

    def _down_command(self) -> str:
        return shlex.join(self.host.docker("compose", "-f", str(self.compose_file), "down"))

    def _remove(self, container: str) -> subprocess.CompletedProcess:
        """`docker rm -f` on this host, logged like the compose commands."""
        command = self.host.docker("rm", "-f", container)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self._write_log(command, done.stdout + done.stderr)
        return done

    def start(self) -> str:
        """Start the service; returns the engine's version."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        version = self.host.check()  # a host that is down: one line, before anything else
        if not self.host.spec:  # a remote host's files are not ours to see: its engine says if one is missing
            model = model_path(self.profile)
            if not model.is_file():
                raise ServerError(f"[{self.profile.name}] model file not found: {model}",
                                  "download it, or fix `model` / `models_dir` in models.conf")
        self._remove_leftover()
        running = self.host.container(CONTAINER)
        if running.get("status") in _RUNNING:
            raise ServerError(
                f"Container {CONTAINER} is already running on {self.host.label}",
                f"stop it first: {self._down_command()} (or {shlex.join(self.host.docker('rm', '-f', CONTAINER))} "
                f"if compose did not start it)",
            )
        record = {"profile": self.profile.name, "host": self.host.label, "container": "", "pid": os.getpid(),
                  "started": _stamp()}
        write_record(self.lock, record)  # before `up`: a kill during it leaves a trace the next run explains
        self.started = True
        self._run("up", "-d", "--force-recreate", self.profile.compose_service)
        write_record(self.lock, {**record, "container": self.host.container(CONTAINER).get("id", "")})
        return version

    def _remove_leftover(self) -> None:
        """Remove the container a killed run recorded on this host (we hold the host's lock, so the run
        that wrote the record is gone)."""
        record = read_record(self.lock)
        if not record:
            return
        found = self.host.container(CONTAINER)
        if not found or found.get("status") not in _RUNNING:
            if found and found.get("id") == record.get("container"):
                self._remove(found["id"])
            clear_record(self.lock)
            return
        if not record.get("container"):
            raise ServerError(
                f"a run that was starting {CONTAINER} on {self.host.label} for [{record.get('profile')}] was killed "
                f"(at {record.get('started')}), and {CONTAINER} is running there now",
                f"if it is that run's container, remove it: {shlex.join(self.host.docker('rm', '-f', CONTAINER))}; "
                f"then remove {self.lock.name}.container.json beside the lock")
        if found.get("id") != record.get("container"):
            clear_record(self.lock)  # ours is gone; the one running is somebody else's (refused below)
            return
        self.log.warning(f"removing the {CONTAINER} container a killed run left on {self.host.label} "
                         f"([{record.get('profile')}], started {record.get('started')})")
        done = self._remove(found["id"])
        if done.returncode != 0:
            raise ServerError(f"cannot remove the leftover {CONTAINER} on {self.host.label}: {done.stderr.strip()[-300:]}",
                              f"remove it by hand: {shlex.join(self.host.docker('rm', '-f', CONTAINER))}")
        clear_record(self.lock)

    def gone_reason(self) -> str:
        found = self.host.container(CONTAINER)
        status = found.get("status", "")
        if status in ("running", "created"):
            return ""
        if status == "exited" and found.get("exit_code", "").lstrip("-").isdigit():
            return f"container {exit_words(int(found['exit_code']), container=True)}"
        return f"container {status or 'gone'}"

    def logs(self) -> str:
        done = self._run("logs", "--no-color", "--tail", str(LOG_TAIL_LINES), check=False)
        return done.stdout + done.stderr

    def log_head(self, lines: int = 400) -> str:
        """The first lines of the container's log (where llama-server names its devices)."""
        done = subprocess.run(self.host.docker("logs", CONTAINER), capture_output=True, text=True, timeout=60)
        return "\n".join((done.stdout + done.stderr).splitlines()[:lines])

    def image(self) -> dict:
        """The image the container runs: its name, id and registry digest (where it was pulled)."""
        done = subprocess.run(self.host.docker("inspect", "-f", "{{.Config.Image}} {{.Image}}", CONTAINER),
                              capture_output=True, text=True, timeout=CHECK_TIMEOUT)
        name, _, image_id = done.stdout.strip().partition(" ")
        if done.returncode != 0 or not image_id:
            return {}
        digests = subprocess.run(self.host.docker("image", "inspect", "-f", "{{join .RepoDigests \" \"}}", image_id),
                                 capture_output=True, text=True, timeout=CHECK_TIMEOUT).stdout.split()
        return {"name": name, "id": image_id, "digest": digests[0].rpartition("@")[2] if digests else ""}

    def model_fingerprint(self) -> dict:
        """The model file's identity (provenance.model_identity), read on the host that serves it: a remote
        box's file through the running container (size and its ends' sha256)."""
        if not self.host.spec:
            return model_identity(model_path(self.profile))
        inside = f"/models/{self.profile.model}"
        script = ('stat -c %s "$1" && { head -c 1048576 "$1"; tail -c 1048576 "$1"; } | sha256sum && '
                  f'if [ "$(stat -c %s "$1")" -le {FULL_HASH_BYTES} ]; then sha256sum "$1"; fi')
        done = subprocess.run(self.host.docker("exec", CONTAINER, "sh", "-c", script, "sh", inside),
                              capture_output=True, text=True, timeout=600)
        lines = [line.split() for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0 or len(lines) < 2 or not lines[0][0].isdigit():
            return {"file": Path(inside).name, "unavailable": (done.stderr.strip() or "no sh in the image")[-200:]}
        found = {"file": Path(inside).name, "size": int(lines[0][0]), "sha256_head_tail": lines[1][0]}
        return with_whole_hash(found, lines[2][0] if len(lines) > 2 else None)

    def stop(self) -> None:
        if not self.started:
            return
        done = self._run("down", check=False, timeout=120)
        if done.returncode == 0:
            clear_record(self.lock)  # else the next holder of the lock removes it


@contextlib.contextmanager
def start(profile: Profile, settings: Settings, files: ServerFiles, log: logging.Logger) -> Iterator[ServerHandle]:
    compose_file = settings.compose_file
    if not compose_file.is_file():
        raise ServerError(f"{compose_file} not found", "run doit from the project folder")
    lock = lock_file(settings.server_lock, profile.host)
    server = ComposeServer(profile, compose_file, files.server_log, lock, log, settings.compose)
    started = time.monotonic()
    on = f" on {server.host.label}" if profile.host else ""
    log.info(f"starting {profile.model} with docker compose{on}")
    try:
        version = server.start()
        base_url = profile.base_url or f"http://{server.host.address()}:{profile.port}"
        tip = (f"check that {profile.model} exists in {profile.models_dir} on {profile.host} (models are read on the "
               f"box that serves them), and the server arguments in models.conf") if profile.host else STOPPED_TIP
        wait_healthy(base_url, profile.health_timeout, server.gone_reason, server.logs, "the container's log", tip)
        log.info(f"server healthy at {base_url} after {time.monotonic() - started:.1f} s")
        yield ServerHandle(base_url=base_url, gone_reason=server.gone_reason, extra_body=request_extras(profile),
                           info={"backend": "compose", "host": server.host.label, "engine": version,
                                 "env": compose_env(profile), "compose_service": profile.compose_service,
                                 "model_path": str(model_path(profile)), "model": server.model_fingerprint(),
                                 "image": server.image(), "startup_seconds": round(time.monotonic() - started, 1)},
                           log_text=server.log_head)
    finally:
        server.stop()
        log.info(f"server stopped (docker compose down{on})")
