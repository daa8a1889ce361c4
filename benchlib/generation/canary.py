"""Two checks that answers do not depend on which server made them.

The canary (`canary`): benchlib keeps a profile's samples when its server changes (a new build, image,
model file, chat template, or a flag that changes answers: the fingerprint leaves the server out, so an
upgrade never burns GPU hours by itself). But a changed server can answer differently (llama.cpp #16263:
a build that dropped tokens in code). So when a session's servers differ from the ones that made the
stored answers (the run's manifest, or the marks in a journal being resumed), a pinned set of problems is
asked again and compared answer by answer, before anything else is generated: identical, the samples stand;
different, the profile's `on_server_change` decides: `warn` (kept, the report marks the profile),
`regenerate` (made again; the old samples kept beside as superseded-samples.jsonl), or `stop`.

Replica agreement (`agreement`): when a run's answers came from several replicas, a few of them are asked
again on another replica. Identical: answers do not depend on the replica. Different: a pair of profiles'
disagreement on a problem may be replica noise, not the model (the report says so).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import GenerationError
from ..results import utc_now
from ..runs import ProfileRuns, Run
from ..samples import read_records
from ..servers.provenance import changes
from ..storage import read_journal
from .codegen import SERVERS_MARK, _record
from .reuse import key_of, same_answer, split_key

__all__ = ["canary", "agreement", "pinned", "Stored", "stored_answers", "answers_by_replica", "AGREEMENT_CHECKS",
           "SUPERSEDED"]

AGREEMENT_CHECKS = 3  # answers asked again on another replica (as the token-cap spot check asks 3)
SUPERSEDED = "superseded-samples.jsonl"  # a run's samples that `regenerate` replaced, kept beside


def pinned(keys: list[str], count: int) -> list[str]:
    """`count` of `keys`, always the same ones (by a hash of the key, not the order asked): the canary's set."""
    return sorted(keys, key=lambda k: hashlib.sha256(k.encode()).hexdigest())[:count]


@dataclass
class Stored:
    """A run's stored answers and the servers that made them (replica -> identity; {} when not recorded)."""

    run: Run
    records: dict[str, dict]  # answer key -> record
    servers: dict[str, dict]
    complete: bool  # samples.jsonl (else a journal being resumed)


def stored_answers(runs: ProfileRuns) -> Stored | None:
    """The stored answers the canary compares with: a made run's samples (the main run's first), else the
    answers of an interrupted run's journal; None when nothing is stored."""
    for run in runs.known:
        if run.generated:
            records = {key_of(r): r for r in read_records(run.folder.samples)}
            return Stored(run, records, run.record().identities, True)
    for run in runs.known:
        lines = read_journal(run.folder.samples_journal)
        if lines and lines[0].get("_header") == run.header:
            marks = [r[SERVERS_MARK] for r in lines if SERVERS_MARK in r]
            records = {key_of(r): r for r in lines if "task_id" in r}
            if records:
                return Stored(run, records, marks[-1] if marks else {}, False)
    return None


