"""The results folder: paths, status, profile folders, the report's input list."""

import json

from benchlib.results import (clear_status, inputs_fingerprint, profile_names, run_folder, read_status, report_inputs,
                              set_failed)


def test_every_path_of_a_profile_lives_under_its_dataset_folder(tmp_path):
    paths = run_folder(tmp_path, "bench-x", "mbpp")
    names = [paths.samples, paths.samples_journal, paths.eval_results, paths.eval_journal, paths.manifest,
             paths.status, paths.server_log, paths.server_pid, paths.codegen_log, paths.evaluation_log]
    assert {p.parent for p in names} == {tmp_path / "bench-x" / "mbpp"}
    assert len(set(names)) == len(names)


def test_status(tmp_path):
    paths = run_folder(tmp_path, "bench-x", "humaneval")
    assert read_status(paths) == {}
    set_failed(paths, "generation", "server gone")
    assert read_status(paths)["reason"] == "server gone" and read_status(paths)["stage"] == "generation"
    clear_status(paths)
    assert not paths.status.exists()
    paths.status.write_text("{torn")
    assert read_status(paths) == {}  # damaged: empty, never an exception


def test_the_report_inputs_include_the_generation_journal(tmp_path):
    config, scores = tmp_path / "models.conf", tmp_path / "reference-scores.json"
    files = report_inputs(tmp_path / "results", ["bench-a"], config, scores)
    paths = run_folder(tmp_path / "results", "bench-a", "humaneval")
    assert {config, scores, paths.samples_journal, paths.samples, paths.eval_results, paths.status,
            paths.manifest} <= set(files)
    before = inputs_fingerprint(files, 1)
    paths.root.mkdir(parents=True)
    paths.samples_journal.write_text('{"_header": {}}\n')
    assert inputs_fingerprint(files, 1) != before  # a kill -9 during generation changes the report
    assert inputs_fingerprint(files, 1) != inputs_fingerprint(files, 2)


def test_profile_folders_removed_from_models_conf_are_still_listed(tmp_path):
    results = tmp_path / "results"
    (results / "bench-old" / "humaneval").mkdir(parents=True)
    (results / "bench-old" / "humaneval" / "eval_results.json").write_text(json.dumps({}))
    assert profile_names(results) == ["bench-old"]
    files = report_inputs(results, ["bench-new"], tmp_path / "c", tmp_path / "r")
    assert run_folder(results, "bench-old", "humaneval").eval_results in files
