"""Model servers, one module per backend, all of one shape:

    <backend>.start(profile, settings, paths, log) -> context manager yielding a ServerHandle

`start` here picks the backend of the profile, holds the lock of the host it runs on (one model server
per host at a time, even under `doit -n 4`: see hosts.py), and turns SIGTERM into KeyboardInterrupt so
the server is stopped on `kill` as on Ctrl-C (the `with` block's exit stops it; kill -9 is handled by the
next run: PDEATHSIG and pid files for processes, the host's container record for compose).

To add a backend: a module here with `start(...)`, and one entry in BACKENDS (models.conf validation,
README's key table and `doit list` read it from there).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:  # imported lazily: task creation (doit list) must stay fast
    from ..config import Profile
    from ..results import RunFolder
    from ..settings import Settings

__all__ = ["Backend", "BACKENDS", "ServerHandle", "start", "runs_server", "is_self_test", "host_of"]


@dataclass(frozen=True)
class Backend:
    name: str
    module: str  # the module of this package with its `start`; "" runs no server
    requires: str  # the models.conf key a profile of this backend must set
    help: str
    exclusive: bool = True  # holds its host's model-server lock while it runs (this machine's by default)
    hosted: bool = False  # may name another host (`host` in models.conf): a Docker host, or the box it answers from
    self_test: bool = False  # answers with the dataset's own canonical solutions: a check of benchlib, not a model
    docker_host: bool = False  # its `host` may be a Docker host URL (ssh://, tcp://, ...), not only a name
    sizes_slots: bool = False  # benchlib starts llama-server with the profile's ctx_size and parallel

    @property
    def scores_a_file(self) -> bool:
        """Runs no server: its profile names the samples file to score (`samples`)."""
        return not self.module


BACKENDS = {
    "compose": Backend("compose", "compose", "model", "docker compose, as production", hosted=True, docker_host=True,
                       sizes_slots=True),
    "native": Backend("native", "native", "model", "a `llama-server` process", sizes_slots=True),
    "external": Backend("external", "external", "base_url", "an already running OpenAI-compatible URL, never started "
                        "or stopped", exclusive=False, hosted=True),
    "reference": Backend("reference", "reference", "", "built-in self-test: canonical solutions over HTTP",
                         self_test=True),
    "none": Backend("none", "", "samples", "no server: score an existing samples file", exclusive=False),
}


@dataclass
class ServerHandle:
    """A healthy server: where to send requests, and what it supports."""

    base_url: str
    gone_reason: Callable[[], str]  # "" while the server runs, else why it is gone
    extra_body: dict = field(default_factory=dict)  # request fields this server needs (e.g. cache_prompt)
    info: dict = field(default_factory=dict)  # for the manifest
    probe_token_cap: bool = True  # whether a tiny request can tell which field caps answers


def runs_server(profile: "Profile") -> bool:
    return bool(BACKENDS[profile.server].module)


def is_self_test(profile: "Profile") -> bool:
    """Whether the profile's code is the dataset's canonical solutions (trusted; never compared as a model)."""
    return BACKENDS[profile.server].self_test


def host_of(profile: "Profile") -> str | None:
    """The host whose lock the profile's server holds while it runs ("local": this machine, with the local
    Docker engine), or None when it holds none (an external server on no named host, no server)."""
    from .hosts import LOCAL

    backend = BACKENDS[profile.server]
    if backend.hosted and profile.host:
        return profile.host
    return LOCAL if backend.exclusive and backend.module else None


@contextlib.contextmanager
def start(profile: "Profile", settings: "Settings", paths: "RunFolder", log: logging.Logger) -> Iterator[ServerHandle]:
    """Start the profile's server, wait until healthy, yield its handle; always stop it afterwards."""
    from ..errors import ServerError
    from .base import host_lock, sigterm_as_interrupt
    from .hosts import lock_file

    backend = BACKENDS[profile.server]
    if not backend.module:
        raise ServerError(f"[{profile.name}] server = {profile.server} runs no model server")
    module = importlib.import_module(f".{backend.module}", __name__)
    host = host_of(profile)
    if host is None:
        with module.start(profile, settings, paths, log) as handle:
            yield handle
        return
    with sigterm_as_interrupt(), host_lock(lock_file(settings.server_lock, host), host, log):
        with module.start(profile, settings, paths, log) as handle:
            yield handle
