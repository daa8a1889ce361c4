"""Score stability: the same samples evaluated repeatedly, idle and with every core busy, by evalplus's
evaluator and by benchlib's; counts the tasks whose status changes between runs.

    python bench/bench_stability.py [--runs 10] [--load 2]

Samples: canonical solutions plus slow-but-correct and wrong ones (bench_eval.MIXED), so time limits
matter. "Flips" = tasks whose (base, plus) status is not the same in every run of that condition.
"""

import argparse
import multiprocessing
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tabulate import tabulate  # noqa: E402

from bench_eval import MIXED, run_ours  # noqa: E402
from support import ROOT, burn  # noqa: E402
from builders import write_samples  # noqa: E402
from evalplus_cli import run_evalplus, statuses  # noqa: E402

from benchlib.datasets import load_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2, help="busy processes beside the evaluator")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    dataset = load_dataset("humaneval", args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        samples = tmp / "mixed.jsonl"
        write_samples(dataset, samples, MIXED)
        ev_cache, our_cache = tmp / "ev-cache", tmp / "our-cache"
        run_evalplus(samples, ev_cache, args.workers, dataset_file=dataset.path)  # ground truth computed on an idle machine
        run_ours(samples, args.data_dir, our_cache, args.workers, tmp / "r")
        for condition in ("idle", f"{args.load} busy processes"):
            stop = multiprocessing.Event()
            burners = [multiprocessing.Process(target=burn, args=(stop,)) for _ in range(args.load if condition != "idle" else 0)]
            for b in burners:
                b.start()
            try:
                for tool in ("evalplus", "benchlib"):
                    seen, times, passes = defaultdict(set), [], []
                    for _ in range(args.runs):
                        if tool == "evalplus":
                            times.append(run_evalplus(samples, ev_cache, args.workers, dataset_file=dataset.path)[0])
                            result = statuses(samples.with_name("mixed_eval_results.json"))
                        else:
                            times.append(run_ours(samples, args.data_dir, our_cache, args.workers, tmp / "r"))
                            result = statuses(tmp / "r" / "bench" / "humaneval" / "eval_results.json")
                        for task, status in result.items():
                            seen[task].add(status)
                        passes.append(sum(s == ("pass", "pass") for s in result.values()))
                    flips = sorted(t for t, s in seen.items() if len(s) > 1)
                    rows.append([tool, condition, args.runs, len(flips), ", ".join(flips[:4]) or "-",
                                 f"{min(passes)}-{max(passes)}", f"{sorted(times)[len(times) // 2]:.1f}"])
            finally:
                stop.set()
                for b in burners:
                    b.join()
    print(f"HumanEval+ mixed samples ({len(MIXED)} replaced), {args.workers} evaluation workers")
    print(tabulate(rows, headers=["evaluator", "machine", "runs", "tasks that flipped", "which", "plus passes",
                                  "median s"], tablefmt="github"))


if __name__ == "__main__":
    main()
