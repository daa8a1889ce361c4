"""benchlib: EvalPlus (HumanEval+ / MBPP+) for models served by llama.cpp.

    doit                      every bench-* profile, then results/REPORT.md
    doit eval:bench-reference one profile (generates first if needed)
    doit report               REPORT.md from whatever results exist
    doit dataset=mbpp ...     MBPP+ instead of HumanEval+ (or BENCH_DATASET=mbpp)
    doit list --all           every task

Task creation only reads models.conf: no container, network or GPU is touched until a task runs.
"""

import os
import shutil
import sys
from pathlib import Path

from doit import get_var
from doit.tools import config_changed

from benchlib import pipeline
from benchlib.config import load_profiles
from benchlib.datasets import dataset_id, get_spec
from benchlib.errors import BenchError
from benchlib.evaluation import default_workers, eval_settings
from benchlib.scheduling import prefer_evaluations

DOIT_CONFIG = {
    "backend": "json",  # no dbm lock errors when two doit processes meet
    "dep_file": ".doit.db.json",
    "default_tasks": ["benchmark"],
    "continue": True,  # one broken profile does not stop the others
    "verbosity": 2,
}

HERE = Path(__file__).resolve().parent
prefer_evaluations()  # under `doit -n 2`, model k's evaluation overlaps model k+1's generation


def _data_dir():
    """BENCH_DATA_DIR / datadir=, else an offline copy in ./datasets or ../shared/datasets, else None
    (evalplus's cache, then download)."""
    chosen = get_var("datadir", os.environ.get("BENCH_DATA_DIR"))
    if chosen:
        return chosen
    for folder in (HERE / "datasets", HERE.parent / "shared" / "datasets"):
        if any(folder.glob("*Plus-v*.jsonl*")):
            return str(folder)
    return None


SETTINGS = pipeline.RunSettings(
    config=os.environ.get("BENCH_CONFIG", str(HERE / "models.conf")),
    results=os.environ.get("BENCH_RESULTS", str(HERE / "results")),
    project=str(HERE),
    dataset=get_var("dataset", os.environ.get("BENCH_DATASET", "humaneval")).lower(),
    data_dir=_data_dir(),
    sandbox=get_var("sandbox", os.environ.get("BENCH_SANDBOX", "auto")),
    sandbox_image=os.environ.get("BENCH_SANDBOX_IMAGE", "ganler/evalplus:latest"),
    workers=default_workers(),
)
try:
    PROFILES = load_profiles(Path(SETTINGS.config))
    DATASET_ID = dataset_id(get_spec(SETTINGS.dataset), SETTINGS.data_dir)
except BenchError as error:  # one clear line, not a traceback
    sys.exit(f"ERROR: {error}")


def _remove(*paths):
    for path in paths:
        if Path(path).is_dir():
            shutil.rmtree(path)
        elif Path(path).exists():
            Path(path).unlink()
            print(f"removed {path}")


def _clean_samples(name, paths):
    """Samples cost GPU hours: removed only when the task is named (`doit clean gen:<profile>`)."""
    if f"gen:{name}" in sys.argv or "gen" in sys.argv:
        _remove(paths.samples, paths.samples_journal, paths.codegen_log, paths.server_log)
    else:
        print(f"keeping {paths.samples} (remove with: doit clean gen:{name})")


def task_gen():
    """Generate one solution per problem with the profile's model (starts and stops its server)."""
    for name, profile in PROFILES.items():
        if profile.server == "none":
            continue
        paths = SETTINGS.paths(name)
        yield {
            "name": name,
            "doc": f"generate {SETTINGS.dataset} samples with {profile.description or profile.model or profile.server}",
            "actions": [(pipeline.generate, [name, SETTINGS])],
            "targets": [paths.samples],
            "uptodate": [config_changed(pipeline.generation_header(profile, DATASET_ID))],
            "clean": [(_clean_samples, [name, paths])],
        }


def task_eval():
    """Score the profile's samples in the sandbox (pass@1) and refresh REPORT.md."""
    for name, profile in PROFILES.items():
        paths = SETTINGS.paths(name)
        samples = pipeline.samples_path(profile, paths, SETTINGS.project)
        yield {
            "name": name,
            "doc": f"evaluate {SETTINGS.dataset} samples of {name}",
            "actions": [(pipeline.evaluate, [name, SETTINGS])],
            "file_dep": [samples] if profile.server != "none" or samples.is_file() else [],
            "targets": [paths.eval_results],
            "uptodate": [config_changed(eval_settings(DATASET_ID, SETTINGS.sandbox))],
            "clean": [(_remove, [paths.eval_results, paths.eval_journal, paths.evaluation_log, paths.status])],
        }


def _report_is_current(task, values):
    return values.get("inputs") == pipeline.report_inputs(SETTINGS)


def _write_report():
    failed = pipeline.report(SETTINGS)
    return failed if failed else {"inputs": pipeline.report_inputs(SETTINGS)}


def task_report():
    """Rebuild results/REPORT.md from the results that exist (runs no benchmark)."""
    return {
        "actions": [_write_report],
        "uptodate": [_report_is_current],
        "clean": [(_remove, [Path(SETTINGS.results) / "REPORT.md"])],
    }


def task_benchmark():
    """Run every bench-* profile (generate, evaluate), then write REPORT.md: what plain `doit` does."""
    return {
        "actions": [_write_report],
        "task_dep": ["eval"],
        "uptodate": [_report_is_current],
    }
