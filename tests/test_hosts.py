"""Several Docker hosts: the host of a profile (a context or a DOCKER_HOST URL), its lock, its address,
its one-line failure; and for real, two Docker engines on this machine standing for two GPU boxes
(a second dockerd on its own socket and data root, see docker_images.SecondEngine), each running the
llama-server-cpu service with the tiny model."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

import docker_images
from benchlib.config import load_profiles
from benchlib.errors import ServerError
from benchlib.servers import hosts_of
from benchlib.servers.hosts import LOCAL, DockerHost, lock_file
from benchlib.storage import read_journal
from projects import doit, doit_env, wait_for_lines
from support import free_port

needs_docker_cli = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI (apt-get install docker.io)")


def test_each_host_has_its_own_lock_beside_the_machine_wide_one(tmp_path):
    machine = tmp_path / "benchlib-model-server.lock"
    assert lock_file(machine, "") == machine and lock_file(machine, LOCAL) == machine
    gpu2, url = lock_file(machine, "gpu2"), lock_file(machine, "ssh://me@gpu2:2222")
    assert gpu2.parent == url.parent == tmp_path and len({machine, gpu2, url}) == 3
    assert gpu2.name == "benchlib-model-server@gpu2.lock" and "/" not in url.name


def test_the_docker_and_compose_commands_aim_at_the_host():
    assert DockerHost("").docker("ps") == ["docker", "ps"]
    assert DockerHost("gpu2").docker("ps") == ["docker", "--context", "gpu2", "ps"]
    url = DockerHost("ssh://me@gpu2")
    assert url.docker("info") == ["docker", "-H", "ssh://me@gpu2", "info"]
    assert url.compose(["docker", "compose"]) == ["docker", "-H", "ssh://me@gpu2", "compose"]
    assert url.compose(["docker-compose"]) == ["docker-compose", "-H", "ssh://me@gpu2"]
    assert DockerHost("gpu2").compose(["docker", "compose"]) == ["docker", "--context", "gpu2", "compose"]
    assert DockerHost("").compose(["docker-compose"]) == ["docker-compose"]


@pytest.mark.parametrize("spec, address", [
    ("", "127.0.0.1"), ("unix:///run/docker.sock", "127.0.0.1"), ("tcp://10.1.2.3:2376", "10.1.2.3"),
    ("ssh://me@gpu2", "gpu2"), ("ssh://me@gpu2.lan:2222", "gpu2.lan"), ("tcp://[fd00::5]:2375", "[fd00::5]"),
])
def test_a_server_on_a_host_answers_at_its_address(spec, address):
    assert DockerHost(spec).address() == address


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    """An empty Docker client configuration (contexts live there), not the user's."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder


@needs_docker_cli
def test_a_context_resolves_to_its_endpoint_and_compose_v1_gets_the_url(docker_config):
    subprocess.run(["docker", "context", "create", "gpu2", "--docker", "host=ssh://me@gpu2.lan"], check=True,
                   capture_output=True)
    host = DockerHost("gpu2")
    assert host.endpoint() == "ssh://me@gpu2.lan" and host.address() == "gpu2.lan"
    assert host.compose(["docker-compose"]) == ["docker-compose", "-H", "ssh://me@gpu2.lan"]
    with pytest.raises(ServerError, match="Docker context nowhere not found"):
        DockerHost("nowhere").endpoint()


@needs_docker_cli
def test_a_host_that_is_down_is_one_line_with_how_to_check(tmp_path):
    url = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(ServerError) as error:
        DockerHost(url).check()
    assert error.value.message.startswith(f"Docker host {url} is not reachable: ")
    assert "\n" not in error.value.message and error.value.tip == f"check it with: docker -H {url} info"


