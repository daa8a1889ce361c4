"""benchlib under doit: task order (evaluations before generations, one generation per host at a time),
workers that end with doit (`end_with_doit`), and the report refreshed once at the end of a run in which
a stage failed (`stage_reporter`).

doit hands a free worker the oldest ready task. Every `gen:` task is ready from the start (it then waits
on its host's server lock), while an `eval:` becomes ready only when its generation ends. Left alone,
under `doit -n 2` both workers would take generations of one host (one generating, one asleep on the
lock) while another host idles, and the evaluations would pile up at the end. So the dispatcher:

- hands out ready tasks whose name starts with `prefer` (the evaluations) first: model k is evaluated on
  one worker while model k+1 generates on another;
- holds back a task whose `meta["host"]` names a host (a profile with replicas names several) that
  another dispatched task is using, without taking a worker, until that task finishes; held tasks of one
  host keep their order (models.conf's). `doit -n K` so keeps up to K hosts busy. The host lock (servers.start) still guarantees one server per
  host when two doit processes meet; this only keeps workers from sleeping on it.

Plain `doit` (one worker) runs gen, eval, gen, eval ... in models.conf order.

doit has no public priority hook, so this patches its dispatcher's private `_get_next_node` and
`_update_waiting` (doit 0.36 and 0.37); where a doit version lacks them, doit's own order is kept and one
line says so (the host locks still keep one server per host).
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque
from typing import Callable

__all__ = ["schedule", "HOST_META", "end_with_doit", "stage_reporter", "STAGES"]

STAGES = ("gen", "eval")  # the task groups of the stages (dodo.py names its tasks so)

HOST_META = "host"  # the task `meta` key naming the hosts a task occupies (a tuple; one host: a string too)


def _hosts(node) -> tuple[str, ...]:
    meta = getattr(getattr(node, "task", None), "meta", None) or {}
    hosts = meta.get(HOST_META) or ()
    return (hosts,) if isinstance(hosts, str) else tuple(hosts)


def schedule(prefer: str) -> bool:
    """Patch doit's dispatcher as described above. False (doit's own order kept, with a one-line notice on
    stderr) if this doit's dispatcher does not have that shape."""
    from doit import control

    dispatcher = getattr(control, "TaskDispatcher", None)
    next_node = getattr(dispatcher, "_get_next_node", None)
    update_waiting = getattr(dispatcher, "_update_waiting", None)
    if next_node is None or update_waiting is None:
        print("benchlib: this doit has no TaskDispatcher._get_next_node/_update_waiting: under `doit -n`, workers "
              "may wait on a busy host and evaluations may wait for the generations (results are unchanged)",
              file=sys.stderr)
        return False
    if getattr(next_node, "_benchlib_prefer", None) == prefer:
        return True
    next_node = getattr(next_node, "_benchlib_original", next_node)
    update_waiting = getattr(update_waiting, "_benchlib_original", update_waiting)

    def state(self) -> tuple[dict, dict]:
        if "_benchlib_busy" not in self.__dict__:
            self._benchlib_busy, self._benchlib_held = {}, {}
        return self._benchlib_busy, self._benchlib_held

    def hold(self, node, host) -> None:
        self._benchlib_held.setdefault(host, deque()).append(node)
        self.waiting.add(node)  # the dispatcher then says "hold on" instead of "done"

    def taken(busy, node) -> str | None:
        """A host of `node` that another dispatched task is using, None if all of them are free."""
        return next((host for host in _hosts(node) if busy.get(host, node) is not node), None)

    def get_next_node(self, ready, tasks_to_run):
        busy, _ = state(self)
        for node in list(ready):
            host = taken(busy, node)
            if host is not None:
                ready.remove(node)
                hold(self, node, host)
        while True:
            chosen = next((node for node in ready if getattr(node.task, "name", "").startswith(prefer)), None)
            if chosen is not None:
                ready.remove(chosen)
            else:
                chosen = next_node(self, ready, tasks_to_run)
            if chosen is None:
                return None
            host = taken(busy, chosen)
            if host is None:
                for mine in _hosts(chosen):
                    busy[mine] = chosen
                return chosen
            hold(self, chosen, host)  # a new node from tasks_to_run, for a busy host

    def update(self, processed):
        update_waiting(self, processed)
        if processed is None or processed.run_status == "run":
            return  # not finished: selected to run (its setup tasks first)
        busy, held = state(self)
        for host in _hosts(processed):
            if busy.get(host) is not processed:
                continue
            del busy[host]
            queue = held.get(host)
            if queue:  # back to ready: the next look holds it again if another of its hosts is busy
                node = queue.popleft()
                self.waiting.discard(node)
                self.ready.append(node)

    get_next_node._benchlib_prefer = prefer
    get_next_node._benchlib_original = next_node
    update._benchlib_original = update_waiting
    dispatcher._get_next_node = get_next_node
    dispatcher._update_waiting = update
    return True


def end_with_doit() -> None:
    """In a `doit -n` worker: SIGTERM when the doit process dies (kill -9 included), so the stage ends as
    on Ctrl-C (its server stopped) instead of running on as an orphan that waits forever for its next task."""
    import multiprocessing

    from .servers.base import signal_on_parent_death

    parent = multiprocessing.parent_process()
    if parent is None or not signal_on_parent_death(signal.SIGTERM):
        return
    if os.getppid() != parent.pid:  # doit died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)


def stage_reporter(refresh: Callable[[], None], report_tasks: tuple[str, ...]):
    """doit's console reporter, plus: when a stage (`gen:`, `eval:`) failed and no report task wrote
    REPORT.md after it, `refresh()` once as the run ends, so REPORT.md lists the failure (doit never runs
    a task whose dependency failed, so a full run's report task does not run then). Once per run, in the
    main process, instead of once per failed stage inside it."""
    from doit.reporter import ConsoleReporter

    class StageReporter(ConsoleReporter):
        def __init__(self, outstream, options):
            super().__init__(outstream, options)
            self.stale = False  # a stage failed since the report was last written

        def add_failure(self, task, fail):
            super().add_failure(task, fail)
            if task.name.split(":", 1)[0] in STAGES:
                self.stale = True

        def add_success(self, task):
            super().add_success(task)
            if task.name in report_tasks:
                self.stale = False

        def complete_run(self):
            if self.stale:
                refresh()
            super().complete_run()

    return StageReporter

