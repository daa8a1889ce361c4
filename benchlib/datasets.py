"""EvalPlus datasets: find them offline, download them otherwise, parse and fingerprint them.

Where a dataset is looked up, in order (the whole policy lives here):
  1. the override file (HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH, evalplus's own variables)
  2. the data folder: BENCH_DATA_DIR or `doit datadir=DIR`; if unset, ./datasets or ../shared/datasets
     next to the project when they hold an EvalPlus file (`default_data_dir`)
  3. evalplus's cache (~/.cache/evalplus, or $XDG_CACHE_HOME/evalplus)
  4. downloaded from the EvalPlus release into evalplus's cache
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import json
import os
import re
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import DatasetError
from .storage import atomic_write_bytes

__all__ = ["override_variables", "run_identity", "DatasetSpec", "DATASETS", "SELF_TEST", "SelfTestExpectation", "Dataset", "get_spec", "locate_dataset", "load_dataset", "dataset_id",
           "default_data_dir", "evalplus_cache", "subset_ids"]


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset benchlib can run: everything else (settings, results folders, the report's columns, the
    published scores it is compared with) iterates `DATASETS`, so a new variant is one entry there."""

    key: str  # the name in `doit dataset=` and in results paths (results/<profile>/<key>/)
    label: str  # HumanEval | MBPP: the base tests' name in the report (the plus tests add "+")
    name: str  # the release's name in evalplus (HumanEvalPlus | MbppPlus)
    version: str  # the release evalplus 0.3.1 downloads and the leaderboard scores
    override_env: str  # evalplus's own override variable, honoured too ("": none)
    family: str  # evalplus's --dataset (humaneval | mbpp): prompts, input format, judging rules
    abbreviation: str  # HE | MBPP: in narrow table headers
    leaderboard: str = ""  # the published base-test score this dataset's runs compare with ("" for none)
    variant: str = ""  # evalplus's reduced files: "Mini" (--mini), "NoExtreme" (--noextreme)
    tasks: int = 0  # the release's task count: a download with another count is refused (0: not checked)

    @property
    def stem(self) -> str:
        """The release file's name without its suffix: HumanEvalPlus-Mini-v0.1.10."""
        return f"{self.name}{'-' + self.variant if self.variant else ''}-{self.version}"

    @property
    def base_label(self) -> str:
        return f"{self.label} {self.variant}" if self.variant else self.label

    @property
    def plus_label(self) -> str:
        return f"{self.label}+ {self.variant}" if self.variant else f"{self.label}+"

    @property
    def leaderboard_keys(self) -> tuple[str, str]:
        """The published scores of the base and the plus tests (reference-scores.json's keys)."""
        return (self.leaderboard, self.leaderboard + "+") if self.leaderboard else ()

    @property
    def url(self) -> str:
        """Where evalplus downloads it (evalplus.data.utils.get_dataset_metadata)."""
        return self.url_at(RELEASES)

    def url_at(self, base: str) -> str:
        """The release file's URL under `base` (evalplus's GitHub, or a mirror with the same paths)."""
        variant = f"-{self.variant}" if self.variant else ""
        return (f"{base.rstrip('/')}/{self.name.lower()}_release/releases/download/"
                f"{self.version}/{self.name}{variant}.jsonl.gz")

    @property
    def file_name(self) -> str:
        return f"{self.stem}.jsonl"


RELEASES = "https://github.com/evalplus"  # evalplus downloads from here (BENCH_DATASET_MIRROR replaces it)
DOWNLOAD_ATTEMPTS = 3
DOWNLOAD_BACKOFF = 2.0  # seconds before the second attempt, doubling

