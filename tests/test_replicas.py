"""Replicas: one profile served by several servers (models.conf's hosts, URLs, local servers), each answer to
whichever has a free slot, a lost replica costing only its answers in flight, what made each answer on
record. Real servers: test_native.py (two llama-servers), test_hosts.py (two Docker engines), and the
reference server here through doit."""

import json
import threading
import time

import pytest

from benchlib import servers
from benchlib.config import load_profiles
from benchlib.errors import ConfigError, GenerationError
from benchlib.generation.client import ChatClient
from benchlib.generation.pool import Member, Pool
from benchlib.results import run_folder
from benchlib.runs import ProfileRuns
from benchlib.servers.hosts import LOCAL

from builders import generation
from fakeserver import FakeServer, completion
from projects import doit, doit_env, kill_doit_at
from support import quiet_log
from benchlib.generation.prompt import request_body
from test_servers import collecting_log, settings_for


def profiles(tmp_path, text):
    conf = tmp_path / "models.conf"
    conf.write_text(text)
    return load_profiles(conf)


def test_replicas_come_from_hosts_urls_and_counts(tmp_path):
    found = profiles(tmp_path, "[bench-c]\nmodel = m.gguf\nhost = local, gpu2\n\n"
                               "[bench-e]\nserver = external\nbase_url = http://a:1, http://b:1\nhost = a, b\n\n"
                               "[bench-u]\nserver = external\nbase_url = http://a:1/, http://a:2\n\n"
                               "[bench-n]\nserver = native\nmodel = m.gguf\nreplicas = 2\n\n"
                               "[bench-d]\nserver = native\nmodel = m.gguf\ndevices = 0 1,2\n\n"
                               "[bench-r]\nserver = reference\nreplicas = 3\n\n"
                               "[bench-one]\nmodel = m.gguf\nhost = gpu2\n")
    labels = {name: [r.label for r in servers.replicas_of(p)] for name, p in found.items()}
    assert labels == {"bench-c": [LOCAL, "gpu2"], "bench-e": ["a", "b"], "bench-u": ["a:1", "a:2"],
                      "bench-n": ["local-1", "local-2"], "bench-d": ["local-1", "local-2"],
                      "bench-r": ["local-1", "local-2", "local-3"], "bench-one": [""]}
    hosts = {name: servers.hosts_of(p) for name, p in found.items()}
    assert hosts == {"bench-c": ("gpu2", LOCAL), "bench-e": ("a", "b"), "bench-u": (), "bench-n": (LOCAL,),
                     "bench-d": (LOCAL,), "bench-r": (LOCAL,), "bench-one": ("gpu2",)}
    compose = servers.replicas_of(found["bench-c"])
    assert [r.profile.host for r in compose] == ["", "gpu2"]  # `local` is this machine's engine
    assert [r.profile.devices for r in servers.replicas_of(found["bench-d"])] == ["0", "1,2"]
    assert [r.profile.base_url for r in servers.replicas_of(found["bench-u"])] == ["http://a:1/", "http://a:2"]


def test_compose_replicas_on_one_box_take_ports_apart_and_share_its_cores(tmp_path, monkeypatch):
    """Two engines on this machine (both answer at 127.0.0.1): the next port, and half the cores each, as
    native replicas get; a remote box keeps its port and llama-server's own thread count (its cores are not
    known here); a thread count in extra_args wins."""
    from benchlib.servers.compose import compose_env
    from benchlib.servers.fleet import _one_box_apart

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    found = profiles(tmp_path, "[bench-c]\nmodel = m.gguf\nport = 8100\n"
                               "host = local, unix:///run/engine2.sock, tcp://10.1.2.3:2376\n\n"
                               "[bench-t]\nmodel = m.gguf\nport = 8100\nhost = local, unix:///run/engine2.sock\n"
                               "extra_args = -t 3\n")
    spread = _one_box_apart(servers.replicas_of(found["bench-c"]))
    assert [r.profile.port for r in spread] == [8100, 8101, 8100]
    threads = [compose_env(r.profile)["LLAMA_ARGS"].split("--flash-attn")[0].strip() for r in spread]
    assert threads == ["--threads 4", "--threads 4", ""]
    told = _one_box_apart(servers.replicas_of(found["bench-t"]))
    assert ["--threads" not in compose_env(r.profile)["LLAMA_ARGS"].split() for r in told] == [True, True]


