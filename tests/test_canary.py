"""The canary: a server that changed since a profile's samples were made (here a scripted server whose build
string and answers the test changes between two runs) is asked a pinned set of problems again before
anything else; identical answers keep the samples, changed ones are reported with the problems that
changed, and `on_server_change` does what it says. Also what can be told without starting a server
(doit's up-to-date check), and the provenance's words."""

import json
import os
import stat

import pytest

from benchlib.config import Profile
from benchlib.errors import GenerationError
from benchlib.generation.canary import SUPERSEDED, pinned
from benchlib.manifest import GenerationRecord, write_generation
from benchlib.pipeline import server_changed
from benchlib.runs import ProfileRuns
from benchlib.servers import replicas_of
from benchlib.servers.provenance import changes, gpus_in, identity, local_identity

from fakeserver import FakeServer
from support import quiet_log
from test_replicas import answers, external_replicas, generate_with
from test_servers import collecting_log, settings_for

PROPS = {"build_info": "b5190-abc", "chat_template": "{{ messages }}"}


def logged():
    events = []
    log = collecting_log(events)
    return log, events


def samples(runs):
    return runs.main.folder.samples.read_bytes()


def chat_requests(server):
    return [body for body in server.requests if "messages" in body and body.get("max_tokens") != 4]


def test_the_pinned_set_is_the_same_whatever_the_order():
    keys = [f"HumanEval/{i}" for i in range(164)]
    assert pinned(keys, 20) == pinned(list(reversed(keys)), 20) and len(set(pinned(keys, 20))) == 20
    assert pinned(keys, 20)[:5] == pinned(keys, 5)


def test_an_unchanged_server_asks_nothing_again(tmp_path, humaneval):
    dataset = humaneval.subset(8)
    with FakeServer([answers(dataset, "b5190-abc")], props=dict(PROPS)) as server:
        profile = external_replicas([server.url], canary_problems=5)
        runs = generate_with(tmp_path, profile, dataset)
        made = samples(runs)
        asked = len(chat_requests(server))
        generate_with(tmp_path, profile, dataset)
        assert len(chat_requests(server)) == asked  # no canary: nothing changed
    assert samples(runs) == made and runs.main.record().canary == {}


def test_a_new_build_with_identical_answers_keeps_the_samples(tmp_path, humaneval):
    dataset = humaneval.subset(8)
    with FakeServer([answers(dataset, "b5190-abc")], props=dict(PROPS)) as server:
        profile = external_replicas([server.url], canary_problems=5)
        runs = generate_with(tmp_path, profile, dataset)
        made = samples(runs)
        server.props = {**PROPS, "build_info": "b5230-def"}
        asked = len(chat_requests(server))
        log, events = logged()
        generate_with(tmp_path, profile, dataset, log)
        assert len(chat_requests(server)) == asked + 5
    canary = runs.main.record().canary
    assert samples(runs) == made
    assert canary["changes"] == ["build b5190-abc -> b5230-def"] and canary["verdict"] == "identical"
    assert canary["asked"] == 5 and canary["identical"] == 5 and canary["action"] == "kept"
    assert len(canary["answers"]) == 5 and all("raw_solution" in a for a in canary["answers"])
    assert any("bench-x: build b5190-abc -> b5230-def since its samples in humaneval/; 5 of 5 canary answers "
               "identical: samples kept" in e for e in events)
    assert runs.main.record().identities == canary["servers"]  # checked: the next run compares with this one
    with FakeServer([answers(dataset, "b5230-def")], props={**PROPS, "build_info": "b5230-def"}) as same:
        generate_with(tmp_path, external_replicas([same.url], canary_problems=5), dataset)
        assert chat_requests(same) == []  # the build the canary checked: nothing asked again


def changed_server(tmp_path, humaneval, setting, count=5):
    """A profile's samples made on build b5190; then build b5230 answers two pinned problems otherwise."""
    dataset = humaneval.subset(8)
    keys = pinned(dataset.task_ids, count)
    with FakeServer([answers(dataset, "b5190-abc")], props=dict(PROPS)) as server:
        profile = external_replicas([server.url], canary_problems=count, on_server_change=setting)
        runs = generate_with(tmp_path, profile, dataset)
        made = samples(runs)
        server.props = {**PROPS, "build_info": "b5230-def"}
        server.plan = [answers(dataset, "b5230-def", changed=keys[:2])]
        log, events = logged()
        error = None
        try:
            generate_with(tmp_path, profile, dataset, log)
        except GenerationError as raised:
            error = raised
    return runs, made, events, error, keys[:2]


