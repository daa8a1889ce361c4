"""Generation: one solution per problem through an OpenAI-compatible endpoint, exactly as evalplus asks
(the request in prompt.py, its settings as one value in request.py), owned here from the first request
to each run's manifest: a server session (the second slot check, the token-cap probe), the runs a
profile makes (which ones: runs.py), N requests in flight, a durable journal that a rerun resumes from,
sanitizing, and the samples file.

    generate(runs, dataset, fleet, log)      every run of a profile, with its servers running:
        Session.open     the slots checked with the server's tokenizer, a client per replica (pool.py), the
                         probe, what made the answers (servers/provenance.py)
        canary           a server changed since the stored answers: a pinned set asked again (canary.py)
        long run         a reasoning model's run at its budget, first (runs.ProfileRuns.long_budget)
        plan             what the run at max_tokens reuses: from the long run, or a changed cap's answers
        Session.run      one run: Generation(GenerationJob) into its folder, then its manifest record
        agreement        answers from several replicas: a few asked again on another (canary.replica_agreement)
        curve            the score at each thinking budget, taken from the long run (curve.make_curve)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace

from .client import ChatClient, Completion
from ..datasets import Dataset
from ..errors import BenchError, GenerationError
from ..console import Progress
from ..manifest import GenerationRecord, LongRun, write_generation
from ..results import RunFolder, utc_now
from ..runs import ProfileRuns, Run
from ..samples import read_records
from ..servers import BACKENDS, ServerHandle
from ..servers.base import server_props
from ..servers.fleet import Fleet
from ..servers.provenance import answer_flags, describe, identity
from .pool import Member, Pool
from ..storage import Journal, atomic_write_text
from .prompt import PromptStyle, sanitize
from .loops import looped
from .reasoning import count_tokens, reasoning_counts, reasoning_summary, template_opens_thinking
from .request import Request
from .reuse import ReusePlan, answer_key, key_of, plan_from_longer, plan_reuse, same_answer, split_key
from .slots import check_slots, measure

__all__ = ["generate", "Generation", "GenerationJob", "GenerationSummary", "Session", "probe_token_cap",
           "plan_reuse", "ReusePlan", "SERVERS_MARK"]

PROBE_TOKENS = 4
VOLATILE = ("latency", "timings")  # per-request measurements, not model output
SERVERS_MARK = "_servers"  # a journal line: the identity of each server that answers the lines after it


@dataclass
class GenerationSummary:
    samples: int
    generated_now: int
    seconds: float
    completion_tokens: int
    hit_token_limit: int
    empty_answers: int
    reuse: dict | None = None  # what a changed token cap reused, regenerated and spot-checked


def probe_token_cap(client: ChatClient, request: Request, task_prompt: str) -> dict:
    """Which request field caps the answer's length on this server (evalplus sends `max_tokens`; some
    servers honour only `max_completion_tokens`). One tiny greedy request with each, first match wins."""
    reasoning = False  # whether the first tokens are reasoning (`reasoning_content`, or `<think>` text)
    for cap_field in ("max_tokens", "max_completion_tokens"):
        probe = replace(request, max_tokens=PROBE_TOKENS, cap_field=cap_field, sampling=None)
        completion = client.complete(probe.body(task_prompt))
        reasoning = reasoning or bool(completion.reasoning)
        if completion.completion_tokens is not None and completion.completion_tokens <= PROBE_TOKENS:
            return {"field": cap_field, "honoured": True, "reasoning": reasoning}
        if completion.completion_tokens is None:
            return {"field": "max_tokens", "honoured": None, "reasoning": reasoning}  # no usage: cannot tell
    return {"field": "max_tokens", "honoured": False, "reasoning": reasoning}


def _record(task_id: str, problem: dict, completion: Completion, style: PromptStyle, replica: str = "") -> dict:
    raw = style.solution(problem["prompt"], completion.content)  # what evalplus's raw samples hold
    return _record_fields(task_id, solution=sanitize(raw, problem["entry_point"]), raw=raw,
                          reasoning=completion.reasoning, finish=completion.finish_reason, empty=completion.answer_empty,
                          prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                          latency=completion.latency, timings=completion.timings, stopped=completion.stopped,
                          reasoning_tokens=completion.reasoning_tokens, replica=replica)


def _record_fields(task_id: str, *, solution: str, raw: str, reasoning: str, finish: str | None, empty: bool,
                   prompt_tokens: int | None, completion_tokens: int | None, latency: float, timings: dict,
                   stopped: str = "", reasoning_tokens: int | None = None, continued: str = "",
                   replica: str = "") -> dict:
    """A samples record, its fields in the file's order (one place: every way an answer is made uses it)."""
    record = {
        "task_id": task_id,
        "solution": solution,
        "raw_solution": raw,  # what evalplus's raw samples hold
        "reasoning": reasoning,
        "finish_reason": finish,
        "empty_answer": empty,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "latency": round(latency, 3),
        "timings": timings,
    }
    if stopped:  # ended by benchlib, not the server (stop_loops)
        record["stopped"] = stopped
    if reasoning_tokens is not None:  # as the server counted them (where it reports them)
        record["reasoning_tokens"] = reasoning_tokens
    if continued:  # a curve point's answer made after the forced end of thinking (curve.py)
        record["continued"] = continued
    if replica:  # which of the profile's several servers made it (pool.py)
        record["replica"] = replica
    return record