@pytest.mark.parametrize("section, message", [
    ("server = native\nmodel = m\nreplicas = 2\ndevices = 0 1 2", "3 device groups for replicas = 2"),
    ("model = m\nreplicas = 2", "'replicas' applies to server = native or reference"),
    ("model = m\nhost = gpu1, gpu1", "a host is listed twice"),
    ("server = external\nbase_url = http://a:1, http://b:1\nhost = a, b, c", "3 hosts for 2 base_urls"),
    ("server = external\nbase_url = http://a:1, http://a:1", "a URL is listed twice"),
    ("model = m\nbase_url = http://a:1, http://b:1", "server = compose takes one base_url"),
    ("model = m\nhost = a, b\nbase_url = http://a:1", "would send every host's answers to one URL"),
    ("server = reference\ndevices = 0", "'devices' applies to server = native"),
    ("model = m\non_server_change = maybe", "on_server_change must be one of warn, regenerate, stop"),
    ("server = external\nbase_url = http://a:1, ftp://b", "base_url must start with http:// or https://, not 'ftp://b'"),
])
def test_a_replica_setting_that_cannot_work_is_one_line(tmp_path, section, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        profiles(tmp_path, f"[bench-x]\n{section}\n")


def answers(dataset, build="b1", delay=0.0, calls=None, changed=()):
    """Canonical answers, naming `build` as llama-server's responses do; the problems in `changed` answered
    otherwise (a server that answers them differently). Other routes (/tokenize ...): 404."""
    by_prompt = {request_body("m", p["prompt"], 768)["messages"][1]["content"]: (t, p)
                 for t, p in dataset.problems.items()}

    def respond(body):
        if "messages" not in body:
            return 404, {"error": {"message": "File Not Found"}}
        if delay:
            time.sleep(delay)
        task_id, problem = by_prompt[body["messages"][1]["content"]]
        tail = "\n    # another build's answer" if task_id in changed else ""
        status, payload = completion(f"```python\n{problem['prompt']}{problem['canonical_solution']}{tail}\n```")
        if calls is not None:
            calls.append(body)
        return status, {**payload, "system_fingerprint": build}
    return respond


def client(server, **kw):
    return ChatClient(server.url, timeout=5, attempts=2, backoff=0.01, **kw)


def test_answers_go_to_whichever_replica_has_a_free_slot_and_equal_one_servers(tmp_path, humaneval):
    dataset = humaneval.subset(12)
    with FakeServer([answers(dataset)]) as one:
        single = run_folder(tmp_path / "one", "bench-t", "humaneval")
        generation(dataset, single, client(one), parallel=2, header={"h": 1})
    stop = threading.Event()
    with FakeServer([answers(dataset, delay=0.05)]) as slow, FakeServer([answers(dataset)]) as fast:
        pool = Pool([Member("slow", client(slow, stop=stop), 2), Member("fast", client(fast, stop=stop), 2)], stop,
                    quiet_log())
        paths = run_folder(tmp_path / "two", "bench-t", "humaneval")
        summary = generation(dataset, paths, pool, header={"h": 1})
    assert summary.samples == 12 and summary.generated_now == 12
    records = [json.loads(line) for line in paths.samples.read_text().splitlines()]
    mine = [json.loads(line) for line in single.samples.read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k != "replica"} for r in records] == mine
    made = {label: sum(r["replica"] == label for r in records) for label in ("slow", "fast")}
    assert made["slow"] >= 1 and made["fast"] > made["slow"]  # per answer, not half each
    assert {m.label: m.answered for m in pool.members} == made
    assert {m.label: dict(m.builds) for m in pool.members} == {label: {"b1": n} for label, n in made.items()}


