"""reference-scores.json: built from the leaderboard's results.json, loaded with validation."""

import json

import pytest

from benchlib.errors import ConfigError
from benchlib.report.leaderboard import build_leaderboard, load_leaderboard

from support import ROOT, data_file


def test_the_shipped_file_loads_and_has_the_leaderboard():
    meta, models = load_leaderboard(ROOT / "reference-scores.json")
    assert len(models) == 125 and "leaderboard" in meta["source"].lower()
    assert all(m.scores["humaneval+"] is None or 0 <= m.scores["humaneval+"] <= 100 for m in models)


def test_build_then_load_roundtrip(tmp_path):
    source = data_file("evalplus-leaderboard-results.json")
    if not source.exists():
        pytest.skip("needs evalplus-leaderboard-results.json beside the datasets (../shared/datasets)")
    count = build_leaderboard(source, tmp_path / "scores.json", retrieved="2026-01-01")
    meta, models = load_leaderboard(tmp_path / "scores.json")
    assert count == len(models) == len(json.loads(source.read_text()))
    assert meta["retrieved"] == "2026-01-01"
    plus = [m.scores["humaneval+"] for m in models if m.scores["humaneval+"] is not None]
    assert plus == sorted(plus, reverse=True)


def test_missing_file_is_no_published_rows(tmp_path):
    assert load_leaderboard(tmp_path / "none.json") == ({}, [])


@pytest.mark.parametrize("text, fragment", [
    ("{", "not a reference-scores file"),
    ('{"models": {}}', "not a reference-scores file"),
    ('{"models": [{"size": 7}]}', "not a reference-scores file ('name')"),
    ('{"models": [{"name": "x", "humaneval+": "high"}]}', "x: humaneval+ is 'high', not a number"),
    ('[1, 2]', "not a reference-scores file"),
])
def test_damaged_files_are_one_clear_error(tmp_path, text, fragment):
    path = tmp_path / "scores.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_leaderboard(path)
    assert fragment in str(info.value) and "python -m benchlib.report.leaderboard" in str(info.value)
