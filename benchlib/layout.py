"""The results layout: every path a profile's stages read or write, defined once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProfilePaths", "profile_paths", "report_path", "cache_dir"]


@dataclass(frozen=True)
class ProfilePaths:
    """results/<profile>/<dataset>/..., so two datasets never mix."""

    profile_dir: Path
    root: Path

    @property
    def samples(self) -> Path:  # evalplus format: one {"task_id", "solution", ...} per line
        return self.root / "samples.jsonl"

    @property
    def samples_journal(self) -> Path:  # generation in progress, resumable
        return self.root / "samples.partial.jsonl"

    @property
    def generation_stats(self) -> Path:  # per request: latency, server timings
        return self.root / "generation_stats.jsonl"

    @property
    def eval_results(self) -> Path:
        return self.root / "eval_results.json"

    @property
    def eval_journal(self) -> Path:
        return self.root / "eval.partial.jsonl"

    @property
    def codegen_log(self) -> Path:
        return self.root / "codegen.log"

    @property
    def evaluation_log(self) -> Path:
        return self.root / "evaluation.log"

    @property
    def server_log(self) -> Path:
        return self.root / "server.log"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def status(self) -> Path:  # why the last run of this profile failed, if it did
        return self.root / "status.json"


def profile_paths(results: Path, profile: str, dataset: str) -> ProfilePaths:
    profile_dir = Path(results) / profile
    return ProfilePaths(profile_dir=profile_dir, root=profile_dir / dataset)


def report_path(results: Path) -> Path:
    return Path(results) / "REPORT.md"


def cache_dir() -> Path:
    """Machine-wide cache (ground truth, downloaded models): outside the repository."""
    base = os.environ.get("BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "benchlib"
    )
    return Path(base)
