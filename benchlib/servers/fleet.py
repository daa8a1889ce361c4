"""The servers of one profile, started together (`start_fleet`): one server as before, or several replicas
that share the profile's answers (servers.replicas_of).

Each replica is started, health-checked and stopped by its backend's own `start`, inside a thread that
owns it for its whole life: the thread enters the backend's `with` block, reports the handle, waits for
the fleet to end, and leaves the block (stopping the server). A process server's PDEATHSIG belongs to the
thread that started it, so that thread must live as long as the server does. The replicas load at the same
time (a big model takes minutes); one that does not start costs its share of the speed, not the run: the
others go on, with a warning naming it and why. With one replica everything runs in the calling thread,
exactly as a single server always has.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterator

from ..errors import BenchError, ServerError
from . import BACKENDS, Replica, ServerHandle
from .base import cancel_on

if TYPE_CHECKING:
    from ..results import RunFolder
    from ..settings import Settings

__all__ = ["Fleet", "start_fleet"]


@dataclass
class Fleet:
    """The healthy servers of a profile, in models.conf's order; `failed`: the replicas that did not start
    (label -> why)."""

    handles: list[ServerHandle]
    replicas: list[Replica]  # what each handle is (its profile: host, port, devices)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def primary(self) -> ServerHandle:
        """The server single questions go to (the token-cap probe, the tokenizer, the chat template)."""
        return self.handles[0]

    @property
    def replicated(self) -> bool:
        """Whether the profile has several replicas (its answers then name the one that made them)."""
        return len(self.handles) + len(self.failed) > 1


class _Prefixed(logging.LoggerAdapter):
    """A replica's lines in the stage's log, named by its label."""

    def process(self, msg, kwargs):
        return f"[{self.extra['label']}] {msg}", kwargs


class _Owner(threading.Thread):
    """Owns one replica's server from its start to its stop (see the module's docstring)."""

    def __init__(self, module, replica: Replica, settings: "Settings", folder: "RunFolder", log) -> None:
        super().__init__(name=f"server-{replica.label}", daemon=True)
        self.module, self.replica, self.settings, self.folder, self.log = module, replica, settings, folder, log
        self.handle: ServerHandle | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        replica = self.replica
        try:
            with cancel_on(self.release), self.module.start(replica.profile, self.settings,
                                                            self.folder.server_files(replica.label),
                                                            _Prefixed(self.log, {"label": replica.label})) as handle:
                self.handle = replace(handle, label=replica.label)
                self.ready.set()
                self.release.wait()
        except BaseException as exc:  # noqa: BLE001 - reported by the fleet
            self.error = exc
        finally:
            self.ready.set()


def _one_box_apart(replicas: list[Replica]) -> list[Replica]:
    """Compose replicas whose hosts answer at one address (two engines on one box) get the next ports; on
    this machine they also share its cores, as native replicas do (llama.core_share). The cores of a
    remote box are not known here: engines sharing one remote box keep llama-server's default."""
    from .hosts import DockerHost

    addresses = [DockerHost(replica.profile.host).address() for replica in replicas]
    here = DockerHost("").address()  # this machine's engine
    taken: dict[str, int] = {}
    spread = []
    for replica, address in zip(replicas, addresses):
        offset = taken.get(address, 0)
        taken[address] = offset + 1
        sharing = addresses.count(address) if address == here else 1
        spread.append(replace(replica, profile=replace(replica.profile, port=replica.profile.port + offset,
                                                       replicas=sharing)))
    return spread


@contextlib.contextmanager
def start_fleet(module, replicas: list[Replica], settings: "Settings", folder: "RunFolder",
                log: logging.Logger) -> Iterator[Fleet]:
    """Start every replica, wait until each is healthy or has failed, yield the healthy ones; always stop
    them all afterwards."""
    if len(replicas) == 1:
        replica = replicas[0]
        with module.start(replica.profile, settings, folder.server_files(), log) as handle:
            yield Fleet([replace(handle, label=replica.label)], [replica])
        return
    if BACKENDS[replicas[0].profile.server].docker_host:
        replicas = _one_box_apart(replicas)
    log.info(f"starting {len(replicas)} replicas: {', '.join(r.label for r in replicas)}")
    owners = [_Owner(module, replica, settings, folder, log) for replica in replicas]
    try:
        for owner in owners:
            owner.start()
        for owner in owners:
            while not owner.ready.wait(0.5):  # a timeout: Ctrl-C and SIGTERM reach this thread meanwhile
                pass
        failed = {o.replica.label: _why(o.error) for o in owners if o.handle is None}
        started = [o for o in owners if o.handle is not None]
        handles = [o.handle for o in started]
        if not handles:
            first = next(o.error for o in owners if o.error is not None)
            if isinstance(first, BenchError):
                raise ServerError(f"no replica started: {'; '.join(f'{k}: {v}' for k, v in failed.items())}",
                                  first.tip) from None
            raise first
        for label, why in failed.items():
            log.warning(f"replica {label} did not start ({why}): going on with {len(handles)} of {len(replicas)}")
        yield Fleet(handles, [o.replica for o in started], failed)
    finally:
        for owner in owners:
            owner.release.set()
        for owner in owners:
            owner.join()


def _why(error: BaseException | None) -> str:
    if isinstance(error, BenchError):
        return error.message.splitlines()[0]
    return f"{type(error).__name__}: {error}" if error is not None else "unknown"
