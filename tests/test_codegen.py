import json
import os
import subprocess
import sys

import pytest

from benchlib.generation.client import ChatClient
from benchlib.generation.prompt import PROMPT_STYLES, request_body, sanitize
from benchlib.errors import GenerationError
from benchlib.results import run_folder

from support import HUMANEVAL, quiet_log
from builders import generation
from fakeserver import FakeServer, completion


def test_request_equals_what_evalplus_codegen_sends(tmp_path, humaneval):
    """Run evalplus 0.3.1's own codegen (openai backend, greedy) against a capturing server."""
    with FakeServer([completion("```python\ndef f():\n    return 1\n```")]) as server:
        script = (
            "from evalplus.codegen import run_codegen\n"
            f"run_codegen(model='bench-x', dataset='humaneval', backend='openai', greedy=True, "
            f"base_url='{server.url}/v1', root={str(tmp_path / 'ev')!r}, id_range=[0, 2])\n"
        )
        env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str(HUMANEVAL), "OPENAI_API_KEY": "none"}
        subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, timeout=300)
    assert len(server.requests) == 2
    for task_id, sent in zip(["HumanEval/0", "HumanEval/1"], server.requests):
        ours = request_body("bench-x", humaneval.problems[task_id]["prompt"], 768)
        assert set(sent) == set(ours)
        for key in ours:
            assert sent[key] == ours[key], key
    # a backend may add fields for reproducibility, nothing else changes
    extended = request_body("bench-x", "p", 768, {"cache_prompt": False})
    assert {k: v for k, v in extended.items() if k != "cache_prompt"} == request_body("bench-x", "p", 768)


def answer_with_canonical(dataset):
    by_prompt = {request_body("m", p["prompt"], 768)["messages"][1]["content"]: p for p in dataset.problems.values()}

    def answer(body):
        problem = by_prompt[body["messages"][1]["content"]]
        return completion(f"<think>draft: def wrong(): pass</think>\n```python\n"
                          f"{problem['prompt']}{problem['canonical_solution']}\n```")
    return answer


def run(dataset, tmp_path, server, parallel=4, attempts=3):
    client = ChatClient(server.url, timeout=30, attempts=attempts, backoff=0.01)
    paths = run_folder(tmp_path, "bench-t", "humaneval")
    return paths, generation(dataset, paths, client, parallel=parallel, header={"h": 1})


def test_generation_writes_sanitized_and_raw_samples_in_dataset_order(tmp_path, humaneval):
    with FakeServer([answer_with_canonical(humaneval)]) as server:
        paths, summary = run(humaneval, tmp_path, server)
    records = [json.loads(line) for line in paths.samples.read_text().splitlines()]
    assert [r["task_id"] for r in records] == humaneval.task_ids
    first = records[0]
    assert first["raw_solution"].startswith("```python") and "def has_close_elements" in first["solution"]
    assert "wrong" not in first["solution"] and first["reasoning"] == "draft: def wrong(): pass"
    assert first["finish_reason"] == "stop" and first["completion_tokens"] == 10
    stats = [json.loads(line) for line in paths.generation_stats.read_text().splitlines()]
    assert len(stats) == 164 and "latency" in stats[0]
    assert summary.generated_now == 164 and not paths.samples_journal.exists()


def test_5xx_is_retried_then_succeeds(tmp_path, humaneval):
    dataset = humaneval.subset(12)
    answer = answer_with_canonical(dataset)
    with FakeServer([(500, {"error": "busy"}), (503, {"error": "loading"}), answer]) as server:
        paths, summary = run(dataset, tmp_path, server, parallel=1)
    assert summary.samples == 12 and len(server.requests) == 14


def test_4xx_fails_fast_with_the_servers_message_and_keeps_finished_samples(tmp_path, humaneval):
    dataset = humaneval.subset(12)
    answer = answer_with_canonical(dataset)
    plan = [answer] * 5 + [(400, {"error": {"message": "the request exceeds the available context size"}})]
    with FakeServer(plan) as server:
        with pytest.raises(GenerationError) as info:
            run(dataset, tmp_path, server, parallel=1)
    assert "HTTP 400: the request exceeds the available context size" in str(info.value)
    assert "(5 of 12 samples kept)" in str(info.value)
    assert len(server.requests) == 6  # no retry of a 400
    paths = run_folder(tmp_path, "bench-t", "humaneval")
    assert len(paths.samples_journal.read_text().splitlines()) == 1 + 5 and not paths.samples.exists()
    # rerun against a healthy server: resumes at the first unfinished problem
    with FakeServer([answer]) as server:
        _, summary = run(dataset, tmp_path, server, parallel=1)
    assert summary.generated_now == 7 and len(server.requests) == 7


