"""Through doit, in a temp project. Quick: every stage on a few problems (a dataset file of five tasks).
End to end (e2e): the reference profile on the whole dataset, resume after kill -9, MBPP."""

import json
import re
import time

import pytest

from benchlib.datasets import SELF_TEST

from fakeserver import FakeServer, ScriptedReasoner
from support import DATASETS, MBPP_PRERELEASE
from projects import doit, doit_env, journal_samples, kill_doit_at, our_processes
from builders import few_tasks
from browser import page_data



def results(project, dataset="humaneval"):
    root = project / "results" / "bench-reference" / dataset
    return root, json.loads((root / "eval_results.json").read_text())


def few_problems(project, humaneval):
    """A data folder whose HumanEval+ file holds five tasks (the ground truth takes a moment)."""
    data = project / "few"
    data.mkdir()
    few = few_tasks(humaneval, ["HumanEval/0", "HumanEval/32", "HumanEval/53", "HumanEval/100", "HumanEval/163"], data)
    few.path.rename(data / "HumanEvalPlus-v0.1.10.jsonl")  # found as the release file in BENCH_DATA_DIR
    return data


def test_every_stage_through_doit_on_a_few_problems_and_a_failure_in_the_report(project, humaneval):
    """The quick suite's doit run: generation (reference server), evaluation, report; a failing stage is
    listed in REPORT.md, written once at the end of the run (doit skips the report task then)."""
    data = few_problems(project, humaneval)
    (project / "models.conf").write_text("[bench-reference]\nserver = reference\n"
                                         "[bench-broken]\nserver = none\nsamples = missing.jsonl\n")
    env = doit_env(project, BENCH_DATA_DIR=str(data))
    done = doit(project, env=env, check=False)
    assert done.returncode != 0 and "samples not found" in done.stdout + done.stderr
    root, evaluated = results(project)
    assert evaluated["pass_at_1"] == {"base": 100.0, "plus": 100.0} and evaluated["n_tasks"] == 5
    assert evaluated["header"] == {"eval_version": evaluated["eval_version"], "dataset": "HumanEvalPlus-v0.1.10"}
    assert all(r[0]["base_failure"] is None and r[0]["plus_failure"] is None for r in evaluated["eval"].values())
    report = (project / "results" / "REPORT.md").read_text()
    assert "**bench-reference** (self-test" in report and "every canonical solution passes" in report
    assert "failed: evaluation: samples not found" in report
    status = project / "results" / "bench-broken" / "humaneval" / "status.json"
    assert json.loads(status.read_text())["stage"] == "evaluation"
    # fixed: the next run evaluates it, clears its status, and the report task writes the report
    (project / "missing.jsonl").write_text((root / "samples.jsonl").read_text())
    again = doit(project, env=env)
    assert "-- gen:bench-reference" in again.stdout and "-- eval:bench-reference" in again.stdout
    assert ".  eval:bench-broken" in again.stdout and ".  benchmark" in again.stdout
    assert not status.exists() and "failed:" not in (project / "results" / "REPORT.md").read_text()
    assert not our_processes(project)


def test_the_base_model_prompt_style_through_doit(project, humaneval):
    """prompt_style = completion: evalplus's base prompt to /v1/completions (the reference server answers
    with each canonical body), the raw completion kept as evalplus keeps it, marked in the report."""
    data = few_problems(project, humaneval)
    (project / "models.conf").write_text("[bench-reference]\nserver = reference\nprompt_style = completion\n")
    doit(project, env=doit_env(project, BENCH_DATA_DIR=str(data)))
    root, evaluated = results(project)
    assert evaluated["pass_at_1"] == {"base": 100.0, "plus": 100.0}
    sample = json.loads((root / "samples.jsonl").read_text().splitlines()[0])
    problem = humaneval.problems[sample["task_id"]]
    assert sample["raw_solution"] == problem["prompt"].strip() + "\n" + problem["canonical_solution"]
    manifest = json.loads((root / "manifest.json").read_text())["generation"]
    assert manifest["header"]["prompt"] == "evalplus-0.3.1-base-completion"
    assert manifest["header"]["prompt_style"] == "completion" and manifest["sampling"]["top_p"] == 1.0
    assert "\nif __name__" in manifest["sampling"]["stop"]
    assert "**bench-reference** (self-test" in (project / "results" / "REPORT.md").read_text()


