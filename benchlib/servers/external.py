"""`server = external`: an OpenAI-compatible server someone else runs (never started or stopped). With
`host`, it holds that box's lock while it generates, like a server benchlib starts there."""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import urlsplit
from typing import Iterator

from ..config import Profile
from ..results import ServerFiles
from ..settings import Settings
from . import ServerHandle
from .base import wait_healthy

__all__ = ["start"]


@contextlib.contextmanager
def start(profile: Profile, settings: Settings, files: ServerFiles, log: logging.Logger) -> Iterator[ServerHandle]:
    def gone_reason() -> str:
        return ""  # not ours to watch: the client's retries and errors say when it stops answering

    wait_healthy(profile.base_url, profile.health_timeout, gone_reason)
    log.info(f"using the server at {profile.base_url}" + (f" on {profile.host}" if profile.host else ""))
    yield ServerHandle(base_url=profile.base_url, gone_reason=gone_reason,
                       info={"backend": "external", "host": profile.host or urlsplit(profile.base_url).hostname or ""})