DATASETS = {spec.key: spec for spec in (
    DatasetSpec("humaneval", "HumanEval", "HumanEvalPlus", "v0.1.10", "HUMANEVAL_OVERRIDE_PATH", "humaneval", "HE",
                leaderboard="humaneval", tasks=164),
    DatasetSpec("mbpp", "MBPP", "MbppPlus", "v0.2.0", "MBPP_OVERRIDE_PATH", "mbpp", "MBPP", leaderboard="mbpp",
                tasks=378),
    # evalplus's reduced HumanEval+ files (--mini, --noextreme): the same problems, fewer plus inputs; never
    # compared with the published full-set scores (no leaderboard key)
    DatasetSpec("humaneval-mini", "HumanEval", "HumanEvalPlus", "v0.1.10", "", "humaneval", "HE Mini", variant="Mini",
                tasks=164),
    DatasetSpec("humaneval-noextreme", "HumanEval", "HumanEvalPlus", "v0.1.10", "", "humaneval", "HE NoExtreme",
                variant="NoExtreme", tasks=164),
)}


@dataclass(frozen=True)
class SelfTestExpectation:
    """What the reference profile (each canonical solution, through the whole pipeline) scores on one
    dataset file: every problem passes except these, each for a reason of the file's own, not benchlib's."""

    file: str
    fails: dict[str, tuple[tuple[str, ...], str]]  # task -> (the phases it fails, why)


SELF_TEST = {  # md5 of the uncompressed file -> its expectation (measured; tests/test_pipeline.py pins it)
    "fe585eb4df8c88d844eeb463ea4d0302": SelfTestExpectation("HumanEvalPlus-v0.1.10", {}),
    "401e75ad986361dccc7afecb4121e295": SelfTestExpectation("HumanEvalPlus-Mini-v0.1.10", {}),
    "413980104ee0339c147ac09653cee3db": SelfTestExpectation("HumanEvalPlus-NoExtreme-v0.1.10", {}),
    "4378c708d1d35b4189d9b70d99861045": SelfTestExpectation("MbppPlus-prerelease-2023-11", {
        "Mbpp/71": (("base", "plus"), "the file's entry point does not name its canonical solution's function"),
        "Mbpp/630": (("base", "plus"), "evalplus's sanitizer drops the canonical solution's generator helper "
                                      "`adjac` (it has no `return`), so loading raises NameError; evalplus fails it too"),
        "Mbpp/255": (("plus",), "a canonical output of over a gigabyte; evalplus fails this plus test too"),
    }),
}