def test_server_gone_gives_a_clear_error(tmp_path, humaneval):
    client = ChatClient("http://127.0.0.1:9", timeout=5, attempts=2, backoff=0.01)
    paths = run_folder(tmp_path, "bench-t", "humaneval")
    with pytest.raises(GenerationError, match=r"no answer from http://127.0.0.1:9/v1/chat/completions after 2 attempt\(s\) within 5 s"):
        generation(humaneval, paths, client)


def test_empty_content_of_a_reasoning_model_is_counted(tmp_path, humaneval):
    with FakeServer([completion(None, finish_reason="length", reasoning="thinking...", tokens=768)]) as server:
        paths, summary = run(humaneval, tmp_path, server)
    assert summary.hit_token_limit == 164 and summary.empty_answers == 164
    record = json.loads(paths.samples.read_text().splitlines()[0])
    assert record["solution"] == "" and record["reasoning"] == "thinking..."


def test_a_failed_spot_check_regenerates_everything(tmp_path, humaneval):
    """A server that answers differently the second time: one clear line, then a full regeneration."""
    from benchlib.generation.reuse import plan_reuse
    from benchlib.manifest import GenerationRecord, write_generation

    from support import quiet_log

    dataset = humaneval.subset(12)
    calls = {}

    def answer(body):
        prompt = body["messages"][1]["content"]
        calls[prompt] = calls.get(prompt, 0) + 1
        if body["max_tokens"] == 32 and len(prompt) % 3 == 0:
            return completion("x" * 10, finish_reason="length", tokens=32)
        return completion(f"```python\ndef f():\n    return {calls[prompt]}\n```", tokens=20)

    paths = run_folder(tmp_path, "bench-t", "humaneval")
    with FakeServer([answer]) as server:
        client = ChatClient(server.url, timeout=30, backoff=0.01)
        old = {"h": 1, "reproducible": True, "max_tokens": 32}
        generation(dataset, paths, client, max_tokens=32, header=old)
        write_generation(paths, GenerationRecord(header=old))
        new = {"h": 1, "reproducible": True, "max_tokens": 64}
        records = logging_records = []
        log = quiet_log()
        handler = CollectWarnings(records)
        log.addHandler(handler)
        try:
            plan = plan_reuse(paths, new, log)
            assert plan is not None and plan.spot
            summary = generation(dataset, paths, client, max_tokens=64, header=new, log=log, reuse=plan)
        finally:
            log.removeHandler(handler)
    assert any("spot check failed" in line and "regenerating every answer" in line for line in logging_records)
    assert summary.reuse["spot_check"] == "failed" and summary.reuse["reused"] == 0
    assert summary.generated_now == len(dataset.problems)  # every answer asked again
    final = [json.loads(line) for line in paths.samples.read_text().splitlines()]
    assert all("return 2" in r["raw_solution"] or "return 3" in r["raw_solution"] for r in final
               if r["finish_reason"] == "stop")


class CollectWarnings(__import__("logging").Handler):
    def __init__(self, lines):
        super().__init__()
        self.lines = lines

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_a_base_model_request_equals_evalplus_own_construction(tmp_path, humaneval):
    """evalplus 0.3.1's codegen with a base (direct-completion) model: its prompt, its stop strings, greedy
    sampling and the raw and sanitized solutions it writes, against ours for the same continuation."""
    script = (
        "import inspect, json, sys\n"
        "from evalplus.codegen import codegen\n"
        "from evalplus.provider.base import DecoderBase\n"
        "from evalplus.provider.utility import EOS, extra_eos_for_direct_completion\n"
        "prompts = []\n"
        "class Base(DecoderBase):\n"
        "    def codegen(self, prompt, do_sample=True, num_samples=200):\n"
        "        prompts.append(prompt)\n"
        "        # the server's text, as evalplus's vLLM backend hands it on (tabs as four spaces)\n"
        "        return ['    return sorted(numbers)[:1]\\n\\tpass\\n'.replace('\\t', '    ')]\n"
        "    def is_direct_completion(self):\n"
        "        return True\n"
        f"codegen({str(tmp_path / 'ev.jsonl')!r}, Base('base', temperature=0.0), 'humaneval', greedy=True, "
        "id_range=[0, 2])\n"
        "print(json.dumps({'prompts': prompts, 'stop': EOS + extra_eos_for_direct_completion('humaneval'),\n"
        "                  'mbpp_stop': EOS + extra_eos_for_direct_completion('mbpp'),\n"
        "                  'max_tokens': inspect.signature(DecoderBase).parameters['max_new_tokens'].default}))\n"
    )
    env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str(HUMANEVAL)}
    done = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True,
                          timeout=300)
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    style = PROMPT_STYLES["completion"]
    for task_id, prompt in zip(["HumanEval/0", "HumanEval/1"], theirs["prompts"]):
        body = style.body("bench-x", humaneval.problems[task_id]["prompt"], 768, None, "humaneval")
        assert body["prompt"] == prompt and body["stop"] == theirs["stop"]
        # evalplus's vLLM backend, greedy: temperature 0, top_p 1.0, max_tokens = max_new_tokens
        assert (body["temperature"], body["top_p"], body["max_tokens"], body["n"]) == (0.0, 1.0, theirs["max_tokens"], 1)
    assert style.body("m", "p", 768, None, "mbpp")["stop"] == theirs["mbpp_stop"]
    # what evalplus writes: raw = prompt + continuation (the vLLM/HF backends turn tabs into 4 spaces), then sanitized
    raw = [json.loads(line) for line in (tmp_path / "ev.raw.jsonl").read_text().splitlines()]
    sanitized = [json.loads(line) for line in (tmp_path / "ev.jsonl").read_text().splitlines()]
    for ours_task, raw_record, clean in zip(["HumanEval/0", "HumanEval/1"], raw, sanitized):
        ours = style.solution(humaneval.problems[ours_task]["prompt"], "    return sorted(numbers)[:1]\n\tpass\n")
        assert ours == raw_record["solution"]
        assert sanitize(ours, humaneval.problems[ours_task]["entry_point"]) == clean["solution"]
    assert style.solution("def f():\n", "\treturn 1") == "def f():\n    return 1"


