"""The hostile suite in every sandbox mode: each case's verdict and what it reached on the host.

    python bench/bench_hostile.py [--data-dir ../shared/datasets]

Modes: local with the bundled bubblewrap (what a fresh install gives), local with the system's bubblewrap
(when installed), docker (when an engine answers and the locally built image exists), and unsafe
(process limits only, as chosen with BENCH_SANDBOX=unsafe). Each case runs as the solution of HumanEval/0
against its base and plus tests; host effects are checked after each case (files written or changed in a
world-writable victim folder, bytes received by a 127.0.0.1 listener, processes of the checks' users left).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hostile_suite import baited, cases, host_effects, right_answers_with_side_effects  # noqa: E402

from support import DATASETS, quiet_log  # noqa: E402
from tabulate import tabulate  # noqa: E402

from benchlib.datasets import load_dataset  # noqa: E402
from benchlib.evaluation.checks import check_solution  # noqa: E402
from benchlib.evaluation.sandbox import DockerSandbox, LocalSandbox, docker_status, find_bwrap  # noqa: E402
from benchlib.settings import load_settings  # noqa: E402
from benchlib.evaluation.truth import load_ground_truth  # noqa: E402


def modes(image: str):
    bundled, _ = find_bwrap("bundled")
    if bundled:
        yield "bundled bwrap", lambda: LocalSandbox(bwrap=bundled)
    system, _ = find_bwrap("system")
    if system:
        yield "system bwrap", lambda: LocalSandbox(bwrap=system)
    if not docker_status(image):
        yield "docker", lambda: DockerSandbox(image, workers=1)
    yield "unsafe", lambda: LocalSandbox(bwrap=None)


def reset(bait) -> None:
    for path in bait["victim"].iterdir():
        if path.name != "precious.txt":
            path.unlink()
    (bait["victim"] / "precious.txt").write_text("keep me")
    bait["hits"].clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(DATASETS))
    parser.add_argument("--image", default="benchlib/sandbox:bookworm", help="tests/docker_images.py builds it")
    args = parser.parse_args()
    dataset = load_dataset("humaneval", args.data_dir)
    truth = load_ground_truth(dataset, load_settings(Path.cwd()).cache_dir, 2, quiet_log())["HumanEval/0"]
    table: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp, baited(Path(tmp)) as bait:
        suite = {**{f"wrong: {k}": v for k, v in cases(bait).items()},
                 **{f"right + side effect: {k}": v for k, v in right_answers_with_side_effects(bait).items()}}
        names = []
        for mode, make in modes(args.image):
            names.append(mode)
            sandbox = make()
            try:
                for case, code in suite.items():
                    reset(bait)
                    started = time.monotonic()
                    record = check_solution(sandbox, dataset, "HumanEval/0", code, truth)
                    if "daemon" in case:
                        time.sleep(4)  # the grandchild would write after 3 s
                    effects = host_effects(bait)
                    verdict = f"{record['base_status']}/{record['plus_status']}"
                    table.setdefault(case, {})[mode] = (f"{verdict}, {time.monotonic() - started:.0f} s; "
                                                        f"host: {'; '.join(effects) if effects else 'nothing'}")
            finally:
                sandbox.close()
    rows = [[case, *[table[case].get(mode, "-") for mode in names]] for case in table]
    print(tabulate(rows, headers=["case", *names], tablefmt="github"))


if __name__ == "__main__":
    main()