def test_which_lock_a_profile_holds(tmp_path):
    conf = tmp_path / "models.conf"
    conf.write_text("[DEFAULT]\nhost = gpu2\n\n[bench-c]\nmodel = m.gguf\n\n[bench-l]\nmodel = m.gguf\nhost =\n\n"
                    "[bench-n]\nserver = native\nmodel = m.gguf\n\n[bench-r]\nserver = reference\n\n"
                    "[bench-e]\nserver = external\nbase_url = http://gpu3:8080\nhost = gpu3\n\n"
                    "[bench-x]\nserver = external\nbase_url = http://h:1\nhost =\n\n[bench-s]\nserver = none\n"
                    "samples = s.jsonl\n")
    profiles = load_profiles(conf)
    assert {name: hosts_of(profile) for name, profile in profiles.items()} == {
        "bench-c": ("gpu2",), "bench-l": (LOCAL,), "bench-n": (LOCAL,), "bench-r": (LOCAL,), "bench-e": ("gpu3",),
        "bench-x": (), "bench-s": ()}


# ---------------------------------------------------------------------------------------------------
# two Docker engines for real


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """The local engine and a second one, reachable as the Docker context `gpu2`, both with the llama image."""
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        pytest.skip("needs root and dockerd (a second Docker engine)")
    problem = docker_images.llama_ready()
    if problem:
        pytest.skip(f"needs a Docker engine with the test images: {problem}")
    bridge = Path("/sys/class/net/docker0").exists()  # the first engine's default network
    second = docker_images.SecondEngine(Path(f"/tmp/benchlib-engine2-{os.getpid()}"))
    problem = second.start((docker_images.LLAMA_IMAGE,))
    if problem:
        second.stop()
        pytest.skip(f"needs a second Docker engine: {problem}")
    config = tmp_path_factory.mktemp("docker-config")
    subprocess.run(["docker", "context", "create", "gpu2", "--docker", f"host={second.url}"], check=True,
                   capture_output=True, env={**os.environ, "DOCKER_CONFIG": str(config)})
    subprocess.run(["docker", "rm", "-f", "llama-server"], capture_output=True)
    yield {"second": second, "env": {"DOCKER_CONFIG": str(config)}}
    second.stop()
    assert Path("/sys/class/net/docker0").exists() == bridge, "the second engine took the first one's docker0"


def profiles_conf(model: Path, hosts: dict[str, str], max_tokens: int = 32) -> str:
    """One compose profile per name, on the host given (context or URL; "" = local engine)."""
    text = ""
    for name, host in hosts.items():
        text += (f"[bench-{name}]\nserver = compose\ncompose_service = llama-server-cpu\n"
                 f"image = {docker_images.LLAMA_IMAGE}\nmodels_dir = {model.parent}\nmodel = {model.name}\n"
                 f"port = {free_port()}\nctx_size = 4096\nparallel = 2\ngpu_layers = 0\nmax_tokens = {max_tokens}\n"
                 f"health_timeout = 120\n" + (f"host = {host}\n" if host else "") + "\n")
    return text


def containers(hosts) -> dict[str, list[str]]:
    running = {}
    for label, docker in (("local", ["docker"]), ("gpu2", hosts["second"].docker())):
        done = subprocess.run([*docker, "ps", "-q", "--filter", "name=^llama-server$"], capture_output=True, text=True)
        running[label] = done.stdout.split()
    return running


def served(run_root: Path) -> list[tuple[float, float]]:
    """(up, down) times of each server a profile ran, from the timestamps of its server.log."""
    times, up = [], None
    for line in (run_root / "server.log").read_text().splitlines():
        found = re.match(r"^\[([^\]]+)\] \$ .* (up|down)\b", line)
        if found:
            stamp = datetime.fromisoformat(found.group(1)).timestamp()
            if found.group(2) == "up":
                up = stamp
            elif up is not None:
                times.append((up, stamp))
                up = None
    return times


SUBSET = "20"


def run_env(project: Path, hosts, **extra) -> dict:
    return doit_env(project, BENCH_SUBSET=SUBSET, **hosts["env"], **extra)


def run_root(project: Path, name: str) -> Path:
    return project / "results" / f"bench-{name}" / f"humaneval-subset{SUBSET}"


