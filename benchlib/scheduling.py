"""Task order under doit: a finished model's evaluation before the next model's generation.

doit hands a free worker the oldest ready task. Every `gen:` task is ready from the start (it then waits
on the machine-wide server lock), while an `eval:` becomes ready only when its generation ends, so under
`doit -n 2` both workers would take generations (one generating, one waiting for the lock) and the
evaluations would pile up at the end. Preferring ready evaluations gives the pipeline the design asks
for: model k is evaluated on one worker while model k+1 generates on the other. Plain `doit` then runs
gen, eval, gen, eval ... (the first scores exist early; the total is the same).
"""

from __future__ import annotations

__all__ = ["prefer_evaluations", "EVAL_PREFIX"]

EVAL_PREFIX = "eval:"


def prefer_evaluations() -> bool:
    """Patch doit's dispatcher to pick ready `eval:` tasks first. False (doit's own order kept) if this
    doit version's dispatcher does not have the shape this relies on."""
    from doit import control

    dispatcher = getattr(control, "TaskDispatcher", None)
    original = getattr(dispatcher, "_get_next_node", None)
    if original is None or getattr(original, "_benchlib", False):
        return original is not None

    def get_next_node(self, ready, tasks_to_run):
        for node in ready:
            task = getattr(node, "task", None)
            if getattr(task, "name", "").startswith(EVAL_PREFIX):
                ready.remove(node)
                return node
        return original(self, ready, tasks_to_run)

    get_next_node._benchlib = True
    dispatcher._get_next_node = get_next_node
    return True
