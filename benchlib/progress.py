"""A one-line progress bar with rate and ETA (a log line every 10% when stderr is not a terminal)."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, label: str, total: int, done: int = 0, stream=None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.start_done = done
        self.done = done
        self.tokens = 0
        self.started = time.monotonic()
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_decile = done * 10 // self.total

    def update(self, done: int | None = None, tokens: int = 0) -> None:
        self.done = self.done + 1 if done is None else done
        self.tokens += tokens
        decile = self.done * 10 // self.total
        if self.tty:
            self.stream.write("\r" + self.line())
            self.stream.flush()
        elif decile != self._last_decile or self.done == self.total:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
        self._last_decile = decile

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        fresh = self.done - self.start_done
        rate = fresh / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        width = 24
        filled = width * self.done // self.total
        bar = "#" * filled + "-" * (width - filled)
        tokens = f" {self.tokens / elapsed:.0f} tok/s" if self.tokens and elapsed > 0 else ""
        return (f"{self.label} [{bar}] {self.done}/{self.total} {rate * 60:.1f}/min{tokens} "
                f"elapsed {_clock(elapsed)} ETA {_clock(eta)}")

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
