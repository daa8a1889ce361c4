"""The evaluation stage on a few tasks (quick): verdicts as data in eval_results.json, resume from the
journal, verdicts carried over per sample, and when they are not (fingerprints.verdicts_hold)."""

import json

import pytest

from benchlib.evaluation.sandbox import LocalSandbox
from benchlib.fingerprints import evaluation_header, evaluation_journal_header
from benchlib.results import run_folder

from builders import evaluation, few_tasks, write_samples

TASKS = ["HumanEval/0", "HumanEval/2", "HumanEval/10", "HumanEval/16", "HumanEval/53"]
BODIES = {
    "HumanEval/0": "    return True\n",  # wrong
    "HumanEval/2": "    raise ValueError('boom')\n",  # crashes on the first input
    "HumanEval/10": "  syntax error here\n",  # does not load
}


@pytest.fixture
def few(humaneval, tmp_path):
    return few_tasks(humaneval, TASKS, tmp_path)


class Counting:
    """A sandbox factory that counts the sandboxes made (one per evaluation that checks anything)."""

    def __init__(self, **options):
        self.made = 0
        self.options = options

    def __call__(self):
        self.made += 1
        return LocalSandbox(**self.options)


def evaluate(samples, dataset, paths, cache, sandbox=None, **options):
    return evaluation(samples, dataset, paths, sandbox or Counting(), cache=cache, **options)


def test_failures_are_stored_as_data_beside_evalplus_fields(few, tmp_path, cache):
    samples = write_samples(few, tmp_path / "s.jsonl", BODIES)
    results = evaluate(samples, few, run_folder(tmp_path, "p", "humaneval"), cache)
    records = {task: r[0] for task, r in results["eval"].items()}
    assert results["header"] == evaluation_header(few.identity)
    inputs = {task: few.inputs(task, "base") for task in ("HumanEval/0", "HumanEval/2")}
    # input 0 expects True; input 1 is where `return True` is wrong: what it got, expected and returned
    assert records["HumanEval/0"]["base_failure"] == {
        "kind": "wrong_output", "input": 1,
        "shown_input": {"text": repr(inputs["HumanEval/0"][1]), "size": len(repr(inputs["HumanEval/0"][1]))},
        "expected": {"text": "False", "size": 5}, "actual": {"text": "True", "size": 4}}
    assert records["HumanEval/0"]["base_detail"] == "wrong output"
    assert records["HumanEval/0"]["base_fail_tests"] == [repr(inputs["HumanEval/0"][1])]
    failure = records["HumanEval/2"]["base_failure"]
    assert {k: failure[k] for k in ("kind", "exception", "input", "message")} == \
        {"kind": "raised", "exception": "ValueError", "input": 0, "message": "boom"}
    assert failure["shown_input"]["text"] == repr(inputs["HumanEval/2"][0]) and "actual" not in failure
    assert failure["expected"]["text"] == repr(inputs["HumanEval/2"][0][0] % 1.0)  # truncate_number's answer
    assert records["HumanEval/10"]["base_failure"] == {"kind": "load_error", "exception": "IndentationError",
                                                       "message": "unindent does not match any outer indentation level (<string>, line 20)"}
    assert records["HumanEval/10"]["base_fail_tests"] == []
    for task in ("HumanEval/16", "HumanEval/53"):
        assert (records[task]["base_status"], records[task]["plus_status"]) == ("pass", "pass")
        assert records[task]["base_failure"] is None and records[task]["plus_failure"] is None
    assert results["pass_at_1"] == {"base": 40.0, "plus": 40.0} and results["checked"] == 5


def test_resume_from_the_journal_and_carry_verdicts_over_per_sample(few, tmp_path, cache):
    samples = write_samples(few, tmp_path / "s.jsonl", BODIES)
    paths = run_folder(tmp_path, "p", "humaneval")
    first = evaluate(samples, few, paths, cache)
    # an interrupted evaluation: its journal holds every verdict, so nothing runs again
    key_of = {}
    from benchlib.samples import read_samples, sample_key

    for sample in read_samples(samples, few):
        key_of[sample.task_id] = sample_key(sample.task_id, sample.solution)
    journal = [{"_header": evaluation_journal_header(evaluation_header(few.identity), few.md5)}]
    journal += [{"key": key_of[t], "task_id": t, **{k: v for k, v in r[0].items() if k not in ("task_id", "solution")}}
                for t, r in first["eval"].items()]
    paths.eval_results.unlink()
    paths.eval_journal.write_text("".join(json.dumps(r) + "\n" for r in journal))
    sandbox = Counting()
    resumed = evaluate(samples, few, paths, cache, sandbox)
    assert sandbox.made == 0 and resumed["eval"] == first["eval"] and not paths.eval_journal.exists()
    # one answer changed: only it is checked; the others keep their verdicts
    write_samples(few, samples, {**BODIES, "HumanEval/0": few.problems["HumanEval/0"]["canonical_solution"]})
    again = evaluate(samples, few, paths, cache)
    assert again["checked"] == 1 and again["eval"]["HumanEval/0"][0]["base_status"] == "pass"
    assert {t: r for t, r in again["eval"].items() if t != "HumanEval/0"} == \
        {t: r for t, r in first["eval"].items() if t != "HumanEval/0"}
    # unchanged samples: nothing to do at all
    sandbox = Counting()
    assert evaluate(samples, few, paths, cache, sandbox)["samples_sha256"] == again["samples_sha256"]
    assert sandbox.made == 0


