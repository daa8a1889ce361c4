import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BENCH_SHARED", ROOT.parent / "shared"))
DATASETS = SHARED / "datasets"
HUMANEVAL = DATASETS / "HumanEvalPlus-v0.1.10.jsonl.gz"
MBPP_PRERELEASE = DATASETS / "MbppPlus-prerelease-2023-11.jsonl.gz"

sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def offline_datasets(monkeypatch):
    """Every test reads the datasets from shared/ (no download) and never touches the user's .env."""
    if not HUMANEVAL.exists():
        pytest.skip(f"datasets not found in {DATASETS} (set BENCH_SHARED)")
    monkeypatch.setenv("BENCH_DATA_DIR", str(DATASETS))
    monkeypatch.delenv("HUMANEVAL_OVERRIDE_PATH", raising=False)
    monkeypatch.delenv("MBPP_OVERRIDE_PATH", raising=False)
    monkeypatch.setenv("BENCH_SANDBOX", "local")


@pytest.fixture(scope="session")
def humaneval():
    from benchlib.datasets import load_dataset

    return load_dataset("humaneval", str(DATASETS))


@pytest.fixture
def project(tmp_path):
    """A copy of the project's top level (dodo.py, reference scores, compose file) in a temp dir."""
    for name in ("dodo.py", "reference-scores.json", "docker-compose.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "models.conf").write_text("[bench-reference]\nserver = reference\nparallel = 4\n")
    return tmp_path


def doit_env(project: Path, **extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_DATA_DIR": str(DATASETS), "BENCH_SANDBOX": "local",
           "BENCH_SERVER_LOCK": str(project / "server.lock")}
    env.pop("HUMANEVAL_OVERRIDE_PATH", None)
    env.pop("MBPP_OVERRIDE_PATH", None)
    env.update(extra)
    return env
