"""samples.jsonl, read in one place: `read_records` (every reader of a samples file: the evaluation, the
token-cap reuse, the reasoning summary, the long run's plan, the report), and `read_samples`, evalplus's
three formats checked against the dataset for the evaluation."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .datasets import Dataset
from .errors import SamplesError

__all__ = ["Sample", "read_records", "read_samples", "samples_digest", "sample_key"]


@dataclass(frozen=True)
class Sample:
    index: int  # position in the file: identifies the sample across resumed evaluations
    task_id: str
    solution: str  # a complete program


def read_records(path: Path, skip_damaged: bool = False) -> list[dict]:
    """Every record of a jsonl samples file, in file order (blank lines skipped). A line that is not a JSON
    object with a task_id raises SamplesError naming the file and line, or with `skip_damaged` (the report,
    which must not fail on one bad line) is left out."""
    return [record for _, record in _numbered(path, skip_damaged)]


def _numbered(path: Path, skip_damaged: bool = False):
    """(line number, record) of each record of a jsonl samples file (`read_records`)."""
    with open(path, encoding="utf-8", errors="replace" if skip_damaged else "strict") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if skip_damaged:
                    continue
                raise SamplesError(f"{path}:{number}: not JSON ({exc.msg})",
                                   "the file is damaged: regenerate it (`doit gen:<profile>`) or fix the line") from None
            if not isinstance(record, dict) or not isinstance(record.get("task_id"), str):
                if skip_damaged:
                    continue
                raise SamplesError(f"{path}:{number}: a sample needs a task_id", "use evalplus's samples format")
            yield number, record


def _from_jsonl(path: Path, dataset: Dataset) -> list[dict]:
    records = []
    for number, record in _numbered(path):
        if isinstance(record.get("solution"), str):
            solution = record["solution"]
        elif isinstance(record.get("completion"), str):
            task = dataset.problems.get(record["task_id"])
            solution = (task["prompt"] if task else "") + record["completion"]
        else:
            raise SamplesError(f"{path}:{number}: a sample needs a string 'solution' or 'completion'",
                               "use evalplus's samples format")
        records.append({"task_id": record["task_id"], "solution": solution})
    return records


def _from_directory(path: Path) -> list[dict]:
    records = []
    for task_dir in sorted(p for p in path.iterdir() if p.is_dir()):
        files = [f for f in task_dir.iterdir() if f.is_file() and re.fullmatch(r"\d+\.py", f.name)]
        for file in sorted(files, key=lambda f: int(f.stem)):
            records.append({"task_id": task_dir.name.replace("_", "/"), "solution": file.read_text(encoding="utf-8")})
    return records


def read_samples(path: Path, dataset: Dataset, regenerate_tip: str | None = None) -> list[Sample]:
    """All samples of `path` (jsonl with `solution` or `completion`, or a HumanEval_N/0.py folder).
    `regenerate_tip` says how to complete an incomplete file (it depends on where the file comes from)."""
    path = Path(path)
    if not path.exists():
        raise SamplesError(f"samples not found: {path}", "generate them first (`doit gen:<profile>`) or fix `samples =`")
    records = _from_directory(path) if path.is_dir() else _from_jsonl(path, dataset)
    unknown = sorted({r["task_id"] for r in records} - set(dataset.problems))
    if unknown:
        raise SamplesError(
            f"{path}: {len(unknown)} task(s) not in {dataset.version}: {', '.join(unknown[:5])}",
            "were these samples made for another dataset? choose it with `doit dataset=...`",
        )
    missing = [t for t in dataset.task_ids if t not in {r["task_id"] for r in records}]
    if missing:
        raise SamplesError(
            f"{path}: incomplete, {len(missing)} of {len(dataset.problems)} tasks have no sample "
            f"(first: {', '.join(missing[:5])})",
            regenerate_tip or "complete the file, or regenerate it (`doit gen:<profile>`)",
        )
    return [Sample(index=i, task_id=r["task_id"], solution=r["solution"]) for i, r in enumerate(records)]


def _identity(task_id: str, solution: str) -> bytes:
    return json.dumps([task_id, solution]).encode("utf-8")


def samples_digest(samples: list[Sample]) -> str:
    """The identity of a whole samples file (order included)."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(_identity(sample.task_id, sample.solution))
    return digest.hexdigest()


def sample_key(task_id: str, solution: str) -> str:
    """One sample's identity, for reusing its verdict: the task and the exact program."""
    return hashlib.sha256(_identity(task_id, solution)).hexdigest()[:24]