def get_spec(key: str) -> DatasetSpec:
    try:
        return DATASETS[key.strip().lower()]
    except KeyError:
        close = difflib.get_close_matches(key.strip().lower(), DATASETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DatasetError(
            f"unknown dataset {key!r}{hint}", f"choose one of: {', '.join(DATASETS)} (e.g. `doit dataset=mbpp`)"
        ) from None


def override_variables() -> dict[str, list[str]]:
    """evalplus's override variables -> the datasets each one overrides."""
    found: dict[str, list[str]] = {}
    for spec in DATASETS.values():
        if spec.override_env:
            found.setdefault(spec.override_env, []).append(spec.key)
    return found


def run_identity(file_id: str, subset: int = 0) -> str:
    """The identity of the problems a run uses (fingerprints): the file's, and the subset's size."""
    return f"{file_id}-subset{subset}" if subset else file_id


def evalplus_cache(xdg_cache_home: str | None = None) -> Path:
    """evalplus's own cache folder (where it downloads datasets)."""
    return Path(xdg_cache_home or os.path.expanduser("~/.cache")) / "evalplus"


def default_data_dir(project: Path) -> str | None:
    """./datasets or ../shared/datasets next to the project, when they hold an EvalPlus file."""
    for folder in (Path(project) / "datasets", Path(project).parent / "shared" / "datasets"):
        if any(folder.glob("*Plus-v*.jsonl*")):
            return str(folder)
    return None


def locate_dataset(spec: DatasetSpec, data_dir: str | None = None, override: str | None = None,
                   cache: Path | None = None) -> Path | None:
    """The local file for `spec` (steps 1-3 of the module's order); None if there is none."""
    if override:
        if not Path(override).is_file():
            raise DatasetError(f"{spec.override_env or spec.key}={override}: file not found", "fix or unset the variable")
        return Path(override)
    folders = [Path(data_dir)] if data_dir else []
    folders.append(cache or evalplus_cache())
    for folder in folders:
        for suffix in (".jsonl", ".jsonl.gz"):
            candidate = folder / f"{spec.stem}{suffix}"
            if candidate.is_file():
                return candidate
    if data_dir and not Path(data_dir).is_dir():
        raise DatasetError(f"dataset folder {data_dir} not found", "fix BENCH_DATA_DIR / datadir=")
    return None


def dataset_id(spec: DatasetSpec, data_dir: str | None = None, override: str | None = None,
               cache: Path | None = None) -> str:
    """A cheap identity of the dataset a run will use (no reading, no download): for fingerprints."""
    path = locate_dataset(spec, data_dir, override, cache)
    if path is None:
        return spec.stem
    return re.sub(r"\.jsonl(\.gz)?$", "", path.name)


def _download(spec: DatasetSpec, cache: Path, mirror: str | None = None) -> Path:
    """The release file, downloaded into evalplus's cache once it is whole: a partial or damaged download
    (short of its Content-Length, not gzip, not evalplus records, another task count) is refused and
    retried, DOWNLOAD_ATTEMPTS times in all; nothing is written until one passes."""
    import time

    import requests

    url = spec.url_at(mirror or RELEASES)
    problem = ""
    for attempt in range(DOWNLOAD_ATTEMPTS):
        if attempt:
            time.sleep(DOWNLOAD_BACKOFF * 2 ** (attempt - 1))
        try:
            response = requests.get(url, timeout=120)
            response.raise_for_status()
            expected = response.headers.get("Content-Length")
            if expected is not None and int(expected) != len(response.content):
                raise DatasetError(f"partial download: {len(response.content)} of {expected} bytes")
            try:
                raw = gzip.decompress(response.content)
            except (OSError, EOFError, zlib.error) as exc:
                raise DatasetError(f"not a valid gzip file ({exc})") from None
            problems = _parse(raw, url)
            if spec.tasks and len(problems) != spec.tasks:
                raise DatasetError(f"{len(problems)} tasks, not the release's {spec.tasks}")
        except (requests.RequestException, DatasetError) as exc:
            problem = exc.message if isinstance(exc, DatasetError) else str(exc)
            continue
        target = cache / spec.file_name
        atomic_write_bytes(target, [raw])
        return target
    raise DatasetError(
        f"cannot download {spec.stem} from {url} ({DOWNLOAD_ATTEMPTS} attempts; last: {problem})",
        f"offline? put {spec.stem}.jsonl.gz in a folder and set BENCH_DATA_DIR (or datadir=) to it"
        + (f", or set {spec.override_env} to the file" if spec.override_env else ""),
    )


def _parse(raw: bytes, where: object) -> dict[str, dict]:
    """The tasks of an uncompressed EvalPlus jsonl file, in file order; DatasetError naming `where` and
    the line if it is not one."""
    problems: dict[str, dict] = {}
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            task = json.loads(line)
            problems[task["task_id"]] = task
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetError(f"{where}:{number}: not an evalplus task record ({exc})", "download the file again") from None
    required = ("prompt", "entry_point", "canonical_solution", "base_input", "plus_input", "atol")
    for task_id, task in problems.items():
        missing = [key for key in required if key not in task]
        if missing:
            raise DatasetError(f"{where}: task {task_id} lacks {', '.join(missing)}", "is this an EvalPlus file?")
    if not problems:
        raise DatasetError(f"{where}: no tasks", "download the file again")
    return problems


@dataclass
class Dataset:
    """A parsed dataset: problems in file order, with the file's identity. A subset (`subset(k)`) keeps
    the whole file as `parent` (the ground truth is always computed for the whole file)."""

    spec: DatasetSpec
    path: Path
    problems: dict[str, dict]
    md5: str  # of the uncompressed jsonl, as evalplus hashes its cache file
    parent: "Dataset | None" = None

    @property
    def whole(self) -> "Dataset":
        return self.parent or self

    def subset(self, size: int) -> "Dataset":
        """The fixed smoke-test selection of `size` problems (see `subset_ids`)."""
        chosen = subset_ids(self.whole.task_ids, size)
        return Dataset(spec=self.spec, path=self.path, problems={t: self.whole.problems[t] for t in chosen},
                       md5=self.md5, parent=self.whole)

    @property
    def version(self) -> str:
        return re.sub(r"\.jsonl(\.gz)?$", "", self.path.name)

    @property
    def identity(self) -> str:
        """What fingerprints call this dataset: the file (`version`), and the subset's size (`run_identity`)."""
        return run_identity(self.version, len(self.problems) if self.parent is not None else 0)

    @property
    def task_ids(self) -> list[str]:
        return list(self.problems)

    def solution_of(self, task_id: str) -> str:
        """The canonical solution as a complete program (as evalplus computes its ground truth)."""
        problem = self.problems[task_id]
        return problem["prompt"] + problem["canonical_solution"]

    @cached_property
    def _deserialize(self):
        if self.spec.family != "mbpp":
            return lambda task_id, inputs: inputs
        # MBPP+ stores tuples, sets and complex numbers as JSON lists: evalplus knows which
        from evalplus.data.mbpp import mbpp_deserialize_inputs

        return mbpp_deserialize_inputs

    def inputs(self, task_id: str, phase: str) -> list:
        """Test inputs of a task; phase is 'base' or 'plus'."""
        return self._deserialize(task_id, self.problems[task_id][f"{phase}_input"])

    def input_count(self, task_id: str, phase: str) -> int:
        """len(inputs(task_id, phase)), without rebuilding them (MBPP+'s take a second for the whole file)."""
        return len(self.problems[task_id][f"{phase}_input"])

    def describe(self) -> dict:
        described = {"name": self.spec.key, "file": self.path.name, "version": self.version, "md5": self.md5,
                     "tasks": len(self.problems)}
        if self.parent is not None:
            described["subset_of"] = len(self.parent.problems)
        return described


def subset_ids(task_ids: list[str], size: int) -> list[str]:
    """`size` problems spread evenly over the file, always the same ones: positions floor(i * n / size) for
    i = 0 .. size-1 (HumanEval+ with 20: HumanEval/0, /8, /16, /24, /32, /41, ...)."""
    n = len(task_ids)
    if size >= n:
        return list(task_ids)
    return [task_ids[(i * n) // size] for i in range(size)]


def local_dataset(key: str, md5: str, data_dir: str | None = None, override: str | None = None,
                  cache: Path | None = None) -> "Dataset | None":
    """Dataset `key` if a local file holds exactly the content `md5` (the file a run was evaluated on);
    None otherwise. Never downloads (the report uses it)."""
    try:
        path = locate_dataset(get_spec(key), data_dir, override, cache or evalplus_cache())
        dataset = load_dataset(key, data_dir, override, cache) if path is not None else None
    except (DatasetError, OSError):
        return None
    return dataset if dataset is not None and dataset.md5 == md5 else None


def load_dataset(key: str, data_dir: str | None = None, override: str | None = None,
                 cache: Path | None = None, mirror: str | None = None) -> Dataset:
    """Load a dataset by key, downloading it into evalplus's cache (from `mirror`, else evalplus's GitHub
    releases) if it is nowhere local."""
    spec = get_spec(key)
    cache = cache or evalplus_cache()
    path = locate_dataset(spec, data_dir, override, cache) or _download(spec, cache, mirror)
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path}: not a valid gzip file ({exc})", "download the file again") from None
    return Dataset(spec=spec, path=path, problems=_parse(raw, path), md5=hashlib.md5(raw).hexdigest())
