"""Evaluation speed: evalplus's own evaluator vs benchlib's, on the same samples, in the same run, on
HumanEval+ and MBPP+, beside the floor.

    python bench/bench_eval.py [--dataset humaneval|mbpp|humaneval-mini|humaneval-noextreme|both]
                               [--data-dir ../shared/datasets] [--workers 2]

benchlib's slowest checks (wall seconds per task, both phases) are printed after each of its runs, so a
regression shows where it happens. Samples: the canonical solutions, and a mixed set (some wrong, crashing, slow). Each evaluator is run
cold (no ground truth cached) and warm, each evalplus run right before benchlib's; `--repeat N` runs every
pair N times and shows the medians (the machine's speed drifts by tens of percent over minutes). evalplus runs as its CLI would (`evalplus.evaluate`), in a
fresh process, ended by os._exit once it has written its results (its CLI lingers up to 20 s more in a
watchdog thread; that wait is not counted). The floor: every canonical solution on every input in one
plain process (no isolation, limits, encoding or comparison), in CPU seconds, and divided by the workers.
MBPP+ uses the pre-release file in ../shared (MBPP_FILE), the one MBPP+ file available offline here.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import MBPP_PRERELEASE, ROOT  # noqa: E402
from builders import write_samples  # noqa: E402
from evalplus_cli import run_evalplus, statuses  # noqa: E402
from tabulate import tabulate  # noqa: E402

from benchlib.datasets import DATASETS, load_dataset  # noqa: E402

MIXED = {  # task -> body replacing the canonical one
    "HumanEval/0": "    return True\n",
    "HumanEval/2": "    raise ValueError('boom')\n",
    "HumanEval/3": "    while True:\n        pass\n",
    "HumanEval/5": "    return numbers\n",
    "HumanEval/10": "  syntax error\n",
    "HumanEval/31": "    return n > 1 and all(n % k for k in range(2, n))\n",
    "HumanEval/55": "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
}


SLOWEST = 5  # tasks listed per run, by the wall seconds of their checks

KNOWN_DIFFERENCES = {"HumanEval/32": "evalplus 0.3.1 fails every find_zero, the canonical one too (README)"}


def mbpp_mixed(dataset) -> dict:
    """MBPP+ tasks -> whole solutions replacing the canonical ones: wrong, crashing, looping, exiting,
    unparsable, and a correct one written differently."""
    kinds = ["    return None\n", "    raise ValueError('boom')\n", "    while True:\n        pass\n",
             "    import sys\n    sys.exit(0)\n", "  syntax error here\n"]
    mixed = {}
    for n, task in enumerate(dataset.task_ids[::40]):
        entry = dataset.problems[task]["entry_point"]
        mixed[task] = f"\ndef {entry}(*args):\n" + kinds[n % len(kinds)]
    return mixed


def run_ours(samples: Path, data_dir: str, cache: Path, workers: int, results: Path, dataset: str = "humaneval",
             file: str | None = None) -> tuple[float, list[tuple[str, float]]]:
    """benchlib's evaluation in a fresh process: its wall seconds, and the slowest tasks' check seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = (
        "import json, logging, time\nfrom pathlib import Path\nfrom benchlib.datasets import load_dataset\n"
        "from benchlib.evaluation import scoring\nfrom benchlib.results import run_folder\n"
        "from benchlib.evaluation.sandbox import LocalSandbox\n"
        "seconds = {}\ncheck = scoring.check_solution\n"
        "def timed(sandbox, dataset, task_id, code, truth):\n"
        "    started = time.monotonic()\n"
        "    try:\n        return check(sandbox, dataset, task_id, code, truth)\n"
        "    finally:\n        seconds[task_id] = seconds.get(task_id, 0) + time.monotonic() - started\n"
        "scoring.check_solution = timed\n"
        f"ds = load_dataset({dataset!r}, {data_dir!r}, override={file!r})\n"
        f"job = scoring.EvaluationJob(samples=Path({str(samples)!r}), dataset=ds, "
        f"paths=run_folder(Path({str(results)!r}), 'bench', {dataset!r}), sandbox=LocalSandbox, workers={workers}, "
        f"cache=Path({str(cache)!r}))\n"
        "scoring.Evaluation(job, logging.getLogger('bench')).run()\n"
        "print(json.dumps(sorted(seconds.items(), key=lambda item: -item[1])[:SLOWEST]))\n"
    ).replace("SLOWEST", str(SLOWEST))
    shutil.rmtree(results, ignore_errors=True)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    return time.monotonic() - started, [tuple(item) for item in json.loads(done.stdout.splitlines()[-1])]


