"""manifest.json, one per run folder: what made its samples, as a typed record (`GenerationRecord`), written
by one layer (the generation stage, through `write_generation`) and read through `read_generation`.

One source per fact: what the evaluation found (sandbox, pass@1, evalplus's version, its seconds) is in
eval_results.json only, which both the evaluation stage and doit's isolation check read. Manifests written
before this kept a copy under "evaluation": it is left as it is and never read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .storage import atomic_write_json

__all__ = ["GenerationRecord", "LongRun", "read_generation", "write_generation"]


@dataclass(frozen=True)
class LongRun:
    """A reasoning model's run at its budget, which the run at max_tokens took from (`runs.ProfileRuns`)."""

    max_tokens: int
    folder: str  # its run folder's name (results.run_key)
    auto: bool  # detected at run time (reasoning_budget = 0), not configured

    @classmethod
    def from_json(cls, data: object) -> "LongRun | None":
        if not isinstance(data, dict) or not isinstance(data.get("max_tokens"), int):
            return None
        return cls(data["max_tokens"], str(data.get("folder", "")), bool(data.get("auto")))


@dataclass(frozen=True)
class GenerationRecord:
    """The manifest's "generation" section (its fields in the order the file has them)."""

    header: dict = field(default_factory=dict)  # fingerprints.generation_header: what the samples were made under
    dataset: dict = field(default_factory=dict)  # Dataset.describe()
    server: dict = field(default_factory=dict)  # the backend's facts, /props, the measured longest prompt
    sampling: dict = field(default_factory=dict)  # the request's settings, the prompt left out
    token_cap: dict = field(default_factory=dict)  # the token-cap probe: the field sent, honoured, reasoning
    profile: dict = field(default_factory=dict)  # the profile as this run asked (its max_tokens)
    server_start_seconds: float | None = None
    seconds: float | None = None
    completion_tokens: int | None = None
    tokens_per_second: float | None = None
    hit_token_limit: int | None = None
    empty_answers: int | None = None
    date: str | None = None
    reuse: dict | None = None  # what a changed token cap or a long run reused, derived and spot-checked
    reasoning: dict = field(default_factory=dict)  # generation.reasoning.reasoning_summary
    reasoning_budget: LongRun | None = None  # the long run this one took from, if any
    curve: dict = field(default_factory=dict)  # the thinking-budget curve made from that long run: budgets, auto, why not
    replicas: list = field(default_factory=list)  # per server that answered: servers.provenance.describe, and its answers
    agreement: dict = field(default_factory=dict)  # answers from several replicas asked again on another (canary.py)
    canary: dict = field(default_factory=dict)  # the last canary: the server's change, its answers, the verdict

    @property
    def identities(self) -> dict[str, dict]:
        """Each replica's identity as this record knows it: the one the last canary checked, else the one
        that made the answers (provenance.identity); {} for a manifest written before replicas were recorded."""
        from .servers.provenance import identity

        if self.canary.get("servers"):
            return dict(self.canary["servers"])
        return {str(r.get("replica", "")): identity(r) for r in self.replicas if isinstance(r, dict)}

    @classmethod
    def from_json(cls, data: object) -> "GenerationRecord":
        """The record of a manifest's section; missing or mistyped fields (older or damaged files) read as
        their defaults, so a reader never has to guard a field."""
        data = data if isinstance(data, dict) else {}
        values = {}
        for spec in fields(cls):
            value = data.get(spec.name)
            if spec.name == "reasoning_budget":
                values[spec.name] = LongRun.from_json(value)
            elif value is not None:
                default = spec.default_factory() if callable(spec.default_factory) else None  # type: ignore[misc]
                if default is None or isinstance(value, type(default)):
                    values[spec.name] = value
        return cls(**values)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def made(self) -> bool:
        """Whether the manifest had a generation section (not the empty record of a folder without one)."""
        return self != GenerationRecord()

    @property
    def max_tokens(self) -> int | None:
        return self.profile.get("max_tokens")

    @property
    def prompt_style(self) -> str | None:
        return self.profile.get("prompt_style")

    @property
    def temperature(self) -> float:
        return self.profile.get("temperature") or 0.0

    @property
    def host(self) -> str | None:
        return self.server.get("host")


def read_generation(folder) -> GenerationRecord:
    """The generation record of a run folder (`results.RunFolder`); the empty record when there is none."""
    from .results import read_or_empty

    return GenerationRecord.from_json(read_or_empty(folder.manifest).get("generation"))


def write_generation(folder, record: GenerationRecord) -> None:
    """manifest.json of a run folder, atomically: its generation record (the one writer)."""
    atomic_write_json(folder.manifest, {"generation": record.to_json()})
