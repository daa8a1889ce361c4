"""Task order: a finished model's evaluation runs before the next model's generation."""

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

from benchlib.scheduling import prefer_evaluations


def run_tasks(tmp_path, *args):
    """Three profiles shaped like dodo.py's (eval:p depends on gen:p; the default task on every eval);
    returns the order in which the actions ran."""
    order = []

    def task_gen():
        for p in ("p0", "p1", "p2"):
            yield {"name": p, "actions": [lambda p=p: order.append(f"gen:{p}")]}

    def task_eval():
        for p in ("p0", "p1", "p2"):
            yield {"name": p, "actions": [lambda p=p: order.append(f"eval:{p}")], "task_dep": [f"gen:{p}"]}

    def task_benchmark():
        return {"actions": None, "task_dep": ["eval"]}

    tasks = {"task_gen": task_gen, "task_eval": task_eval, "task_benchmark": task_benchmark,
             "DOIT_CONFIG": {"dep_file": str(tmp_path / "db.json"), "backend": "json", "verbosity": 0,
                             "default_tasks": ["benchmark"]}}
    assert DoitMain(ModuleTaskLoader(tasks)).run(list(args)) == 0
    return order


def test_each_evaluation_follows_its_generation(tmp_path):
    assert prefer_evaluations() is True
    assert prefer_evaluations() is True  # patching twice is harmless
    assert run_tasks(tmp_path) == ["gen:p0", "eval:p0", "gen:p1", "eval:p1", "gen:p2", "eval:p2"]


def test_a_single_profile_still_runs_alone(tmp_path):
    prefer_evaluations()
    assert run_tasks(tmp_path, "eval:p1") == ["gen:p1", "eval:p1"]
