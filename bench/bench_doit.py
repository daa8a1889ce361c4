"""Whole runs through doit: six simulated profiles sequential (`doit`) vs pipelined (`doit -n 2`), then
the no-op `doit` and `doit report` with 6 and 20 profiles.

    python bench/bench_doit.py [--delay 0.5]

The profiles use the built-in reference server with a delay per answer (a stand-in for a GPU that
takes time), so generation waits while evaluation computes: the overlap `-n 2` buys is what shows.
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

from support import ROOT, make_project as copy_project  # noqa: E402
from tabulate import tabulate  # noqa: E402


def make_project(folder: Path, profiles: int) -> Path:
    return copy_project(folder, "".join(f"[bench-sim-{i:02d}]\nserver = reference\nparallel = 4\nmodel_name = bench-sim\n\n"
                                        for i in range(profiles)))


def doit(project: Path, env: dict, *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "doit", *args], cwd=project, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"doit {' '.join(args)} failed in {project}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per simulated answer")
    parser.add_argument("--skip-pipelining", action="store_true", help="only the no-op, list and report timings")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_DATA_DIR": args.data_dir, "BENCH_SANDBOX": "local",
               "BENCH_REFERENCE_DELAY": str(args.delay), "BENCH_SERVER_LOCK": str(tmp / "lock")}
        sequential = make_project(tmp / "seq", 6)
        pipelined = make_project(tmp / "pipe", 6)
        doit(sequential, env, "report")  # warm the ground-truth cache outside the timings
        seq = doit(sequential, env)
        if not args.skip_pipelining:
            pipe = doit(pipelined, env, "-n", "2")
            print(f"full run: sequential {seq:.1f} s, pipelined {pipe:.1f} s", flush=True)
            rows.append(["6 profiles, full run", f"{seq:.1f}", f"{pipe:.1f}", f"{seq / pipe:.2f}x"])
        noop6 = min(doit(sequential, env) for _ in range(3))
        list6 = min(doit(sequential, env, "list") for _ in range(3))
        report6 = min(doit(sequential, env, "-a", "report") for _ in range(3))
        # 20 profiles: copy finished results, let doit adopt them once, then time the no-op
        big = make_project(tmp / "big", 20)
        for i in range(20):
            shutil.copytree(sequential / "results" / "bench-sim-00", big / "results" / f"bench-sim-{i:02d}")
        # models, not self-tests: the report then compares them and draws them (its full cost)
        samples = sequential / "results" / "bench-sim-00" / "humaneval" / "samples.jsonl"
        (big / "models.conf").write_text("".join(f"[bench-sim-{i:02d}]\nserver = none\nsamples = {samples}\n\n"
                                                 for i in range(20)))
        doit(big, env)
        noop20 = min(doit(big, env) for _ in range(3))
        list20 = min(doit(big, env, "list") for _ in range(3))
        report20 = min(doit(big, env, "-a", "report") for _ in range(3))
    print(f"reference server with {args.delay} s per answer, 4 slots; local sandbox, {os.cpu_count()} cores")
    if rows:
        print(tabulate(rows, headers=["", "doit (s)", "doit -n 2 (s)", "speed-up"], tablefmt="github"))
    print()
    print(tabulate([["no-op doit", f"{noop6:.2f}", f"{noop20:.2f}"], ["doit list", f"{list6:.2f}", f"{list20:.2f}"],
                    ["doit report (with charts)", f"{report6:.2f}", f"{report20:.2f}"]],
                   headers=["seconds", "6 profiles", "20 profiles"], tablefmt="github"))


if __name__ == "__main__":
    main()