def test_a_completion_profile_on_a_server_without_that_endpoint_says_so(tmp_path, humaneval):
    dataset = humaneval.subset(3)
    with FakeServer([(404, {"error": {"message": "File Not Found"}})]) as server:
        client = ChatClient(server.url, timeout=10, attempts=3, backoff=0.01, path=PROMPT_STYLES["completion"].path)
        paths = run_folder(tmp_path, "bench-t", "humaneval")
        with pytest.raises(GenerationError) as info:
            generation(dataset, paths, client, parallel=1, style="completion")
    assert f"the server has no {server.url}/v1/completions endpoint (HTTP 404" in info.value.message
    assert "prompt_style = completion needs" in info.value.tip and len(server.requests) == 1


def test_request_extras_reach_every_request_and_the_manifest(tmp_path, humaneval):
    from benchlib.config import Profile
    from benchlib.generation.codegen import generate
    from benchlib.manifest import read_generation
    from benchlib.runs import ProfileRuns
    from benchlib.servers import Replica, ServerHandle
    from benchlib.servers.fleet import Fleet

    dataset = humaneval.subset(3)
    profile = Profile(name="bench-x", server="external", base_url="http://x", parallel=1,
                      request_extras='{"chat_template_kwargs": {"reasoning_effort": "high"}, "cache_prompt": true}')
    with FakeServer([answer_with_canonical(dataset)]) as server:
        handle = ServerHandle(base_url=server.url, gone_reason=lambda: "", extra_body={"cache_prompt": False},
                              probe_token_cap=False)
        runs = ProfileRuns(profile, tmp_path, "humaneval", 0, "HumanEvalPlus-v0.1.10", tmp_path)
        generate(runs, dataset, Fleet([handle], [Replica("", profile)]), quiet_log())
    section = read_generation(runs.main.folder).to_json()
    assert section["header"] == runs.main.header
    asked = [body for body in server.requests if "messages" in body]  # (the others count reasoning tokens)
    assert len(asked) == 3
    for body in asked:
        assert body["chat_template_kwargs"] == {"reasoning_effort": "high"}
        assert body["cache_prompt"] is True  # the profile's extras win over the backend's fields
    assert section["sampling"]["chat_template_kwargs"] == {"reasoning_effort": "high"}
    assert section["profile"]["request_extras"] == profile.request_extras
    # the answers carry <think> drafts: a reasoning model, its tokens split (this server cannot count them)
    assert section["reasoning"]["detected"] and section["reasoning"]["answers"] == 3
    assert section["reasoning"]["source"].startswith("estimated from characters")


