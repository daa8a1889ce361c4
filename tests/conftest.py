"""Two suites from one command. `pytest` runs the quick suite (every module, no end-to-end run; README
gives its count and time); `pytest --full` adds the tests marked `e2e` (real servers and doit runs, a second Docker
engine, the hostile suite in every sandbox, evalplus side by side), which CI runs. A test that needs what
this machine lacks (the datasets, llama-server, a Docker engine) skips saying what it needs, and the
summary counts them, so missing end-to-end coverage is never silent."""

import pytest

from support import DATASETS, HUMANEVAL, NEEDS_HUMANEVAL, NEEDS_LLAMA, llama_server_binary
from projects import make_project


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     help="also run the end-to-end tests (marked e2e); CI runs the full suite")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("llama"):
            item.add_marker(pytest.mark.e2e)  # a real llama-server is always an end-to-end run
    if config.getoption("--full") or config.option.markexpr:  # an explicit -m decides for itself
        return
    quick = [item for item in items if not item.get_closest_marker("e2e")]
    left_out = [item for item in items if item.get_closest_marker("e2e")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = quick
    config.stash[_LEFT_OUT] = len(left_out)


_LEFT_OUT = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    left_out = config.stash.get(_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(f"quick suite: {left_out} end-to-end tests not run; `pytest --full` runs "
                                    "everything (CI does)")
    needs: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        needs[reason] = needs.get(reason, 0) + 1
    for reason, count in sorted(needs.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"NOT RUN: {count} test{'s' if count != 1 else ''} skipped: {reason}",
                                    yellow=True, bold=True)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test downloads a dataset or touches the user's environment settings."""
    if HUMANEVAL.exists():
        monkeypatch.setenv("BENCH_DATA_DIR", str(DATASETS))
    else:
        monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.delenv("HUMANEVAL_OVERRIDE_PATH", raising=False)
    monkeypatch.delenv("MBPP_OVERRIDE_PATH", raising=False)
    monkeypatch.setenv("BENCH_SANDBOX", "local")


@pytest.fixture(scope="session")
def datasets():
    """The folder of the offline EvalPlus files (tests that need them ask for this fixture)."""
    if not HUMANEVAL.exists():
        pytest.skip(NEEDS_HUMANEVAL)
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
        pytest.skip(NEEDS_LLAMA)
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
