"""Published EvalPlus leaderboard scores (reference-scores.json): build it from the leaderboard's
results.json, and load it for the report. (Not to be confused with the `reference` server backend.)

    python -m benchlib.report.leaderboard ../shared/datasets/evalplus-leaderboard-results.json reference-scores.json
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..datasets import DATASETS
from ..errors import ConfigError
from ..storage import atomic_write_json

__all__ = ["PublishedScore", "load_leaderboard", "build_leaderboard", "SCORE_KEYS"]

SCORE_KEYS = tuple(dict.fromkeys(key for spec in DATASETS.values() for key in spec.leaderboard_keys))
SORT_KEY = SCORE_KEYS[1]  # the first leaderboard dataset's plus-test score ("humaneval+"): the file's order
SOURCE = "evalplus/evalplus.github.io results.json, commit 8741845 (the EvalPlus leaderboard)"


@dataclass(frozen=True)
class PublishedScore:
    name: str
    size: float | None
    link: str
    prompted: bool
    scores: dict[str, float | None]


def build_leaderboard(source: Path, target: Path, retrieved: str | None = None) -> int:
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    models = []
    for name, entry in data.items():
        scores = entry.get("pass@1", {})
        models.append({"name": name, "size": entry.get("size"), "link": entry.get("link", ""),
                       "prompted": bool(entry.get("prompted")),
                       **{key: scores.get(key) for key in SCORE_KEYS}})
    models.sort(key=lambda m: -(m[SORT_KEY] or -1))
    atomic_write_json(target, {"source": SOURCE, "source_file": Path(source).name,
                               "retrieved": retrieved or date.today().isoformat(),
                               "metric": "pass@1 (%), greedy decoding", "models": models})
    return len(models)


def _number(value: object, what: str) -> float | None:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise ValueError(f"{what} is {value!r}, not a number")


def _published(entry: dict) -> PublishedScore:
    name = entry["name"]
    if not isinstance(name, str):
        raise ValueError(f"a model name is {name!r}, not text")
    return PublishedScore(name=name, size=_number(entry.get("size"), f"{name}: size"), link=str(entry.get("link") or ""),
                          prompted=bool(entry.get("prompted")),
                          scores={k: _number(entry.get(k), f"{name}: {k}") for k in SCORE_KEYS})


def load_leaderboard(path: Path) -> tuple[dict, list[PublishedScore]]:
    """(metadata, published models) of a reference-scores.json; ({}, []) when there is none."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data.get("models"), list):
            raise ValueError("no list of models")
        models = [_published(m) for m in data["models"]]
    except FileNotFoundError:
        return {}, []
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a reference-scores file ({exc})",
                          "rebuild it: python -m benchlib.report.leaderboard <leaderboard results.json> reference-scores.json") from None
    return {k: v for k, v in data.items() if k != "models"}, models


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(f"{build_leaderboard(Path(sys.argv[1]), Path(sys.argv[2]))} models written to {sys.argv[2]}")