@dataclass(frozen=True)
class GenerationJob:
    """What one generation asks of which server, and where its samples go."""

    dataset: Dataset
    paths: RunFolder
    pool: Pool  # the replicas that answer, each with its slots
    request: Request  # every request setting (model, cap, style, extra fields, sampling, loop watch)
    header: dict  # fingerprints.generation_header: the journal's header
    answers: int = 1  # per problem (n_samples)
    label: str = "generate"  # the progress bar's
    servers: dict = field(default_factory=dict)  # replica -> its identity (provenance.identity), marked in the journal

    @property
    def client(self) -> ChatClient:
        """The client single questions go to (the pool's first replica still answering)."""
        return self.pool.client

    @property
    def parallel(self) -> int:
        """Requests in flight: every slot of every replica."""
        return self.pool.slots

    @property
    def keys(self) -> list[str]:
        """Every answer this generation makes, in samples-file order: per problem, by answer index."""
        return [answer_key(t, i) for t in self.dataset.task_ids for i in range(self.answers)]


class Generation:
    """One generation, its steps readable on their own:

        resume   the journal of an interrupted run: its answers are kept, their problems not asked again
        reuse    (a changed token cap, `plan_reuse`) the spot check with the answers that must be redone;
                 if every spot-checked answer is identical, the plan's other answers are taken as they are
        request  the remaining problems, `parallel` in flight, each answer journaled as it arrives
        finish   samples.jsonl and generation_stats.jsonl (atomically), the journal removed
    """

    def __init__(self, job: GenerationJob, log: logging.Logger, reuse: ReusePlan | None = None) -> None:
        self.job = job
        self.log = log
        self.reuse = reuse
        self.done: dict[str, dict] = {}  # answer key (reuse.answer_key) -> its record (journaled)
        self.requested = 0
        self.reuse_report: dict | None = None
        self.progress: Progress | None = None

    def run(self) -> GenerationSummary:
        """Fill the journal until every answer is in, then write the samples file."""
        started = time.monotonic()
        keys = self.job.keys
        with Journal(self.job.paths.samples_journal, self.job.header) as journal:
            self.resume(journal)
            self.mark_servers(journal)
            self.progress = Progress(self.job.label, len(keys), self.log, done=len(self.done))
            try:
                self.take(journal)
                self.requested += self.request(journal, keys)
            finally:
                self.progress.close()
        return self.finish(time.monotonic() - started)

    def resume(self, journal: Journal) -> None:
        wanted = set(self.job.keys)
        self.done = {key_of(r): r for r in journal if "task_id" in r and key_of(r) in wanted}
        if self.done:
            self.log.info(f"resuming: {len(self.done)} of {len(wanted)} samples already generated")

    def mark_servers(self, journal: Journal) -> None:
        """The servers answering from here on, in the journal (when they differ from the last mark): what
        made each answer is then known even of a run resumed on a changed server."""
        if not self.job.servers:
            return
        marks = [r[SERVERS_MARK] for r in journal if SERVERS_MARK in r]
        if not marks or marks[-1] != self.job.servers:
            journal.append({SERVERS_MARK: self.job.servers})

    def take(self, journal: Journal) -> None:
        """Answers taken without asking the model for them again (here: a reuse plan's; a curve point
        takes the long run's answers that finished thinking within its budget)."""
        if self.reuse is not None:
            self.reuse_answers(journal, self.reuse)

    def reuse_answers(self, journal: Journal, reuse: ReusePlan) -> None:
        """Regenerate what the new cap changes, spot check included; then reuse the rest, or nothing."""
        keys = self.job.keys
        reusable = [k for k in keys if k in reuse.records]
        spot = [k for k in reuse.spot if k in set(keys)]
        self.log.info(f"max_tokens {reuse.old_cap} -> {reuse.new_cap}: {len(reusable)} answers ended by themselves "
                      f"below the new cap; spot-checking {len(spot)} of them with the "
                      f"{len(keys) - len(reusable)} that must be regenerated")
        derived = [k for k in keys if k in reuse.derived]
        if derived:
            self.log.info(f"{len(derived)} answers still thinking at {reuse.new_cap} tokens in the {reuse.old_cap}-token "
                          "run: derived as cut while thinking, not requested")
        self.requested += self.request(journal, [k for k in keys
                                                 if (k not in reuse.records and k not in reuse.derived) or k in spot])
        differing = [t for t in spot if not same_answer(self.done[t], reuse.records[t])]
        if differing:
            self.log.warning(f"spot check failed: {len(differing)} of {len(spot)} regenerated answers differ "
                             f"(first: {differing[0]}): this server is not reproducible, regenerating every answer")
        else:
            for key in keys:
                record = reuse.records.get(key) or reuse.derived.get(key)
                if record is not None and key not in self.done:
                    journal.append(record)
                    self.done[key] = record
                    self.progress.update()
        self.reuse_report = {"old_max_tokens": reuse.old_cap, "reused": 0 if differing else len(reusable) - len(spot),
                             "derived_cut_while_thinking": 0 if differing else len(derived),
                             "spot_checked": len(spot), "spot_check": "failed" if differing else "passed",
                             "differing": differing, **({"not_derived": reuse.not_derived} if reuse.not_derived else {})}

    def _ask(self, key: str) -> dict:
        """One request (in a worker thread): one answer to a problem, as a samples record."""
        job = self.job
        task_id, index = split_key(key)
        problem = job.dataset.problems[task_id]
        body = job.request.body(problem["prompt"], task_id, index)
        watch = looped if job.request.stop_loops else None
        try:  # on whichever replica has a free slot; asked again on another if that one is lost meanwhile
            completion, member = job.pool.ask(lambda client: client.complete(body, watch=watch))
        except BaseException:
            job.pool.stop.set()  # here, not in the main thread: this worker's next request must not go out
            raise
        job.pool.record(member, completion.system_fingerprint)
        record = _record(task_id, problem, completion, job.request.style, member.label if job.pool.replicated else "")
        if job.answers > 1:  # (a single answer's record is the leaderboard's, unchanged)
            record = {"task_id": task_id, "sample_index": index, **{k: v for k, v in record.items() if k != "task_id"}}
        return record

    def request(self, journal: Journal, keys: list[str]) -> int:
        """Generate the answers (`keys`) not done yet (longest prompts first: the long requests start early
        and the batch drains evenly), appending each to the journal; the number of requests made."""
        problems, stop = self.job.dataset.problems, self.job.pool.stop
        pending = sorted((k for k in keys if k not in self.done), key=lambda k: -len(problems[split_key(k)[0]]["prompt"]))
        failure: BaseException | None = None
        # every request is queued at once: a worker thread takes the next one the moment its answer is in,
        # so the server's slots refill without waiting for the journal's fsync here
        pool = ThreadPoolExecutor(max_workers=self.job.parallel, thread_name_prefix="gen")
        try:
            futures = {pool.submit(self._ask, key): key for key in pending}
            for future in as_completed(futures):
                try:
                    record = future.result()
                except BaseException as exc:  # noqa: BLE001 - keep the others' work, then report
                    if failure is None:
                        failure = exc
                        stop.set()
                        for other in futures:
                            other.cancel()
                    continue
                journal.append(record)
                self.done[key_of(record)] = record
                self.progress.update(tokens=record.get("completion_tokens") or 0)
                self.log.debug(f"{key_of(record)}: {record['finish_reason']}, {record['completion_tokens']} "
                               f"tokens, {record['latency']:.1f} s")
        except BaseException:
            # Ctrl-C or SIGTERM: don't wait for requests in flight; stopping the server ends them
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        if failure is not None:
            if isinstance(failure, BenchError):
                raise GenerationError(
                    f"{failure.message} ({len(self.done)} of {len(self.job.keys)} samples kept)", failure.tip
                ) from None
            raise failure
        return len(pending)

    def finish(self, seconds: float) -> GenerationSummary:
        paths = self.job.paths
        records = [self.done[k] for k in self.job.keys]
        # samples.jsonl holds only what the model produced (identical across reproducible reruns);
        # the per-request measurements go beside it
        atomic_write_text(paths.generation_stats, "".join(
            _json_line({"task_id": r["task_id"], **({"sample_index": r["sample_index"]} if "sample_index" in r else {}),
                        **{k: r[k] for k in VOLATILE if k in r}}) for r in records))
        atomic_write_text(paths.samples, "".join(
            _json_line({k: v for k, v in r.items() if k not in VOLATILE}) for r in records))
        paths.samples_journal.unlink(missing_ok=True)
        if self.reuse_report is not None:
            self.reuse_report["regenerated"] = self.requested
            self.log.info(f"reused {self.reuse_report['reused']} answers, regenerated {self.requested}, spot-checked "
                          f"{self.reuse_report['spot_checked']} ({self.reuse_report['spot_check']})")
        return GenerationSummary(
            samples=len(records),
            generated_now=self.requested,
            seconds=round(seconds, 1),
            completion_tokens=sum(r.get("completion_tokens") or 0 for r in records),
            hit_token_limit=sum(r.get("finish_reason") == "length" for r in records),
            empty_answers=sum(bool(r.get("empty_answer")) for r in records),
            reuse=self.reuse_report,
        )


