"""runs.py: which runs a profile makes, their folders, and what doit knows of them."""

from pathlib import Path

from benchlib.config import Profile
from benchlib.fingerprints import generation_header
from benchlib.manifest import GenerationRecord, LongRun, write_generation
from benchlib.runs import DEFAULT_REASONING_BUDGET, ProfileRuns


def runs_of(tmp_path, subset=0, **fields) -> ProfileRuns:
    profile = Profile(name="bench-x", **{"server": "external", "base_url": "http://x", **fields})
    return ProfileRuns(profile, tmp_path / "results", "humaneval", subset, "HumanEvalPlus-v0.1.10", tmp_path)


def test_a_plain_profile_makes_one_run_at_max_tokens(tmp_path):
    runs = runs_of(tmp_path)
    assert [run.kind for run in runs.known] == ["main"] and runs.main.max_tokens == 768
    assert runs.main.folder.root == tmp_path / "results" / "bench-x" / "humaneval"
    assert runs.samples_targets == [runs.main.folder.samples]
    assert runs.evaluation_deps == [runs.main.folder.samples] and runs.evaluation_targets == [runs.main.folder.eval_results]
    assert runs.main.header == generation_header(runs.profile, "HumanEvalPlus-v0.1.10")
    assert runs_of(tmp_path, subset=20).main.folder.root.name == "humaneval-subset20"


def test_a_configured_budget_is_a_long_run_only_above_max_tokens(tmp_path):
    runs = runs_of(tmp_path, reasoning_budget=4096)
    long = runs.known[1]
    assert (long.kind, long.max_tokens, long.folder.root.name) == ("long", 4096, "humaneval-budget4096")
    assert long.header["max_tokens"] == 4096 and long.header != runs.main.header
    assert runs.samples_targets == [runs.main.folder.samples, long.folder.samples]
    assert set(runs.generated_files) >= {long.folder.samples, long.folder.codegen_log}
    assert set(runs.evaluated_files) >= {long.folder.eval_results, long.folder.evaluation_log}
    assert [run.kind for run in runs_of(tmp_path, reasoning_budget=768).known] == ["main"]
    assert runs_of(tmp_path, reasoning_budget=768).long_budget(detected=True) == 0


def test_an_auto_detected_long_run_is_known_once_the_main_run_recorded_it(tmp_path):
    """reasoning_budget = 0: the probe decides at run time; the main run's manifest records the long run,
    and from then on doit knows its samples and eval_results.json as targets (they were neither before)."""
    runs = runs_of(tmp_path)
    assert runs.long_budget(detected=True) == DEFAULT_REASONING_BUDGET and runs.long_budget() == 0
    main = runs.main.folder
    main.root.mkdir(parents=True)
    write_generation(main, GenerationRecord(header=runs.main.header,
                                            reasoning_budget=LongRun(8192, "humaneval-budget8192", auto=True)))
    long = runs.known[1]
    assert long.folder.root.name == "humaneval-budget8192" and long.folder.samples in runs.samples_targets
    assert long.folder.eval_results in runs.evaluation_targets and long.folder.samples in runs.evaluation_deps
    # a configured budget is never overridden by what a manifest recorded
    assert [r.max_tokens for r in runs_of(tmp_path, reasoning_budget=600).known] == [768]


def test_generated_means_samples_made_under_this_runs_settings(tmp_path):
    runs = runs_of(tmp_path)
    main = runs.main
    assert not main.generated
    main.folder.root.mkdir(parents=True)
    main.folder.samples.write_text("")
    write_generation(main.folder, GenerationRecord(header={**main.header, "max_tokens": 512}))
    assert not main.generated  # made at another cap
    write_generation(main.folder, GenerationRecord(header=main.header))
    assert main.generated


def test_a_profile_that_scores_a_file_has_no_generation_and_depends_on_the_file_once_it_exists(tmp_path):
    runs = runs_of(tmp_path, server="none", samples="mine.jsonl", reasoning_budget=4096)
    assert runs.samples_targets == [] and [run.kind for run in runs.known] == ["main"]
    assert runs.scored(runs.main) == tmp_path / "mine.jsonl" and runs.evaluation_deps == []
    (tmp_path / "mine.jsonl").write_text("")
    assert runs.evaluation_deps == [tmp_path / "mine.jsonl"]
    assert runs_of(tmp_path, server="none", samples="/abs/s.jsonl").scored(runs.main) == Path("/abs/s.jsonl")
