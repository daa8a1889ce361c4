"""Task order under doit: a finished model's evaluation before the next model's generation.

doit hands a free worker the oldest ready task. Every `gen:` task is ready from the start (it then waits
on the machine-wide server lock), while an `eval:` becomes ready only when its generation ends, so under
`doit -n 2` both workers would take generations (one generating, one waiting for the lock) and the
evaluations would pile up at the end. Preferring ready evaluations gives the pipeline the design asks
for: model k is evaluated on one worker while model k+1 generates on the other. Plain `doit` then runs
gen, eval, gen, eval ... (the first scores exist early; the total is the same).

doit has no public priority hook, so this patches its dispatcher's private `_get_next_node` (doit 0.36
and 0.37); where a doit version lacks it, doit's own order is kept and one line says so.
"""

from __future__ import annotations

import sys

__all__ = ["prefer_tasks"]


def prefer_tasks(prefix: str) -> bool:
    """Make doit's dispatcher pick ready tasks whose name starts with `prefix` first. False (doit's own
    order kept, with a one-line notice on stderr) if this doit's dispatcher does not have that shape."""
    from doit import control

    dispatcher = getattr(control, "TaskDispatcher", None)
    original = getattr(dispatcher, "_get_next_node", None)
    if original is None:
        print("benchlib: this doit has no TaskDispatcher._get_next_node: under `doit -n`, evaluations may wait "
              "for the generations (results are unchanged)", file=sys.stderr)
        return False
    if getattr(original, "_benchlib_prefix", None) == prefix:
        return True
    original = getattr(original, "_benchlib_original", original)

    def get_next_node(self, ready, tasks_to_run):
        for node in ready:
            task = getattr(node, "task", None)
            if getattr(task, "name", "").startswith(prefix):
                ready.remove(node)
                return node
        return original(self, ready, tasks_to_run)

    get_next_node._benchlib_prefix = prefix
    get_next_node._benchlib_original = original
    dispatcher._get_next_node = get_next_node
    return True