@pytest.mark.e2e
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
    assert "HumanEval/0:" not in first.stderr and "HumanEval/0:" in (root / "evaluation.log").read_text()
    page = page_data(project / "results" / "report.html")  # the browsable report, with the dataset's prompts
    assert [(r["key"], r["prompts"], len(r["problems"])) for r in page["runs"]] == [("humaneval", True, 164)]
    assert "[report.html](report.html)" in report
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
    assert not any((project / "results" / name).exists()
                   for name in ("REPORT.md", "PROBLEMS.md", "summary.json", "report.html"))
    assert "doit clean gen:bench-reference" in cleaned.stdout
    doit(project, "clean", "gen:bench-reference")
    assert not (root / "samples.jsonl").exists()


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_kill_9_during_generation_then_rerun_resumes(project, tmp_path):
    env = doit_env(project, BENCH_REFERENCE_DELAY="0.1")
    root = project / "results" / "bench-reference" / "humaneval"
    kill_doit_at(project, root / "samples.partial.jsonl", 40, ["gen:bench-reference"], env)
    time.sleep(1.0)
    assert not our_processes(project), "the model server outlived the killed run"
    kept = journal_samples(root / "samples.partial.jsonl")
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


@pytest.mark.e2e
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


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_rescoring_a_samples_file_without_a_server(project):
    doit(project, "gen:bench-reference")
    samples = project / "results" / "bench-reference" / "humaneval" / "samples.jsonl"
    (project / "models.conf").write_text(f"[bench-rescore]\nserver = none\nsamples = {samples}\n")
    doit(project, "eval:bench-rescore")
    evaluated = json.loads((project / "results" / "bench-rescore" / "humaneval" / "eval_results.json").read_text())
    assert evaluated["pass_at_1"] == {"base": 100.0, "plus": 100.0}


@pytest.mark.e2e
@pytest.mark.skipif(not MBPP_PRERELEASE.exists(), reason="needs MbppPlus-prerelease-2023-11.jsonl.gz (in ../shared/datasets or ./datasets)")
def test_mbpp_path_on_the_prerelease_file(project):
    env = doit_env(project, MBPP_OVERRIDE_PATH=str(MBPP_PRERELEASE))
    doit(project, "eval:bench-reference", "report", "dataset=mbpp", env=env)
    root, evaluated = results(project, "mbpp")
    assert evaluated["dataset"]["tasks"] == 399 and evaluated["dataset"]["version"] == "MbppPlus-prerelease-2023-11"
    # the self-test fails exactly the file's known failures (README's table; a new one is noticed here)
    failing = {phase: sorted(task for task, records in evaluated["eval"].items()
                             if records[0][f"{phase}_status"] != "pass") for phase in ("base", "plus")}
    assert failing == {"base": ["Mbpp/630", "Mbpp/71"], "plus": ["Mbpp/255", "Mbpp/630", "Mbpp/71"]}
    assert evaluated["pass_at_1"] == {"base": 99.5, "plus": 99.2}
    expectation = SELF_TEST[evaluated["dataset"]["md5"]]
    assert {phase: sorted(t for t, (phases, _) in expectation.fails.items() if phase in phases)
            for phase in ("base", "plus")} == failing
    assert not (project / "results" / "bench-reference" / "humaneval").exists()  # datasets never mix
    report = (project / "results" / "REPORT.md").read_text()
    assert "| mbpp" in report
    assert [(r["key"], r["prompts"]) for r in page_data(project / "results" / "report.html")["runs"]] == [("mbpp", True)]
    assert "MBPP+ 99.2%, MBPP 99.5%: as expected for MbppPlus-prerelease-2023-11, whose known failures are Mbpp/71: " \
        in report


