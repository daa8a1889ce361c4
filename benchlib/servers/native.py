"""`server = native`: a `llama-server` process on this machine."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator

from ..config import Profile
from ..results import ServerFiles
from ..settings import Settings
from . import ServerHandle
from .llama import core_share, find_llama_server, request_extras, resolve_model, tuning_flags
from .process import ProcessServer, serve_process
from .hosts import LOCAL
from .provenance import file_identity, model_identity

__all__ = ["start", "command"]


def command(profile: Profile, binary: str, model: str) -> list[str]:
    return [binary, "-m", model, "--host", "127.0.0.1", "--port", "0", "-c", str(profile.ctx_size),
            "-ngl", str(profile.gpu_layers), "--parallel", str(profile.parallel), *core_share(profile),
            *tuning_flags(profile)]


@contextlib.contextmanager
def start(profile: Profile, settings: Settings, files: ServerFiles, log: logging.Logger) -> Iterator[ServerHandle]:
    binary = find_llama_server(profile, settings.llama_server)
    model = resolve_model(profile, settings.cache_dir)
    argv = command(profile, binary, str(model))
    info = {"backend": "native", "host": LOCAL, "binary": binary, "model_path": str(model), "command": argv,
            "model": model_identity(model), "binary_identity": file_identity(Path(binary))}
    env = None
    if profile.devices:  # this replica's GPUs
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": profile.devices}
        info["devices"] = profile.devices
    server = ProcessServer(argv, files.server_log, files.server_pid, env=env)
    with serve_process(server, profile.health_timeout, log, info, request_extras(profile)) as handle:
        yield handle
