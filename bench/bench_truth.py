"""Ground truth (every canonical solution on every input, the expected outputs and their times): evalplus's
`get_groundtruth` vs benchlib's, on the same dataset file, in the same run, each from an empty cache.

    python bench/bench_truth.py [--dataset mbpp] [--file ../shared/datasets/MbppPlus-prerelease-2023-11.jsonl.gz]

evalplus computes it in its own process, one task after the other (what its CLI does on a first run);
benchlib with its evaluation workers (default: all cores), as `doit eval:` does on a first run. The
pickled cache evalplus writes is counted; so is benchlib's memory-mapped file.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import DATASETS, ROOT  # noqa: E402
from tabulate import tabulate  # noqa: E402


def evalplus_truth(dataset: str, file: Path, cache: Path) -> float:
    override = "HUMANEVAL_OVERRIDE_PATH" if dataset == "humaneval" else "MBPP_OVERRIDE_PATH"
    script = (
        "from evalplus.data import get_human_eval_plus, get_human_eval_plus_hash, get_mbpp_plus, get_mbpp_plus_hash\n"
        "from evalplus.evaluate import get_groundtruth\n"
        "from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS\n"
        f"if {dataset!r} == 'humaneval':\n"
        "    problems, digest, not_none = get_human_eval_plus(), get_human_eval_plus_hash(), []\n"
        "else:\n"
        "    problems, digest, not_none = get_mbpp_plus(), get_mbpp_plus_hash(), MBPP_OUTPUT_NOT_NONE_TASKS\n"
        "get_groundtruth(problems, digest, not_none)\n"
        "import os; os._exit(0)\n"
    )
    env = {**os.environ, override: str(file), "XDG_CACHE_HOME": str(cache)}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    return time.monotonic() - started


def benchlib_truth(dataset: str, file: Path, cache: Path, workers: int) -> float:
    script = (
        "import logging, sys\nfrom pathlib import Path\nfrom benchlib.datasets import load_dataset\n"
        "from benchlib.evaluation.truth import load_ground_truth\n"
        f"ds = load_dataset({dataset!r}, override={str(file)!r})\n"
        f"load_ground_truth(ds, Path({str(cache)!r}), {workers}, logging.getLogger('bench'))\n"
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
                   capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="mbpp", choices=["humaneval", "mbpp"])
    parser.add_argument("--file", default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    file = Path(args.file or DATASETS / ("MbppPlus-prerelease-2023-11.jsonl.gz" if args.dataset == "mbpp"
                                         else "HumanEvalPlus-v0.1.10.jsonl.gz"))
    with tempfile.TemporaryDirectory() as tmp:
        theirs = evalplus_truth(args.dataset, file, Path(tmp) / "evalplus")
        ours = benchlib_truth(args.dataset, file, Path(tmp) / "benchlib", args.workers)
    print(f"ground truth of {file.name}, {os.cpu_count()} cores")
    print(tabulate([["evalplus 0.3.1 get_groundtruth", f"{theirs:.1f}", "1.00x"],
                    [f"benchlib load_ground_truth ({args.workers} workers)", f"{ours:.1f}", f"{theirs / ours:.2f}x"]],
                   headers=["", "wall s", "speed-up"], tablefmt="github"))


if __name__ == "__main__":
    main()
