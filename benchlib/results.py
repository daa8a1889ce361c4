"""The results folder, owned here: every path of a run folder (`RunFolder`), the status file, which
profile folders and run folders exist, and the exact list of files REPORT.md is made from (the report
task's up-to-date check fingerprints that same list). Which runs a profile makes: runs.py; what the
manifest holds: manifest.py.

    results/<profile>/<run key>/samples.jsonl ...      one folder per run (`run_key`): never mixed
    results/REPORT.md
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import NamedTuple
from datetime import datetime, timezone
from pathlib import Path

from .datasets import DATASETS, run_identity
from .storage import atomic_write_json, read_json

__all__ = ["RunFolder", "ServerFiles", "run_folder", "report_path", "profile_names", "read_status", "set_failed", "clear_status", "report_inputs", "inputs_fingerprint", "read_or_empty",
           "DATASET_KEYS", "ReportFiles", "utc_now", "RunKey", "run_key", "parse_run_key", "run_keys", "run_folder_at", "report_files"]

DATASET_KEYS = tuple(DATASETS)  # the folder names under results/<profile>/ (their subsets: run_key)


def utc_now() -> str:
    """The one date format of every file benchlib writes."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class RunFolder:
    """One run's folder, results/<profile>/<run key>/ (`run_key`), and every file in it."""

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
    def server_pid(self) -> Path:  # a running server's pid, so a run after a kill -9 can stop it
        return self.root / "server.pid"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def server_files(self, replica: str = "") -> "ServerFiles":
        """The log and pid file of one server: server.log for a profile's only server, server-<replica>.log
        for each of several replicas."""
        if not replica:
            return ServerFiles(self.server_log, self.server_pid)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", replica).strip("_")[:60]
        return ServerFiles(self.root / f"server-{slug}.log", self.root / f"server-{slug}.pid")

    @property
    def status(self) -> Path:  # why the last run of this profile failed, if it did
        return self.root / "status.json"

    @property
    def generated(self) -> list[Path]:
        """What `doit clean gen:<profile>` removes."""
        return [self.samples, self.samples_journal, self.generation_stats, self.codegen_log, self.server_log,
                *sorted(self.root.glob("server-*.log"))]

    @property
    def evaluated(self) -> list[Path]:
        """What `doit clean` removes for the evaluation."""
        return [self.eval_results, self.eval_journal, self.evaluation_log, self.status]

    @property
    def report_reads(self) -> list[Path]:
        """The files of this profile the report reads."""
        return [self.eval_results, self.status, self.manifest, self.samples, self.samples_journal]


@dataclass(frozen=True)
class ServerFiles:
    """Where one model server writes its log and its pid (`RunFolder.server_files`)."""

    server_log: Path
    server_pid: Path


class RunKey(NamedTuple):
    """What a run folder under results/<profile>/ holds: `<dataset>[-subset<k>][-budget<n>[-think<b>]]`."""

    dataset: str
    subset: int = 0  # 0: every problem; k: the smoke-test selection of k
    budget: int = 0  # 0: the profile's max_tokens; n: a reasoning model's long run at n tokens
    think: int = 0  # b: a point of its thinking-budget curve (at most b tokens of thinking), taken from that run


def run_key(dataset: str, subset: int = 0, budget: int = 0, think: int = 0) -> str:
    """The folder of a run under results/<profile>/: the dataset, `<dataset>-subset<k>` for a subset,
    `-budget<n>` for a reasoning model's run at its reasoning budget, and `-think<b>` for a point of its
    thinking-budget curve."""
    return run_identity(dataset, subset) + (f"-budget{budget}" if budget else "") + (f"-think{think}" if think else "")


def parse_run_key(key: str) -> RunKey | None:
    """The RunKey of a run folder's name; None if it is not one."""
    match = re.fullmatch(r"(%s)(?:-subset(\d+))?(?:-budget(\d+)(?:-think(\d+))?)?" % "|".join(map(re.escape, DATASET_KEYS)),
                         key)
    return RunKey(match.group(1), *(int(match.group(i) or 0) for i in (2, 3, 4))) if match else None


