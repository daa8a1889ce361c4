"""End to end through doit, in a temp project: the reference profile, resume after kill -9, MBPP."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import MBPP_PRERELEASE, doit_env

pytestmark = pytest.mark.slow


def doit(project, *args, env=None, check=True):
    done = subprocess.run([sys.executable, "-m", "doit", *args], cwd=project, env=env or doit_env(project),
                          capture_output=True, text=True, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"doit {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def our_processes(project: Path) -> list[str]:
    """Processes still running that belong to this project's runs (servers, sandboxes)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text().split()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if not cwd.startswith(str(project)):  # servers run in the project, sandboxes in its TMPDIR
            continue
        if stat[2] != "Z" and ("reference_server" in cmdline or "runner.py" in cmdline or "llama-server" in cmdline):
            found.append(cmdline)
    return found


def wait_for_lines(path: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {count} lines")


def kill_doit_at(project, target: Path, lines: int, args, env):
    proc = subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=project, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_lines(target, lines)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def results(project, dataset="humaneval"):
    root = project / "results" / "bench-reference" / dataset
    return root, json.loads((root / "eval_results.json").read_text())


def test_reference_profile_scores_100_and_a_second_run_does_nothing(project):
    first = doit(project)
    root, evaluated = results(project)
    assert evaluated["pass_at_1"] == {"base": 100.0, "plus": 100.0}
    assert evaluated["sandbox"]["backend"] == "local" and evaluated["dataset"]["version"] == "HumanEvalPlus-v0.1.10"
    report = (project / "results" / "REPORT.md").read_text()
    assert "**bench-reference** (local" in report and "| 100.0" in report
    assert "GPT-4o (May 2024)" in report or "O1 Preview" in report  # beside the published models
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["generation"]["sampling"] == {"model": "bench-reference", "max_tokens": 768, "n": 1,
                                                  "temperature": 0.0, "top_p": 0.95}
    for name in ("samples.jsonl", "codegen.log", "evaluation.log", "server.log", "generation_stats.jsonl"):
        assert (root / name).exists(), name
    assert "pass@1: HumanEval 100.0, HumanEval+ 100.0" in first.stderr
    second = doit(project)
    assert "-- gen:bench-reference" in second.stdout and "-- eval:bench-reference" in second.stdout
    assert "-- benchmark" in second.stdout and ".  " not in second.stdout  # nothing ran
    assert not our_processes(project)
    # report alone rebuilds from what exists; clean keeps the samples unless asked
    (project / "results" / "REPORT.md").unlink()
    doit(project, "report")
    assert (project / "results" / "REPORT.md").exists()
    cleaned = doit(project, "clean")
    assert (root / "samples.jsonl").exists() and not (root / "eval_results.json").exists()
    assert "doit clean gen:bench-reference" in cleaned.stdout
    doit(project, "clean", "gen:bench-reference")
    assert not (root / "samples.jsonl").exists()


def test_editing_one_profile_reruns_only_that_profile(project):
    conf = project / "models.conf"
    conf.write_text("[bench-reference]\nserver = reference\n[bench-reference-b]\nserver = reference\n")
    doit(project)
    conf.write_text("[bench-reference]\nserver = reference\n[bench-reference-b]\nserver = reference\nmax_tokens = 1024\n"
                    "health_timeout = 77\n")
    rerun = doit(project)
    assert "-- gen:bench-reference\n" in rerun.stdout and ".  gen:bench-reference-b" in rerun.stdout
    report = (project / "results" / "REPORT.md").read_text()
    assert "**bench-reference-b** (local, " in report and "†" in report  # 1024 tokens: not comparable


def test_kill_9_during_generation_then_rerun_resumes(project, tmp_path):
    env = doit_env(project, BENCH_REFERENCE_DELAY="0.1")
    root = project / "results" / "bench-reference" / "humaneval"
    kill_doit_at(project, root / "samples.partial.jsonl", 40, ["gen:bench-reference"], env)
    time.sleep(1.0)
    assert not our_processes(project), "the model server outlived the killed run"
    kept = len((root / "samples.partial.jsonl").read_text().splitlines()) - 1
    rerun = doit(project, "eval:bench-reference", env=env)
    assert f"resuming: {kept} of 164 samples already generated" in rerun.stderr
    samples = [json.loads(line) for line in (root / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 164 and len({s["task_id"] for s in samples}) == 164
    clean_project = tmp_path / "clean"
    clean_project.mkdir()
    for name in ("dodo.py", "models.conf", "reference-scores.json", "pyproject.toml"):
        (clean_project / name).write_bytes((project / name).read_bytes())
    doit(clean_project, "gen:bench-reference")
    uninterrupted = (clean_project / "results" / "bench-reference" / "humaneval" / "samples.jsonl").read_bytes()
    assert (root / "samples.jsonl").read_bytes() == uninterrupted
    assert results(project)[1]["pass_at_1"] == {"base": 100.0, "plus": 100.0}


def test_kill_9_during_evaluation_then_rerun_resumes(project):
    doit(project, "gen:bench-reference")
    root = project / "results" / "bench-reference" / "humaneval"
    env = doit_env(project, BENCH_EVAL_WORKERS="1")
    kill_doit_at(project, root / "eval.partial.jsonl", 30, ["eval:bench-reference"], env)
    time.sleep(1.0)
    assert not our_processes(project), "sandbox processes outlived the killed run"
    assert not (root / "eval_results.json").exists()
    doit(project, "eval:bench-reference")
    assert "resuming evaluation:" in (root / "evaluation.log").read_text()
    evaluated = results(project)[1]
    assert evaluated["pass_at_1"] == {"base": 100.0, "plus": 100.0}
    assert sum(len(v) for v in evaluated["eval"].values()) == 164
    assert not (root / "eval.partial.jsonl").exists()


def test_a_failing_profile_is_reported_and_does_not_stop_the_others(project):
    (project / "models.conf").write_text("[bench-reference]\nserver = reference\n"
                                         "[bench-broken]\nserver = external\nbase_url = http://127.0.0.1:9\n"
                                         "health_timeout = 1\n")
    done = doit(project, check=False)
    assert done.returncode != 0
    assert "was not healthy after 1 s" in done.stdout + done.stderr
    report = (project / "results" / "REPORT.md").read_text()
    assert "failed: generation: the model server at http://127.0.0.1:9 was not healthy" in report
    assert results(project)[1]["pass_at_1"]["plus"] == 100.0


def test_rescoring_a_samples_file_without_a_server(project):
    doit(project, "gen:bench-reference")
    samples = project / "results" / "bench-reference" / "humaneval" / "samples.jsonl"
    (project / "models.conf").write_text(f"[bench-rescore]\nserver = none\nsamples = {samples}\n")
    doit(project, "eval:bench-rescore")
    evaluated = json.loads((project / "results" / "bench-rescore" / "humaneval" / "eval_results.json").read_text())
    assert evaluated["pass_at_1"] == {"base": 100.0, "plus": 100.0}


@pytest.mark.skipif(not MBPP_PRERELEASE.exists(), reason="no MBPP+ file in shared/datasets")
def test_mbpp_path_on_the_prerelease_file(project):
    env = doit_env(project, MBPP_OVERRIDE_PATH=str(MBPP_PRERELEASE))
    doit(project, "eval:bench-reference", "dataset=mbpp", env=env)
    root, evaluated = results(project, "mbpp")
    assert evaluated["dataset"]["tasks"] == 399 and evaluated["dataset"]["version"] == "MbppPlus-prerelease-2023-11"
    assert evaluated["pass_at_1"]["base"] >= 99.0 and evaluated["pass_at_1"]["plus"] >= 99.0
    assert not (project / "results" / "bench-reference" / "humaneval").exists()  # datasets never mix
    report = (project / "results" / "REPORT.md").read_text()
    assert "| mbpp" in report
