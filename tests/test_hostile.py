"""Hostile solutions: each is contained (bounded time, marked failed, host and other samples untouched),
and none can fake a pass. Runs against the local sandbox (bubblewrap where installed) and, where a Docker
engine can be started, the docker sandbox with a locally built image."""

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from benchlib.evaluation import check_solution, evaluate_samples, load_ground_truth
from benchlib.layout import profile_paths
from benchlib.sandbox import DockerSandbox, LocalSandbox

import docker_images

HEADER = "from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
CANONICAL_BODY = (
    "    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n"
    "            if i != j and abs(a - b) < threshold:\n                return True\n    return False\n"
)


def hostile(body: str, prelude: str = "") -> str:
    return prelude + HEADER + body


@pytest.fixture
def bait(tmp_path, monkeypatch):
    """A victim folder anyone may write, a secret in the home folder, a listener on 127.0.0.1."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o777)
    victim.chmod(0o777)
    (victim / "precious.txt").write_text("keep me")
    (victim / "precious.txt").chmod(0o666)
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.txt").write_text("TOPSECRET")
    (home / "secret.txt").chmod(0o644)
    monkeypatch.setenv("HOME", str(home))
    hits = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                hits.append(conn.recv(100))
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield {"victim": victim, "secret": home / "secret.txt", "port": listener.getsockname()[1], "hits": hits}
    stop.set()
    thread.join()
    listener.close()


def cases(bait) -> dict[str, str]:
    victim, secret, port = bait["victim"], bait["secret"], bait["port"]
    return {
        "infinite loop": hostile("    while True:\n        pass\n"),
        "fork bomb": hostile("    import posix\n    while True:\n        try:\n            posix.fork()\n"
                             "        except OSError:\n            pass\n"),
        "20 GB": hostile("    block = bytearray(20 * 1024**3)\n    return bool(block)\n"),
        "huge stdout": hostile("    import posix\n    for _ in range(300):\n        posix.write(1, b'x' * (1 << 20))\n"
                               "        posix.write(2, b'y' * (1 << 20))\n        print('z' * 100000)\n    return True\n"),
        "sys.exit": hostile("    import sys\n    sys.exit(0)\n"),
        "os._exit at import": hostile(CANONICAL_BODY, "import posix\nposix._exit(0)\n"),
        "SIGKILL itself": hostile("    import posix\n    posix.kill(posix.getpid(), 9)\n"),
        "SIGKILL parent": hostile("    import posix\n    posix.kill(posix.getppid(), 9)\n    posix.kill(1, 9)\n"
                                  "    return True\n"),
        "delete outside": hostile(f"    import posix, io\n    try:\n        posix.unlink({str(victim / 'precious.txt')!r})\n"
                                  f"    except OSError:\n        pass\n    try:\n"
                                  f"        io.open({str(victim / 'new.txt')!r}, 'w').write('x')\n"
                                  f"    except OSError:\n        pass\n    return True\n"),
        "read the home secret": hostile(f"    import io\n    try:\n        text = io.open({str(secret)!r}).read()\n"
                                        f"    except OSError:\n        return True\n"
                                        f"    return 'TOPSECRET' in text and threshold > 0 and False\n"),
        "socket to 127.0.0.1": hostile(f"    import socket\n    try:\n        s = socket.create_connection(('127.0.0.1', {port}), 2)\n"
                                       f"        s.sendall(b'leak')\n        s.close()\n    except OSError:\n        pass\n"
                                       f"    return True\n"),
        "== always True": hostile("    class Anything:\n        def __eq__(self, other):\n            return True\n"
                                  "        __hash__ = object.__hash__\n    return Anything()\n"),
        "bool subclass liar": hostile("    class Liar(int):\n        def __eq__(self, other):\n            return True\n"
                                      "        __hash__ = int.__hash__\n    return Liar(7)\n"),
        "patch the runner": hostile("    import sys, json\n    m = sys.modules.get('__main__')\n"
                                    "    json.dumps = lambda *a, **k: 'true'\n    if m is not None:\n"
                                    "        m.encode = lambda *a, **k: True\n    return None\n"),
        "forge records then exit": hostile(
            "    import gc, json, posix\n    seq = next((o['seq'] for o in gc.get_objects() if isinstance(o, dict)"
            " and 'seq' in o and 'inputs' in o), 0)\n    for fd in range(3, 64):\n        for i in range(1000):\n"
            "            try:\n                posix.write(fd, (json.dumps({'i': i, 'cpu': 0, 'seq': seq, 'raw': 1})"
            " + '\\ntrue\\n').encode())\n            except OSError:\n                break\n        try:\n"
            "            posix.write(fd, (json.dumps({'event': 'done', 'seq': seq}) + '\\n').encode())\n"
            "        except OSError:\n            pass\n    posix._exit(0)\n"),
    }


def sandboxes(tmp_path):
    local = LocalSandbox(hide=[str(tmp_path / "results")])
    yield "local", local
    if docker_images.start_engine() == "":
        try:
            docker_images.build_sandbox_image()
        except Exception:  # noqa: BLE001
            return
        yield "docker", DockerSandbox(docker_images.SANDBOX_IMAGE, workers=2)


@pytest.mark.slow
def test_hostile_solutions_are_contained(tmp_path, humaneval, bait):
    truth = load_ground_truth(humaneval, lambda: LocalSandbox(memory_limit=None, isolate=False), 2, lambda m: None)
    found = cases(bait)
    for kind, sandbox in sandboxes(tmp_path):
        try:
            if kind == "local" and not sandbox.bwrap:
                pytest.skip("bubblewrap is not installed: the local sandbox cannot isolate network or files")
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
        assert (bait["victim"] / "precious.txt").read_text() == "keep me", kind
        assert not (bait["victim"] / "new.txt").exists(), kind
        assert bait["hits"] == [], kind
        assert _leftovers() == [], kind


def _leftovers() -> list[str]:
    """Processes of the sandbox users (uid >= 200000) still alive."""
    left = []
    for pid in os.listdir("/proc"):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
        if uid >= 200000 and "\nState:\tZ" not in status:
            left.append(pid)
    return left


@pytest.mark.slow
def test_hostile_samples_leave_the_other_results_unchanged(tmp_path, humaneval, bait):
    found = list(cases(bait).values())
    samples = tmp_path / "samples.jsonl"
    with open(samples, "w") as handle:
        for index, task_id in enumerate(humaneval.task_ids):
            problem = humaneval.problems[task_id]
            solution = problem["prompt"] + problem["canonical_solution"]
            if index < len(found) * 10 and index % 10 == 0:  # hostile code in place of every tenth task
                solution = found[index // 10].replace("has_close_elements", problem["entry_point"])
            handle.write(json.dumps({"task_id": task_id, "solution": solution}) + "\n")
    paths = profile_paths(tmp_path / "results", "p", "humaneval")
    started = time.monotonic()
    results = evaluate_samples(samples, humaneval, paths, lambda: LocalSandbox(hide=[str(tmp_path / "results")]),
                               "local", 2, lambda m: None)
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
    results = tmp_path / "results"
    results.mkdir()
    (results / "other-model.txt").write_text("samples of another model")
    sandbox = LocalSandbox(hide=[str(results)])
    if not sandbox.bwrap:
        sandbox.close()
        pytest.skip("bubblewrap is not installed")
    try:
        read = "import io\ntry:\n    return io.open(%r).read()\nexcept OSError as e:\n    return type(e).__name__"
        assert probe(sandbox, read % str(bait["secret"])) != "TOPSECRET"
        assert probe(sandbox, read % str(results / "other-model.txt")) != "samples of another model"
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


def test_a_sandbox_that_cannot_run_python_fails_loudly(tmp_path, humaneval):
    from benchlib.errors import SandboxError

    broken = LocalSandbox(python=str(tmp_path / "no-python-here"))
    with pytest.raises(SandboxError, match="sandbox cannot run a trivial solution"):
        broken.self_test()
    broken.close()
