"""One profile on several replicas: generation time with 1, 2 and 3 servers answering one profile's problems,
side by side with evalplus's own codegen (which talks to one server, one request at a time), measured in
the same run, through `doit gen:` as a user runs it.

    python bench/bench_replicas.py                  # simulated GPU boxes (reference servers, --delay s/answer)
    python bench/bench_replicas.py --native         # and real llama-servers on this machine (tiny model;
                                                    # --smollm2 for SmolLM2-135M-Instruct): 1 vs 2 replicas
    python bench/bench_replicas.py --docker         # and compose on this engine vs this engine + a second
                                                    # dockerd (as tests/test_hosts.py; root, built images)

A simulated box is a reference server (canonical answers after `--delay` seconds: a stand-in for a GPU's
time per answer) reached as `server = external`; the profile lists the boxes in `base_url`. The native
rows run real llama-servers on this machine's cores: two replicas share them (each gets its half), so the
speed-up there is what the cores allow, not what two GPU boxes give. The docker rows do the same with the
compose backend on two Docker engines (the second one a dockerd this script starts and stops): the path
of two GPU boxes, on one CPU box's cores.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import ROOT  # noqa: E402
from projects import doit, doit_env, make_project  # noqa: E402
from tabulate import tabulate  # noqa: E402
from bench_gen import run_evalplus  # noqa: E402
from bench_hosts import start_box  # noqa: E402


def timed_gen(project: Path, name: str, env: dict) -> tuple[float, list[dict], dict]:
    started = time.monotonic()
    doit(project, f"gen:{name}", env=env)
    wall = time.monotonic() - started
    root = next(p for p in (project / "results" / name).iterdir() if (p / "samples.jsonl").exists())
    records = [json.loads(line) for line in (root / "samples.jsonl").read_text().splitlines()]
    return wall, records, json.loads((root / "manifest.json").read_text())["generation"]


def spread(records: list[dict]) -> str:
    made: dict[str, int] = {}
    for record in records:
        made[record.get("replica", "-")] = made.get(record.get("replica", "-"), 0) + 1
    return " / ".join(str(n) for _, n in sorted(made.items()))


def simulated(args, tmp: Path) -> None:
    boxes, procs = [], []
    try:
        for i in range(3):
            proc, url = start_box(args.data_dir, args.delay, tmp / f"box{i}.log")
            procs.append(proc)
            boxes.append(url)
        rows, base = [], None
        ev_wall, _ = run_evalplus(boxes[0], Path(args.data_dir) / "HumanEvalPlus-v0.1.10.jsonl.gz", tmp / "ev", 164)
        rows.append(["evalplus 0.3.1 codegen, one box (1 request at a time)", f"{ev_wall:.1f}", "-", "-"])
        for count in (1, 2, 3):
            project = make_project(tmp / f"sim{count}", f"[bench-sim]\nserver = external\nbase_url = "
                                   f"{', '.join(boxes[:count])}\nparallel = {args.slots}\nmodel_name = bench-sim\n")
            wall, records, manifest = timed_gen(project, "bench-sim", doit_env(project))
            base = base or wall
            rows.append([f"benchlib, {count} box{'es' if count > 1 else ''} x {args.slots} in flight", f"{wall:.1f}",
                         f"{base / wall:.2f}x", spread(records)])
        print(f"\nSimulated GPU boxes: 164 HumanEval+ problems, {args.delay} s per answer on each box "
              f"(doit gen: wall time, server start included)")
        print(tabulate(rows, headers=["", "wall s", "vs 1 box", "answers per box"], tablefmt="github"))
    finally:
        for proc in procs:
            proc.kill()


def the_model(args, tmp: Path) -> tuple[Path, str, int]:
    """The model file of the real-server rows, its name, its max_tokens."""
    from benchlib.config import load_profiles
    from benchlib.servers.llama import resolve_model
    from benchlib.settings import load_settings
    from tinymodel import write_tiny_model

    if args.smollm2:
        model = resolve_model(load_profiles(ROOT / "models.conf")["bench-smollm2-135m"], load_settings(ROOT).cache_dir)
        return model, "SmolLM2-135M-Instruct Q4_1", 768
    return write_tiny_model(tmp / "tiny.gguf"), "tiny random model", 256


def one_against_two(args, tmp: Path, title: str, what: str, profiles: dict[int, str], env: dict) -> None:
    """Run the profile text of 1 and of 2 replicas through `doit gen:`; print times and whether answers agree."""
    rows, answers, base = [], {}, None
    for count, text in profiles.items():
        project = make_project(tmp / f"{what}{count}", text)
        wall, records, manifest = timed_gen(project, "bench-n", doit_env(project, BENCH_SUBSET=str(args.limit), **env))
        base = base or wall
        answers[count] = [{k: v for k, v in r.items() if k != "replica"} for r in records]
        rows.append([f"benchlib, {count} {what}{'s' if count > 1 else ''} x {args.slots} in flight", f"{wall:.1f}",
                     f"{manifest['seconds']:.1f}", f"{base / wall:.2f}x", spread(records)])
    print(f"\n{title}")
    print(tabulate(rows, headers=["", "wall s", "generation s", "vs 1", "answers per replica"], tablefmt="github"))
    print(f"answers identical between 1 and 2 replicas: {sum(a == b for a, b in zip(answers[1], answers[2]))} of "
          f"{len(answers[1])}")


def native(args, tmp: Path) -> None:
    from support import llama_server_binary

    model, label, cap = the_model(args, tmp)
    profiles = {count: f"[bench-n]\nserver = native\nmodel = {model}\nllama_server = {llama_server_binary()}\n"
                       f"ctx_size = {args.slots * (cap + 1200)}\nparallel = {args.slots}\nmax_tokens = {cap}\n"
                       f"gpu_layers = 0\nreplicas = {count}\nextra_args = --no-repack\n" for count in (1, 2)}
    one_against_two(args, tmp, f"{label}, native, on this machine's {os.cpu_count()} cores: {args.limit} problems, "
                    f"max_tokens {cap}", "llama-server", profiles, {})


def docker(args, tmp: Path) -> None:
    """Compose on this machine's engine, then on it and a second dockerd at once (the context `gpu2`)."""
    import docker_images
    from support import free_port

    problem = docker_images.llama_ready()
    if problem:
        sys.exit(f"--docker needs the test images: {problem} (python tests/docker_images.py build)")
    model, label, cap = the_model(args, tmp)
    second = docker_images.SecondEngine(tmp / "engine2")
    try:
        problem = second.start((docker_images.LLAMA_IMAGE,))
        if problem:
            sys.exit(f"--docker needs a second Docker engine: {problem}")
        config = tmp / "docker-config"
        config.mkdir()
        subprocess.run(["docker", "context", "create", "gpu2", "--docker", f"host={second.url}"], check=True,
                       capture_output=True, env={**os.environ, "DOCKER_CONFIG": str(config)})
        port = free_port()
        profiles = {count: f"[bench-n]\nserver = compose\ncompose_service = llama-server-cpu\nimage = "
                           f"{docker_images.LLAMA_IMAGE}\nmodels_dir = {model.parent}\nmodel = {model.name}\n"
                           f"port = {port}\nctx_size = {args.slots * (cap + 1200)}\nparallel = {args.slots}\n"
                           f"max_tokens = {cap}\ngpu_layers = 0\nhealth_timeout = 300\nhost = {hosts}\nextra_args = --no-repack\n"
                           for count, hosts in ((1, "local"), (2, "local, gpu2"))}
        one_against_two(args, tmp, f"{label}, compose, this engine vs this engine + a second dockerd, on this "
                        f"machine's {os.cpu_count()} cores: {args.limit} problems, max_tokens {cap}", "Docker engine",
                        profiles, {"DOCKER_CONFIG": str(config)})
    finally:
        second.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per simulated answer")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--native", action="store_true", help="also real llama-servers on this machine")
    parser.add_argument("--smollm2", action="store_true", help="the real-server rows (native, or --docker's) with SmolLM2-135M-Instruct")
    parser.add_argument("--limit", type=int, default=40, help="native rows: the fixed subset of this many problems")
    parser.add_argument("--native-only", action="store_true", help="only the real-server rows")
    parser.add_argument("--docker", action="store_true", help="also compose on this engine + a second dockerd")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.native_only:
            simulated(args, Path(tmp))
        if args.native or (args.smollm2 and not args.docker):  # --smollm2 picks the model of the rows asked
            native(args, Path(tmp))
        if args.docker:
            docker(args, Path(tmp))


if __name__ == "__main__":
    main()
