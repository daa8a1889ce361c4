"""Published EvalPlus leaderboard scores: build reference-scores.json from the leaderboard's results.json.

    python -m benchlib.references ../shared/datasets/evalplus-leaderboard-results.json reference-scores.json
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .errors import ConfigError
from .storage import atomic_write_json

__all__ = ["PublishedScore", "load_references", "build_references", "SCORE_KEYS"]

SCORE_KEYS = ("humaneval", "humaneval+", "mbpp", "mbpp+")
SOURCE = "evalplus/evalplus.github.io results.json, commit 8741845 (the EvalPlus leaderboard)"


@dataclass(frozen=True)
class PublishedScore:
    name: str
    size: float | None
    link: str
    prompted: bool
    scores: dict[str, float | None]


def build_references(source: Path, target: Path, retrieved: str | None = None) -> int:
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    models = []
    for name, entry in data.items():
        scores = entry.get("pass@1", {})
        models.append({"name": name, "size": entry.get("size"), "link": entry.get("link", ""),
                       "prompted": bool(entry.get("prompted")),
                       **{key: scores.get(key) for key in SCORE_KEYS}})
    models.sort(key=lambda m: -(m["humaneval+"] or -1))
    atomic_write_json(target, {"source": SOURCE, "source_file": Path(source).name,
                               "retrieved": retrieved or date.today().isoformat(),
                               "metric": "pass@1 (%), greedy decoding", "models": models})
    return len(models)


def load_references(path: Path) -> tuple[dict, list[PublishedScore]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        models = [PublishedScore(name=m["name"], size=m.get("size"), link=m.get("link", ""),
                                 prompted=bool(m.get("prompted")), scores={k: m.get(k) for k in SCORE_KEYS})
                  for m in data["models"]]
    except FileNotFoundError:
        return {}, []
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a reference-scores file ({exc})",
                          "rebuild it: python -m benchlib.references <leaderboard results.json> reference-scores.json") from None
    return {k: v for k, v in data.items() if k != "models"}, models


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(f"{build_references(Path(sys.argv[1]), Path(sys.argv[2]))} models written to {sys.argv[2]}")
