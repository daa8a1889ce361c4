"""Scores equal evalplus's: the same samples judged by both, task by task."""

import json
import os
import subprocess
import sys

import pytest

from benchlib.evaluation import _trusted_sandbox, check_phase, evaluate_samples, load_ground_truth
from benchlib.layout import profile_paths
from benchlib.sandbox import LocalSandbox

from conftest import HUMANEVAL

# task -> solution body replacing the canonical one; covers wrong, crashing, slow and odd solutions
SPECIAL = {
    "HumanEval/0": "    return True\n",  # wrong
    "HumanEval/2": "    raise ValueError('boom')\n",  # crashes
    "HumanEval/3": "    while True:\n        pass\n",  # infinite loop: per-test time limit
    "HumanEval/4": "    import time\n    time.sleep(30)\n",  # sleeps
    "HumanEval/5": "    return numbers  # wrong on most inputs\n",
    "HumanEval/7": "    return [s for s in strings if substring in s][:1]\n",  # base right on some, plus wrong
    "HumanEval/10": "  syntax error here\n",  # does not parse
    "HumanEval/12": "    import sys\n    sys.exit(0)\n",  # exits inside the call
    "HumanEval/13": "    print('noise' * 1000)\n    return 1\n",  # prints, wrong for most
    "HumanEval/16": "    return len(set(string.lower()))  # correct, different code\n",
    "HumanEval/20": "    return tuple(sorted(numbers)[:2])  # wrong\n",
    "HumanEval/23": "    return len(string) if len(string) < 50 else sum(1 for _ in range(10**8))\n",  # slow on large
    "HumanEval/26": "    import numpy as np\n    return list(np.unique(numbers))  # wrong order semantics\n",
    "HumanEval/31": "    return n > 1 and all(n % k for k in range(2, n))  # correct but slow on big primes\n",
    "HumanEval/35": "    import numpy as np\n    return np.max(l)  # numpy scalar\n",
    "HumanEval/53": "    return float(x + y)  # float instead of int: equal\n",
    "HumanEval/55": "    return (lambda f, n: f(f, n))(lambda f, n: n if n < 2 else f(f, n - 1) + f(f, n - 2), n)\n",
}


def make_samples(dataset, path, overrides):
    with open(path, "w") as handle:
        for task_id in dataset.task_ids:
            problem = dataset.problems[task_id]
            body = overrides.get(task_id, problem["canonical_solution"])
            handle.write(json.dumps({"task_id": task_id, "solution": problem["prompt"] + body}) + "\n")


def evalplus_statuses(samples, tmp_path):
    env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str(HUMANEVAL), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    script = (f"from evalplus.evaluate import evaluate\nevaluate(dataset='humaneval', samples={str(samples)!r}, "
              f"parallel=2)\nimport os; os._exit(0)\n")  # os._exit: skip evalplus's lingering watchdog thread
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, timeout=900)
    results = json.loads(samples.with_name(samples.stem + "_eval_results.json").read_text())
    return {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in results["eval"].items()}


@pytest.mark.slow
def test_mixed_samples_get_evalplus_statuses_task_by_task(tmp_path, humaneval):
    samples = tmp_path / "mixed.jsonl"
    make_samples(humaneval, samples, SPECIAL)
    theirs = evalplus_statuses(samples, tmp_path)
    paths = profile_paths(tmp_path, "p", "humaneval")
    ours = evaluate_samples(samples, humaneval, paths, LocalSandbox, "local", 2, lambda m: None)
    mine = {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in ours["eval"].items()}
    # the deliberate difference: evalplus 0.3.1 fails the canonical find_zero (HumanEval/32) on every run
    assert theirs.pop("HumanEval/32") == ("fail", "fail") and mine.pop("HumanEval/32") == ("pass", "pass")
    differing = {t: (theirs[t], mine[t]) for t in theirs if theirs[t] != mine[t]}
    assert differing == {}
    assert sum(s == ("pass", "pass") for s in mine.values()) < 163 - 10  # the special cases did fail
    assert ours["pass_at_1"]["base"] < 100 and ours["judging"]["special_cases"]["HumanEval/32"]