@pytest.mark.e2e
def test_report_sees_an_interrupted_generation(project):
    """kill -9 during generation: the report reads samples.partial.jsonl, so `doit report` must rerun."""
    doit(project, "report")
    assert re.search(r"\| bench-reference +\| - +\| not run", (project / "results" / "REPORT.md").read_text())
    env = doit_env(project, BENCH_REFERENCE_DELAY="0.1")
    root = project / "results" / "bench-reference" / "humaneval"
    kill_doit_at(project, root / "samples.partial.jsonl", 20, ["gen:bench-reference"], env)
    again = doit(project, "report")
    assert ".  report" in again.stdout  # ran, not "-- report" (up to date)
    assert "partial: generation interrupted (rerun to resume)" in (project / "results" / "REPORT.md").read_text()
    assert "-- report" in doit(project, "report").stdout  # and now it is up to date


@pytest.mark.e2e
def test_a_damaged_reference_scores_file_never_fails_an_evaluation(project):
    (project / "reference-scores.json").write_text('{"models": [{"name": "x", "humaneval+": "high"}]}')
    done = doit(project, "eval:bench-reference")
    assert "Traceback" not in done.stderr and results(project)[1]["pass_at_1"]["plus"] == 100.0
    failed = doit(project, "report", check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stdout + failed.stderr
    assert "reference-scores.json: not a reference-scores file (x: humaneval+ is 'high', not a number)" in failed.stdout
    # a failing stage refreshes the report; a damaged scores file must not turn that into a traceback
    (project / "models.conf").write_text("[bench-broken]\nserver = external\nbase_url = http://127.0.0.1:9\n"
                                         "health_timeout = 1\n")
    broken = doit(project, "eval:bench-broken", check=False)
    assert broken.returncode != 0 and "Traceback" not in broken.stdout + broken.stderr
    assert "was not healthy after 1 s" in broken.stdout + broken.stderr


def marker_samples(humaneval_file_project, marker):
    """A samples file whose every solution would write `marker` if it ran."""
    from benchlib.datasets import load_dataset

    from support import DATASETS
    from builders import write_samples

    dataset = load_dataset("humaneval", str(DATASETS))
    body = f"    open({str(marker)!r}, 'w').write('ran')\n"
    return write_samples(dataset, humaneval_file_project / "hostile.jsonl", {t: body for t in dataset.task_ids})


@pytest.mark.e2e
def test_without_isolation_nothing_runs_unless_unsafe_is_chosen(project):
    marker = project / "tmp" / "marker"
    (project / "tmp").mkdir(exist_ok=True)
    (project / "tmp").chmod(0o777)
    samples = marker_samples(project, marker)
    (project / "models.conf").write_text(f"[bench-rescore]\nserver = none\nsamples = {samples}\n")
    no_isolation = dict(BENCH_SANDBOX="auto", BENCH_BWRAP="none", BENCH_SANDBOX_IMAGE="benchlib-no-such-image:1")
    refused = doit(project, "eval:bench-rescore", env=doit_env(project, **no_isolation), check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stdout + refused.stderr
    assert "refusing to run model-written code without isolation" in refused.stdout
    assert "BENCH_SANDBOX=unsafe" in refused.stdout
    assert not marker.exists() and not (project / "results" / "bench-rescore" / "humaneval" / "eval_results.json").exists()

    doit(project, "eval:bench-rescore", "report", env=doit_env(project, BENCH_SANDBOX="unsafe"))
    root = project / "results" / "bench-rescore" / "humaneval"
    evaluated = json.loads((root / "eval_results.json").read_text())
    assert evaluated["sandbox"]["sandboxed"] is False and evaluated["sandbox"]["backend"] == "unsafe"
    assert "UNSANDBOXED" in (project / "results" / "REPORT.md").read_text()
    assert "UNSANDBOXED" in (root / "evaluation.log").read_text()

    # results made without isolation are stale once isolation is what the run asks for
    again = doit(project, "eval:bench-rescore", env=doit_env(project, BENCH_SANDBOX="local"))
    assert ".  eval:bench-rescore" in again.stdout
    evaluated = json.loads((root / "eval_results.json").read_text())
    assert evaluated["sandbox"]["sandboxed"] is True and evaluated["sandbox"]["bwrap"]["source"] in ("system", "bundled")
    assert "-- eval:bench-rescore" in doit(project, "eval:bench-rescore", env=doit_env(project, BENCH_SANDBOX="local")).stdout


@pytest.mark.e2e
def test_the_reference_self_test_runs_anywhere_and_says_so(project):
    no_isolation = dict(BENCH_SANDBOX="auto", BENCH_BWRAP="none", BENCH_SANDBOX_IMAGE="benchlib-no-such-image:1")
    done = doit(project, "eval:bench-reference", env=doit_env(project, **no_isolation))
    assert "the reference profile's code is the dataset's own canonical solutions" in done.stderr
    assert results(project)[1]["pass_at_1"]["plus"] == 100.0


@pytest.mark.e2e
def test_an_incomplete_samples_file_of_a_server_none_profile_gets_the_right_tip(project):
    partial = project / "partial.jsonl"
    partial.write_text('{"task_id": "HumanEval/0", "solution": "x = 1"}\n')
    (project / "models.conf").write_text(f"[bench-rescore]\nserver = none\nsamples = {partial}\n")
    failed = doit(project, "eval:bench-rescore", check=False)
    assert "incomplete, 163 of 164 tasks have no sample" in failed.stdout
    assert "doit gen:" not in failed.stdout and "[bench-rescore]" in failed.stdout


@pytest.mark.e2e
def test_a_subset_run_lives_apart_from_the_full_run(project):
    env = doit_env(project, BENCH_REFERENCE_DELAY="0.05")
    base = project / "results" / "bench-reference"
    kill_doit_at(project, base / "humaneval-subset20" / "samples.partial.jsonl", 6,
                 ["eval:bench-reference", "subset=20"], env)
    rerun = doit(project, "eval:bench-reference", "report", "subset=20", env=env)
    assert "resuming: " in rerun.stderr and "of 20 samples already generated" in rerun.stderr
    subset = [json.loads(line)["task_id"] for line in (base / "humaneval-subset20" / "samples.jsonl").read_text().splitlines()]
    assert subset[:4] == ["HumanEval/0", "HumanEval/8", "HumanEval/16", "HumanEval/24"] and len(subset) == 20
    assert not (base / "humaneval").exists()  # the full run is untouched
    report = (project / "results" / "REPORT.md").read_text()
    assert "### HumanEval+ subset of 20 (20 problems) — a smoke test" in report
    assert "**bench-reference** (local" not in report  # never ranked among the published scores

    doit(project, "eval:bench-reference", "report")  # the full run starts from nothing
    full = [json.loads(line) for line in (base / "humaneval" / "samples.jsonl").read_text().splitlines()]
    assert len(full) == 164 and "resuming" not in (base / "humaneval" / "codegen.log").read_text()
    report = (project / "results" / "REPORT.md").read_text()
    assert "**bench-reference** (local" in report and "HumanEval+ subset of 20" in report
    again = doit(project, "gen:bench-reference", "subset=20")  # back to the subset: nothing to generate
    assert "generating" not in again.stderr
    assert json.loads((base / "humaneval-subset20" / "eval_results.json").read_text())["n_tasks"] == 20


@pytest.mark.e2e
def test_only_changed_samples_are_checked_again(project):
    doit(project, "gen:bench-reference")
    root = project / "results" / "bench-reference" / "humaneval"
    samples = project / "edited.jsonl"
    lines = (root / "samples.jsonl").read_text().splitlines()
    (project / "models.conf").write_text(f"[bench-rescore]\nserver = none\nsamples = {samples}\n")
    samples.write_text("\n".join(lines) + "\n")
    doit(project, "eval:bench-rescore")
    out = project / "results" / "bench-rescore" / "humaneval" / "eval_results.json"
    assert json.loads(out.read_text())["checked"] == 164
    edited = [json.loads(line) for line in lines]
    for record in edited[:3]:
        record["solution"] = record["solution"].replace("return", "return None and", 1)
    samples.write_text("".join(json.dumps(r) + "\n" for r in edited))
    doit(project, "eval:bench-rescore")
    incremental = json.loads(out.read_text())
    assert incremental["checked"] == 3
    out.unlink()
    doit(project, "eval:bench-rescore")
    full = json.loads(out.read_text())
    assert full["checked"] == 164
    assert incremental["eval"] == full["eval"] and incremental["pass_at_1"] == full["pass_at_1"]
    assert incremental["pass_at_1"]["plus"] < 100.0


REASONING_PLAN = {  # task -> (reasoning tokens, looped): what each problem exercises
    "HumanEval/0": (50, False),  # ends by itself far below 768: reused
    "HumanEval/32": (2000, False),  # still thinking at 768, answers within the budget: derived at 768
    "HumanEval/53": (760, False),  # thinks 760, its answer runs past 768: requested again at 768
    "HumanEval/100": (9000, True),  # loops past the budget: looped in both runs
    "HumanEval/163": (300, False),  # reused
}


REASONING_SHAPES = {  # id -> (ScriptedReasoner's keywords, whether it can count reasoning tokens)
    "reasoning_content": ({"shape": "reasoning_content"}, True),
    "vllm-reasoning-usage": ({"shape": "reasoning", "tokenize": False, "usage_reasoning": True}, True),
    "inline-think": ({"shape": "inline"}, True),
    "template-opened": ({"shape": "template"}, True),
    "no-count": ({"shape": "reasoning_content", "tokenize": False}, False),
}


@pytest.mark.parametrize("shape", list(REASONING_SHAPES))
def test_a_reasoning_model_gets_both_rows_and_the_derived_one_equals_a_real_run(project, humaneval, shape):
    """A scripted reasoning model (detected by the token-cap probe), in every shape a server sends its
    reasoning: the run at its budget, the leaderboard's 768-token run derived from it where it can be (the
    reasoning tokens reported by the server or counted by its tokenizer; where neither, nothing derived and
    the manifest says why), and that row equal, task by task, to a real 768-token run."""
    keywords, counted = REASONING_SHAPES[shape]
    data = few_problems(project, humaneval)
    few = few_tasks(humaneval, list(REASONING_PLAN), project)
    template = ScriptedReasoner.template if keywords["shape"] == "template" else None
    with FakeServer([ScriptedReasoner(few, REASONING_PLAN.get, **keywords)], template=template) as model:
        conf = f"[bench-think]\nserver = external\nbase_url = {model.url}\nparallel = 2\n"
        (project / "models.conf").write_text(conf)
        env = doit_env(project, BENCH_DATA_DIR=str(data))
        doit(project, env=env)
        asked_derived = sum(1 for body in model.requests if body.get("max_tokens") == 768)
        # detected at run time, the long run is now a doit target and dependency like a configured one
        for task, name in (("gen:bench-think", "samples.jsonl"), ("eval:bench-think", "eval_results.json")):
            info = doit(project, "info", task, env=env, check=False).stdout  # (exit 1: not up to date)
            assert f"humaneval-budget8192/{name}" in info and f"humaneval/{name}" in info, info
        # the same model asked at 768 only (a budget no larger than max_tokens: no long run)
        (project / "models.conf").write_text(conf.replace("bench-think", "bench-real") + "reasoning_budget = 768\n")
        doit(project, env=env)
    results_dir = project / "results"
    derived = json.loads((results_dir / "bench-think" / "humaneval" / "eval_results.json").read_text())
    budget = json.loads((results_dir / "bench-think" / "humaneval-budget8192" / "eval_results.json").read_text())
    real = json.loads((results_dir / "bench-real" / "humaneval" / "eval_results.json").read_text())
    status = lambda results: {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in results["eval"].items()}
    assert status(derived) == status(real)  # the derived row is what a 768 run scores, task by task
    assert status(derived)["HumanEval/32"] != ("pass", "pass") and status(budget)["HumanEval/32"] == ("pass", "pass")
    manifest = json.loads((results_dir / "bench-think" / "humaneval" / "manifest.json").read_text())["generation"]
    reuse = manifest["reuse"]
    assert manifest["token_cap"]["reasoning"] is True and manifest["reasoning_budget"]["max_tokens"] == 8192
    assert manifest["server"].get("template_opens_thinking", False) is (shape == "template-opened")
    samples = {json.loads(line)["task_id"]: json.loads(line)
               for line in (results_dir / "bench-think" / "humaneval" / "samples.jsonl").read_text().splitlines()}
    reals = {json.loads(line)["task_id"]: json.loads(line)
             for line in (results_dir / "bench-real" / "humaneval" / "samples.jsonl").read_text().splitlines()}
    for task in REASONING_PLAN:
        for key in ("solution", "finish_reason", "empty_answer"):
            assert samples[task][key] == reals[task][key], (task, key)
    assert samples["HumanEval/32"]["empty_answer"] and samples["HumanEval/32"]["reasoning"]  # cut while thinking
    assert not samples["HumanEval/0"]["empty_answer"] and "def " in samples["HumanEval/0"]["solution"]
    if counted:
        assert reuse["derived_cut_while_thinking"] == 2 and reuse["spot_check"] == "passed"  # /32 and /100
        # /0 and /163 ended by themselves: both spot-checked (the 5 longest reusable), so none reused unasked
        assert (reuse["reused"], reuse["spot_checked"], reuse["regenerated"]) == (0, 2, 3)  # /53 + the spot check
        assert asked_derived == 3  # what the 768 run asked: nothing derived was requested
        assert samples["HumanEval/32"]["derived"].startswith("from the 8192-token run")
    else:
        assert reuse["derived_cut_while_thinking"] == 0 and reuse["regenerated"] == 5 and asked_derived == 5
        assert "no /tokenize" in reuse["not_derived"] and "derived" not in samples["HumanEval/32"]
        assert "nothing derived from the 8192-token run" in (results_dir / "bench-think" / "humaneval" / "codegen.log").read_text()
    report = (results_dir / "REPORT.md").read_text()
    assert "### HumanEval+ at 8192 tokens (5 problems) — the reasoning budget" in report
    both = next(line for line in report.splitlines() if line.startswith("| bench-think "))
    made = "reused 0, derived 2, asked 3" if counted else "reused 0, derived 0, asked 5"
    assert "| 40.0 " in both and "| 80.0 at 8192 " in both and made in both
    summary = json.loads((results_dir / "summary.json").read_text())
    think = next(p for p in summary["profiles"] if p["profile"] == "bench-think")["datasets"]
    real_row = next(p for p in summary["profiles"] if p["profile"] == "bench-real")["datasets"]
    for row in (think, real_row):  # the same categories, derived or asked, in every shape
        assert row["humaneval"]["categories"]["cut while thinking"] == 1 and row["humaneval"]["categories"]["looped"] == 1
        assert row["humaneval"]["categories"]["cut at token cap"] == 1  # /53: its answer runs past 768
    assert think["humaneval-budget8192"]["categories"]["looped"] == 1
    reasoning = manifest["reasoning"]
    assert reasoning["detected"] and reasoning["cut_while_thinking"] == 1 and reasoning["looped"] == 1
    assert reasoning["source"].startswith("estimated from characters") is (not counted)


@pytest.mark.parametrize("drift", [False, True], ids=["continued", "spot-check-fails"])
def test_each_point_of_the_thinking_budget_curve_equals_a_real_run_at_that_budget(project, humaneval, drift):
    """The curve from one long run (8192 tokens): at 128, 512 and 1024 tokens of thinking, the answers that
    finished thinking within the budget are taken, the others continued after the forced end of thinking
    (budget message, then the closing tag as its special token); each point equals, answer by answer and
    verdict by verdict, a real run at that budget (the server's per-request budget). Where continuation
    and a real run differ (`drift`), the spot check catches it and the point is asked as real runs."""
    data = few_problems(project, humaneval)
    few = few_tasks(humaneval, list(REASONING_PLAN), project)
    model = ScriptedReasoner(few, REASONING_PLAN.get, budget_message="Time to answer.", drift=drift)
    plain = lambda body: "".join(f"<|{m['role']}|>{m['content']}\n" for m in body["messages"]) + "<|assistant|>\n"  # noqa: E731
    budgets = (128, 512, 1024)
    with FakeServer([model], template=plain) as server:
        conf = (f"[bench-think]\nserver = external\nbase_url = {server.url}\nparallel = 2\n"
                f"thinking_budgets = {', '.join(map(str, budgets))}\nreasoning_budget_message = Time to answer.\n")
        for budget in budgets:  # real runs at each budget: the server's own countdown, every problem asked
            conf += (f"\n[bench-real{budget}]\nserver = external\nbase_url = {server.url}\nparallel = 2\n"
                     f"max_tokens = 8192\nreasoning_budget = 8192\nthinking_budgets = none\n"
                     f'request_extras = {{"reasoning_budget": {budget}}}\n')
        (project / "models.conf").write_text(conf)
        env = doit_env(project, BENCH_DATA_DIR=str(data))
        doit(project, env=env)
        again = doit(project, env=env)  # everything is up to date: nothing asked again
        assert "-- gen:bench-think" in again.stdout
    results_dir = project / "results"
    main = json.loads((results_dir / "bench-think" / "humaneval" / "manifest.json").read_text())["generation"]
    assert main["curve"]["budgets"] == list(budgets) and not main["curve"]["auto"]
    records = lambda folder: {json.loads(line)["task_id"]: json.loads(line) for line in
                              (folder / "samples.jsonl").read_text().splitlines()}
    status = lambda folder: {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in
                             json.loads((folder / "eval_results.json").read_text())["eval"].items()}
    scores = []
    for budget in budgets:
        point = results_dir / "bench-think" / f"humaneval-budget8192-think{budget}"
        real = results_dir / f"bench-real{budget}" / "humaneval"
        ours, theirs = records(point), records(real)
        for task in REASONING_PLAN:
            assert (ours[task]["raw_solution"], ours[task]["finish_reason"]) == \
                (theirs[task]["raw_solution"], theirs[task]["finish_reason"]), (budget, task)
        assert status(point) == status(real), budget
        info = json.loads((point / "manifest.json").read_text())["generation"]["curve"]
        assert info["taken"] == sum(REASONING_PLAN[t][0] <= budget for t in REASONING_PLAN)
        caught = drift and budget < 1024  # at 1024 this drift changes no answer: nothing to catch
        assert info["spot_check"]["outcome"] == ("failed" if caught else "passed") and info["asked_at_budget"] is caught
        if not caught:
            assert info["decoded"] < info["separate_run_tokens"]  # only the answers after the cut are generated
        else:  # asked as real runs after the continuation: the cost counts both, never less than a real run
            assert info["decoded"] >= info["separate_run_tokens"] - sum(
                r["completion_tokens"] for r in ours.values() if "taken" in r)
        scores.append(json.loads((point / "eval_results.json").read_text())["pass_at_1"]["plus"])
    assert scores == sorted(scores) and scores[0] < scores[-1]  # more thinking, more solved (this model)
    report = (results_dir / "REPORT.md").read_text()
    assert "## Score at each thinking budget" in report
    table = report[report.index("## Score at each thinking budget"):]
    row = next(line for line in table.splitlines() if line.startswith("| bench-think "))
    assert all(f"| {score:.1f} (" in row for score in scores) and "at 768" in row
    assert "What the curve cost:" in table and (results_dir / "charts" / "curve-humaneval-budget8192.svg").is_file()
    assert "### HumanEval+ at 8192 tokens, thinking" not in report  # points are a curve, never verdicts
    summary = json.loads((results_dir / "summary.json").read_text())
    curve = next(c for c in summary["curves"] if c["profile"] == "bench-think")
    points = [p for p in curve["points"] if not p["long"]]
    assert [p["think"] for p in points] == list(budgets) and [p["plus"] for p in points] == scores


@pytest.mark.e2e
def test_kill_9_during_a_reasoning_models_budget_run_then_rerun_resumes(project, humaneval, tmp_path):
    data = few_problems(project, humaneval)
    few = few_tasks(humaneval, list(REASONING_PLAN), project)
    with FakeServer([ScriptedReasoner(few, REASONING_PLAN.get, delay=0.5)]) as model:
        (project / "models.conf").write_text(f"[bench-think]\nserver = external\nbase_url = {model.url}\nparallel = 1\n"
                                             "reasoning_budget = 4096\n")
        env = doit_env(project, BENCH_DATA_DIR=str(data))
        long = project / "results" / "bench-think" / "humaneval-budget4096"
        kill_doit_at(project, long / "samples.partial.jsonl", 4, ["eval:bench-think"], env)  # header, mark, 2
        kept = journal_samples(long / "samples.partial.jsonl")
        rerun = doit(project, "eval:bench-think", env=env)
        assert f"resuming: {kept} of 5 samples already generated" in rerun.stderr and kept >= 2
        clean = tmp_path / "clean"
        clean.mkdir()
        for name in ("dodo.py", "models.conf", "reference-scores.json", "pyproject.toml"):
            (clean / name).write_bytes((project / name).read_bytes())
        doit(clean, "eval:bench-think", env=doit_env(clean, BENCH_DATA_DIR=str(data)))
    for folder in ("humaneval-budget4096", "humaneval"):
        ours = (project / "results" / "bench-think" / folder / "samples.jsonl").read_bytes()
        assert ours == (clean / "results" / "bench-think" / folder / "samples.jsonl").read_bytes(), folder
        assert len(ours.splitlines()) == 5


@pytest.mark.e2e
def test_the_mini_dataset_runs_as_the_full_one_does(project):
    """dataset=humaneval-mini: its own folders, the self-test as recorded, a subset, never ranked."""
    mini = DATASETS / "HumanEvalPlus-Mini-v0.1.10.jsonl.gz"
    if not mini.exists():
        pytest.skip("needs HumanEvalPlus-Mini-v0.1.10.jsonl.gz beside the other datasets")
    doit(project, "eval:bench-reference", "report", "dataset=humaneval-mini")
    root, evaluated = results(project, "humaneval-mini")
    assert evaluated["pass_at_1"] == {"base": 100.0, "plus": 100.0}
    assert evaluated["dataset"]["file"] == mini.name and evaluated["header"]["dataset"] == "HumanEvalPlus-Mini-v0.1.10"
    doit(project, "eval:bench-reference", "report", "dataset=humaneval-mini", "subset=10")
    assert results(project, "humaneval-mini-subset10")[1]["n_tasks"] == 10
    report = (project / "results" / "REPORT.md").read_text()
    assert "HumanEval+ Mini 100.0%, HumanEval Mini 100.0%: as expected for HumanEvalPlus-Mini-v0.1.10" in report
    assert "### HumanEval+ Mini subset of 10 (10 problems) — a smoke test" in report
    assert "bench-reference** (local" not in report[report.index("## Scores"):]  # never ranked
