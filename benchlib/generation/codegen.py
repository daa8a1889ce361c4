"""Generation: one solution per problem through a chat-completions endpoint, exactly as evalplus asks
(the request is in prompt.py), owned here from the first request to the manifest's generation section:
the token-cap probe, the request fields a server needs, N requests in flight, a durable journal that a
rerun resumes from, sanitizing, and the samples file.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from .client import ChatClient, Completion
from ..config import Profile
from ..datasets import Dataset
from ..errors import BenchError, GenerationError
from ..console import Progress
from ..fingerprints import generation_header
from ..results import ProfilePaths, read_manifest, update_manifest, utc_now
from ..servers import BACKENDS, ServerHandle
from ..servers.base import server_props
from ..storage import Journal, atomic_write_text
from .prompt import PROMPT_STYLES, PromptStyle, Sampling, sanitize
from .loops import looped
from .reasoning import count_tokens, reasoning_budget, reasoning_summary
from .reuse import ReusePlan, answer_key, key_of, plan_from_longer, plan_reuse, same_answer, split_key
from .slots import check_slots, measure

__all__ = ["generate", "generate_samples", "Generation", "GenerationJob", "GenerationSummary", "probe_token_cap",
           "plan_reuse", "ReusePlan"]

PROBE_TOKENS = 4
VOLATILE = ("latency", "timings")  # per-request measurements, not model output


@dataclass
class GenerationSummary:
    samples: int
    generated_now: int
    seconds: float
    completion_tokens: int
    hit_token_limit: int
    empty_answers: int
    reuse: dict | None = None  # what a changed token cap reused, regenerated and spot-checked


def probe_token_cap(client: ChatClient, model: str, task_prompt: str, extra: dict | None,
                    style: PromptStyle = PROMPT_STYLES["chat"], family: str = "humaneval") -> dict:
    """Which request field caps the answer's length on this server (evalplus sends `max_tokens`; some
    servers honour only `max_completion_tokens`). One tiny request with each, first match wins."""
    reasoning = False  # whether the first tokens are reasoning (`reasoning_content`, or `<think>` text)
    for cap_field in ("max_tokens", "max_completion_tokens"):
        body = style.body(model, task_prompt, PROBE_TOKENS, extra, family)
        if cap_field != "max_tokens":
            body[cap_field] = PROBE_TOKENS
        completion = client.complete(body)
        reasoning = reasoning or bool(completion.reasoning)
        if completion.completion_tokens is not None and completion.completion_tokens <= PROBE_TOKENS:
            return {"field": cap_field, "honoured": True, "reasoning": reasoning}
        if completion.completion_tokens is None:
            return {"field": "max_tokens", "honoured": None, "reasoning": reasoning}  # no usage: cannot tell
    return {"field": "max_tokens", "honoured": False, "reasoning": reasoning}


def _record(task_id: str, problem: dict, completion: Completion, style: PromptStyle) -> dict:
    raw = style.solution(problem["prompt"], completion.content)  # what evalplus's raw samples hold
    record = {
        "task_id": task_id,
        "solution": sanitize(raw, problem["entry_point"]),
        "raw_solution": raw,
        "reasoning": completion.reasoning,
        "finish_reason": completion.finish_reason,
        "empty_answer": completion.content_was_empty,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "latency": round(completion.latency, 3),
        "timings": completion.timings,
    }
    if completion.stopped:  # ended by benchlib, not the server (stop_loops)
        record["stopped"] = completion.stopped
    return record


@dataclass(frozen=True)
class GenerationJob:
    """What one generation asks of which server, and where its samples go."""

    dataset: Dataset
    paths: ProfilePaths
    client: ChatClient
    model: str
    max_tokens: int
    parallel: int  # requests in flight
    header: dict  # fingerprints.generation_header: the journal's header
    extra_body: dict | None = None  # request fields the server needs
    label: str = "generate"  # the progress bar's
    style: PromptStyle = PROMPT_STYLES["chat"]  # the request evalplus builds (chat, or a base model's completion)
    stop_loops: bool = False  # end a runaway answer early (streamed, watched by loops.looped)
    answers: int = 1  # per problem (n_samples)
    sampling: tuple[float, float] | None = None  # (temperature, top_p) of sampled answers; None: greedy

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
            self.progress = Progress(self.job.label, len(keys), self.log, done=len(self.done))
            try:
                if self.reuse is not None:
                    self.reuse_answers(journal, self.reuse)
                self.requested += self.request(journal, keys)
            finally:
                self.progress.close()
        return self.finish(time.monotonic() - started)

    def resume(self, journal: Journal) -> None:
        wanted = set(self.job.keys)
        self.done = {key_of(r): r for r in journal if "task_id" in r and key_of(r) in wanted}
        if self.done:
            self.log.info(f"resuming: {len(self.done)} of {len(wanted)} samples already generated")

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
                             "differing": differing}

    def _ask(self, key: str) -> dict:
        """One request (in a worker thread): one answer to a problem, as a samples record."""
        job = self.job
        task_id, index = split_key(key)
        problem = job.dataset.problems[task_id]
        sampling = Sampling(*job.sampling, seed=Sampling.seed_of(task_id, index)) if job.sampling else None
        try:
            completion = job.client.complete(job.style.body(job.model, problem["prompt"], job.max_tokens,
                                                            job.extra_body, job.dataset.spec.family, sampling),
                                             watch=looped if job.stop_loops else None)
        except BaseException:
            job.client.stop.set()  # here, not in the main thread: this worker's next request must not go out
            raise
        record = _record(task_id, problem, completion, job.style)
        if job.answers > 1:  # (a single answer's record is the leaderboard's, unchanged)
            record = {"task_id": task_id, "sample_index": index, **{k: v for k, v in record.items() if k != "task_id"}}
        return record

    def request(self, journal: Journal, keys: list[str]) -> int:
        """Generate the answers (`keys`) not done yet (longest prompts first: the long requests start early
        and the batch drains evenly), appending each to the journal; the number of requests made."""
        problems, stop = self.job.dataset.problems, self.job.client.stop
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


def generate_samples(dataset: Dataset, paths: ProfilePaths, client: ChatClient, model: str, max_tokens: int,
                     parallel: int, header: dict, extra_body: dict | None, log: logging.Logger,
                     label: str = "generate", reuse: ReusePlan | None = None,
                     style: PromptStyle = PROMPT_STYLES["chat"], stop_loops: bool = False, answers: int = 1,
                     sampling: tuple[float, float] | None = None) -> GenerationSummary:
    """`Generation(GenerationJob(...), log, reuse).run()`."""
    job = GenerationJob(dataset=dataset, paths=paths, client=client, model=model, max_tokens=max_tokens,
                        parallel=parallel, header=header, extra_body=extra_body, label=label, style=style,
                        stop_loops=stop_loops, answers=answers, sampling=sampling)
    return Generation(job, log, reuse).run()


def _json_line(record: dict) -> str:
    return json.dumps(record) + "\n"


@dataclass
class Session:
    """What every run of one server session shares: the server, the client and the request fields."""

    profile: Profile
    dataset: Dataset
    server: ServerHandle
    client: ChatClient
    style: PromptStyle
    extra: dict
    info: dict
    cap: dict
    log: logging.Logger
    counted: dict = field(default_factory=dict)  # text -> its tokens by the server's tokenizer (None: cannot say)

    def count(self, text: str) -> int | None:
        """`text`'s tokens by the server's tokenizer, asked once per text (the long run's reasoning is
        counted for its summary and for the plan of the run at max_tokens)."""
        if text not in self.counted:
            self.counted[text] = count_tokens(self.server.base_url, text)
        return self.counted[text]

    def run(self, paths: ProfilePaths, header: dict, max_tokens: int, reuse: ReusePlan | None) -> dict:
        """One run at `max_tokens` into `paths`; its manifest generation section."""
        profile, dataset = self.profile, self.dataset
        extra = dict(self.extra)
        if self.cap["field"] != "max_tokens":
            extra[self.cap["field"]] = max_tokens
        summary = generate_samples(dataset, paths, self.client, profile.request_model, max_tokens, profile.parallel,
                                   header, extra, self.log, label="generation", reuse=reuse, style=self.style,
                                   stop_loops=profile.stop_loops, answers=profile.n_samples,
                                   sampling=(profile.temperature, profile.top_p) if profile.sampled else None)
        self.log.info(f"generation done: {summary.samples} samples ({summary.generated_now} new) in {summary.seconds} s "
                      f"at max_tokens {max_tokens}, {summary.hit_token_limit} hit the token limit, "
                      f"{summary.empty_answers} empty answers")
        reasoning = reasoning_summary(paths, self.count)
        if reasoning["detected"]:
            self.log.info(f"a reasoning model: {reasoning['answers']} of {summary.samples} answers carry reasoning "
                          f"({reasoning['source']}); reasoning tokens median {reasoning['reasoning_tokens']['median']}, "
                          f"max {reasoning['reasoning_tokens']['max']}; answer tokens median "
                          f"{reasoning['answer_tokens']['median']}, max {reasoning['answer_tokens']['max']}; "
                          f"{reasoning['cut_while_thinking']} cut while thinking, {reasoning['looped']} looped")
        sampled = Sampling(profile.temperature, profile.top_p, 0) if profile.sampled else None
        sampling = self.style.body(profile.request_model, "", max_tokens, extra, dataset.spec.family, sampled)
        sampling.pop("messages", None)
        sampling.pop("prompt", None)
        if sampled is not None:
            sampling["seed"] = "per problem and answer (Sampling.seed_of)"
            sampling["answers_per_problem"] = profile.n_samples
        return {
            "header": header, "dataset": dataset.describe(), "server": self.info, "sampling": sampling,
            "token_cap": self.cap, "profile": asdict(replace(profile, max_tokens=max_tokens)),
            "server_start_seconds": self.info.get("startup_seconds"),
            "seconds": summary.seconds, "completion_tokens": summary.completion_tokens,
            "tokens_per_second": round(summary.completion_tokens / summary.seconds, 1) if summary.seconds else None,
            "hit_token_limit": summary.hit_token_limit, "empty_answers": summary.empty_answers, "date": utc_now(),
            "reuse": summary.reuse, "reasoning": reasoning,
        }


def generate(profile: Profile, dataset: Dataset, paths: ProfilePaths, server: ServerHandle, header: dict,
             log: logging.Logger, reuse: ReusePlan | None = None,
             budget_paths: Callable[[int], ProfilePaths] | None = None) -> dict:
    """Generate the samples with a running server; return the manifest's generation section. For a
    reasoning model (`reasoning_budget`, or detected by the token-cap probe) with `budget_paths`, first the
    long run at its budget (into `budget_paths(budget)`, its manifest written there), then the run at
    max_tokens, taking from the long one what it determines (`plan_from_longer`)."""
    info = dict(server.info)
    info["props"] = server_props(server.base_url)
    style = PROMPT_STYLES[profile.prompt_style]
    measured = None
    if BACKENDS[profile.server].sizes_slots:  # the second check, with the model's own tokenizer
        measured = measure(server.base_url, dataset, style)
        if measured is not None:
            check_slots(profile, dataset, measured)
            info["longest_prompt_tokens"] = measured
    client = ChatClient(server.base_url, profile.request_timeout, gone_reason=server.gone_reason, path=style.path)
    extra = {**server.extra_body, **profile.extras}  # the profile's request_extras last: the user decides
    cap = {"field": "max_tokens", "honoured": None, "reasoning": None}
    if server.probe_token_cap:
        cap = probe_token_cap(client, profile.request_model, dataset.problems[dataset.task_ids[0]]["prompt"], extra,
                              style, dataset.spec.family)
        if cap["field"] != "max_tokens":
            log.info(f"this server ignores max_tokens: sending {cap['field']} too")
        elif cap["honoured"] is False:
            log.warning("this server ignores the token cap; answers may exceed max_tokens")
        if cap["reasoning"]:
            log.info("the model reasons (its first tokens are reasoning): a reasoning model")
    session = Session(profile, dataset, server, client, style, extra, info, cap, log)
    budget = reasoning_budget(profile, bool(cap.get("reasoning"))) if budget_paths else 0
    long = replace(profile, max_tokens=budget)
    if budget and BACKENDS[profile.server].sizes_slots:
        try:
            check_slots(long, dataset, measured)
        except BenchError as error:
            if profile.reasoning_budget:
                raise
            log.warning(f"no run at the reasoning budget: {error.message}")
            budget = 0
    budget_section = None
    if budget:
        long_paths = budget_paths(budget)
        long_header = generation_header(long, header["dataset"])
        log.info(f"the reasoning budget first: {budget} tokens, into {long_paths.root.name}/; the run at "
                 f"{profile.max_tokens} takes from it what it determines")
        if not (long_paths.samples.exists() and read_manifest(long_paths).get("generation", {}).get("header") == long_header):
            update_manifest(long_paths, "generation", session.run(long_paths, long_header, budget, None))
        records = [json.loads(line) for line in long_paths.samples.read_text(encoding="utf-8").splitlines()]
        counts = {key_of(r): n for r in records if r.get("reasoning")
                  for n in [session.count(r["reasoning"])] if n is not None}
        reuse = plan_from_longer(records, budget, profile.max_tokens, counts, dataset, style)
        budget_section = {"max_tokens": budget, "folder": long_paths.root.name, "auto": not profile.reasoning_budget}
    section = session.run(paths, header, profile.max_tokens, reuse)
    section["reasoning_budget"] = budget_section
    return section
