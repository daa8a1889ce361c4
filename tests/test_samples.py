import json

import pytest

from benchlib.errors import SamplesError
from benchlib.samples import read_samples


def test_three_evalplus_formats_read_the_same(tmp_path, humaneval):
    solution_file = tmp_path / "solutions.jsonl"
    completion_file = tmp_path / "completions.jsonl"
    folder = tmp_path / "dir"
    with open(solution_file, "w") as a, open(completion_file, "w") as b:
        for task_id in humaneval.task_ids:
            problem = humaneval.problems[task_id]
            a.write(json.dumps({"task_id": task_id, "solution": problem["prompt"] + problem["canonical_solution"]}) + "\n")
            b.write(json.dumps({"task_id": task_id, "completion": problem["canonical_solution"]}) + "\n")
            (folder / task_id.replace("/", "_")).mkdir(parents=True)
            (folder / task_id.replace("/", "_") / "0.py").write_text(problem["prompt"] + problem["canonical_solution"])
    by_file = {s.task_id: s.solution for s in read_samples(solution_file, humaneval)}
    assert by_file == {s.task_id: s.solution for s in read_samples(completion_file, humaneval)}
    assert by_file == {s.task_id: s.solution for s in read_samples(folder, humaneval)}


def test_incomplete_samples_are_a_clear_error(tmp_path, humaneval):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"task_id": "HumanEval/0", "solution": "x"}) + "\n")
    with pytest.raises(SamplesError, match="incomplete, 163 of 164 tasks have no sample"):
        read_samples(path, humaneval)


def test_missing_and_malformed_samples(tmp_path, humaneval):
    with pytest.raises(SamplesError, match="samples not found"):
        read_samples(tmp_path / "none.jsonl", humaneval)
    path = tmp_path / "bad.jsonl"
    path.write_text('{"task_id": "HumanEval/0", "solution": "x"}\n{"task_id": \n')
    with pytest.raises(SamplesError, match="bad.jsonl:2: not JSON"):
        read_samples(path, humaneval)


def test_samples_of_another_dataset(tmp_path, humaneval):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"task_id": "Mbpp/2", "solution": "x"}) + "\n")
    with pytest.raises(SamplesError, match="not in HumanEvalPlus-v0.1.10"):
        read_samples(path, humaneval)
