"""Generation speed: evalplus's own codegen (openai backend, greedy, sequential) vs benchlib's generation,
against the same real llama-server, in the same run.

    python bench/bench_gen.py                      # tiny random model (client overhead and batching show)
    python bench/bench_gen.py --smollm2 --limit 40 # SmolLM2-135M-Instruct (a real model, compute-bound on CPU)
    python bench/bench_gen.py --smollm2 --limit 10 --n-samples 5   # sampled: 5 answers per problem, T 0.8
                                                                   # (evalplus: --n_samples 5 --temperature 0.8)

Prints wall time, completion tokens/s, the server's own busy time (sum of prompt+decode ms from each
response's `timings`) and how many answers are identical between the two clients. A third row, a
minimal client (bare requests, the same number in flight, no bookkeeping), shows the ceiling the server
itself sets: no client can beat it by much, so it separates client overhead from server capacity.
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

from support import ROOT  # noqa: E402
from builders import generation  # noqa: E402
from tabulate import tabulate  # noqa: E402

from benchlib.generation.client import ChatClient  # noqa: E402
from benchlib.config import Profile, load_profiles  # noqa: E402
from benchlib.datasets import load_dataset  # noqa: E402
from benchlib.generation.prompt import LEADERBOARD_MAX_TOKENS, request_body  # noqa: E402
from benchlib.results import run_folder  # noqa: E402
from benchlib.servers.base import tail, wait_healthy  # noqa: E402
from benchlib.servers.llama import find_llama_server, resolve_model  # noqa: E402
from benchlib.servers.process import ProcessServer  # noqa: E402
from benchlib.settings import load_settings  # noqa: E402


def start_server(model: Path, slots: int, ctx_per_slot: int, log: Path) -> ProcessServer:
    binary = find_llama_server(Profile(name="bench"), load_settings(ROOT).llama_server)
    server = ProcessServer([binary, "-m", str(model), "--host", "127.0.0.1", "--port", "0", "-c",
                            str(slots * ctx_per_slot), "--parallel", str(slots), "-ngl", "99", "--flash-attn", "off",
                            "--no-repack"],
                           log, log.with_suffix(".pid"))
    server.start()
    url = server.base_url(120)
    wait_healthy(url, 120, server.gone_reason, lambda: tail(log), str(log))
    server.url = url
    return server


def run_evalplus(url: str, dataset_file: Path, root: Path, limit: int, n_samples: int = 1) -> tuple[float, dict]:
    sampling = "greedy=True" if n_samples == 1 else f"greedy=False, n_samples={n_samples}, temperature={TEMPERATURE}"
    script = (
        "from evalplus.codegen import run_codegen\n"
        f"run_codegen(model='bench', dataset='humaneval', backend='openai', {sampling}, base_url='{url}/v1', "
        f"root={str(root)!r}, id_range=[0, {limit}])\n"
    )
    env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str(dataset_file), "OPENAI_API_KEY": "none"}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    wall = time.monotonic() - started
    raw = next(root.rglob("*.raw.jsonl"))
    return wall, {r["task_id"]: r["solution"] for r in map(json.loads, raw.read_text().splitlines())}


def run_minimal(url: str, dataset, slots: int, max_tokens: int) -> tuple[float, float]:
    """The least a client can do: the same requests, `slots` in flight, longest first, nothing else."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import requests

    local = threading.local()
    order = sorted(dataset.task_ids, key=lambda t: -len(dataset.problems[t]["prompt"]))

    def post(task_id: str) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body = request_body("bench", dataset.problems[task_id]["prompt"], max_tokens, {"cache_prompt": False})
        session.post(f"{url}/v1/chat/completions", json=body, timeout=900).raise_for_status()

    started, cpu = time.monotonic(), _cpu()
    with ThreadPoolExecutor(slots) as pool:
        list(pool.map(post, order))
    return time.monotonic() - started, _cpu() - cpu


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


TEMPERATURE = 0.8


