"""Scores do not depend on the machine's load (the reduced CI form of bench/bench_stability.py)."""

import multiprocessing

import pytest

from benchlib.results import run_folder
from benchlib.evaluation.sandbox import LocalSandbox

from support import burn
from builders import evaluation, MIXED, write_samples
from evalplus_cli import statuses

pytestmark = pytest.mark.e2e


def test_same_statuses_idle_and_with_every_core_busy(tmp_path, humaneval, cache):
    samples = tmp_path / "mixed.jsonl"
    write_samples(humaneval, samples, MIXED)

    def run(name):
        paths = run_folder(tmp_path / name, "p", "humaneval")
        return statuses(evaluation(samples, humaneval, paths, LocalSandbox, cache=cache))

    idle = run("idle")
    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=burn, args=(stop,)) for _ in range(4)]
    for burner in burners:
        burner.start()
    try:
        loaded = [run(f"loaded-{i}") for i in range(2)]
    finally:
        stop.set()
        for burner in burners:
            burner.join()
    for result in loaded:
        assert {t for t in idle if idle[t] != result[t]} == set()
    # the set has time-limit cases (the infinite loop, trial division on large primes) and passes
    assert idle["HumanEval/3"] == ("fail", "fail") and idle["HumanEval/31"][1] == "fail"
    assert sum(s == ("pass", "pass") for s in idle.values()) > 140