@pytest.mark.llama
def test_four_profiles_on_two_hosts_share_the_work(project, tmp_path, tiny_model, hosts):
    layout = {"a0": "", "a1": "", "b0": "gpu2", "b1": "gpu2"}  # host a's first: doit alone would start a0 and a1
    conf = profiles_conf(tiny_model, layout)
    (project / "models.conf").write_text(conf)
    doit(project, "-n", "2", env=run_env(project, hosts))

    spans = {name: served(run_root(project, name)) for name in layout}
    assert all(len(span) == 1 for span in spans.values())
    for first, second in (("a0", "a1"), ("b0", "b1")):  # one server per host, in models.conf order
        assert spans[first][0][1] <= spans[second][0][0]
    a0, b0 = spans["a0"][0], spans["b0"][0]
    assert a0[0] < b0[1] and b0[0] < a0[1]  # both hosts served at the same time
    for name, host in layout.items():
        manifest = json.loads((run_root(project, name) / "manifest.json").read_text())["generation"]["server"]
        assert manifest["host"] == (host or "local") and manifest["engine"]
        assert manifest["model"]["size"] == tiny_model.stat().st_size  # gpu2's read through its container
    assert json.loads((run_root(project, "b0") / "manifest.json").read_text())["generation"]["server"]["model"] == \
        json.loads((run_root(project, "a0") / "manifest.json").read_text())["generation"]["server"]["model"]
    assert containers(hosts) == {"local": [], "gpu2": []}
    report = (project / "results" / "REPORT.md").read_text()
    assert re.search(r"\| bench-b0 .*\| gpu2 +\|", report) and re.search(r"\| bench-a0 .*\| local +\|", report)

    sequential = tmp_path / "sequential"
    shutil.copytree(project, sequential, ignore=shutil.ignore_patterns("results", ".doit.db*", "tmp", "*.lock*"))
    doit(sequential, env=run_env(sequential, hosts))
    for name in layout:
        assert (run_root(sequential, name) / "samples.jsonl").read_bytes() == \
            (run_root(project, name) / "samples.jsonl").read_bytes()
        assert json.loads((run_root(sequential, name) / "eval_results.json").read_text())["eval"] == \
            json.loads((run_root(project, name) / "eval_results.json").read_text())["eval"]