def test_a_replica_lost_mid_run_costs_only_its_answers_in_flight(tmp_path, humaneval):
    """Replica b answers twice, then its server is gone (HTTP 500 and a gone reason, as a crashed
    llama-server): what it had in flight is asked again on a, and the run finishes."""
    dataset = humaneval.subset(12)
    given, gone = [], threading.Event()
    good = answers(dataset)

    def dying(body):
        if len(given) >= 2:
            gone.set()
            return 500, {"error": {"message": "backend died"}}
        given.append(body)
        return good(body)

    events = []
    log = collecting_log(events)
    stop = threading.Event()
    with FakeServer([answers(dataset, delay=0.02)]) as a, FakeServer([dying]) as b:
        pool = Pool([Member("a", client(a, stop=stop), 2),
                     Member("b", client(b, stop=stop, gone_reason=lambda: "exited with code 1" if gone.is_set() else ""),
                            2)], stop, log)
        paths = run_folder(tmp_path, "bench-t", "humaneval")
        summary = generation(dataset, paths, pool, header={"h": 1}, log=log)
    records = [json.loads(line) for line in paths.samples.read_text().splitlines()]
    assert summary.samples == 12 and len({r["task_id"] for r in records}) == 12
    assert sum(r["replica"] == "b" for r in records) == 2 and pool.members[1].lost.startswith("the model server stopped")
    assert any("replica b lost (the model server stopped: exited with code 1): its answers in flight are asked again "
               "on the 1 left" in e for e in events)


def test_when_every_replica_is_lost_the_run_fails_and_keeps_its_answers(tmp_path, humaneval):
    dataset = humaneval.subset(8)
    count = {"n": 0}
    lock = threading.Lock()
    good = answers(dataset)

    def three_then_gone(body):
        with lock:
            count["n"] += 1
            if count["n"] > 3:
                return 503, {"error": {"message": "gone"}}
        return good(body)

    stop = threading.Event()
    with FakeServer([three_then_gone]) as a, FakeServer([three_then_gone]) as b:
        pool = Pool([Member("a", client(a, stop=stop), 1), Member("b", client(b, stop=stop), 1)], stop, quiet_log())
        paths = run_folder(tmp_path, "bench-t", "humaneval")
        with pytest.raises(GenerationError, match=r"no answer from .* \(3 of 8 samples kept\)"):
            generation(dataset, paths, pool, header={"h": 1})
    assert all(m.lost for m in pool.members)
    with FakeServer([answers(dataset)]) as c:  # resumed on another server: only the 5 missing are asked
        calls = []
        c.plan = [answers(dataset, calls=calls)]
        summary = generation(dataset, paths, client(c), parallel=2, header={"h": 1})
    assert summary.samples == 8 and summary.generated_now == 5 and len(calls) == 5


def external_replicas(urls, **keys):
    from benchlib.config import Profile

    return Profile(**{"name": "bench-x", "server": "external", "base_url": ", ".join(urls), "parallel": 2,
                      "health_timeout": 5, **keys})


def generate_with(tmp_path, profile, dataset, log=None, force=False):
    """The generation stage's body in this process: the profile's servers started, every run made."""
    from benchlib.generation.codegen import generate

    runs = ProfileRuns(profile, tmp_path / "results", "humaneval", 0, "HumanEvalPlus-v0.1.10", tmp_path)
    with servers.start(profile, settings_for(tmp_path), runs.main.folder, log or quiet_log()) as fleet:
        generate(runs, dataset, fleet, log or quiet_log(), force_canary=force)
    return runs


