"""Model server backends: health wait, process lifecycle, the machine-wide lock, the compose variables."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from benchlib import servers
from benchlib.config import Profile
from benchlib.errors import ServerError
from benchlib.results import run_folder
from benchlib.servers.base import exit_words, tail, wait_healthy
from benchlib.servers.compose import _image_of, compose_env
from benchlib.servers.native import command as native_command
from benchlib.servers.process import ProcessServer
from benchlib.settings import load_settings

from fakeserver import FakeServer
from support import DATASETS, ROOT, free_port, quiet_log


def running():
    return ""


def settings_for(tmp_path):
    return load_settings(ROOT, environ={"BENCH_DATA_DIR": str(DATASETS), "BENCH_SERVER_LOCK": str(tmp_path / "lock")})


class Collect(logging.Handler):
    def __init__(self, events):
        super().__init__()
        self.events = events

    def emit(self, record):
        self.events.append(record.getMessage())


def collecting_log(events):
    log = logging.getLogger(f"benchlib.tests.collect{id(events)}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(Collect(events))
    return log


def test_health_waits_through_loading_then_succeeds():
    answers = iter([503, 503, 200])
    with FakeServer(health=lambda: next(answers, 200)) as server:
        started = time.monotonic()
        wait_healthy(server.url, timeout=10, gone_reason=running)
        assert time.monotonic() - started < 5


def test_connection_refused_until_the_server_listens():
    port = free_port()
    holder = {}

    def start_later():
        time.sleep(1.0)
        from http.server import BaseHTTPRequestHandler, HTTPServer

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        holder["server"] = HTTPServer(("127.0.0.1", port), H)
        holder["server"].serve_forever()

    threading.Thread(target=start_later, daemon=True).start()
    started = time.monotonic()
    wait_healthy(f"http://127.0.0.1:{port}", timeout=15, gone_reason=running)
    waited = time.monotonic() - started
    assert holder["server"] is not None and requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
    assert waited < 15  # returned once the server answered, not at the deadline
    holder["server"].shutdown()


def test_health_never_ready_times_out_with_the_log_tail(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("\n".join(f"line {i}" for i in range(50)) + "\nloading model tensors\n")
    with FakeServer(health=503) as server:
        with pytest.raises(ServerError) as info:
            wait_healthy(server.url, timeout=1.5, gone_reason=running, log_tail=lambda: tail(log), where=str(log))
    message = str(info.value)
    assert "was not healthy after 2 s (last: HTTP 503" in message
    assert "loading model tensors" in message and "line 20" not in message and "line 21" in message
    assert "raise health_timeout" in message


def test_a_server_that_dies_while_starting_is_reported_at_once(tmp_path):
    server = ProcessServer([sys.executable, "-c", "import sys; print('error: model file is corrupt'); sys.exit(3)"],
                           tmp_path / "server.log", tmp_path / "server.pid")
    server.start()
    with pytest.raises(ServerError) as info:
        server.base_url(timeout=20)
    assert "exited with code 3" in str(info.value) and "model file is corrupt" in str(info.value)
    server.stop()


def test_stop_escalates_when_sigterm_is_ignored(tmp_path):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('listening on http://127.0.0.1:1', flush=True); time.sleep(600)"
    server = ProcessServer([sys.executable, "-c", code], tmp_path / "server.log", tmp_path / "server.pid")
    server.start()
    server.base_url(timeout=20)
    started = time.monotonic()
    server.stop(grace=1.0)
    assert server.proc.poll() is not None and time.monotonic() - started < 10
    assert not (tmp_path / "server.pid").exists()


def test_orphan_from_a_killed_run_is_reaped(tmp_path):
    code = "import time; print('listening on http://127.0.0.1:1', flush=True); time.sleep(600)"
    orphan = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE)
    orphan.stdout.readline()  # running the interpreter, not still being spawned
    (tmp_path / "server.pid").write_text(f"{orphan.pid}\n{sys.executable}\n")
    server = ProcessServer([sys.executable, "-c", code], tmp_path / "server.log", tmp_path / "server.pid")
    server.start()
    assert orphan.wait(timeout=10) == -signal.SIGKILL
    server.stop()


def test_reference_server_lifecycle_leaves_nothing_behind(tmp_path, datasets):
    profile = Profile(name="bench-reference", server="reference", health_timeout=60)
    paths = run_folder(tmp_path, profile.name, "humaneval")
    with servers.start(profile, settings_for(tmp_path), paths, quiet_log()) as fleet:
        server = fleet.primary
        assert requests.get(server.base_url + "/health", timeout=5).status_code == 200
        assert server.probe_token_cap is False  # it answers canonically, whatever the cap
        pid = int(paths.server_pid.read_text().split()[0])
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    with pytest.raises(requests.ConnectionError):
        requests.get(server.base_url + "/health", timeout=2)


def test_server_is_stopped_when_the_body_raises(tmp_path, datasets):
    profile = Profile(name="bench-reference", server="reference", health_timeout=60)
    paths = run_folder(tmp_path, profile.name, "humaneval")
    with pytest.raises(KeyboardInterrupt):
        with servers.start(profile, settings_for(tmp_path), paths, quiet_log()) as fleet:
            server = fleet.primary
            raise KeyboardInterrupt
    with pytest.raises(requests.ConnectionError):
        requests.get(server.base_url + "/health", timeout=2)


def test_only_one_model_server_at_a_time(tmp_path, datasets):
    profile = Profile(name="bench-reference", server="reference", health_timeout=60)
    settings = settings_for(tmp_path)
    events = []

    def second():
        with servers.start(profile, settings, run_folder(tmp_path / "b", profile.name, "humaneval"),
                           collecting_log(events)):
            events.append("second up")

    with servers.start(profile, settings, run_folder(tmp_path / "a", profile.name, "humaneval"), quiet_log()):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.5)
        assert "second up" not in events and any("waiting for another model server" in e for e in events)
    thread.join(timeout=60)
    assert "second up" in events


def test_compose_environment_carries_the_profile_without_touching_dotenv():
    env = compose_env(Profile(name="bench-x", model="M.gguf", tensor_split="3,1", extra_args="--n-cpu-moe 24",
                              parallel=2, models_dir="/models"))
    assert env["LLAMA_MODEL"] == "M.gguf" and env["LLAMA_PARALLEL"] == "2" and env["MODELS_DIR"] == "/models"
    assert env["LLAMA_ARGS"] == "--tensor-split 3,1 --flash-attn off --n-cpu-moe 24"


def test_native_and_compose_share_the_llama_server_flags():
    profile = Profile(name="bench-x", model="M.gguf", tensor_split="3,1", extra_args="--n-cpu-moe 24", parallel=2)
    argv = native_command(profile, "llama-server", "/m/M.gguf")
    assert argv[-6:] == ["--tensor-split", "3,1", "--flash-attn", "off", "--n-cpu-moe", "24"]
    assert " ".join(argv).endswith(compose_env(profile)["LLAMA_ARGS"])
    loose = Profile(name="bench-y", model="M.gguf", reproducible=False)
    assert "--flash-attn" not in native_command(loose, "llama-server", "M") and "--flash-attn" not in compose_env(loose)["LLAMA_ARGS"]


def test_every_backend_has_the_same_shape(tmp_path):
    import importlib
    import inspect

    for name, backend in servers.BACKENDS.items():
        if backend.module:
            module = importlib.import_module(f"benchlib.servers.{backend.module}")
            assert list(inspect.signature(module.start).parameters) == ["profile", "settings", "files", "log"], name
        else:  # no server: its profiles name the file to score, and starting one says so
            assert backend.scores_a_file and backend.requires == "samples"
            with pytest.raises(ServerError, match="runs no model server"):
                with servers.start(Profile(name="bench-n", server=name, samples="s.jsonl"), settings_for(tmp_path),
                                   run_folder(tmp_path, "bench-n", "humaneval"), quiet_log()):
                    pass
    # one backend through the shared entry point: the handle it yields answers
    with FakeServer([]) as fake:
        profile = Profile(name="bench-e", server="external", base_url=fake.url, health_timeout=5)
        with servers.start(profile, settings_for(tmp_path), run_folder(tmp_path, "bench-e", "humaneval"),
                           quiet_log()) as fleet:
            handle = fleet.primary
            assert isinstance(handle, servers.ServerHandle) and handle.base_url == fake.url
            assert handle.info["backend"] == "external" and handle.gone_reason() == ""


def test_the_image_of_a_service_is_read_from_compose_config():
    """compose v1 has no `config --images`: the image is read from `config`'s YAML, per service."""
    config = ("services:\n  helper:\n    image: busybox:1\n  llama-server:\n    command: --port 8080\n"
              "    image: 'ghcr.io/ggml-org/llama.cpp:server-cuda'\n    ports:\n    - 8080:8080\nvolumes: {}\n")
    assert _image_of(config, "llama-server") == "ghcr.io/ggml-org/llama.cpp:server-cuda"
    assert _image_of(config, "helper") == "busybox:1"
    assert _image_of(config, "absent") == ""


@pytest.mark.parametrize("code, container, words", [
    (3, False, "exited with code 3"), (-11, False, "exited with code -11 (SIGSEGV)"),
    (139, True, "exited with code 139 (SIGSEGV)"), (132, True, "exited with code 132 (SIGILL)"),
    (1, True, "exited with code 1"), (139, False, "exited with code 139"), (-99, False, "exited with code -99"),
])
def test_a_crash_names_its_signal(code, container, words):
    """README's troubleshooting entry for a repacking crash is found by the signal's name."""
    assert exit_words(code, container) == words
