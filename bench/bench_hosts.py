"""Several GPU boxes: six simulated profiles on one host vs spread over two hosts, under `doit -n 2` and
`doit -n 3`, measured in the same run.

    python bench/bench_hosts.py [--delay 0.5]

Each simulated box is a reference server (canonical answers, `--delay` seconds per answer: a stand-in
for a GPU) that the profiles reach as `server = external` with `host = box1` or `box2`; benchlib holds
one lock per host, so a box serves one profile at a time, exactly as with Docker hosts. Evaluations run
here (local sandbox) and overlap the generations.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import ROOT  # noqa: E402
from projects import doit, make_project  # noqa: E402
from tabulate import tabulate  # noqa: E402

PROFILES = 6


def start_box(data_dir: str, delay: float, log: Path) -> tuple[subprocess.Popen, str]:
    """A reference server standing for one GPU box; returns it and its URL."""
    handle = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "benchlib.servers.reference", "--dataset", "humaneval",
                             "--data-dir", data_dir, "--delay", str(delay)], stdout=handle, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+)", log.read_text())
        if found:
            return proc, found.group(1)
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"the simulated box did not start: {log.read_text()[-2000:]}")


def conf(boxes: list[str]) -> str:
    """Six profiles, spread round-robin over `boxes` (URLs), each with the box's name as its host."""
    text = ""
    for i in range(PROFILES):
        box = i % len(boxes)
        text += (f"[bench-sim-{i:02d}]\nserver = external\nbase_url = {boxes[box]}\nhost = box{box + 1}\n"
                 f"parallel = 4\nmodel_name = bench-sim\n\n")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per simulated answer")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        servers = [start_box(args.data_dir, args.delay, tmp / f"box{i + 1}.log") for i in range(2)]
        urls = [url for _, url in servers]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_DATA_DIR": args.data_dir, "BENCH_SANDBOX": "local",
               "BENCH_SERVER_LOCK": str(tmp / "server.lock"), "TMPDIR": str(tmp)}
        try:
            warm = make_project(tmp / "warm", "[bench-reference]\nserver = reference\n")
            doit(warm, "report", env=env)  # the ground truth, computed outside the timings
            for hosts in (1, 2):
                for workers in (2, 3):
                    project = make_project(tmp / f"h{hosts}-n{workers}", conf(urls[:hosts]))
                    started = time.monotonic()
                    doit(project, "-n", str(workers), env=env)
                    seconds = time.monotonic() - started
                    print(f"{hosts} host(s), doit -n {workers}: {seconds:.1f} s", flush=True)
                    rows.append([f"{PROFILES} profiles on {hosts} host{'s' if hosts > 1 else ''}", f"-n {workers}",
                                 f"{seconds:.1f}"])
        finally:
            for proc, _ in servers:
                proc.kill()
    one = {row[1]: float(row[2]) for row in rows[:2]}
    for row in rows:
        row.append(f"{one['-n 2'] / float(row[2]):.2f}x")
    print(f"simulated boxes: reference servers, {args.delay} s per answer, 4 requests in flight; "
          f"evaluation here, local sandbox, {os.cpu_count()} cores")
    print(tabulate(rows, headers=["", "doit", "wall (s)", "vs 1 host, -n 2"], tablefmt="github"))


if __name__ == "__main__":
    main()
