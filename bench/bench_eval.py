"""Evaluation speed: evalplus's own evaluator vs benchlib's, on the same samples, in the same run.

    python bench/bench_eval.py [--data-dir ../shared/datasets] [--workers 2]

Samples: the canonical solutions, and a mixed set (some wrong, crashing, slow). Each evaluator is run
cold (no ground truth cached) and warm. evalplus runs as its CLI would (`evalplus.evaluate`), in a
fresh process; its wall time includes the watchdog thread that keeps the process alive up to 20 s.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import ROOT, run_evalplus, write_samples  # noqa: E402
from tabulate import tabulate  # noqa: E402

from benchlib.datasets import load_dataset  # noqa: E402

MIXED = {  # task -> body replacing the canonical one
    "HumanEval/0": "    return True\n",
    "HumanEval/2": "    raise ValueError('boom')\n",
    "HumanEval/3": "    while True:\n        pass\n",
    "HumanEval/5": "    return numbers\n",
    "HumanEval/10": "  syntax error\n",
    "HumanEval/31": "    return n > 1 and all(n % k for k in range(2, n))\n",
    "HumanEval/55": "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
}


def run_ours(samples: Path, data_dir: str, cache: Path, workers: int, results: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = (
        "import logging, sys\nfrom pathlib import Path\nfrom benchlib.datasets import load_dataset\n"
        "from benchlib.evaluation import evaluate_samples\nfrom benchlib.results import profile_paths\n"
        "from benchlib.sandbox import LocalSandbox\n"
        f"ds = load_dataset('humaneval', {data_dir!r})\n"
        f"paths = profile_paths(Path({str(results)!r}), 'bench', 'humaneval')\n"
        f"r = evaluate_samples(Path({str(samples)!r}), ds, paths, LocalSandbox, workers={workers}, "
        f"cache=Path({str(cache)!r}), log=logging.getLogger('bench'))\n"
        "print(r['pass_at_1'])\n"
    )
    shutil.rmtree(results, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    dataset = load_dataset("humaneval", args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, overrides in (("canonical", {}), ("mixed", MIXED)):
            samples = tmp / f"{label}.jsonl"
            write_samples(dataset, samples, overrides)
            ev_cache, our_cache = tmp / f"ev-cache-{label}", tmp / f"our-cache-{label}"
            ev_cold = run_evalplus(samples, ev_cache, args.workers, dataset_file=dataset.path)[0]
            ev_warm = run_evalplus(samples, ev_cache, args.workers, dataset_file=dataset.path)[0]
            our_cold = run_ours(samples, args.data_dir, our_cache, args.workers, tmp / "r")
            our_warm = run_ours(samples, args.data_dir, our_cache, args.workers, tmp / "r")
            rows.append([label, "cold", f"{ev_cold:.1f}", f"{our_cold:.1f}", f"{ev_cold / our_cold:.2f}x"])
            rows.append([label, "warm", f"{ev_warm:.1f}", f"{our_warm:.1f}", f"{ev_warm / our_warm:.2f}x"])
    print(f"HumanEval+ evaluation, {args.workers} workers, wall seconds per whole command")
    print(tabulate(rows, headers=["samples", "ground truth", "evalplus 0.3.1", "benchlib", "speed-up"],
                   tablefmt="github"))


if __name__ == "__main__":
    main()