@pytest.mark.llama
def test_a_host_that_is_down_fails_its_profiles_and_the_others_finish(project, tmp_path, tiny_model, hosts):
    down = f"unix://{tmp_path}/no-engine.sock"
    (project / "models.conf").write_text(profiles_conf(tiny_model, {"down0": down, "down1": down, "up0": "gpu2"}))
    done = doit(project, "-n", "2", env=run_env(project, hosts), check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    line = f"Docker host {down} is not reachable: "
    assert output.count(line) >= 2 and f"TIP: check it with: docker -H {down} info" in output
    assert (run_root(project, "up0") / "eval_results.json").exists()
    for name in ("down0", "down1"):
        status = json.loads((run_root(project, name) / "status.json").read_text())
        assert status["reason"].startswith(line)
    assert containers(hosts) == {"local": [], "gpu2": []}


def kill_while_both_serve(project: Path, model: Path, hosts, kill) -> tuple[dict, int]:
    """Start `doit -n 2` with a0 on the local engine and b0 on gpu2, and `kill(pid)` it once both generate;
    returns the run's environment and doit's pid (its session)."""
    (project / "models.conf").write_text(profiles_conf(model, {"a0": "", "b0": "gpu2"}, max_tokens=256))
    env = run_env(project, hosts)
    proc = subprocess.Popen([sys.executable, "-m", "doit", "-n", "2"], cwd=project, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for name in ("a0", "b0"):
            wait_for_lines(run_root(project, name) / "samples.partial.jsonl", 3, timeout=300)
        assert all(containers(hosts).values())
    finally:
        kill(proc.pid)
        proc.wait()
    return env, proc.pid


@pytest.mark.llama
def test_kill_9_while_both_hosts_serve_the_next_run_removes_both_containers_and_resumes(project, tiny_model, hosts):
    # doit and its workers: nobody is left to stop the servers
    env, _ = kill_while_both_serve(project, tiny_model, hosts, lambda pid: os.killpg(pid, signal.SIGKILL))
    time.sleep(1)
    assert all(containers(hosts).values())  # the two leftovers
    done = doit(project, "-n", "2", env=env)
    output = done.stdout + done.stderr
    assert "removing the llama-server container a killed run left on local" in output
    assert "removing the llama-server container a killed run left on gpu2" in output
    for name in ("a0", "b0"):
        assert len((run_root(project, name) / "samples.jsonl").read_text().splitlines()) == int(SUBSET)
        assert "resuming" in (run_root(project, name) / "codegen.log").read_text()
    assert containers(hosts) == {"local": [], "gpu2": []}


@pytest.mark.llama
def test_kill_9_of_doit_alone_its_workers_stop_both_servers(project, tiny_model, hosts):
    # the workers get SIGTERM (PDEATHSIG) and stop their servers
    env, session = kill_while_both_serve(project, tiny_model, hosts, lambda pid: os.kill(pid, signal.SIGKILL))
    deadline = time.monotonic() + 90
    while any(containers(hosts).values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert containers(hosts) == {"local": [], "gpu2": []}
    while _session(session) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _session(session)  # no worker lives on, waiting for a task that never comes
    for name in ("a0", "b0"):
        assert "server stopped" in (run_root(project, name) / "codegen.log").read_text()
    doit(project, "-n", "2", env=env)
    for name in ("a0", "b0"):
        assert len((run_root(project, name) / "samples.jsonl").read_text().splitlines()) == int(SUBSET)


def _session(session: int) -> list[int]:
    """The live processes of a session (doit's workers, their children)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(pid))
    return found


def _wait_for_answer_of(replica: str, journal: Path, timeout: float = 300) -> None:
    """Until `journal` holds an answer of `replica` (the first answer of a fresh engine can come late)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(record.get("replica") == replica for record in read_journal(journal)[1:]):
            return
        time.sleep(0.05)
    raise AssertionError(f"{replica} never answered into {journal}")


@pytest.mark.llama
def test_one_profile_on_two_hosts_shares_its_answers_and_survives_a_lost_host(project, tmp_path, tiny_model, hosts):
    """Replicas: one profile served by the local engine and gpu2 at once (ports apart: both engines answer on
    127.0.0.1 here), answers equal to a one-host run, a container removed mid-run costs only its answers in
    flight, and what made the answers (engine, image, model) is on record per host."""
    conf = profiles_conf(tiny_model, {"one": ""}, max_tokens=200)
    (project / "models.conf").write_text(conf)
    doit(project, "gen:bench-one", env=run_env(project, hosts))
    one = [json.loads(line) for line in (run_root(project, "one") / "samples.jsonl").read_text().splitlines()]

    two = conf.replace("[bench-one]", "[bench-two]").replace("port = ", "host = local, gpu2\nport = ", 1)
    (project / "models.conf").write_text(two)
    env = run_env(project, hosts)
    proc = subprocess.Popen([sys.executable, "-m", "doit", "gen:bench-two"], cwd=project, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_answer_of("gpu2", run_root(project, "two") / "samples.partial.jsonl")
        subprocess.run([*hosts["second"].docker(), "rm", "-f", "llama-server"], capture_output=True, check=True)
        assert proc.wait(timeout=600) == 0
    finally:
        proc.kill()
    root = run_root(project, "two")
    records = [json.loads(line) for line in (root / "samples.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k != "replica"} for r in records] == one
    assert {r["replica"] for r in records} == {"local", "gpu2"}
    assert re.search(r"replica gpu2 lost \(the model server stopped: container (gone|removing|exited|dead)[^:]*\): its "
                     r"answers in flight are asked again on the 1 left", (root / "codegen.log").read_text())
    manifest = json.loads((root / "manifest.json").read_text())["generation"]
    local, gpu2 = manifest["replicas"]
    assert (local["replica"], gpu2["replica"]) == ("local", "gpu2") and gpu2["lost"]
    assert local["image"]["id"] == gpu2["image"]["id"] and local["image"]["name"] == docker_images.LLAMA_IMAGE
    assert local["model"]["size"] == gpu2["model"]["size"] == tiny_model.stat().st_size
    assert local["build"] == gpu2["build"] and local["gpus"] == [] and local["host"] == "local"
    assert (root / "server-local.log").exists() and (root / "server-gpu2.log").exists()
    assert containers(hosts) == {"local": [], "gpu2": []}
