"""The replicas a run's answers go to (`Pool`): each answer to whichever replica has a free slot, not a
static split, so a fast box takes more answers than a slow one and the last answers finish together.

A replica that is lost mid-run (its server stopped, or no answer through every retry: client.ReplicaLost)
costs only the answers it had in flight: they are asked again on the others, and the run goes on while
one replica answers. Answers it had already given stay (they are journaled as they arrive). A request
the server rejects (HTTP 4xx) is not a lost replica: it fails the run, as with one server.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from .client import ChatClient, ReplicaLost

__all__ = ["Member", "Pool"]

T = TypeVar("T")


@dataclass
class Member:
    """One replica in the pool: its client and slots, what it answered, and why it was lost ("" while it answers)."""

    label: str
    client: ChatClient
    slots: int
    free: int = 0
    answered: int = 0
    lost: str = ""
    builds: Counter = field(default_factory=Counter)  # system_fingerprint of its responses -> answers

    def __post_init__(self) -> None:
        self.free = self.slots


class Pool:
    """Replicas with their slots; `ask` runs one request on a free slot (see the module's docstring)."""

    def __init__(self, members: list[Member], stop: threading.Event, log: logging.Logger,
                 replicated: bool | None = None) -> None:
        self.members = members
        self.stop = stop  # shared by every member's client: set, no request goes out anywhere
        self.log = log
        self.replicated = len(members) > 1 if replicated is None else replicated  # answers name their replica
        self._cond = threading.Condition()
        self._loss: ReplicaLost | None = None

    @classmethod
    def single(cls, client: ChatClient, slots: int, log: logging.Logger) -> "Pool":
        """One server with `slots` requests in flight (its client's stop event is the pool's)."""
        return cls([Member("", client, slots)], client.stop, log)

    def only(self, member: Member) -> "Pool":
        """A pool of that one replica (the curve's continuations ask the server they tokenize with), sharing
        this pool's stop."""
        return Pool([member], self.stop, self.log, replicated=self.replicated)

    @property
    def slots(self) -> int:
        """Requests in flight at most: every slot of every replica."""
        return sum(m.slots for m in self.members)

    @property
    def client(self) -> ChatClient:
        """The client of the first replica still answering (single questions: probes, spot checks)."""
        return next((m.client for m in self.members if not m.lost), self.members[0].client)

    def alive(self) -> list[Member]:
        return [m for m in self.members if not m.lost]

    def ask(self, request: Callable[[ChatClient], T]) -> tuple[T, Member]:
        """`request(client)` on a replica with a free slot, and that replica; asked again on another where
        the replica is lost meanwhile. ReplicaLost once every replica is."""
        while True:
            member = self._take()
            try:
                return request(member.client), member
            except ReplicaLost as loss:
                self._lose(member, loss)
            finally:
                self._give(member)

    def on(self, member: Member, request: Callable[[ChatClient], T]) -> T:
        """`request(client)` on that replica (a spot check asks a given one), in one of its slots."""
        with self._cond:
            while member.free < 1 and not member.lost:
                self._cond.wait(0.5)
            if member.lost:
                raise ReplicaLost(f"replica {member.label} is lost: {member.lost}")
            member.free -= 1
        try:
            return request(member.client)
        except ReplicaLost as loss:
            self._lose(member, loss)
            raise
        finally:
            self._give(member)

    def _take(self) -> Member:
        with self._cond:
            while True:
                alive = self.alive()
                if not alive:
                    raise self._loss or ReplicaLost("no replica answers")
                best = max(alive, key=lambda m: m.free)
                if best.free > 0:
                    best.free -= 1
                    return best
                self._cond.wait(0.5)

    def _give(self, member: Member) -> None:
        with self._cond:
            member.free += 1
            self._cond.notify()

    def _lose(self, member: Member, loss: ReplicaLost) -> None:
        with self._cond:
            if not member.lost:
                member.lost = loss.message.splitlines()[0]
                self._loss = loss
                left = len(self.alive())
                if left and self.replicated:
                    self.log.warning(f"replica {member.label} lost ({member.lost}): its answers in flight are asked "
                                     f"again on the {left} left")
            self._cond.notify_all()

    def record(self, member: Member, fingerprint: str) -> None:
        """An answer `member` gave, and the build its response named."""
        with self._cond:
            member.answered += 1
            if fingerprint:
                member.builds[fingerprint] += 1