def test_changed_answers_warn_keep_the_samples_and_name_the_problems(tmp_path, humaneval):
    runs, made, events, error, differ = changed_server(tmp_path, humaneval, "warn")
    assert error is None and samples(runs) == made
    canary = runs.main.record().canary
    assert canary["verdict"] == "changed" and canary["action"] == "kept" and canary["differing"] == differ
    assert canary["identical"] == 3
    assert any(f"3 of 5 canary answers identical: 2 differ ({', '.join(differ)}); samples kept "
               "(on_server_change = warn)" in e for e in events)


def test_changed_answers_regenerate_every_run_and_keep_the_old_samples_beside(tmp_path, humaneval):
    runs, made, events, error, differ = changed_server(tmp_path, humaneval, "regenerate")
    assert error is None
    assert (runs.main.folder.root / SUPERSEDED).read_bytes() == made
    now = [json.loads(line) for line in runs.main.folder.samples.read_text().splitlines()]
    assert sorted(r["task_id"] for r in now if "another build" in r["raw_solution"]) == sorted(differ)
    record = runs.main.record()
    assert record.canary["action"] == "regenerated" and record.replicas[0]["build"] == "b5230-def"
    assert any("on_server_change = regenerate: making every run again" in e for e in events)


def test_changed_answers_stop_with_the_problems_and_the_way_out(tmp_path, humaneval):
    runs, made, events, error, differ = changed_server(tmp_path, humaneval, "stop")
    assert error is not None and samples(runs) == made
    assert f"2 differ ({', '.join(differ)}); on_server_change = stop" in error.message
    assert "on_server_change = warn" in error.tip and "on_server_change = regenerate" in error.tip
    canary = runs.main.record().canary
    assert canary["action"] == "stopped" and canary["differing"] == differ
    assert runs.main.record().replicas[0]["build"] == "b5190-abc"  # what made the samples, still


def test_a_run_resumed_on_a_changed_server_asks_the_canary_first(tmp_path, humaneval):
    """An interrupted run's journal marks the servers that made its answers: resumed on another build, the
    canary compares the journaled answers before the run goes on."""
    dataset = humaneval.subset(8)
    good = answers(dataset, "b5190-abc")
    served = {"n": 0}

    def four_then_rejected(body):
        if "messages" in body and body.get("max_tokens") != 4:
            served["n"] += 1
            if served["n"] > 4:
                return 400, {"error": {"message": "rejected"}}
        return good(body)

    with FakeServer([four_then_rejected], props=dict(PROPS)) as server:
        profile = external_replicas([server.url], canary_problems=20, on_server_change="stop", parallel=1)
        with pytest.raises(GenerationError, match="rejected"):
            generate_with(tmp_path, profile, dataset)
        runs = ProfileRuns(profile, tmp_path / "results", "humaneval", 0, "HumanEvalPlus-v0.1.10", tmp_path)
        journal = [json.loads(line) for line in runs.main.folder.samples_journal.read_text().splitlines()]
        assert journal[1]["_servers"][""]["build"] == "b5190-abc" and len(journal) == 6
        kept = [r["task_id"] for r in journal if "task_id" in r]
        server.props = {**PROPS, "build_info": "b5230-def"}
        server.plan = [answers(dataset, "b5230-def", changed=kept[:1])]
        with pytest.raises(GenerationError) as stopped:
            generate_with(tmp_path, profile, dataset)
    assert "since its samples in humaneval/ (interrupted: resuming)" in stopped.value.message
    assert f"3 of 4 canary answers identical: 1 differ ({kept[0]}); on_server_change = stop" in stopped.value.message


