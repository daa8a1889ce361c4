"""EvalPlus datasets: find them offline, download them otherwise, parse and fingerprint them."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import DatasetError
from .storage import atomic_write_text

__all__ = ["DatasetSpec", "DATASETS", "Dataset", "get_spec", "locate_dataset", "load_dataset", "dataset_id"]


@dataclass(frozen=True)
class DatasetSpec:
    key: str  # humaneval | mbpp: the name in results paths and evalplus's --dataset
    label: str  # HumanEval | MBPP: the base-test column of the report
    name: str  # the release file's name in evalplus
    version: str  # the release evalplus 0.3.1 downloads and the leaderboard scores
    override_env: str  # evalplus's own override variable, honoured too

    @property
    def url(self) -> str:
        return (
            f"https://github.com/evalplus/{self.name.lower()}_release/releases/download/"
            f"{self.version}/{self.name}.jsonl.gz"
        )

    @property
    def file_name(self) -> str:
        return f"{self.name}-{self.version}.jsonl"


DATASETS = {
    "humaneval": DatasetSpec("humaneval", "HumanEval", "HumanEvalPlus", "v0.1.10", "HUMANEVAL_OVERRIDE_PATH"),
    "mbpp": DatasetSpec("mbpp", "MBPP", "MbppPlus", "v0.2.0", "MBPP_OVERRIDE_PATH"),
}


def get_spec(key: str) -> DatasetSpec:
    try:
        return DATASETS[key.strip().lower()]
    except KeyError:
        raise DatasetError(
            f"unknown dataset {key!r}", f"choose one of: {', '.join(DATASETS)} (e.g. `doit dataset=mbpp`)"
        ) from None


def _evalplus_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "evalplus"


def locate_dataset(spec: DatasetSpec, data_dir: str | None = None) -> Path | None:
    """The local file for `spec`: override variable, then `data_dir`, then evalplus's cache; None if absent."""
    override = os.environ.get(spec.override_env)
    if override:
        if not Path(override).is_file():
            raise DatasetError(f"{spec.override_env}={override}: file not found", "fix or unset the variable")
        return Path(override)
    folders = [Path(data_dir)] if data_dir else []
    folders.append(_evalplus_cache())
    for folder in folders:
        for suffix in (".jsonl", ".jsonl.gz"):
            candidate = folder / f"{spec.name}-{spec.version}{suffix}"
            if candidate.is_file():
                return candidate
    if data_dir and not Path(data_dir).is_dir():
        raise DatasetError(f"dataset folder {data_dir} not found", "fix BENCH_DATA_DIR / datadir=")
    return None


def dataset_id(spec: DatasetSpec, data_dir: str | None = None) -> str:
    """A cheap identity of the dataset a run will use (no reading, no download): for fingerprints."""
    path = locate_dataset(spec, data_dir)
    if path is None:
        return f"{spec.name}-{spec.version}"
    return re.sub(r"\.jsonl(\.gz)?$", "", path.name)


def _download(spec: DatasetSpec) -> Path:
    import requests

    target = _evalplus_cache() / spec.file_name
    try:
        response = requests.get(spec.url, timeout=120)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise DatasetError(
            f"cannot download {spec.name} {spec.version} from {spec.url}: {exc}",
            f"offline? put {spec.name}-{spec.version}.jsonl.gz in a folder and set BENCH_DATA_DIR (or datadir=) "
            f"to it, or set {spec.override_env} to the file",
        ) from None
    atomic_write_text(target, gzip.decompress(response.content).decode("utf-8"))
    return target


@dataclass
class Dataset:
    """A parsed dataset: problems in file order, with the file's identity."""

    spec: DatasetSpec
    path: Path
    problems: dict[str, dict]
    md5: str  # of the uncompressed jsonl, as evalplus hashes its cache file

    @property
    def version(self) -> str:
        return re.sub(r"\.jsonl(\.gz)?$", "", self.path.name)

    @property
    def task_ids(self) -> list[str]:
        return list(self.problems)

    def solution_of(self, task_id: str) -> str:
        """The canonical solution as a complete program (as evalplus computes its ground truth)."""
        problem = self.problems[task_id]
        return problem["prompt"] + problem["canonical_solution"]

    @cached_property
    def _deserialize(self):
        if self.spec.key != "mbpp":
            return lambda task_id, inputs: inputs
        # MBPP+ stores tuples, sets and complex numbers as JSON lists: evalplus knows which
        from evalplus.data.mbpp import mbpp_deserialize_inputs

        return mbpp_deserialize_inputs

    def inputs(self, task_id: str, phase: str) -> list:
        """Test inputs of a task; phase is 'base' or 'plus'."""
        return self._deserialize(task_id, self.problems[task_id][f"{phase}_input"])

    def describe(self) -> dict:
        return {"name": self.spec.key, "file": self.path.name, "version": self.version, "md5": self.md5,
                "tasks": len(self.problems)}


def load_dataset(key: str, data_dir: str | None = None) -> Dataset:
    """Load a dataset by key, downloading it into evalplus's cache if it is nowhere local."""
    spec = get_spec(key)
    path = locate_dataset(spec, data_dir) or _download(spec)
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DatasetError(f"{path}: not a valid gzip file ({exc})", "download the file again") from None
    problems: dict[str, dict] = {}
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            task = json.loads(line)
            problems[task["task_id"]] = task
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}:{number}: not an evalplus task record ({exc})", "download the file again") from None
    required = ("prompt", "entry_point", "canonical_solution", "base_input", "plus_input", "atol")
    for task_id, task in problems.items():
        missing = [key for key in required if key not in task]
        if missing:
            raise DatasetError(f"{path}: task {task_id} lacks {', '.join(missing)}", "is this an EvalPlus file?")
    if not problems:
        raise DatasetError(f"{path}: no tasks", "download the file again")
    return Dataset(spec=spec, path=path, problems=problems, md5=hashlib.md5(raw).hexdigest())
