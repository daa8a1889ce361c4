import json
import os

import pytest

from benchlib.storage import AtomicFile, Journal, atomic_write_text, read_journal


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_a_file_written_as_the_data_comes_appears_only_whole(tmp_path):
    target = tmp_path / "truth.bin"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with AtomicFile(target) as handle:
            handle.write(b"part one ")
            assert target.read_text() == "old"  # nothing shows before the block ends
            raise RuntimeError("the producer failed")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["truth.bin"]
    with AtomicFile(target) as handle:
        handle.write(b"part one ")
        handle.write(b"part two")
    assert target.read_bytes() == b"part one part two" and os.listdir(tmp_path) == ["truth.bin"]


def test_journal_resumes_and_cuts_a_torn_last_line(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal(path, {"v": 1}) as journal:
        journal.append({"task_id": "a"})
        journal.append({"task_id": "b"})
    with open(path, "ab") as handle:
        handle.write(b'{"task_id": "c", "sol')  # crash mid-write
    with Journal(path, {"v": 1}) as journal:
        assert [r["task_id"] for r in journal] == ["a", "b"]
        journal.append({"task_id": "d"})
    lines = path.read_text().splitlines()
    assert [json.loads(line).get("task_id") for line in lines] == [None, "a", "b", "d"]


def test_journal_with_other_settings_is_set_aside_not_mixed(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal(path, {"max_tokens": 768}) as journal:
        journal.append({"task_id": "a"})
    with Journal(path, {"max_tokens": 4096}) as journal:
        assert list(journal) == []
    assert (tmp_path / "j.jsonl.stale").exists()
    assert read_journal(path) == [{"_header": {"max_tokens": 4096}}]