def test_an_old_results_file_still_reads_and_its_verdicts_gain_their_data(few, tmp_path, cache):
    samples = write_samples(few, tmp_path / "s.jsonl", BODIES)
    paths = run_folder(tmp_path, "p", "humaneval")
    current = evaluate(samples, few, paths, cache)
    old = dict(current)  # as benchlib wrote it before the header and the failures as data
    old.pop("header")
    old["eval"] = {t: [{k: v for k, v in r.items() if not k.endswith("_failure")} for r in records]
                   for t, records in current["eval"].items()}
    paths.eval_results.write_text(json.dumps(old))
    write_samples(few, samples, {**BODIES, "HumanEval/53": "    return x + y + 0\n"})  # one changed sample
    sandbox = Counting()
    redone = evaluate(samples, few, paths, cache, sandbox)
    assert redone["checked"] == 1 and sandbox.made == 1
    # what the words held comes back; the detail they never held is absent (the report says so)
    assert redone["eval"]["HumanEval/2"][0]["base_failure"] == {"kind": "raised", "exception": "ValueError"}


def test_unsandboxed_verdicts_do_not_stand_in_a_sandboxed_run(few, tmp_path, cache):
    samples = write_samples(few, tmp_path / "s.jsonl", BODIES)
    paths = run_folder(tmp_path, "p", "humaneval")
    unsafe = evaluate(samples, few, paths, cache, Counting(bwrap=None), accept_unsandboxed=True)
    assert unsafe["sandbox"]["sandboxed"] is False
    sandbox = Counting()
    assert evaluate(samples, few, paths, cache, sandbox, accept_unsandboxed=True)["checked"] == 5
    assert sandbox.made == 0  # accepted: nothing to do
    sandboxed = evaluate(samples, few, paths, cache)
    assert sandboxed["sandbox"]["sandboxed"] is True and sandboxed["checked"] == 5
    assert {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in sandboxed["eval"].items()} == \
        {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in unsafe["eval"].items()}


def test_pass_at_k_is_evalplus_own_estimate():
    import numpy as np
    from evalplus.eval import estimate_pass_at_k as theirs

    from benchlib.evaluation.scoring import estimate_pass_at_k, pass_at_k

    for n, c, k in [(1, 0, 1), (1, 1, 1), (5, 2, 1), (10, 3, 10), (20, 0, 10), (200, 37, 100), (200, 200, 10), (7, 6, 5)]:
        assert estimate_pass_at_k(n, c, k) == pytest.approx(float(theirs(n, [c], k)[0]), abs=1e-12), (n, c, k)
    rng = np.random.default_rng(0)
    results = {}
    for task in range(30):  # 12 samples each: pass@1 and pass@10, not pass@100 (evalplus's rule)
        results[f"T/{task}"] = [{"base_status": "pass" if rng.random() < 0.6 else "fail",
                                 "plus_status": "pass" if rng.random() < 0.7 else "fail"} for _ in range(12)]
    ours = pass_at_k(results)
    assert set(ours["plus"]) == {"pass@1", "pass@10"}
    base = np.array([sum(r["base_status"] == "pass" for r in rs) for rs in results.values()])
    plus = np.array([sum(r["base_status"] == r["plus_status"] == "pass" for r in rs) for rs in results.values()])
    for k in (1, 10):
        assert ours["base"][f"pass@{k}"] == round(100 * theirs(12, base, k).mean(), 2)
        assert ours["plus"][f"pass@{k}"] == round(100 * theirs(12, plus, k).mean(), 2)
    assert pass_at_k({"T/0": [{"base_status": "pass", "plus_status": "pass"}]}) == {}  # greedy: pass@1 only