FLOOR = """
import sys, time
from benchlib.datasets import load_dataset
ds = load_dataset(sys.argv[1], sys.argv[2], override=sys.argv[3] or None)
cpu = 0.0
for task in ds.task_ids:
    namespace = {}
    exec(ds.solution_of(task), namespace)
    fn = namespace[ds.problems[task]["entry_point"]]
    for phase in ("base", "plus"):
        for args in ds.inputs(task, phase):
            start = time.process_time()
            try:
                fn(*args)
            except Exception:
                pass
            cpu += time.process_time() - start
print(cpu)
"""


def floor(dataset: str, data_dir: str, file: str | None) -> float:
    """CPU seconds of every canonical solution on every input, in one plain process."""
    done = subprocess.run([sys.executable, "-c", FLOOR, dataset, data_dir, file or ""], check=True,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="both", choices=[*DATASETS, "both"])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--mbpp-file", default=str(MBPP_PRERELEASE))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs per row; the table shows medians")
    args = parser.parse_args()
    rows, floors = [], []
    for key in (["humaneval", "mbpp"] if args.dataset == "both" else [args.dataset]):
        file = args.mbpp_file if key == "mbpp" else None
        dataset = load_dataset(key, args.data_dir, override=file)
        cpu = floor(key, args.data_dir, file)
        floors.append([dataset.version, f"{cpu:.1f}", f"{cpu / args.workers:.1f}"])
        print(f"{dataset.version} floor: {cpu:.1f} CPU s", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            family = dataset.spec.family
            for label, overrides in (("canonical", {}), ("mixed", MIXED if family == "humaneval" else mbpp_mixed(dataset))):
                samples = tmp / f"{label}.jsonl"
                write_samples(dataset, samples, overrides)
                times: dict[tuple[str, str], list[float]] = {}
                for repeat in range(args.repeat):  # each pair back to back: the machine's drift hits both
                    ev_cache, our_cache = tmp / f"ev-cache-{label}-{repeat}", tmp / f"our-cache-{label}-{repeat}"
                    for state in ("cold", "warm"):
                        seconds, ev_results = run_evalplus(samples, ev_cache, args.workers, family, dataset.path)
                        times.setdefault(("evalplus", state), []).append(seconds)
                        seconds, slowest = run_ours(samples, args.data_dir, our_cache, args.workers, tmp / "r", key, file)
                        times.setdefault(("benchlib", state), []).append(seconds)
                        print(f"{label}, {state}: slowest checks " + ", ".join(f"{t} {s:.1f} s" for t, s in slowest),
                              flush=True)
                    shutil.rmtree(ev_cache, ignore_errors=True)
                    shutil.rmtree(our_cache, ignore_errors=True)
                theirs, ours = statuses(ev_results), statuses(tmp / "r" / "bench" / key / "eval_results.json")
                differ = sorted(t for t in theirs if theirs[t] != ours.get(t) and t not in KNOWN_DIFFERENCES)
                known = sorted(t for t in KNOWN_DIFFERENCES if t in theirs and theirs[t] != ours.get(t))
                print(f"{label}: statuses differing from evalplus's: {len(differ)} "
                      + " ".join(f"{t} {theirs[t]} vs {ours.get(t)}" for t in differ)
                      + "".join(f" (and {t}: {KNOWN_DIFFERENCES[t]})" for t in known), flush=True)
                for state in ("cold", "warm"):
                    theirs_s, ours_s = (statistics.median(times[tool, state]) for tool in ("evalplus", "benchlib"))
                    rows.append([dataset.version, label, state, f"{theirs_s:.1f}", f"{ours_s:.1f}",
                                 f"{theirs_s / ours_s:.2f}x", f"{ours_s / (cpu / args.workers):.2f}x"])
                    print(" | ".join(rows[-1]), "  runs:", " ".join(f"{a:.1f}/{b:.1f}" for a, b in
                                                                   zip(times["evalplus", state], times["benchlib", state])),
                          flush=True)
    print(f"\nevaluation, {args.workers} workers, wall seconds per whole command"
          + (f", median of {args.repeat} runs each" if args.repeat > 1 else ""))
    print(tabulate(rows, headers=["dataset", "samples", "ground truth", "evalplus 0.3.1", "benchlib", "speed-up",
                                  "benchlib / floor"], tablefmt="github"))
    print("\nfloor: every canonical solution on every input in one plain process")
    print(tabulate(floors, headers=["dataset", "CPU s", f"wall s on {args.workers} workers"], tablefmt="github"))


if __name__ == "__main__":
    main()
