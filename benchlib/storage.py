"""Durable file output: atomic replacement of whole files and crash-tolerant JSON-lines journals."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_write_text", "atomic_write_bytes", "AtomicFile", "atomic_write_json", "read_json", "Journal", "read_journal"]


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see either the old file or the complete new one."""
    atomic_write_bytes(path, [text.encode("utf-8")])


def atomic_write_bytes(path: Path, chunks: list[bytes]) -> None:
    """Write the chunks, in order, to `path` so that readers see either the old file or the complete new one."""
    with AtomicFile(path) as handle:
        handle.writelines(chunks)


class AtomicFile:
    """`with AtomicFile(path) as handle: handle.write(...)`: written to a temp file beside `path` as the
    data comes (a large file's writing overlaps whatever produces it), then fsynced and renamed over
    `path` when the block ends; on an exception the temp file is removed and `path` left as it was."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.handle = os.fdopen(fd, "wb")
        return self.handle

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is None:
                self.handle.flush()
                os.fsync(self.handle.fileno())
            self.handle.close()
            if kind is None:
                os.replace(self.tmp, self.path)
                return
        except BaseException:
            self._discard()
            raise
        self._discard()

    def _discard(self) -> None:
        self.handle.close()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_journal(path: Path) -> list[dict]:
    """Records of a JSON-lines journal; a torn (unterminated or unparsable) last line is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # torn by a crash mid-write
            try:
                records.append(json.loads(raw))
            except json.JSONDecodeError:
                break
    return records


class Journal:
    """An append-only JSON-lines file; each record is on disk (fsync) before `append` returns.

    Opening it cuts a torn tail left by a crash, so new records never glue onto half a line.
    """

    def __init__(self, path: Path, header: dict) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.header = header
        records = read_journal(self.path)
        if records and records[0].get("_header") != header:
            # written under other settings: keep it aside, never mix it into this run
            os.replace(self.path, self.path.with_name(self.path.name + ".stale"))
            records = []
        self.records = records[1:]
        good_size = self._size_of(len(records))
        self._handle = open(self.path, "ab")
        self._handle.truncate(good_size)
        if not records:
            self._write({"_header": header})

    def _size_of(self, n_lines: int) -> int:
        if not self.path.exists():
            return 0
        size = 0
        with open(self.path, "rb") as handle:
            for _ in range(n_lines):
                size += len(handle.readline())
        return size

    def _write(self, record: dict) -> None:
        self._handle.write((json.dumps(record) + "\n").encode("utf-8"))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def append(self, record: dict) -> None:
        self._write(record)
        self.records.append(record)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[dict]:
        return iter(self.records)
