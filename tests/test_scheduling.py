"""Task order: a finished model's evaluation runs before the next model's generation, and under `doit -n`
one generation per host at a time while other hosts serve, with the real dodo.py's task names,
dependencies and host metadata (renaming a task there without the scheduler fails here)."""

import json
import runpy
import time
from pathlib import Path

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

from benchlib.scheduling import schedule

from support import ROOT


def real_dodo(tmp_path, monkeypatch, conf_text=None):
    conf = tmp_path / "models.conf"
    conf.write_text(conf_text or "".join(f"[bench-p{i}]\nserver = reference\n" for i in range(3)))
    monkeypatch.setenv("BENCH_CONFIG", str(conf))
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "results"))
    return runpy.run_path(str(ROOT / "dodo.py"))


def run_tasks(tmp_path, dodo, *args, seconds=0.0):
    """dodo.py's tasks with each action replaced by a recorder (that takes `seconds`); returns the actions
    in the order they started, as (name, start, end) (a file records them: under -n they run in workers)."""
    record = tmp_path / "order.jsonl"

    def recorder(task, basename):
        name = f"{basename}:{task['name']}" if "name" in task else basename

        def action():
            started = time.monotonic()
            time.sleep(seconds if basename in ("gen", "eval") else 0)
            with open(record, "a") as handle:
                handle.write(json.dumps([name, started, time.monotonic()]) + "\n")
            for target in task.get("targets", []):  # eval:p depends on gen:p through this file
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                Path(target).write_text("made")

        task = {k: v for k, v in task.items() if k not in ("uptodate", "clean")}
        return {**task, "actions": [action]}

    def recorded(creator):
        basename = creator.__name__[len("task_"):]
        made = creator()
        if isinstance(made, dict):
            return lambda: recorder(made, basename)
        tasks = [recorder(task, basename) for task in made]
        return lambda: (task for task in tasks)

    tasks = {name: recorded(fn) for name, fn in dodo.items() if name.startswith("task_")}
    tasks["DOIT_CONFIG"] = {**dodo["DOIT_CONFIG"], "dep_file": str(tmp_path / "db.json"), "verbosity": 0}
    assert DoitMain(ModuleTaskLoader(tasks)).run(list(args)) == 0
    runs = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return sorted((run for run in runs if run[0].split(":")[0] in ("gen", "eval")), key=lambda run: run[1])


def names(runs):
    return [run[0] for run in runs]


def test_each_evaluation_follows_its_generation(tmp_path, monkeypatch):
    dodo = real_dodo(tmp_path, monkeypatch)
    assert names(run_tasks(tmp_path, dodo)) == ["gen:bench-p0", "eval:bench-p0", "gen:bench-p1", "eval:bench-p1",
                                         "gen:bench-p2", "eval:bench-p2"]


def test_a_single_profile_still_runs_alone(tmp_path, monkeypatch):
    dodo = real_dodo(tmp_path, monkeypatch)
    assert names(run_tasks(tmp_path, dodo, "eval:bench-p1")) == ["gen:bench-p1", "eval:bench-p1"]


HOSTS_CONF = "".join(f"[bench-{box}{i}]\nserver = external\nbase_url = http://{box}:8080\nhost = {box}\n\n"
                     for box in ("a", "b") for i in range(2))  # a0, a1, b0, b1: doit alone would start a0 and a1


def test_two_hosts_serve_at_once_never_two_servers_on_one(tmp_path, monkeypatch):
    dodo = real_dodo(tmp_path, monkeypatch, HOSTS_CONF)
    runs = run_tasks(tmp_path, dodo, "-n", "2", seconds=0.6)
    gens = {name: (start, end) for name, start, end in runs if name.startswith("gen:")}
    assert len(gens) == 4 and len(runs) == 8
    for box in "ab":  # one generation at a time on a host, in models.conf order
        first, second = gens[f"gen:bench-{box}0"], gens[f"gen:bench-{box}1"]
        assert first[1] <= second[0]
    a0, b0 = gens["gen:bench-a0"], gens["gen:bench-b0"]
    assert a0[0] < b0[1] and b0[0] < a0[1]  # both hosts busy at the same time


def test_one_host_runs_its_profiles_in_order_without_a_sleeping_worker(tmp_path, monkeypatch):
    conf = "".join(f"[bench-a{i}]\nserver = external\nbase_url = http://a:8080\nhost = a\n\n" for i in range(3))
    dodo = real_dodo(tmp_path, monkeypatch, conf)
    runs = run_tasks(tmp_path, dodo, "-n", "3", seconds=0.4)
    gens = [(name, start, end) for name, start, end in runs if name.startswith("gen:")]
    assert [name for name, _, _ in gens] == ["gen:bench-a0", "gen:bench-a1", "gen:bench-a2"]
    assert all(previous[2] <= following[1] for previous, following in zip(gens, gens[1:]))


def test_patching_twice_is_harmless_and_a_missing_hook_is_reported(monkeypatch, capsys):
    from doit import control

    assert schedule("eval:") is True and schedule("eval:") is True
    monkeypatch.delattr(control.TaskDispatcher, "_get_next_node")
    assert schedule("eval:") is False
    assert "workers may wait on a busy host" in capsys.readouterr().err


def test_a_profile_on_two_hosts_waits_for_both_and_holds_both(tmp_path, monkeypatch):
    """Replicas: bench-ab needs hosts a and b; it never shares either with bench-a0 or bench-b0."""
    conf = ("[bench-a0]\nserver = external\nbase_url = http://a:8080\nhost = a\n\n"
            "[bench-ab]\nserver = external\nbase_url = http://a:8080, http://b:8080\nhost = a, b\n\n"
            "[bench-b0]\nserver = external\nbase_url = http://b:8080\nhost = b\n\n")
    dodo = real_dodo(tmp_path, monkeypatch, conf)
    runs = run_tasks(tmp_path, dodo, "-n", "3", seconds=0.5)
    gens = {name: (start, end) for name, start, end in runs if name.startswith("gen:")}
    assert len(gens) == 3
    both = gens["gen:bench-ab"]
    for alone in ("gen:bench-a0", "gen:bench-b0"):
        start, end = gens[alone]
        assert end <= both[0] or both[1] <= start, f"{alone} overlapped bench-ab on a shared host"
