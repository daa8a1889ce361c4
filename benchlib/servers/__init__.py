"""Model servers, one module per backend, all of one shape:

    <backend>.start(profile, settings, files, log) -> context manager yielding a ServerHandle

`start` here picks the backend of the profile, holds the lock of every host its servers run on (one model
server per host at a time, even under `doit -n 4`: see hosts.py), starts its replicas (`replicas_of`: one
server, or several that share the profile's answers, see fleet.py), and turns SIGTERM into
KeyboardInterrupt so the servers are stopped on `kill` as on Ctrl-C (the `with` block's exit stops them;
kill -9 is handled by the next run: PDEATHSIG and pid files for processes, the host's container record
for compose).

To add a backend: a module here with `start(...)`, and one entry in BACKENDS (models.conf validation,
README's key table and `doit list` read it from there).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterator
from urllib.parse import urlsplit

if TYPE_CHECKING:  # imported lazily: task creation (doit list) must stay fast
    from ..config import Profile
    from ..results import RunFolder
    from ..settings import Settings
    from .fleet import Fleet

__all__ = ["Backend", "BACKENDS", "ServerHandle", "Replica", "start", "runs_server", "is_self_test", "hosts_of",
           "replicas_of"]


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
    local_replicas: bool = False  # `replicas = N` starts N servers of it on this machine
    takes_devices: bool = False  # `devices` gives each of them its GPUs (CUDA_VISIBLE_DEVICES)
    replicas_by_url: bool = False  # several `base_url`s are replicas of one model
    reads_log: bool = False  # its server's log is benchlib's to read (the GPU it names, for the provenance)

    @property
    def scores_a_file(self) -> bool:
        """Runs no server: its profile names the samples file to score (`samples`)."""
        return not self.module


BACKENDS = {
    "compose": Backend("compose", "compose", "model", "docker compose, as production", hosted=True, docker_host=True,
                       sizes_slots=True, reads_log=True),
    "native": Backend("native", "native", "model", "a `llama-server` process", sizes_slots=True, local_replicas=True,
                      takes_devices=True, reads_log=True),
    "external": Backend("external", "external", "base_url", "an already running OpenAI-compatible URL, never started "
                        "or stopped", exclusive=False, hosted=True, replicas_by_url=True),
    "reference": Backend("reference", "reference", "", "built-in self-test: canonical solutions over HTTP",
                         self_test=True, local_replicas=True),
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
    label: str = ""  # which replica of the profile this is (Replica.label)
    log_text: Callable[[], str] = lambda: ""  # the start of the server's own log (the devices it names), "" if unseen


@dataclass(frozen=True)
class Replica:
    """One server of a profile: the profile as that server runs (its one host, URL, port and devices), and
    the label that names it in the samples, the manifest and its log file (server-<label>.log)."""

    label: str
    profile: "Profile"

    @property
    def host(self) -> str | None:
        """The host whose lock this server holds, None where it holds none (see `hosts_of`)."""
        from .hosts import LOCAL

        backend = BACKENDS[self.profile.server]
        if backend.hosted and self.profile.host:
            return self.profile.host
        return LOCAL if backend.exclusive and backend.module else None


def replicas_of(profile: "Profile") -> list[Replica]:
    """The servers of a profile: one, or several that share its answers (README: Several boxes serving one
    profile): `replicas` (or `devices`) local servers, the hosts of `host`, the URLs of `base_url`."""
    from .hosts import LOCAL, host_label

    backend = BACKENDS[profile.server]
    if backend.local_replicas and max(profile.replicas, len(profile.device_groups)) > 1:
        groups = profile.device_groups
        count = max(profile.replicas, len(groups))
        return [Replica(f"{LOCAL}-{i + 1}", replace(profile, replicas=count, devices=groups[i] if groups else ""))
                for i in range(count)]
    if backend.replicas_by_url and len(profile.base_urls) > 1:
        urls, hosts = profile.base_urls, [h.strip() for h in profile.host.split(",") if h.strip()]
        hosts = hosts if len(hosts) == len(urls) else [hosts[0] if hosts else ""] * len(urls)
        labels = hosts if len(set(hosts)) == len(hosts) and all(hosts) else [urlsplit(u).netloc for u in urls]
        return [Replica(label, replace(profile, base_url=url, host=host)) for label, url, host in zip(labels, urls, hosts)]
    if backend.hosted and len(profile.hosts) > 1:
        return [Replica(host_label(host), replace(profile, host=host)) for host in profile.hosts]
    return [Replica("", replace(profile, host=profile.hosts[0]) if backend.hosted else profile)]


def runs_server(profile: "Profile") -> bool:
    return bool(BACKENDS[profile.server].module)


def is_self_test(profile: "Profile") -> bool:
    """Whether the profile's code is the dataset's canonical solutions (trusted; never compared as a model)."""
    return BACKENDS[profile.server].self_test


def hosts_of(profile: "Profile") -> tuple[str, ...]:
    """The hosts whose locks the profile's servers hold while they run ("local": this machine, with the local
    Docker engine), in a fixed order; () when they hold none (an external server on no named host, no
    server)."""
    if not runs_server(profile):
        return ()
    return tuple(sorted({r.host for r in replicas_of(profile) if r.host is not None}))


@contextlib.contextmanager
def start(profile: "Profile", settings: "Settings", folder: "RunFolder", log: logging.Logger) -> Iterator["Fleet"]:
    """Start the profile's servers, wait until healthy, yield them (fleet.Fleet); always stop them afterwards."""
    from ..errors import ServerError
    from .base import host_lock, sigterm_as_interrupt
    from .fleet import start_fleet
    from .hosts import lock_file

    backend = BACKENDS[profile.server]
    if not backend.module:
        raise ServerError(f"[{profile.name}] server = {profile.server} runs no model server")
    module = importlib.import_module(f".{backend.module}", __name__)
    with contextlib.ExitStack() as stack:
        hosts = hosts_of(profile)
        if hosts:
            stack.enter_context(sigterm_as_interrupt())
        for host in hosts:  # always in one order: two runs that want the same hosts never hold one each
            stack.enter_context(host_lock(lock_file(settings.server_lock, host), host, log))
        yield stack.enter_context(start_fleet(module, replicas_of(profile), settings, folder, log))