def _json_line(record: dict) -> str:
    return json.dumps(record) + "\n"


@dataclass
class Session:
    """What every run of one server session shares: the servers (one, or several replicas), a client per
    replica in one pool, the request and its probe, and what made the answers."""

    runs: ProfileRuns
    dataset: Dataset
    fleet: Fleet
    pool: Pool
    request: Request  # at the profile's max_tokens; each run asks `request.at(its max_tokens)`
    info: dict  # the (first) server's facts for the manifest
    cap: dict  # probe_token_cap's finding
    log: logging.Logger
    replicas: list[dict] = field(default_factory=list)  # each server's provenance (servers.provenance.describe)
    measured: int | None = None  # the longest prompt's tokens by the server's tokenizer (None: cannot say)
    counted: dict = field(default_factory=dict)  # text -> its tokens by the server's tokenizer (None: cannot say)

    @property
    def server(self) -> ServerHandle:
        """The server single questions go to (tokenizer, chat template, probe, curve): the first replica."""
        return self.fleet.primary

    @property
    def client(self) -> ChatClient:
        return self.pool.client

    @property
    def identities(self) -> dict[str, dict]:
        """Each replica's identity (provenance.identity): what decides its answers."""
        return {r["replica"]: identity(r) for r in self.replicas}

    @classmethod
    def open(cls, runs: ProfileRuns, dataset: Dataset, fleet: Fleet, log: logging.Logger) -> "Session":
        """A session on running servers: the slots checked again with the model's own tokenizer, the
        request fields the server needs, the token-cap probe, each replica's provenance."""
        profile, server = runs.profile, fleet.primary
        props = {h.label: server_props(h.base_url) for h in fleet.handles}
        info = {**server.info, "props": props[server.label]}
        request = Request.of(profile, dataset.spec.family, server.extra_body)
        measured = None
        if BACKENDS[profile.server].sizes_slots:  # the second check, with the model's own tokenizer
            measured = measure(server.base_url, dataset, request.style)
            if measured is not None:
                check_slots(profile, dataset, measured)
                info["longest_prompt_tokens"] = measured
        opened = template_opens_thinking(server.base_url) if request.style.chat else False
        if opened is not None:
            info["template_opens_thinking"] = opened
        if opened:
            log.info("the chat template opens the thinking (its prompt ends with <think>): an answer's text is "
                     "reasoning up to </think>")
        stop = threading.Event()  # one for every replica's client: a failure stops them all
        members = [Member(h.label, ChatClient(h.base_url, profile.request_timeout, gone_reason=h.gone_reason, stop=stop,
                                              path=request.style.path, opened_thinking=bool(opened)), profile.parallel)
                   for h in fleet.handles]
        pool = Pool(members, stop, log, replicated=fleet.replicated)
        backend = BACKENDS[profile.server]
        replicas = [describe(h, props[h.label], answer_flags(r.profile, backend))
                    for h, r in zip(fleet.handles, fleet.replicas)]
        if fleet.failed:
            info["replicas_not_started"] = dict(fleet.failed)
        cap = {"field": "max_tokens", "honoured": None, "reasoning": None}
        if server.probe_token_cap:
            cap = probe_token_cap(pool.client, request, dataset.problems[dataset.task_ids[0]]["prompt"])
            if cap["field"] != "max_tokens":
                log.info(f"this server ignores max_tokens: sending {cap['field']} too")
            elif cap["honoured"] is False:
                log.warning("this server ignores the token cap; answers may exceed max_tokens")
            if cap["reasoning"]:
                log.info("the model reasons (its first tokens are reasoning): a reasoning model")
        return cls(runs, dataset, fleet, pool, replace(request, cap_field=cap["field"]), info, cap, log, replicas,
                   measured)

    def count(self, text: str) -> int | None:
        """`text`'s tokens by the server's tokenizer, asked once per text (the long run's reasoning is
        counted for its summary and for the plan of the run at max_tokens)."""
        if text not in self.counted:
            self.counted[text] = count_tokens(self.server.base_url, text)
        return self.counted[text]

    def long_run(self) -> Run | None:
        """The long run this session makes (runs.ProfileRuns.long_budget with what the probe found), where
        the server's slots hold it; an auto-detected one that does not fit is left out, with a warning."""
        runs = self.runs
        budget = runs.long_budget(bool(self.cap.get("reasoning")))
        if not budget:
            return None
        long = runs.long(budget)
        if BACKENDS[runs.profile.server].sizes_slots:
            try:
                check_slots(long.profile, self.dataset, self.measured)
            except BenchError as error:
                if runs.profile.reasoning_budget:
                    raise
                self.log.warning(f"no run at the reasoning budget: {error.message}")
                return None
        return long

    def plan_from(self, long: Run, main: Run) -> ReusePlan:
        """What the run at max_tokens takes from the long run (`plan_from_longer`): without a count of each
        answer's reasoning tokens nothing can be derived, and the log and the manifest say why."""
        records = read_records(long.folder.samples)
        counts, source = reasoning_counts(records, self.count)
        plan = plan_from_longer(records, long.max_tokens, main.max_tokens, counts, self.dataset, self.request.style)
        if not counts and any(r.get("reasoning") for r in records):
            plan.not_derived = source
            self.log.warning(f"nothing derived from the {long.max_tokens}-token run: {source}; answers still "
                             f"thinking at {main.max_tokens} tokens are asked again")
        return plan

    def job(self, run: Run, label: str = "generation", primary: bool = False) -> GenerationJob:
        """The generation job of `run` in this session: on every replica, or (`primary`) on the first only."""
        pool = self.pool.only(self.pool.members[0]) if primary else self.pool
        return GenerationJob(dataset=self.dataset, paths=run.folder, pool=pool, request=self.request.at(run.max_tokens),
                             header=run.header, answers=run.profile.n_samples, label=label, servers=self.identities)

    def run(self, run: Run, reuse: ReusePlan | None, long: LongRun | None = None) -> GenerationRecord:
        """One run into its folder; its manifest record (written by `generate`)."""
        return self.record(run, Generation(self.job(run), self.log, reuse).run(), long)

    def record(self, run: Run, summary: GenerationSummary, long: LongRun | None = None,
               curve: dict | None = None) -> GenerationRecord:
        """The manifest record of a run just made (`summary`), with its reasoning summary."""
        profile, dataset = run.profile, self.dataset
        request = self.request.at(run.max_tokens)
        self.log.info(f"generation done: {summary.samples} samples ({summary.generated_now} new) in {summary.seconds} s "
                      f"at max_tokens {run.max_tokens}, {summary.hit_token_limit} hit the token limit, "
                      f"{summary.empty_answers} empty answers")
        reasoning = reasoning_summary(run.folder, self.count)
        if reasoning["detected"]:
            self.log.info(f"a reasoning model: {reasoning['answers']} of {summary.samples} answers carry reasoning "
                          f"({reasoning['source']}); reasoning tokens median {reasoning['reasoning_tokens']['median']}, "
                          f"max {reasoning['reasoning_tokens']['max']}; answer tokens median "
                          f"{reasoning['answer_tokens']['median']}, max {reasoning['answer_tokens']['max']}; "
                          f"{reasoning['cut_while_thinking']} cut while thinking, {reasoning['looped']} looped")
        return GenerationRecord(
            header=run.header, dataset=dataset.describe(), server=self.info, sampling=request.settings(profile.n_samples),
            token_cap=self.cap, profile=asdict(profile), server_start_seconds=self.info.get("startup_seconds"),
            seconds=summary.seconds, completion_tokens=summary.completion_tokens,
            tokens_per_second=round(summary.completion_tokens / summary.seconds, 1) if summary.seconds else None,
            hit_token_limit=summary.hit_token_limit, empty_answers=summary.empty_answers, date=utc_now(),
            reuse=summary.reuse, reasoning=reasoning, reasoning_budget=long, curve=curve or {},
            replicas=self.provenance(run))

    def provenance(self, run: Run) -> list[dict]:
        """Each replica's provenance with what it did in `run`: its answers, the builds its responses named,
        whether it was lost and why."""
        from .canary import answers_by_replica

        made = answers_by_replica(read_records(run.folder.samples))
        members = {m.label: m for m in self.pool.members}
        found = []
        for replica in self.replicas:
            member = members.get(replica["replica"])
            entry = {**replica, "answers": made.get(replica["replica"], 0) if self.pool.replicated else sum(made.values())}
            if member is not None and member.builds:
                entry["responses_named"] = dict(member.builds)
            if member is not None and member.lost:
                entry["lost"] = member.lost
            found.append(entry)
        return found