def test_stop_loops_ends_a_runaway_answer_early_and_marks_it(tmp_path, humaneval):
    """stop_loops: streamed, watched by the loop detector, ended at once (the server's slot freed by the
    closed connection); answers that do not loop are read to their end, the same as unstreamed."""
    from fakeserver import ScriptedReasoner

    from benchlib.generation.loops import cut_kind

    dataset = humaneval.subset(2)
    first, second = dataset.task_ids
    plan = {first: (6000, True), second: (100, False)}
    with FakeServer([ScriptedReasoner(dataset, plan.get)]) as server:
        client = ChatClient(server.url, timeout=30, attempts=2, backoff=0.01)
        paths = run_folder(tmp_path, "bench-t", "humaneval")
        generation(dataset, paths, client, max_tokens=8192, parallel=1, stop_loops=True)
        events = server.streamed
    records = {json.loads(line)["task_id"]: json.loads(line) for line in paths.samples.read_text().splitlines()}
    runaway, fine = records[first], records[second]
    assert runaway["stopped"] == "looped" and cut_kind(runaway) == "looped" and runaway["finish_reason"] == "length"
    assert runaway["completion_tokens"] < 1000 and events < 6000  # stopped long before its 6000 tokens
    assert "stopped" not in fine and fine["finish_reason"] == "stop" and "def " in fine["solution"]
    with FakeServer([ScriptedReasoner(dataset, plan.get)]) as server:  # unstreamed, the same answer
        client = ChatClient(server.url, timeout=30, attempts=2, backoff=0.01)
        again = run_folder(tmp_path / "plain", "bench-t", "humaneval")
        generation(dataset, again, client, max_tokens=8192, parallel=1)
    plain = {json.loads(line)["task_id"]: json.loads(line) for line in again.samples.read_text().splitlines()}
    for key in ("solution", "raw_solution", "reasoning", "finish_reason", "completion_tokens"):
        assert plain[second][key] == fine[key], key
    assert plain[first]["completion_tokens"] > 6000 and "stopped" not in plain[first]  # ran to its end


def test_sampled_answers_one_request_each_seeded_by_problem_and_index(tmp_path, humaneval):
    """n_samples: n requests per problem, each with a seed fixed by (problem, answer index), written in
    evalplus's format (several lines per task); resumed per answer; the same seeds give the same file."""
    from benchlib.generation.prompt import Sampling

    dataset = humaneval.subset(4)

    def answer(body):
        task = next(t for t in dataset.task_ids if dataset.problems[t]["prompt"].strip() in body["messages"][1]["content"])
        assert (body["temperature"], body["top_p"]) == (0.8, 0.95)
        return completion(f"```python\n{dataset.problems[task]['prompt']}    return {body['seed']}\n```")

    def run(folder, fail_after=None):
        plan = [answer] * (fail_after or 1) + ([(400, {"error": "stop here"})] if fail_after else [])
        with FakeServer(plan) as server:
            client = ChatClient(server.url, timeout=30, attempts=2, backoff=0.01)
            paths = run_folder(folder, "bench-t", "humaneval")
            generation(dataset, paths, client, parallel=1, header={"h": 1}, answers=3, sampling=(0.8, 0.95))
            return paths, server.requests

    paths, asked = run(tmp_path / "a")
    records = [json.loads(line) for line in paths.samples.read_text().splitlines()]
    assert [(r["task_id"], r["sample_index"]) for r in records] == [(t, i) for t in dataset.task_ids for i in range(3)]
    assert len(asked) == 12 and len({body["seed"] for body in asked}) == 12
    for record in records:
        assert f"return {Sampling.seed_of(record['task_id'], record['sample_index'])}" in record["solution"]
    # interrupted after 5 answers, then resumed: the same file as in one go
    with pytest.raises(GenerationError):
        run(tmp_path / "b", fail_after=5)
    resumed, asked_again = run(tmp_path / "b")
    assert len(asked_again) == 7 and resumed.samples.read_bytes() == paths.samples.read_bytes()


def test_a_runs_request_settings_are_one_value():
    """Request: the body of every answer, the probe's (greedy, the cap field) and the manifest's copy."""
    from dataclasses import replace

    from benchlib.config import Profile
    from benchlib.generation.prompt import PROMPT_STYLES
    from benchlib.generation.request import Request

    profile = Profile(name="bench-x", server="external", base_url="http://x", temperature=0.8, n_samples=3,
                      request_extras='{"cache_prompt": true}', stop_loops=True)
    request = Request.of(profile, "humaneval", {"cache_prompt": False, "slot": 1})
    body = request.body("def f():\n", "HumanEval/0", 2)
    assert body["cache_prompt"] is True and body["slot"] == 1  # the profile's extras win over the server's
    assert body["temperature"] == 0.8 and isinstance(body["seed"], int) and request.stop_loops
    assert body["seed"] != request.body("def f():\n", "HumanEval/0", 1)["seed"]  # seeded per answer
    capped = replace(request, cap_field="max_completion_tokens").at(64)
    assert capped.body("x")["max_tokens"] == capped.body("x")["max_completion_tokens"] == 64
    settings = request.settings(answers=3)
    assert "messages" not in settings and settings["answers_per_problem"] == 3
    assert settings["seed"].startswith("per problem and answer")
    greedy = Request.of(Profile(name="bench-y", server="external", base_url="http://x", prompt_style="completion"),
                        "mbpp")
    assert greedy.style is PROMPT_STYLES["completion"] and "\nassert" in greedy.body("x")["stop"]
    assert "seed" not in greedy.body("x") and greedy.body("x")["temperature"] == 0.0