def _changed(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """What differs between the servers that made the answers and those answering now, in words; a server
    that records nothing (an older manifest) counts as changed."""
    if not before:
        return ["the servers that made the stored answers are not recorded"]
    said: list[str] = []
    known = list(before.values())
    for label, now in after.items():
        if now in known:
            continue
        was = before.get(label) or known[0]
        for change in changes(was, now) or ["its identity"]:
            line = f"{label}: {change}" if len(after) > 1 else change
            if line not in said:
                said.append(line)
    return said


def canary(session, runs: ProfileRuns, force: bool = False) -> dict:
    """The canary of a session (see the module's docstring): {} when nothing is stored or nothing changed
    (unless `force`: `doit canary`); else its record for the main run's manifest, after acting on it."""
    profile, log = runs.profile, session.log
    stored = stored_answers(runs)
    if stored is None:
        return {}
    now = session.identities
    changed = _changed(stored.servers, now)
    if not changed and not force:
        return {}
    where = f"{stored.run.folder.root.name}/" + ("" if stored.complete else " (interrupted: resuming)")
    record = {"date": utc_now(), "run": stored.run.folder.root.name, "changes": changed,
              "servers": now, "problems": profile.canary_problems}
    if profile.canary_problems == 0:
        log.warning(f"{profile.name}: the server changed since its samples in {where} ({'; '.join(changed)}); "
                    "canary_problems = 0: not checked, samples kept")
        return {**record, "verdict": "unchecked", "action": "kept"}
    keys = pinned(list(stored.records), profile.canary_problems)
    job = session.job(stored.run)
    log.info(f"canary: {'; '.join(changed) or 'asked for'}; asking {len(keys)} pinned problems again")

    def ask(key: str) -> dict:
        task_id, index = split_key(key)
        problem = session.dataset.problems[task_id]
        completion, _ = job.pool.ask(lambda client: client.complete(job.request.body(problem["prompt"], task_id, index)))
        return _record(task_id, problem, completion, job.request.style)

    with ThreadPoolExecutor(max_workers=max(1, job.pool.slots)) as workers:
        answers = dict(zip(keys, workers.map(ask, keys)))
    differing = [k for k in keys if not same_answer(answers[k], stored.records[k])]
    identical = len(keys) - len(differing)
    verdict = "changed" if differing else "identical"
    action = "kept" if not differing else {"warn": "kept", "regenerate": "regenerated", "stop": "stopped"}[
        profile.on_server_change]
    record.update({"asked": len(keys), "identical": identical, "differing": differing, "verdict": verdict,
                   "action": action, "answers": [_kept(answers[k]) for k in keys]})
    line = (f"{profile.name}: {'; '.join(changed) or 'the canary was asked for'} since its samples in {where}; "
            f"{identical} of {len(keys)} canary answers identical")
    if not differing:
        log.info(f"{line}: samples kept")
        return record
    shown = ", ".join(differing[:10]) + (f" and {len(differing) - 10} more" if len(differing) > 10 else "")
    if action == "stopped":
        from ..manifest import write_generation

        main = runs.main
        if main.generated:  # the verdict stays on record beside the samples it concerns
            from dataclasses import replace

            write_generation(main.folder, replace(main.record(), canary=record))
        raise GenerationError(
            f"{line}: {len(differing)} differ ({shown}); on_server_change = stop",
            f"keep the samples as they are: on_server_change = warn; make them again with this server: "
            f"on_server_change = regenerate (or doit clean gen:{profile.name}); or go back to the server that made them")
    if action == "regenerated":
        log.warning(f"{line}: {len(differing)} differ ({shown}); on_server_change = regenerate: making every run "
                    f"again (the old samples kept as {SUPERSEDED})")
        for run in runs.known:
            _supersede(run)
    else:
        log.warning(f"{line}: {len(differing)} differ ({shown}); samples kept (on_server_change = warn), the report "
                    "marks the profile")
    return record


def _supersede(run: Run) -> None:
    """A run's answers set aside (samples beside as SUPERSEDED, the journal's dropped) so it is made again."""
    folder = run.folder
    if folder.samples.exists():
        os.replace(folder.samples, folder.root / SUPERSEDED)
    folder.samples_journal.unlink(missing_ok=True)


def _kept(record: dict) -> dict:
    """A canary answer as the manifest keeps it (what the model produced, not how long it took)."""
    return {k: v for k, v in record.items() if k not in ("latency", "timings", "solution")}


def agreement(session, run: Run) -> dict:
    """Replica agreement on a run just made (see the module's docstring): {} unless its answers came from
    several replicas; else what was asked again where, and whether it was identical."""
    pool, log = session.pool, session.log
    records = read_records(run.folder.samples)
    made_by = {key_of(r): r.get("replica", "") for r in records}
    if len({m for m in made_by.values() if m}) < 2:
        return {}
    if run.profile.sampled:
        return {"skipped": "sampled answers: each is one draw, a second draw need not agree"}
    alive = pool.alive()
    if len(alive) < 2:
        return {"skipped": "only one replica still answers"}
    by_key = {key_of(r): r for r in records}
    checks = []
    for key in pinned([k for k, m in made_by.items() if m], AGREEMENT_CHECKS):
        other = next(m for m in alive if m.label != made_by[key])
        checks.append((key, other))
    job = session.job(run)

    def ask(check) -> dict:
        key, member = check
        task_id, index = split_key(key)
        problem = session.dataset.problems[task_id]
        return _record(task_id, problem, pool.on(member, lambda client: client.complete(
            job.request.body(problem["prompt"], task_id, index))), job.request.style)

    with ThreadPoolExecutor(max_workers=len(checks) or 1) as workers:
        again = list(workers.map(ask, checks))
    differing = [{"task": key, "made_by": made_by[key], "asked_on": member.label}
                 for (key, member), answer in zip(checks, again) if not same_answer(answer, by_key[key])]
    result = {"checked": len(checks), "identical": len(checks) - len(differing), "differing": differing,
              "replicas": sorted({m for m in made_by.values() if m})}
    if differing:
        log.warning(f"replica agreement: {len(differing)} of {len(checks)} answers asked again on another replica "
                    f"differ (first: {differing[0]['task']}): answers depend on the replica")
    else:
        log.info(f"replica agreement: {len(checks)} of {len(checks)} answers asked again on another replica identical")
    return result


def answers_by_replica(records: list[dict]) -> dict[str, int]:
    """How many of a run's answers each replica made."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.get("replica", "")] = counts.get(record.get("replica", ""), 0) + 1
    return counts