def generate(runs: ProfileRuns, dataset: Dataset, fleet: Fleet, log: logging.Logger, force_canary: bool = False) -> None:
    """Every run of a profile with its servers running (see the module's docstring), each run's manifest
    written as it completes. The canary first, where the servers changed since the stored answers; then a
    reasoning model's long run (unless its samples are already made under its settings); the run at
    max_tokens takes from it what it determines."""
    from .canary import agreement, canary
    from .curve import make_curve

    session = Session.open(runs, dataset, fleet, log)
    checked = canary(session, runs, force=force_canary)
    main = runs.main
    long = session.long_run()
    recorded, reuse = None, None
    if long is not None:
        log.info(f"the reasoning budget first: {long.max_tokens} tokens, into {long.folder.root.name}/; the run at "
                 f"{main.max_tokens} takes from it what it determines")
        if not long.generated:
            write_generation(long.folder, session.run(long, None))
        recorded = LongRun(long.max_tokens, long.folder.root.name, auto=not runs.profile.reasoning_budget)
    if main.generated:  # made before (a curve point was added): kept, its record brought up to date below
        record = replace(main.record(), reasoning_budget=recorded)
    else:
        reuse = session.plan_from(long, main) if long is not None else plan_reuse(main.folder, main.header, log)
        before = main.record()  # a run resumed under the same settings keeps the canary that let it go on
        record = session.run(main, reuse, recorded)
        record = replace(record, agreement=agreement(session, main),
                         canary=before.canary if before.header == main.header else {})
    curve = make_curve(session, runs, long) if long is not None else {}
    write_generation(main.folder, replace(record, curve=curve, canary=checked or record.canary))
