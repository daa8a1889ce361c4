"""Task order: a finished model's evaluation runs before the next model's generation, with the real
dodo.py's task names and dependencies (renaming a task there without the scheduler fails here)."""

import runpy
from pathlib import Path

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

from benchlib.scheduling import prefer_tasks

from support import ROOT


def real_dodo(tmp_path, monkeypatch):
    conf = tmp_path / "models.conf"
    conf.write_text("".join(f"[bench-p{i}]\nserver = reference\n" for i in range(3)))
    monkeypatch.setenv("BENCH_CONFIG", str(conf))
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "results"))
    return runpy.run_path(str(ROOT / "dodo.py"))


def run_tasks(tmp_path, dodo, *args):
    """dodo.py's tasks with each action replaced by a recorder; returns the order the actions ran in."""
    order = []

    def recorder(task, basename):
        name = f"{basename}:{task['name']}" if "name" in task else basename

        def action():
            order.append(name)
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
    return [name for name in order if name.split(":")[0] in ("gen", "eval")]


def test_each_evaluation_follows_its_generation(tmp_path, monkeypatch):
    dodo = real_dodo(tmp_path, monkeypatch)
    assert run_tasks(tmp_path, dodo) == ["gen:bench-p0", "eval:bench-p0", "gen:bench-p1", "eval:bench-p1",
                                         "gen:bench-p2", "eval:bench-p2"]


def test_a_single_profile_still_runs_alone(tmp_path, monkeypatch):
    dodo = real_dodo(tmp_path, monkeypatch)
    assert run_tasks(tmp_path, dodo, "eval:bench-p1") == ["gen:bench-p1", "eval:bench-p1"]


def test_patching_twice_is_harmless_and_a_missing_hook_is_reported(monkeypatch, capsys):
    from doit import control

    assert prefer_tasks("eval:") is True and prefer_tasks("eval:") is True
    monkeypatch.delattr(control.TaskDispatcher, "_get_next_node")
    assert prefer_tasks("eval:") is False
    assert "evaluations may wait for the generations" in capsys.readouterr().err
