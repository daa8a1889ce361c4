"""`server = compose`: the production docker-compose.yml, started with the profile's settings as the
variables it reads (the production .env is never rewritten), always brought down afterwards."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

from ..config import Profile
from ..errors import ServerError
from ..results import ProfilePaths
from ..settings import Settings
from . import ServerHandle
from .base import LOG_TAIL_LINES, model_fingerprint, wait_healthy
from .llama import model_path, request_extras, tuning_flags

__all__ = ["start", "compose_command", "compose_env", "ComposeServer"]


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
    args = tuning_flags(profile)
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

    def __init__(self, profile: Profile, compose_file: Path, log_file: Path, command: tuple[str, ...] = ()) -> None:
        self.profile = profile
        self.compose_file = compose_file
        self.log_file = log_file
        self.base = compose_command(command) + ["-f", str(compose_file)]
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
        model = model_path(self.profile)
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

    def gone_reason(self) -> str:
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


@contextlib.contextmanager
def start(profile: Profile, settings: Settings, paths: ProfilePaths, log: logging.Logger) -> Iterator[ServerHandle]:
    compose_file = settings.compose_file
    if not compose_file.is_file():
        raise ServerError(f"{compose_file} not found", "run doit from the project folder")
    server = ComposeServer(profile, compose_file, paths.server_log, settings.compose)
    started = time.monotonic()
    log.info(f"starting {profile.model} with docker compose")
    try:
        server.start()
        base_url = profile.base_url or f"http://127.0.0.1:{profile.port}"
        wait_healthy(base_url, profile.health_timeout, server.gone_reason, server.logs, "the container's log")
        log.info(f"server healthy at {base_url} after {time.monotonic() - started:.1f} s")
        model = model_path(profile)
        yield ServerHandle(base_url=base_url, gone_reason=server.gone_reason, extra_body=request_extras(profile),
                           info={"backend": "compose", "env": compose_env(profile),
                                 "compose_service": profile.compose_service, "model_path": str(model),
                                 "model": model_fingerprint(model),
                                 "startup_seconds": round(time.monotonic() - started, 1)})
    finally:
        server.stop()
        log.info("server stopped (docker compose down)")