@pytest.mark.slow
def test_find_zero_right_and_wrong_roots(tmp_path, humaneval):
    samples = tmp_path / "s.jsonl"
    make_samples(humaneval, samples, {"HumanEval/32": "    return 0.0\n"})
    paths = profile_paths(tmp_path, "p", "humaneval")
    wrong = evaluate_samples(samples, humaneval, paths, LocalSandbox, "local", 2, lambda m: None)
    assert wrong["eval"]["HumanEval/32"][0]["base_status"] == "fail"
    assert wrong["pass_at_1"] == {"base": round(100 * 163 / 164, 1), "plus": round(100 * 163 / 164, 1)}
    make_samples(humaneval, samples, {})  # canonical: bisection finds a root within 1e-4
    right = evaluate_samples(samples, humaneval, paths, LocalSandbox, "local", 2, lambda m: None)
    assert right["pass_at_1"] == {"base": 100.0, "plus": 100.0}
    assert right["eval"]["HumanEval/32"][0]["plus_status"] == "pass"


@pytest.mark.parametrize("mistake, detail", [
    ("out[-1] += 1e-3", "wrong output"),  # a float list, sent as doubles
    ("out = [str(v) for v in out]", "wrong output"),  # same values, wrong type
    ("raise KeyError(n)", "raised KeyError"),
])
def test_batched_outputs_still_pin_the_first_wrong_input(humaneval, mistake, detail):
    """The runner sends outputs in batches; the verdict must still name the exact input that failed."""
    task, wrong_at = "HumanEval/130", 40
    problem = humaneval.problems[task]
    code = problem["prompt"] + problem["canonical_solution"] + (
        "\n_right, _calls = tri, [0]\n"
        "def tri(n):\n"
        "    _calls[0] += 1\n"
        "    out = _right(n)\n"
        f"    if _calls[0] > {wrong_at}:\n"
        f"        {mistake}\n"
        "    return out\n")
    truth = load_ground_truth(humaneval, _trusted_sandbox, 2, lambda m: None)[task]["plus"]
    sandbox = LocalSandbox()
    try:
        result = check_phase(sandbox, humaneval, task, code, "plus", truth)
        right = check_phase(sandbox, humaneval, task, problem["prompt"] + problem["canonical_solution"], "plus", truth)
    finally:
        sandbox.close()
    assert (result.status, result.failed_input, result.detail) == ("fail", wrong_at, detail)
    assert right.status == "pass"


def test_ground_truth_file_maps_encodings_and_replaces_older_versions(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from benchlib import evaluation

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path))
    dataset = SimpleNamespace(spec=SimpleNamespace(key="humaneval"), md5="abc")
    current = evaluation._truth_path(dataset)
    current.parent.mkdir(parents=True)
    older = [current.with_name("humaneval-abc-w1-g1.pickle"), current.with_name("humaneval-abc-w2-g3.truth")]
    other = current.with_name("humaneval-def-w1-g1.pickle")  # another dataset version: kept
    for path in older + [other]:
        path.write_bytes(b"old")
    raws = [b"1", b'{"$f": "nan"}', b"[1, 2]" * 1000, b""]
    phase = {"raw": raws, "cpu": [0.1] * 4, "bytes": 99, "floaty": [False, True, False, False]}
    evaluation._write_truth(current, "abc", {"T/0": {"base": phase, "plus": {**phase, "raw": raws[::-1]}}})
    evaluation._remove_older_truths(current, dataset)
    assert sorted(p.name for p in current.parent.iterdir()) == sorted([current.name, other.name])
    blob, base, header = evaluation._read_truth(current)
    for name, expected in (("base", raws), ("plus", raws[::-1])):
        saved = header["tasks"]["T/0"][name]
        truth = evaluation.PhaseTruth(blob=blob, base=base, offsets=saved["offsets"], limits=[1.0] * 4,
                                      floaty=saved["floaty"], exact_ok=saved["exact_ok"], size=saved["bytes"])
        assert [truth.raw(i) for i in range(4)] == expected
        assert truth.exact_ok == [b'"nan"' not in raw for raw in expected]
    current.write_bytes(b"something else")
    with pytest.raises(evaluation.SandboxError, match="not a benchlib ground-truth file"):
        evaluation._read_truth(current)
