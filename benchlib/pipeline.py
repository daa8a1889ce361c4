"""The stages doit runs: generate, evaluate, report. Each is idempotent and cheap when its output is valid
and never leaves a model server running.

Every stage runs in one envelope (`_run_stage`): its log file, then on an expected failure one line plus
a TIP on the terminal, status.json for the report, and doit's TaskFailed; on success the status is
cleared. Who writes REPORT.md: `report` (the `report` and default tasks), and, once at the end of a run
in which a stage failed, `refresh_report` (called by doit's reporter, `scheduling.stage_reporter`),
because doit never runs a task whose dependency failed, so a full run's report would otherwise not list
the failure. That refresh never fails the run (a damaged reference-scores.json is logged, not raised).
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path
from typing import Callable

from .config import Profile, load_profiles
from .console import Progress, stage_log
from .errors import BenchError, ConfigError
from .fingerprints import isolation_accepted
from .results import RunFolder, clear_status, inputs_fingerprint, read_or_empty, report_inputs, set_failed
from .servers import is_self_test, runs_server
from .settings import Settings

__all__ = ["generate", "canary", "evaluate", "report", "refresh_report", "report_fingerprint", "load_profile",
           "server_changed", "server_unchanged"]


def load_profile(settings: Settings, name: str) -> Profile:
    profiles = load_profiles(Path(settings.config))
    if name not in profiles:
        raise ConfigError(f"{settings.config}: no profile [{name}]", "see `doit list`")
    return profiles[name]


Body = Callable[[Profile, RunFolder, logging.Logger], None]


def _run_stage(stage: str, name: str, settings: Settings, log_file: Callable[[RunFolder], Path], body: Body):
    """The envelope every stage runs in (see the module's docstring)."""
    from doit.exceptions import TaskFailed

    from .scheduling import end_with_doit

    end_with_doit()
    paths = settings.paths(name)
    try:
        profile = load_profile(settings, name)
        with stage_log(name, log_file(paths)) as log:
            try:
                body(profile, paths, log)
            except BenchError as error:
                log.debug(f"{stage} failed: {error}")  # the file keeps it; doit prints it once
                raise
    except BenchError as error:
        set_failed(paths, stage, error.message.splitlines()[0])
        return TaskFailed(str(error))
    clear_status(paths)
    return None


def refresh_report(settings: Settings) -> None:
    """REPORT.md rewritten after a failed stage; never raises (the stage's own failure is what matters)."""
    try:
        _write_report(settings)
    except Exception as exc:  # noqa: BLE001 - the stage's own failure is what the user must see
        logging.getLogger("benchlib").warning(f"REPORT.md not refreshed: {exc}")


def generate(name: str, settings: Settings):
    """doit action: make the samples.jsonl of every run of the profile (runs.py), resuming journals."""

    def body(profile: Profile, paths: RunFolder, log: logging.Logger) -> None:
        from . import servers
        from .generation.codegen import generate as generate_with
        from .generation.slots import check_slots
        from .servers.llama import count_prompts

        runs = settings.runs(profile)
        if all(run.generated for run in runs.known):
            changed = server_changed(profile, runs, settings)
            if not changed:
                return  # already complete for these settings, and the server that made them is unchanged
            log.info(f"the server changed since the samples were made ({'; '.join(changed)}): starting it for the canary")
        dataset = settings.load_dataset()
        subset = f" (the fixed subset of {len(dataset.problems)})" if settings.subset else ""
        answers = (f" x {profile.n_samples} answers at temperature {profile.temperature:g}"
                   if profile.n_samples > 1 or profile.sampled else "")
        long = runs.long_budget()
        count = len(servers.replicas_of(profile))
        log.info(f"generating {len(dataset.problems)} {dataset.spec.plus_label} samples{answers} ({dataset.version})"
                 f"{subset}, {profile.parallel} in flight" + (f" on each of {count} replicas" if count > 1 else "") +
                 f", max_tokens {profile.max_tokens}"
                 + (f", reasoning budget {long}" if long else ""))
        if servers.BACKENDS[profile.server].sizes_slots:  # before the model loads: minutes, on a big model
            counted = count_prompts(profile, settings, dataset)
            for run in runs.known:
                need = check_slots(run.profile, dataset, counted)
                if not need.fits:
                    log.warning(f"{need.problem()} (checked again with the server's tokenizer once it is up)")
                else:
                    log.debug(f"slots: {run.profile.parallel} x (max_tokens {run.max_tokens} + prompt "
                              f"{'' if need.exact else '<= '}{need.prompt}) <= ctx_size {run.profile.ctx_size}")
        with servers.start(profile, settings, paths, log) as fleet:
            generate_with(runs, dataset, fleet, log)

    return _run_stage("generation", name, settings, lambda paths: paths.codegen_log, body)


def canary(name: str, settings: Settings):
    """doit action (`doit canary:<profile>`): start the profile's servers and ask the canary's pinned problems
    again, whether or not the server changed; the verdict in the log and the main run's manifest. Runs
    nothing else unless on_server_change = regenerate and answers differ."""

    def body(profile: Profile, paths: RunFolder, log: logging.Logger) -> None:
        from . import servers
        from .errors import GenerationError
        from .generation.canary import stored_answers
        from .generation.codegen import generate as generate_with

        runs = settings.runs(profile)
        if not servers.runs_server(profile):
            raise GenerationError(f"[{name}] server = {profile.server} runs no model server: nothing to ask again")
        if stored_answers(runs) is None:
            raise GenerationError(f"[{name}] has no stored answers to compare with",
                                  f"generate them first: doit gen:{name}")
        with servers.start(profile, settings, paths, log) as fleet:
            generate_with(runs, settings.load_dataset(), fleet, log, force_canary=True)

    return _run_stage("canary", name, settings, lambda paths: paths.codegen_log, body)


def server_changed(profile: Profile, runs, settings: Settings) -> list[str]:
    """What changed, by what can be known without starting the server (provenance.local_identity: the model
    file, the llama-server binary, a local engine's image, the flags), since the servers recorded in the
    main run's manifest (or checked by its last canary); [] when nothing did or nothing is recorded."""
    from . import servers
    from .servers.provenance import changes, local_identity

    if not servers.runs_server(profile):
        return []
    recorded = runs.main.record().identities
    if not recorded:
        return []
    found: list[str] = []
    known = list(recorded.values())
    for replica in servers.replicas_of(profile):
        now = local_identity(replica, settings)
        was = recorded.get(replica.label) or known[0]
        found += [change for change in changes(was, now) if change not in found]
    return found


def server_unchanged(name: str, settings: Settings) -> bool:
    """doit's up-to-date check of a generation: False when its server changed since its samples
    (`server_changed`), so the stage runs and its canary decides."""
    try:
        profile = load_profile(settings, name)
        return not server_changed(profile, settings.runs(profile), settings)
    except (BenchError, OSError):
        return True  # the stage itself reports what is wrong


def evaluate(name: str, settings: Settings):
    """doit action: score the samples of every run of the profile in the sandbox into eval_results.json."""

    def body(profile: Profile, paths: RunFolder, log: logging.Logger) -> None:
        from .evaluation.sandbox import make_sandbox

        dataset = settings.load_dataset()
        # what a check must not see: the results, the datasets, and the checkout (its logs, .doit.db.json)
        hide = [settings.results, settings.data_dir, str(dataset.path.parent), settings.project]

        def sandbox():
            return make_sandbox(settings.sandbox, settings.sandbox_image, settings.workers, log, hide,
                                memory_limit=settings.memory_limit, bwrap=settings.bwrap,
                                trusted=is_self_test(profile))  # the dataset's own canonical solutions

        runs = settings.runs(profile)
        for run in runs.known:  # an auto-detected long run too: the generation that made it recorded it
            evaluate_run(run.folder, runs.scored(run), run.kind == "main", dataset, sandbox, log, profile)

    def evaluate_run(folder, samples, main, dataset, sandbox, log, profile) -> None:
        from .evaluation.scoring import Evaluation, EvaluationJob

        job = EvaluationJob(samples=samples, dataset=dataset, paths=folder,
                            sandbox=sandbox, workers=settings.workers, cache=settings.cache_dir,
                            sandbox_choice=settings.sandbox, accept_unsandboxed=_accepts_unsandboxed(profile, settings),
                            regenerate_tip=_regenerate_tip(profile))
        started = time.monotonic()
        bars: list[Progress] = []

        def progress(done: int, total: int) -> None:
            if not bars:  # made when the checks start: its rate and ETA leave the ground truth out
                bars.append(Progress("evaluation", total, log, done=done))
            bars[0].update(done)

        try:
            results = Evaluation(job, log, progress).run()
        finally:
            for bar in bars:
                bar.close()
        scores = results["pass_at_1"]
        where = "" if main else f" ({folder.root.name})"
        log.info(f"pass@1{where}: {dataset.spec.base_label} {scores['base']}, {dataset.spec.plus_label} {scores['plus']} "
                 f"(sandbox: {results['sandbox'].get('label', results['sandbox']['backend'])}, "
                 f"{time.monotonic() - started:.1f} s)")

    return _run_stage("evaluation", name, settings, lambda paths: paths.evaluation_log, body)


def _accepts_unsandboxed(profile: Profile, settings: Settings) -> bool:
    """Whether results made without isolation stand for this run: chosen (unsafe), or the self-test's."""
    return settings.sandbox == "unsafe" or is_self_test(profile)


def _regenerate_tip(profile: Profile) -> str:
    """What to do about an incomplete samples file: regenerate it, or (server = none) fix the file."""
    if runs_server(profile):
        return f"rerun generation to finish it (`doit gen:{profile.name}`); finished samples are kept"
    return f"complete the file `samples = {profile.samples}` names in [{profile.name}], or point it at a complete one"


def evaluation_isolated_enough(name: str, settings: Settings) -> bool:
    """False when the last evaluation ran unsandboxed although this run would not accept that (it was
    made with BENCH_SANDBOX=unsafe, or before isolation was available): a doit up-to-date check, asking
    the same rule as the stage (`fingerprints.isolation_accepted`)."""
    sandbox = read_or_empty(settings.paths(name).eval_results).get("sandbox")
    sandbox = sandbox if isinstance(sandbox, dict) else {}
    if isolation_accepted(sandbox, False):
        return True
    try:
        return isolation_accepted(sandbox, _accepts_unsandboxed(load_profile(settings, name), settings))
    except BenchError:
        return False


def _report_files(settings: Settings) -> list[Path]:
    try:
        names = list(load_profiles(Path(settings.config)))
    except BenchError:
        names = []
    return report_inputs(Path(settings.results), names, Path(settings.config), settings.references)


def report_fingerprint(settings: Settings) -> str:
    """Changes when any file the report reads changes: the report task's up-to-date value."""
    from .report import REPORT_VERSION

    return inputs_fingerprint(_report_files(settings), f"{REPORT_VERSION} margin {settings.margin:g}")


def _write_report(settings: Settings) -> None:
    from .report import write_report

    write_report(load_profiles(Path(settings.config)), Path(settings.results), settings.references,
                 prompts=partial(_local_prompts, settings), cache=settings.cache_dir, margin=settings.margin)


def _local_prompts(settings: Settings, key: str, md5: str) -> dict[str, str] | None:
    """The prompts of the dataset file a run was evaluated on, when it is on this machine (report.html)."""
    from .datasets import DATASETS, local_dataset

    if key not in DATASETS:
        return None
    dataset = local_dataset(key, md5, **settings.source_of(key))
    return {task: problem["prompt"] for task, problem in dataset.problems.items()} if dataset else None


def report(settings: Settings):
    """doit action: rebuild results/REPORT.md from whatever results exist."""
    from doit.exceptions import TaskFailed

    fingerprint = report_fingerprint(settings)  # before reading: a change while writing reruns it next time
    try:
        _write_report(settings)
    except BenchError as error:
        return TaskFailed(str(error))
    return {"inputs": fingerprint}
