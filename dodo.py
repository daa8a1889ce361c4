"""benchlib: EvalPlus (HumanEval+ / MBPP+) for models served by llama.cpp.

    doit                      every bench-* profile, then results/REPORT.md
    doit eval:bench-reference one profile (generates first if needed)
    doit report               REPORT.md from whatever results exist
    doit canary:bench-x       ask the pinned canary problems again and compare with the stored answers
    doit dataset=mbpp ...     MBPP+ instead of HumanEval+ (or BENCH_DATASET=mbpp)
    doit list --all           every task

Task creation only reads models.conf and the environment: no container, network or GPU is touched
until a task runs, and nothing heavy is imported (`doit list` stays instant).
"""

import shutil
import sys
from functools import partial
from pathlib import Path

from doit import get_var
from doit.tools import config_changed

from benchlib import pipeline
from benchlib.config import load_profiles
from benchlib.errors import BenchError
from benchlib.fingerprints import evaluation_header
from benchlib.results import report_files
from benchlib.scheduling import HOST_META, STAGES, schedule, stage_reporter
from benchlib.servers import hosts_of, runs_server
from benchlib.settings import load_settings

GEN, EVAL = STAGES  # the task groups of the two stages
REPORT_TASKS = ("report", "benchmark")

try:
    SETTINGS = load_settings(Path(__file__).resolve().parent, get_var)
    PROFILES = load_profiles(Path(SETTINGS.config))
    DATASET_ID = SETTINGS.dataset_id()
except BenchError as error:  # one clear line, not a traceback
    sys.exit(f"ERROR: {error}")

DOIT_CONFIG = {
    "backend": "json",  # no dbm lock errors when two doit processes meet
    "dep_file": ".doit.db.json",
    "default_tasks": ["benchmark"],
    "continue": True,  # one broken profile does not stop the others
    "verbosity": 2,
    # REPORT.md lists a failed stage: refreshed once as the run ends (doit skips the report task then)
    "reporter": stage_reporter(partial(pipeline.refresh_report, SETTINGS), REPORT_TASKS),
}

schedule(prefer=f"{EVAL}:")  # `doit -n K`: evaluations overlap generations, up to K hosts serve at once


def _remove(*paths):
    for path in paths:
        if Path(path).is_dir():
            shutil.rmtree(path)
        elif Path(path).exists():
            Path(path).unlink()
            print(f"removed {path}")


def _clean_samples(name, runs):
    """Samples cost GPU hours: removed only when the task is named (`doit clean gen:<profile>`)."""
    if f"{GEN}:{name}" in sys.argv or GEN in sys.argv:
        _remove(*runs.generated_files)
    else:
        print(f"keeping {', '.join(str(path) for path in runs.samples_targets)} (remove with: doit clean {GEN}:{name})")


def task_gen():
    """Generate one solution per problem with the profile's model (starts and stops its server)."""
    for name, profile in PROFILES.items():
        runs = SETTINGS.runs(profile)
        if not runs.generates:
            continue
        hosts = hosts_of(profile)
        yield {
            "name": name,
            "doc": f"generate {SETTINGS.dataset} samples with {profile.description or profile.model or profile.server}"
                   f" (host{'s' if len(hosts) > 1 else ''}: {', '.join(hosts) or profile.base_url})",
            "meta": {HOST_META: hosts} if hosts else {},
            "actions": [(pipeline.generate, [name, SETTINGS])],
            "targets": runs.samples_targets,
            # a changed server (model file, binary, image, flags) runs the stage: its canary decides
            "uptodate": [config_changed(runs.main.header), (pipeline.server_unchanged, [name, SETTINGS])],
            "clean": [(_clean_samples, [name, runs])],
        }


def task_eval():
    """Score the profile's samples in the sandbox (pass@1)."""
    for name, profile in PROFILES.items():
        runs = SETTINGS.runs(profile)
        yield {
            "name": name,
            "doc": f"evaluate {SETTINGS.dataset} samples of {name}",
            "actions": [(pipeline.evaluate, [name, SETTINGS])],
            "file_dep": runs.evaluation_deps,
            "targets": runs.evaluation_targets,
            "uptodate": [config_changed(evaluation_header(DATASET_ID)),
                         (pipeline.evaluation_isolated_enough, [name, SETTINGS])],
            "clean": [(_remove, runs.evaluated_files)],
        }


def task_canary():
    """Ask a profile's pinned canary problems again and compare with its stored answers (not in `doit`)."""
    for name, profile in PROFILES.items():
        if not runs_server(profile):
            continue
        hosts = hosts_of(profile)
        yield {
            "name": name,
            "doc": f"canary of {name}: {profile.canary_problems} pinned problems asked again",
            "meta": {HOST_META: hosts} if hosts else {},
            "actions": [(pipeline.canary, [name, SETTINGS])],
            "uptodate": [False],
        }


def _report_is_current(task, values):
    return values.get("inputs") == pipeline.report_fingerprint(SETTINGS)


def task_report():
    """Rebuild results/REPORT.md from the results that exist (runs no benchmark)."""
    return {
        "actions": [(pipeline.report, [SETTINGS])],
        "uptodate": [_report_is_current],
        "clean": [(_remove, report_files(Path(SETTINGS.results)))],
    }


def task_benchmark():
    """Run every bench-* profile (generate, evaluate), then write REPORT.md: what plain `doit` does."""
    return {
        "actions": [(pipeline.report, [SETTINGS])],
        "task_dep": [EVAL],
        "uptodate": [_report_is_current],
        "clean": [(_remove, report_files(Path(SETTINGS.results)))],  # plain `doit clean` cleans the default task
    }