def run_ours(url: str, dataset, root: Path, slots: int, max_tokens: int, n_samples: int = 1) -> tuple[float, float, list[dict]]:
    client = ChatClient(url, timeout=900)
    paths = run_folder(root, "bench", "humaneval")
    started, cpu = time.monotonic(), _cpu()
    generation(dataset, paths, client, model="bench", max_tokens=max_tokens, parallel=slots, header={"bench": 1},
               extra={"cache_prompt": False}, answers=n_samples, sampling=(TEMPERATURE, 0.95) if n_samples > 1 else None)
    wall, cpu = time.monotonic() - started, _cpu() - cpu
    samples = [json.loads(line) for line in paths.samples.read_text().splitlines()]
    stats = {i: json.loads(line) for i, line in enumerate(paths.generation_stats.read_text().splitlines())}
    for sample, stat in zip(samples, stats.values() if len(stats) == len(samples) else [{}] * len(samples)):
        sample["timings"] = stat.get("timings", {})
    return wall, cpu, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--smollm2", action="store_true", help="SmolLM2-135M-Instruct instead of the tiny model")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--limit", type=int, default=164, help="first N problems")
    parser.add_argument("--n-samples", type=int, default=1, help=f"answers per problem (more than 1: sampled at "
                                                                  f"temperature {TEMPERATURE}, as evalplus --n_samples)")
    args = parser.parse_args()
    args.max_tokens = LEADERBOARD_MAX_TOKENS  # evalplus's fixed cap
    dataset = load_dataset("humaneval", args.data_dir)
    dataset.problems = {t: dataset.problems[t] for t in dataset.task_ids[: args.limit]}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.smollm2:
            model = resolve_model(load_profiles(ROOT / "models.conf")["bench-smollm2-135m"], load_settings(ROOT).cache_dir)
            label = "SmolLM2-135M-Instruct Q4_1"
        else:
            from tinymodel import write_tiny_model

            model, label = write_tiny_model(tmp / "tiny.gguf"), "tiny random LLaMA (2 layers, hidden 64)"
        server = start_server(model, args.slots, 2048 + args.max_tokens, tmp / "server.log")
        try:
            ev_wall, ev_out = run_evalplus(server.url, dataset.path, tmp / "ev", args.limit, args.n_samples)
            our_wall, our_cpu, ours = run_ours(server.url, dataset, tmp / "ours", args.slots, args.max_tokens,
                                               args.n_samples)
            minimal_wall, minimal_cpu = (run_minimal(server.url, dataset, args.slots, args.max_tokens)
                                         if args.n_samples == 1 else (float("nan"), float("nan")))
        finally:
            server.stop()
    tokens = sum(s["completion_tokens"] or 0 for s in ours)
    busy = sum((s["timings"].get("prompt_ms", 0) + s["timings"].get("predicted_ms", 0)) for s in ours) / 1000
    same = sum(ev_out.get(s["task_id"]) == s["raw_solution"] for s in ours)
    rows = [
        ["evalplus 0.3.1 codegen (1 request at a time)", f"{ev_wall:.1f}", f"{tokens / ev_wall:.0f}", "1.00x"],
        [f"benchlib ({args.slots} in flight)", f"{our_wall:.1f}", f"{tokens / our_wall:.0f}", f"{ev_wall / our_wall:.2f}x"],
    ]
    if args.n_samples == 1:
        rows.append([f"minimal client ({args.slots} in flight): the server's ceiling", f"{minimal_wall:.1f}",
                     f"{tokens / minimal_wall:.0f}", f"{ev_wall / minimal_wall:.2f}x"])
    print(f"{label}: {args.limit} HumanEval+ problems x {args.n_samples} answers, max_tokens {args.max_tokens}, "
          f"llama-server --parallel {args.slots}")
    print(tabulate(rows, headers=["client", "wall s", "tokens/s", "speed-up"], tablefmt="github"))
    print(f"\ncompletion tokens {tokens}; server busy time (sum of per-request prompt+decode) {busy:.1f} s; "
          f"benchlib wall / (busy / slots) = {our_wall / (busy / args.slots):.2f}; "
          f"benchlib wall / minimal client wall = {our_wall / minimal_wall:.2f}\n"
          f"client CPU seconds (they compete with the server for this machine's cores): benchlib {our_cpu:.2f}, "
          f"minimal {minimal_cpu:.2f}")
    print(f"identical answers between the two clients: {same} of {len(ours)} "
          "(evalplus does not disable llama-server's prompt cache)")


if __name__ == "__main__":
    main()
