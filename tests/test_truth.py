"""Ground truth: computing it (CanonicalRun's work stealing) and reading it back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchlib.evaluation import truth as gt
from benchlib.datasets import Dataset, get_spec
from benchlib.errors import SandboxError
from benchlib.evaluation.sandbox import LocalSandbox
from support import quiet_log

# a slow phase: each input sleeps (wall time, so the test does not depend on the cores there are) and
# says which process computed it
SLOW = ("import os, time\n\ndef slow(x):\n    time.sleep(0.15)\n    return [x * x, os.getpid()]\n")


def _dataset(tmp_path: Path, problems: dict[str, tuple[str, str, list, list]]) -> Dataset:
    rows = {task: {"task_id": task, "prompt": "", "canonical_solution": code, "entry_point": entry,
                   "base_input": base, "plus_input": plus, "atol": 0}
            for task, (code, entry, base, plus) in problems.items()}
    return Dataset(spec=get_spec("humaneval"), path=tmp_path / "synthetic.jsonl", problems=rows, md5="synthetic")


def _compute(dataset: Dataset, workers: int) -> dict[str, dict]:
    computed: dict[str, dict] = {}
    sandbox = LocalSandbox(memory_limit=None, bwrap=None)
    try:
        run = gt.CanonicalRun(sandbox, dataset, computed.__setitem__)
        run.run(workers)
    finally:
        sandbox.close()
    computed["splits"] = run.splits
    return computed


def test_a_slow_phase_is_shared_between_idle_workers(tmp_path):
    square = "def square(x):\n    return x * x\n"
    dataset = _dataset(tmp_path, {
        "T/0": (square, "square", [[1], [2]], [[3], [4]]),
        "T/1": (SLOW, "slow", [[1]], [[k] for k in range(24)]),
        "T/2": (square, "square", [[5]], [[6]]),
    })
    computed = _compute(dataset, workers=3)
    assert computed.pop("splits") >= 2
    slow = [json.loads(raw) for raw in computed["T/1"]["plus"]["raw"]]
    assert [value for value, _ in slow] == [k * k for k in range(24)]  # every input once, in order
    assert len({pid for _, pid in slow}) >= 3  # its tail was taken, and taken again
    assert computed["T/0"]["plus"]["raw"] == [b"9", b"16"]
    assert computed["T/2"]["base"]["raw"] == [b"25"]
    assert len(computed["T/1"]["plus"]["cpu"]) == 24
    # one worker: nothing to share, the same outputs
    alone = _compute(dataset, workers=1)
    assert alone.pop("splits") == 0
    assert [json.loads(raw)[0] for raw in alone["T/1"]["plus"]["raw"]] == [k * k for k in range(24)]
    assert [alone["T/0"][phase]["raw"] for phase in gt.PHASES] == [computed["T/0"][phase]["raw"] for phase in gt.PHASES]


def test_a_failing_canonical_solution_stops_the_computation(tmp_path):
    broken = "def broken(x):\n    if x == 3:\n        raise ValueError('no')\n    return x\n"
    dataset = _dataset(tmp_path, {"T/0": (broken, "broken", [[1]], [[2], [3], [4]]),
                                  "T/1": (SLOW, "slow", [[1]], [[k] for k in range(4)])})
    with pytest.raises(SandboxError, match=r"canonical solution of T/0 \(plus\).*input 1: ValueError"):
        _compute(dataset, workers=2)


def test_ground_truth_file_from_a_computation(tmp_path):
    dataset = _dataset(tmp_path, {"T/0": ("def f(x):\n    return [x / 2, 'a' * x]\n", "f", [[1], [3]],
                                          [[k] for k in range(40)])})
    truth = gt.load_ground_truth(dataset, tmp_path / "cache", 2, quiet_log())
    plus = truth["T/0"]["plus"]
    assert [plus.expected(k) for k in range(40)] == [[k / 2, "a" * k] for k in range(40)]
    assert plus.floaty == [False] * 40  # a list whose first element is a float and second a str
    assert len(plus.limits) == 40 and min(plus.limits) >= 1.0
    # the size a correct solution's records take: the encodings and a record header each
    assert plus.size == sum(len(plus.raw(k)) + gt.RECORD_OVERHEAD for k in range(40))


def test_identical_encodings_mean_equal_values_unless_a_nan_is_inside():
    from benchlib.inside.wire import dumps, encode_output

    def exact_ok(value) -> bool:
        return gt._exact_ok(dumps(encode_output(value)).encode())

    assert exact_ok("nan") and exact_ok('{"$f": "nan"}') and exact_ok([1.5] * 100) and exact_ok([1, 2])
    assert exact_ok([("nan", 1.5)] * 80)  # tuple rows: finite values only
    assert not exact_ok(float("nan")) and not exact_ok([1.0, float("nan")] * 40) and not exact_ok({"a": float("nan")})
    assert not exact_ok([(1.0, float("nan"))] * 80)  # not rows: the general encoding, scanned
