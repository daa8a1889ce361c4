"""What the user sees while a stage runs, decided by level, not by text:

- `stage_log(profile, file)`: a logger for one stage run. Every record goes to the stage's log file
  (codegen.log, evaluation.log) with a time stamp; INFO and above also go to the terminal (stderr),
  prefixed with the profile, WARNING and above marked so ("WARNING: ..."). Per-task lines are DEBUG: in the
  file only.
- `Progress`: a tqdm bar on a terminal; where stderr is not a terminal (CI, `nohup`, a log file), an
  INFO line every 10% instead of a bar's carriage returns. Both stages build it the same way.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
import time
from pathlib import Path
from typing import Iterator

__all__ = ["stage_log", "Progress"]

_ids = itertools.count()


class _LevelFormatter(logging.Formatter):
    """Marks WARNING and above by their level ("WARNING: ..."): messages never spell their own level."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING and not record.message.startswith(f"{record.levelname}: "):
            record.message = f"{record.levelname}: {record.message}"
        return super().formatMessage(record)


@contextlib.contextmanager
def stage_log(profile: str, path: Path) -> Iterator[logging.Logger]:
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"benchlib.run{next(_ids)}.{profile}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(_LevelFormatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(logging.INFO)
    to_terminal.setFormatter(_LevelFormatter(f"[{profile}] %(message)s"))
    logger.addHandler(to_file)
    logger.addHandler(to_terminal)
    try:
        yield logger
    finally:
        for handler in (to_file, to_terminal):
            logger.removeHandler(handler)
            handler.close()


class Progress:
    """Progress of one stage: `update(done=None, tokens=0)` after each finished task."""

    def __init__(self, label: str, total: int, log: logging.Logger, done: int = 0, unit: str = "task") -> None:
        self.total = max(total, 1)
        self.done = done
        self.start_done = done
        self.tokens = 0
        self.started = time.monotonic()
        self.log = log
        self.label = label
        self._decile = done * 10 // self.total
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc=label, unit=unit, file=sys.stderr, dynamic_ncols=True,
                            leave=True)

    def update(self, done: int | None = None, tokens: int = 0) -> None:
        previous = self.done
        self.done = previous + 1 if done is None else done
        self.tokens += tokens
        elapsed = max(time.monotonic() - self.started, 1e-9)
        if self.bar is not None:
            self.bar.update(self.done - previous)
            if self.tokens:
                self.bar.set_postfix_str(f"{self.tokens / elapsed:.0f} tok/s", refresh=False)
            return
        decile = self.done * 10 // self.total
        if decile != self._decile or self.done == self.total:
            rate = (self.done - self.start_done) / elapsed
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            tokens = f", {self.tokens / elapsed:.0f} tok/s" if self.tokens else ""
            self.log.info(f"{self.label}: {self.done}/{self.total} ({rate * 60:.1f}/min{tokens}, "
                          f"elapsed {elapsed:.0f} s, ETA {eta:.0f} s)")
        self._decile = decile

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