def test_doit_canary_asks_again_even_when_nothing_changed(tmp_path, humaneval):
    dataset = humaneval.subset(6)
    with FakeServer([answers(dataset, "b5190-abc")], props=dict(PROPS)) as server:
        profile = external_replicas([server.url], canary_problems=4)
        runs = generate_with(tmp_path, profile, dataset)
        generate_with(tmp_path, profile, dataset, force=True)
    canary = runs.main.record().canary
    assert canary["changes"] == [] and canary["verdict"] == "identical" and canary["asked"] == 4


def test_what_changed_is_said_in_words():
    before = identity({"build": "b5190", "model": {"size": 10, "sha256_head_tail": "a" * 64},
                       "image": {"id": "sha256:" + "1" * 64}, "flags": {"parallel": 4, "ctx_size": 8192}})
    after = identity({"build": "b5230", "model": {"size": 10, "sha256_head_tail": "b" * 64},
                      "image": {"id": "sha256:" + "2" * 64}, "flags": {"parallel": 8, "ctx_size": 8192}})
    assert changes(before, after) == ["build b5190 -> b5230", "image 111111111111 -> 222222222222",
                                      "model 10:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -> "
                                      "10:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                                      "parallel 4 -> 8"]
    assert changes(before, {"build": "b5190"}) == []  # what a server does not tell is never compared


@pytest.mark.parametrize("log, found", [
    ("ggml_cuda_init: found 2 CUDA devices:\n  Device 0: NVIDIA H100 80GB HBM3, compute capability 9.0, VMM: yes\n"
     "  Device 1: NVIDIA GeForce RTX 4090, compute capability 8.9, VMM: yes\n",
     ["NVIDIA H100 80GB HBM3", "NVIDIA GeForce RTX 4090"]),
    ("llama_model_load_from_file_impl: using device CUDA0 (NVIDIA A100-SXM4-80GB) - 80000 MiB free\n",
     ["NVIDIA A100-SXM4-80GB"]),
    ("ggml_vulkan: 0 = AMD Radeon RX 7900 XTX (RADV NAVI31) | uma: 0 | fp16: 1 | warp size: 64\n",
     ["AMD Radeon RX 7900 XTX (RADV NAVI31)"]),
    ("ggml_metal_device_init: GPU name:   Apple M2 Max\n", ["Apple M2 Max"]),
    ("system_info: n_threads = 2 / 2 | CPU : SSE3 = 1 | AVX = 1 |\nmain: server is listening on http://127.0.0.1:1\n", []),
])
def test_the_gpu_is_read_from_the_servers_log(log, found):
    assert gpus_in(log) == found


def test_doit_reruns_a_generation_whose_model_file_binary_or_flags_changed(tmp_path):
    """server_changed: what can be known without starting the server, against the manifest's record."""
    model, binary = tmp_path / "m.gguf", tmp_path / "llama-server"
    model.write_bytes(b"GGUF" + os.urandom(3 << 20))
    binary.write_bytes(b"#!/bin/sh\n")
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    profile = Profile(name="bench-n", server="native", model=str(model), llama_server=str(binary), parallel=2)
    settings = settings_for(tmp_path)
    runs = ProfileRuns(profile, tmp_path / "results", "humaneval", 0, "id", tmp_path)
    assert server_changed(profile, runs, settings) == []  # nothing recorded: nothing to compare
    (replica,) = replicas_of(profile)
    now = local_identity(replica, settings)
    assert set(now) == {"flags", "model", "binary"}
    runs.main.folder.root.mkdir(parents=True)
    write_generation(runs.main.folder, GenerationRecord(header=runs.main.header, replicas=[
        {"replica": "", "model": {"size": model.stat().st_size, "sha256_head_tail": now["model"].split(":")[1]},
         "binary": {"sha256": now["binary"]}, "flags": now["flags"], "build": "b1"}]))
    assert server_changed(profile, runs, settings) == []
    wider = Profile(**{**profile.__dict__, "parallel": 4})
    assert server_changed(wider, runs, settings) == ["parallel 2 -> 4"]
    binary.write_bytes(b"#!/bin/sh\n# rebuilt\n")
    assert [c.split(" ")[0] for c in server_changed(profile, runs, settings)] == ["binary"]
    with open(model, "r+b") as handle:
        handle.seek(-10, os.SEEK_END)
        handle.write(b"re-quanted")
    assert [c.split(" ")[0] for c in server_changed(profile, runs, settings)] == ["binary", "model"]
