"""What made each profile's answers, as the report states it: per run, the servers (replicas) with their
build, GPU, model file and chat template (servers/provenance.py recorded them in the manifest), the last
canary's verdict, whether the replicas agreed; and the paired comparisons whose two profiles were made by
different builds or GPUs (greedy answers are not the same across either, so part of such a difference
may be the server's, not the model's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .collect import LocalRow, is_curve

__all__ = ["Server", "RunProvenance", "Mismatch", "provenance_of", "mismatches_of"]


@dataclass(frozen=True)
class Server:
    """One server that answered a run, as the manifest recorded it."""

    label: str  # the replica ("" for a profile's only server)
    build: str  # llama.cpp's build (/props), "" unknown
    gpus: tuple[str, ...] | None  # None: not benchlib's to see (a server it does not start)
    model: str  # the model file's name and short hash, "" unknown
    template: str  # the chat template's short hash, "" unknown
    image: str  # the image (compose) and its short id, "" none
    answers: int | None
    lost: str = ""


@dataclass(frozen=True)
class RunProvenance:
    profile: str
    run: str  # the run key
    servers: list[Server]
    canary: dict = field(default_factory=dict)  # the manifest's last canary
    agreement: dict = field(default_factory=dict)  # replica agreement

    @property
    def builds(self) -> tuple[str, ...]:
        return tuple(sorted({s.build for s in self.servers if s.build}))

    @property
    def gpus(self) -> tuple[str, ...] | None:
        """The GPUs that made the answers; None when any server's are unknown."""
        if not self.servers or any(s.gpus is None for s in self.servers):
            return None
        return tuple(sorted({g for s in self.servers for g in (s.gpus or ("CPU",))}))

    @property
    def canary_changed(self) -> bool:
        return self.canary.get("verdict") == "changed"

    @property
    def replicas_differ(self) -> bool:
        return bool(self.agreement.get("differing"))


@dataclass(frozen=True)
class Mismatch:
    """A compared pair made by different servers: `what` ("builds", "GPUs") and each side's."""

    run: str
    a: str
    b: str
    what: str
    a_value: str
    b_value: str


def _short(digest: str, length: int = 10) -> str:
    return digest.removeprefix("sha256:")[:length]


def _server(entry: dict) -> Server:
    model = entry.get("model") or {}
    name = model.get("file") or ""
    digest = model.get("sha256") or model.get("sha256_head_tail") or ""
    image = entry.get("image") or {}
    gpus = entry.get("gpus")
    return Server(
        label=str(entry.get("replica") or ""), build=str(entry.get("build") or ""),
        gpus=tuple(gpus) if isinstance(gpus, list) else None,
        model=f"{name} ({_short(digest)})" if name and digest else name,
        template=_short(str(entry.get("chat_template_sha256") or "")),
        image=(f"{image.get('name') or '?'} ({_short(str(image.get('id') or ''), 12)})" if image.get("id") else ""),
        answers=entry.get("answers") if isinstance(entry.get("answers"), int) else None,
        lost=str(entry.get("lost") or ""))


def _legacy(server: dict) -> list[Server]:
    """A manifest written before replicas were recorded: its one server's build and model, GPU unknown."""
    props = server.get("props") or {}
    model = server.get("model") or {}
    if not props and not model:
        return []
    return [Server("", str(props.get("build_info") or ""), None,
                   f"{model.get('file', '')} ({_short(model.get('sha256_head_tail', ''))})" if model.get("file") else "",
                   "", "", None)]


def provenance_of(rows: list[LocalRow]) -> list[RunProvenance]:
    """Every generated run's provenance (curve points aside: their answers come from their long run's server)."""
    found = []
    for row in rows:
        if any(result.self_test for result in row.results.values()):
            continue  # the dataset's own solutions: no model, no build to speak of
        for run in row.runs:
            record = run.generation
            if not record.made or is_curve(run.key):
                continue
            servers = [_server(e) for e in record.replicas if isinstance(e, dict)] or _legacy(record.server)
            if servers:
                found.append(RunProvenance(row.profile, run.key, servers, record.canary, record.agreement))
    return found


def mismatches_of(pairs: list[tuple[str, str, str]], made: list[RunProvenance]) -> list[Mismatch]:
    """The pairs (run, a, b) whose answers were made by different builds or different GPUs, where both
    sides' are known."""
    by = {(p.run, p.profile): p for p in made}
    found = []
    for run, a, b in pairs:
        left, right = by.get((run, a)), by.get((run, b))
        if left is None or right is None:
            continue
        if left.builds and right.builds and left.builds != right.builds:
            found.append(Mismatch(run, a, b, "builds", ", ".join(left.builds), ", ".join(right.builds)))
        if left.gpus is not None and right.gpus is not None and left.gpus != right.gpus:
            found.append(Mismatch(run, a, b, "GPUs", ", ".join(left.gpus), ", ".join(right.gpus)))
    return found