def run_folder_at(results: Path, profile: str, key: str) -> RunFolder:
    """The paths of one run folder (`run_key`) of a profile."""
    profile_dir = Path(results) / profile
    return RunFolder(profile_dir=profile_dir, root=profile_dir / key)


def run_folder(results: Path, profile: str, dataset: str, subset: int = 0, budget: int = 0, think: int = 0) -> RunFolder:
    return run_folder_at(results, profile, run_key(dataset, subset, budget, think))


def run_keys(results: Path, profile: str) -> list[str]:
    """The run folders a profile has: its full datasets first (in DATASET_KEYS order), then subsets; each
    followed by its reasoning-budget run."""
    folder = Path(results) / profile
    if not folder.is_dir():
        return []
    runs = {p.name: parse_run_key(p.name) for p in folder.iterdir() if p.is_dir()}
    found = [(DATASET_KEYS.index(parsed.dataset), parsed.subset, parsed.budget, parsed.think, name)
             for name, parsed in runs.items() if parsed]
    return [name for *_, name in sorted(found)]


def report_path(results: Path) -> Path:
    return Path(results) / "REPORT.md"


@dataclass(frozen=True)
class ReportFiles:
    """What the report writes: REPORT.md and the files and folder beside it, by name."""

    folder: Path

    @property
    def report(self) -> Path:
        return report_path(self.folder)

    @property
    def problems(self) -> Path:
        return self.folder / "PROBLEMS.md"

    @property
    def problems_csv(self) -> Path:
        return self.folder / "problems.csv"

    @property
    def comparisons(self) -> Path:
        return self.folder / "COMPARISONS.md"

    @property
    def summary(self) -> Path:
        return self.folder / "summary.json"

    @property
    def charts(self) -> Path:
        return self.folder / "charts"

    @property
    def page(self) -> Path:  # the browsable report: one self-contained HTML file
        return self.folder / "report.html"

    @property
    def all(self) -> list[Path]:
        """Every one of them (`doit clean` removes these)."""
        return [self.report, self.problems, self.problems_csv, self.comparisons, self.summary, self.charts, self.page]


def report_files(results: Path) -> list[Path]:
    """What the report writes (`doit clean` removes them)."""
    return ReportFiles(Path(results)).all


def profile_names(results: Path) -> list[str]:
    """Profile folders present in the results folder (sorted), whether or not models.conf still has them."""
    results = Path(results)
    if not results.is_dir():
        return []
    return sorted(p.name for p in results.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_or_empty(path: Path) -> dict:
    """A JSON object file, or {} when it is missing or damaged (reports and checks must not fail on it)."""
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_status(paths: RunFolder) -> dict:
    return read_or_empty(paths.status)


def set_failed(paths: RunFolder, stage: str, reason: str) -> None:
    atomic_write_json(paths.status, {"state": "failed", "stage": stage, "reason": reason, "date": utc_now()})


def clear_status(paths: RunFolder) -> None:
    paths.status.unlink(missing_ok=True)


def report_inputs(results: Path, profiles: list[str], config: Path, references: Path) -> list[Path]:
    """Every file REPORT.md is made from: models.conf, the published scores, and each profile's files
    (profiles of models.conf and any other folder in results/), for every dataset."""
    names = list(dict.fromkeys([*profiles, *profile_names(results)]))
    files = [Path(config), Path(references)]
    for name in names:
        for key in dict.fromkeys([*DATASET_KEYS, *run_keys(results, name)]):
            files += run_folder_at(results, name, key).report_reads
    return files


def inputs_fingerprint(files: list[Path], version: object) -> str:
    """Changes when any of `files` appears, disappears or changes (size or modification time)."""
    parts = [f"v{version}"]
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
