"""`server = external`: an OpenAI-compatible server someone else runs (never started or stopped)."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from ..config import Profile
from ..results import ProfilePaths
from ..settings import Settings
from . import ServerHandle
from .base import wait_healthy

__all__ = ["start"]


@contextlib.contextmanager
def start(profile: Profile, settings: Settings, paths: ProfilePaths, log: logging.Logger) -> Iterator[ServerHandle]:
    def gone_reason() -> str:
        return ""  # not ours to watch: the client's retries and errors say when it stops answering

    wait_healthy(profile.base_url, profile.health_timeout, gone_reason)
    log.info(f"using the server at {profile.base_url}")
    yield ServerHandle(base_url=profile.base_url, gone_reason=gone_reason, info={"backend": "external"})
