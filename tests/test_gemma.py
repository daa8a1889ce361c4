"""A real base model end to end: Gemma 3 270M base (four chunk packages on PyPI, joined into one file) on
CPU in a real llama-server, asked with evalplus's base-model prompt (prompt_style = completion), through
doit on the fixed subset of 5: scored, in the report, and a second generation byte-identical."""

import json

import pytest

from projects import doit, doit_env, our_processes, shipped_profile

pytestmark = [pytest.mark.llama, pytest.mark.e2e]
PROFILE = "bench-gemma3-270m-base"


def test_gemma_base_model_through_doit_is_scored_reported_and_reproducible(project, llama_server, humaneval):
    (project / "models.conf").write_text(shipped_profile(PROFILE, llama_server=llama_server))
    env = doit_env(project)
    doit(project, f"eval:{PROFILE}", "report", "subset=5", env=env)
    root = project / "results" / PROFILE / "humaneval-subset5"
    evaluated = json.loads((root / "eval_results.json").read_text())
    manifest = json.loads((root / "manifest.json").read_text())["generation"]
    print(f"Gemma 3 270M base: pass@1 {evaluated['pass_at_1']}, {manifest['seconds']} s, "
          f"{manifest['tokens_per_second']} tokens/s, {manifest['hit_token_limit']} hit the token limit")
    assert evaluated["n_tasks"] == 5 and 0.0 <= evaluated["pass_at_1"]["plus"] <= 100.0
    assert manifest["header"]["prompt"] == "evalplus-0.3.1-base-completion"
    assert manifest["sampling"]["top_p"] == 1.0 and "\ndef " in manifest["sampling"]["stop"]
    assert manifest["server"]["longest_prompt_tokens"] > 0  # the slot check, by the server's tokenizer
    samples = [json.loads(line) for line in (root / "samples.jsonl").read_text().splitlines()]
    for sample in samples:  # the raw solution is the prompt and its continuation, as evalplus keeps it
        assert sample["raw_solution"].startswith(humaneval.problems[sample["task_id"]]["prompt"].strip() + "\n")
    report = (project / "results" / "REPORT.md").read_text()
    assert f"**{PROFILE}** (base prompt): HumanEval+ subset of 5" in report
    first = (root / "samples.jsonl").read_bytes()
    doit(project, "clean", f"gen:{PROFILE}", "subset=5", env=env)
    assert not (root / "samples.jsonl").exists()
    doit(project, f"gen:{PROFILE}", "subset=5", env=env)
    assert (root / "samples.jsonl").read_bytes() == first  # greedy on a reproducible server
    assert not our_processes(project)