def test_two_external_replicas_record_what_made_each_answer_and_check_they_agree(tmp_path, humaneval):
    dataset = humaneval.subset(10)
    props = {"build_info": "b5190-abc", "chat_template": "{{ messages }}", "model_path": "/m/q5.gguf"}
    with FakeServer([answers(dataset, "b5190-abc")], props=props) as a, \
            FakeServer([answers(dataset, "b5190-abc")], props=props) as b:
        runs = generate_with(tmp_path, external_replicas([a.url, b.url]), dataset)
    records = [json.loads(line) for line in runs.main.folder.samples.read_text().splitlines()]
    labels = [a.url.split("//")[1], b.url.split("//")[1]]
    assert {r["replica"] for r in records} <= set(labels) and len(records) == 10
    record = runs.main.record()
    assert [r["replica"] for r in record.replicas] == labels
    for replica in record.replicas:
        assert replica["build"] == "b5190-abc" and replica["backend"] == "external" and replica["gpus"] is None
        assert len(replica["chat_template_sha256"]) == 64 and replica["model_path"] == "/m/q5.gguf"
        assert replica["answers"] == sum(r["replica"] == replica["replica"] for r in records)
        assert replica["responses_named"] == {"b5190-abc": replica["answers"]}
    assert record.agreement["checked"] == 3 and record.agreement["identical"] == 3
    assert record.agreement["replicas"] == sorted({r["replica"] for r in records})
    assert record.canary == {}


def test_a_replica_that_does_not_start_leaves_the_others_to_answer(tmp_path, humaneval):
    dataset = humaneval.subset(4)
    events = []
    log = collecting_log(events)
    with FakeServer([answers(dataset)]) as a, FakeServer([], health=503) as loading:
        runs = generate_with(tmp_path, external_replicas([a.url, loading.url], health_timeout=1), dataset, log)
    records = [json.loads(line) for line in runs.main.folder.samples.read_text().splitlines()]
    assert len(records) == 4 and {r["replica"] for r in records} == {a.url.split("//")[1]}
    label = loading.url.split("//")[1]
    assert any(f"replica {label} did not start (the model server at {loading.url} was not healthy after 1 s" in e
               and "going on with 1 of 2" in e for e in events)
    assert label in runs.main.record().server["replicas_not_started"]
    assert runs.main.record().agreement == {}  # one replica answered: nothing to compare


@pytest.mark.e2e
def test_reference_replicas_through_doit_resume_after_kill_9(project):
    """Two reference servers for one profile: a kill -9 of doit mid-run loses no answer, the rerun resumes
    on both and the score is the self-test's 100."""
    (project / "models.conf").write_text("[bench-reference]\nserver = reference\nparallel = 2\nreplicas = 2\n")
    env = doit_env(project, BENCH_REFERENCE_DELAY="0.3")
    root = project / "results" / "bench-reference" / "humaneval-subset20"
    kill_doit_at(project, root / "samples.partial.jsonl", 6, ["gen:bench-reference", "subset=20"], env)
    done = doit(project, "eval:bench-reference", "subset=20", env=doit_env(project))
    log = (root / "codegen.log").read_text()
    assert "resuming: " in log and "starting 2 replicas: local-1, local-2" in log
    records = [json.loads(line) for line in (root / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 20 and {r["replica"] for r in records} == {"local-1", "local-2"}
    assert json.loads((root / "eval_results.json").read_text())["pass_at_1"]["plus"] == 100.0, done.stdout
    assert (root / "server-local-1.log").exists() and (root / "server-local-2.log").exists()
    manifest = json.loads((root / "manifest.json").read_text())["generation"]
    assert [r["replica"] for r in manifest["replicas"]] == ["local-1", "local-2"]
    assert sum(r["answers"] for r in manifest["replicas"]) == 20

    # `doit canary:<profile>`: the pinned problems asked again although nothing changed; never in plain `doit`
    checked = doit(project, "canary:bench-reference", "subset=20", env=doit_env(project))
    canary = json.loads((root / "manifest.json").read_text())["generation"]["canary"]
    assert canary["verdict"] == "identical" and canary["asked"] == 20 and canary["changes"] == [], checked.stderr
    assert "20 of 20 canary answers identical: samples kept" in checked.stderr
    assert "canary" not in doit(project, "subset=20", env=doit_env(project)).stdout
