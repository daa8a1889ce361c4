"""Dataset lookup order, parsing, identity."""

import gzip
import json

import pytest

from benchlib.datasets import dataset_id, default_data_dir, get_spec, load_dataset, locate_dataset
from benchlib.errors import DatasetError


def write(folder, name, records):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    return path


TASK = {"task_id": "HumanEval/0", "prompt": "def f():\n", "entry_point": "f", "canonical_solution": "    return 1\n",
        "base_input": [[]], "plus_input": [], "atol": 0}


def test_lookup_order_override_then_folder_then_evalplus_cache(tmp_path):
    spec = get_spec("humaneval")
    cache = tmp_path / "evalplus"
    in_cache = write(cache, "HumanEvalPlus-v0.1.10.jsonl.gz", [TASK])
    folder = write(tmp_path / "data", "HumanEvalPlus-v0.1.10.jsonl.gz", [TASK])
    override = write(tmp_path / "o", "mine.jsonl.gz", [TASK])
    assert locate_dataset(spec, str(folder.parent), str(override), cache) == override
    assert locate_dataset(spec, str(folder.parent), None, cache) == folder
    assert locate_dataset(spec, None, None, cache) == in_cache
    assert locate_dataset(spec, None, None, tmp_path / "empty") is None
    assert dataset_id(spec, None, str(override), cache) == "mine"


def test_default_data_dir_next_to_the_project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    assert default_data_dir(project) is None
    write(tmp_path / "shared" / "datasets", "HumanEvalPlus-v0.1.10.jsonl.gz", [TASK])
    assert default_data_dir(project) == str(tmp_path / "shared" / "datasets")
    write(project / "datasets", "MbppPlus-v0.2.0.jsonl.gz", [TASK])
    assert default_data_dir(project) == str(project / "datasets")


def test_parse_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(TASK) + "\nnot json\n")
    with pytest.raises(DatasetError, match=r"bad.jsonl:2: not an evalplus task record"):
        load_dataset("humaneval", override=str(bad))
    incomplete = tmp_path / "incomplete.jsonl"
    incomplete.write_text(json.dumps({k: v for k, v in TASK.items() if k != "atol"}) + "\n")
    with pytest.raises(DatasetError, match="lacks atol"):
        load_dataset("humaneval", override=str(incomplete))
    with pytest.raises(DatasetError, match="file not found"):
        load_dataset("humaneval", override=str(tmp_path / "none.jsonl"))
    with pytest.raises(DatasetError, match="unknown dataset 'mbbp'"):
        get_spec("mbbp")


def test_the_shipped_humaneval(humaneval):
    assert len(humaneval.problems) == 164 and humaneval.version == "HumanEvalPlus-v0.1.10"
    assert humaneval.inputs("HumanEval/0", "base") and humaneval.solution_of("HumanEval/0").startswith("from typing")


def test_input_count_matches_the_rebuilt_inputs(datasets):
    from support import MBPP_PRERELEASE

    if not MBPP_PRERELEASE.exists():
        pytest.skip("needs MbppPlus-prerelease-2023-11.jsonl.gz (in ../shared/datasets or ./datasets)")
    mbpp = load_dataset("mbpp", str(datasets), override=str(MBPP_PRERELEASE))
    for task_id in mbpp.task_ids:
        for phase in ("base", "plus"):
            assert mbpp.input_count(task_id, phase) == len(mbpp.inputs(task_id, phase)), (task_id, phase)


def test_a_variant_is_one_registry_entry_and_everything_follows(tmp_path):
    """humaneval-mini is one DatasetSpec: its file, URL, settings, results folders, report labels and
    (absent) published scores all come from that entry."""
    from benchlib.datasets import DATASETS
    from benchlib.report.leaderboard import SCORE_KEYS
    from benchlib.results import DATASET_KEYS, parse_run_key, run_key
    from benchlib.settings import load_settings, variables_table

    mini = get_spec("humaneval-mini")
    assert mini.file_name == "HumanEvalPlus-Mini-v0.1.10.jsonl" and mini.family == "humaneval"
    assert mini.url == ("https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/"
                        "HumanEvalPlus-Mini.jsonl.gz")  # evalplus.data.utils.get_dataset_metadata's
    assert (mini.base_label, mini.plus_label) == ("HumanEval Mini", "HumanEval+ Mini")
    assert "humaneval-mini" in DATASET_KEYS and mini.leaderboard_keys == ()
    assert SCORE_KEYS == ("humaneval", "humaneval+", "mbpp", "mbpp+")  # variants add no published score
    assert parse_run_key(run_key("humaneval-mini", 20)) == ("humaneval-mini", 20, 0, 0)
    assert parse_run_key(run_key("humaneval", 0, 8192, 1024)) == ("humaneval", 0, 8192, 1024)
    assert parse_run_key(run_key("humaneval-mini", 20, 8192)) == ("humaneval-mini", 20, 8192, 0)
    assert parse_run_key("humaneval-noextreme") == ("humaneval-noextreme", 0, 0, 0)
    assert "`humaneval-mini`" in variables_table() and "HumanEvalPlus-NoExtreme-v0.1.10.jsonl" in variables_table()
    folder = write(tmp_path / "data", "HumanEvalPlus-Mini-v0.1.10.jsonl.gz", [TASK])
    settings = load_settings(tmp_path, environ={"BENCH_DATASET": "humaneval-mini", "BENCH_DATA_DIR": str(folder.parent),
                                                "HUMANEVAL_OVERRIDE_PATH": "/nowhere"})  # the full file's variable
    assert settings.dataset_id() == "HumanEvalPlus-Mini-v0.1.10" and settings.paths("p").root.name == "humaneval-mini"
    assert settings.load_dataset().spec is DATASETS["humaneval-mini"]
    with pytest.raises(DatasetError, match=r"unknown dataset 'humaneval-mni' \(did you mean 'humaneval-mini'\?\)"):
        get_spec("humaneval-mni")


def test_a_variant_run_is_reported_but_never_ranked_among_published_scores(tmp_path):
    from benchlib.config import load_profiles
    from benchlib.report import write_report

    from support import ROOT
    from builders import fake_evaluation

    conf = tmp_path / "models.conf"
    conf.write_text("[bench-a]\nserver = none\nsamples = s.jsonl\n")
    outcomes = {f"HumanEval/{i}": (i < 30, i < 25, "wrong output") for i in range(40)}
    fake_evaluation(tmp_path / "results", "bench-a", outcomes, dataset="humaneval-mini", md5="m")
    write_report(load_profiles(conf), tmp_path / "results", ROOT / "reference-scores.json")
    report = (tmp_path / "results" / "REPORT.md").read_text()
    assert "### HumanEval+ Mini (40 problems) — evalplus's Mini file: never compared" in report
    assert "**bench-a**: HumanEval+ Mini 62.5% (95% interval" in report and "level with" not in report
    scores = report[report.index("## Scores"):report.index("## Why answers fail")]
    assert "bench-a" not in scores  # the table ranks full-set scores only
