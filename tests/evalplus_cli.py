"""evalplus's own evaluation, run as its CLI runs it, and the statuses of a results file (ours or its)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from support import HUMANEVAL

def statuses(results: dict | Path) -> dict:
    """task -> (base status, plus status) of an eval_results.json (ours or evalplus's)."""
    data = json.loads(Path(results).read_text()) if isinstance(results, Path) else results
    return {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in data["eval"].items()}


def run_evalplus(samples: Path, cache: Path, workers: int = 2, dataset: str = "humaneval",
                 dataset_file: Path = HUMANEVAL) -> tuple[float, Path]:
    """evalplus's own evaluation of a samples file: (wall seconds, its results file)."""
    override = "HUMANEVAL_OVERRIDE_PATH" if dataset == "humaneval" else "MBPP_OVERRIDE_PATH"
    env = {**os.environ, override: str(dataset_file), "XDG_CACHE_HOME": str(cache)}
    result = samples.with_name(samples.stem + "_eval_results.json")
    result.unlink(missing_ok=True)
    script = (f"from evalplus.evaluate import evaluate\nevaluate(dataset={dataset!r}, samples={str(samples)!r}, "
              f"parallel={workers})\nimport os; os._exit(0)\n")  # os._exit: skip evalplus's lingering watchdog
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, timeout=1800)
    return time.monotonic() - started, result
