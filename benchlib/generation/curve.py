"""A reasoning model's score at each thinking budget, from its one long run.

llama-server's `--reasoning-budget B` (per request: `reasoning_budget_tokens`) counts the tokens of the
thinking and, when B are spent, forces the end of it (the budget message, if one is set, then the closing
tag, as tokens), after which the model answers. With greedy decoding, a run at budget B therefore thinks
exactly as the long run did for its first B tokens. So, for each point B of the curve, from the long run's
answers (`CurvePoint`):

    taken      an answer that finished thinking within B tokens is the same at B: taken as it is
    continued  for the others, the thinking cut at B tokens (the server's tokenizer), the forced tokens
               appended, on the templated prompt (/apply-template), and only the answer generated (llama-
               server's /completion with the prompt as tokens: the closing tag goes in as the special token
               the server forces, not as the same text split into plain pieces)
    spot check SPOT_CHECK continued answers asked again as a real run at that budget (the request's
               `reasoning_budget_tokens`): if any differs, every continued answer is asked that way (exact,
               at B more tokens each); a server that ignores the field is said so in the log and manifest

Each point is a run folder of its own (runs.py: `<dataset>-budget<n>-think<B>`), resumable, evaluated and
reported like any other. Only for greedy answers (a sampled thinking is not the same prefix) and servers
with those endpoints (llama-server); elsewhere the manifest says why there is no curve. The continuation
knows `<think>` tags; a model whose thinking is marked otherwise (GPT-OSS's channels) fails the spot check
and its points are asked as real runs at each budget.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import requests

from ..errors import GenerationError
from ..storage import Journal
from .codegen import Generation, GenerationJob, _record, _record_fields
from .prompt import build_messages, sanitize
from .reasoning import CLOSE, OPEN, quantile
from .reuse import key_of, split_key

__all__ = ["CurvePoint", "Continuation", "auto_budgets", "SPOT_CHECK", "taken_as_is", "BUDGET_FIELD"]

SPOT_CHECK = 3  # continued answers per point asked again as a real run at its budget
BUDGET_FIELD = "reasoning_budget"  # llama-server's per-request thinking budget (its --reasoning-budget)
SMALLEST, MOST = 512, 5  # auto budgets: powers of two from SMALLEST, at most MOST of them


def auto_budgets(reasoning_tokens: list[int], long_max: int) -> list[int]:
    """The default curve from a long run's reasoning lengths: powers of two from SMALLEST up to the first
    at or above its 90th percentile (where the score stops moving), below the long run's cap, the MOST
    largest of them."""
    if not reasoning_tokens:
        return []
    p90 = quantile(reasoning_tokens, 0.9)  # as the reasoning summary states it
    budgets, budget = [], SMALLEST
    while budget < long_max:
        budgets.append(budget)
        if budget >= p90:
            break
        budget *= 2
    return budgets[-MOST:]


def taken_as_is(record: dict, reasoning_tokens: int, think: int) -> bool:
    """Whether a long-run answer is what a run at `think` tokens of thinking gives: it closed its thinking
    (an answer began, or it ended by itself) within the budget."""
    still_thinking = record.get("finish_reason") == "length" and record.get("empty_answer")
    return not still_thinking and reasoning_tokens <= think


@dataclass
class Continuation:
    """llama-server's endpoints the curve needs: the templated prompt, tokens both ways, a completion from
    tokens, and a real run at a budget (the spot check)."""

    base_url: str
    timeout: float
    extra: dict = field(default_factory=dict)  # the server's request fields (cache_prompt, ...)
    templates: dict = field(default_factory=dict)  # task prompt -> the templated prompt's tokens
    tokenized: dict = field(default_factory=dict)  # (text, special) -> its tokens: each reasoning once, not per point

    def _post(self, path: str, body: dict) -> dict:
        try:
            answer = requests.post(f"{self.base_url}{path}", json=body, timeout=self.timeout)
            answer.raise_for_status()
            return answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise GenerationError(f"{self.base_url}{path}: {exc}", "the thinking-budget curve needs llama-server "
                                  "(its /apply-template, /tokenize, /detokenize and /completion)") from None

    def missing(self) -> str:
        """Why this server cannot make the curve ("" when it can): an endpoint it lacks."""
        for path, body in (("/apply-template", {"messages": build_messages("def f():\n    pass")}),
                           ("/tokenize", {"content": "x"}), ("/detokenize", {"tokens": []})):
            try:
                answer = requests.post(f"{self.base_url}{path}", json=body, timeout=self.timeout)
            except requests.RequestException as exc:
                return f"{path} failed ({exc})"
            if answer.status_code != 200:
                return f"the server has no {path} (HTTP {answer.status_code}): not a llama-server"
        return ""

    def tokens(self, text: str, special: bool = False) -> list[int]:
        if (text, special) not in self.tokenized:
            self.tokenized[text, special] = list(self._post("/tokenize", {"content": text, "add_special": False,
                                                                          "parse_special": special})["tokens"])
        return self.tokenized[text, special]

    def text(self, tokens: list[int]) -> str:
        return str(self._post("/detokenize", {"tokens": tokens})["content"])

    def prompt(self, task_prompt: str) -> list[int]:
        """The chat request's prompt as the server tokenizes it (BOS and the template's special tokens)."""
        if task_prompt not in self.templates:
            rendered = self._post("/apply-template", {"messages": build_messages(task_prompt)})["prompt"]
            self.templates[task_prompt] = list(self._post("/tokenize", {"content": rendered, "add_special": True,
                                                                        "parse_special": True})["tokens"])
        return self.templates[task_prompt]

    def complete(self, tokens: list[int], n_predict: int) -> tuple[str, str, int, dict]:
        """(content, finish_reason, tokens generated, timings) of a greedy completion of `tokens`."""
        body = {**self.extra, "prompt": tokens, "n_predict": max(0, n_predict), "temperature": 0.0, "top_p": 0.95}
        answer = self._post("/completion", body)
        limited = answer.get("stop_type") == "limit" or bool(answer.get("stopped_limit"))
        return (str(answer.get("content") or ""), "length" if limited else "stop",
                int(answer.get("tokens_predicted") or 0), answer.get("timings") or {})


class CurvePoint(Generation):
    """One point of the curve (see the module's docstring): the long run's answers that finished thinking
    within the budget taken, the others continued after the forced end of thinking, journaled and resumable
    as any generation."""

    def __init__(self, job: GenerationJob, log: logging.Logger, long_records: list[dict], counts: dict[str, int],
                 think: int, long_max: int, message: str, opened: bool, continuation: Continuation,
                 real: bool = False) -> None:
        super().__init__(job, log)
        self.real = real  # ask the cut answers as real runs at the budget (after a failed spot check)
        self.long = {key_of(r): r for r in long_records}
        self.counts = counts
        self.think = think
        self.long_max = long_max
        self.message = message
        self.opened = opened
        self.continuation = continuation
        self.forced: list[int] | None = None
        self.taken_count = 0
        self.decoded = self.prefilled = 0  # tokens the continued answers generated, and their prompts
        self.lock = threading.Lock()

    def take(self, journal: Journal) -> None:
        for key in self.job.keys:
            record = self.long.get(key)
            if key in self.done or record is None or not taken_as_is(record, self.counts.get(key, 0), self.think):
                continue
            taken = {**record, "taken": f"from the {self.long_max}-token run: it finished thinking within "
                                       f"{self.think} tokens"}
            journal.append(taken)
            self.done[key] = taken
            self.taken_count += 1
            self.progress.update()
        if self.taken_count:
            self.log.info(f"thinking budget {self.think}: {self.taken_count} answers finished thinking within it "
                          "(taken as they are)")

    def _forced(self) -> list[int]:
        """The tokens the server forces when the budget runs out: the message, then the closing tag."""
        if self.forced is None:
            message = self.continuation.tokens(self.message) if self.message else []
            self.forced = message + self.continuation.tokens(CLOSE, special=True)
        return self.forced

    def real_run(self, key: str) -> dict:
        """The answer of a real run at this budget: the chat request with the server's per-request budget."""
        job = self.job
        task_id, _ = split_key(key)
        problem = job.dataset.problems[task_id]
        body = {**job.request.body(problem["prompt"], task_id), BUDGET_FIELD: self.think}
        record = _record(task_id, problem, job.client.complete(body), job.request.style)
        record["continued"] = f"asked at a thinking budget of {self.think} tokens (the server's {BUDGET_FIELD})"
        with self.lock:  # a real run generates its thinking too: counted in what the curve cost
            self.decoded += record.get("completion_tokens") or 0
            self.prefilled += record.get("prompt_tokens") or 0
        return record

    def spot_check(self) -> dict:
        """SPOT_CHECK continued answers (the longest thinkers first) against real runs at this budget."""
        continued = [k for k in self.job.keys if "continued" in self.done.get(k, {})]
        keys = sorted(continued, key=lambda k: -self.counts.get(k, 0))[:SPOT_CHECK]
        differing, ignored = [], []
        for key in keys:
            real, ours = self.real_run(key), self.done[key]
            if len(self.continuation.tokens(real.get("reasoning") or "")) > self.think + len(self._forced()) + 8:
                ignored.append(key)  # it thought past the budget: the server ignores the field
            elif (real["raw_solution"], real["finish_reason"]) != (ours["raw_solution"], ours["finish_reason"]):
                differing.append(key)
        outcome = "unsupported" if ignored else "failed" if differing else "passed" if keys else "none"
        return {"checked": len(keys), "outcome": outcome, "differing": differing, "ignored": ignored}

    def _ask(self, key: str) -> dict:
        """The answer after the thinking cut at the budget (in a worker thread)."""
        if self.real:
            try:
                return self.real_run(key)
            except BaseException:
                self.job.pool.stop.set()
                raise
        job, continuation = self.job, self.continuation
        task_id, _ = split_key(key)
        problem = job.dataset.problems[task_id]
        long = self.long.get(key, {})
        started = time.monotonic()
        try:
            thought = continuation.tokens(long.get("reasoning") or "")[: self.think]
            # the model's own opening, as models write it ("<think>\n"; the servers' parsers strip the newline
            # from the reasoning they return); a template that opened the thinking has it in the prompt
            opening = [] if self.opened else continuation.tokens(OPEN, special=True) + continuation.tokens("\n")
            forced = self._forced()
            prompt = continuation.prompt(problem["prompt"]) + opening + thought + forced
            content, finish, generated, timings = continuation.complete(
                prompt, self.long_max - len(thought) - len(forced))
        except BaseException:
            job.pool.stop.set()
            raise
        with self.lock:
            self.decoded += generated
            self.prefilled += len(prompt)
        reasoning = continuation.text(thought) + (self.message if self.message else "")
        raw = job.request.style.solution(problem["prompt"], content)
        return _record_fields(
            task_id, solution=sanitize(raw, problem["entry_point"]), raw=raw, reasoning=reasoning, finish=finish,
            empty=not content.strip(), prompt_tokens=len(prompt) - len(thought) - len(forced),
            completion_tokens=len(thought) + len(forced) + generated, latency=time.monotonic() - started,
            timings={k: v for k, v in timings.items() if isinstance(v, (int, float))},
            continued=f"from the {self.long_max}-token run: its thinking cut at {self.think} tokens, then the "
                      "answer after the forced end of thinking")


def make_curve(session, runs, long) -> dict:
    """Every point of a profile's curve from its long run (made, or kept where already made): the main
    run's manifest `curve` section (budgets, whether auto, per point what it took and cost, or why none)."""
    from ..samples import read_records
    from .reasoning import reasoning_counts

    profile, log = runs.profile, session.log
    if profile.curve_budgets == ():
        return {}
    if profile.sampled:
        return {"skipped": "sampled answers: the curve is taken from greedy thinking, the same prefix at every budget"}
    continuation = Continuation(session.server.base_url, profile.request_timeout, extra=dict(session.server.extra_body))
    missing = continuation.missing()
    if missing:
        log.info(f"no thinking-budget curve: {missing}")
        return {"skipped": missing}
    records = read_records(long.folder.samples)
    counts, source = reasoning_counts(records, session.count)
    if not counts:
        log.info(f"no thinking-budget curve: {source}")
        return {"skipped": source}
    auto = auto_budgets(list(counts.values()), long.max_tokens) if profile.curve_budgets is None else None
    budgets = runs.curve_budgets(long, auto)
    if budgets:
        log.info(f"the thinking-budget curve from the {long.max_tokens}-token run: {', '.join(map(str, budgets))} "
                 f"tokens of thinking{' (chosen from its reasoning lengths)' if auto is not None else ''}")
    points = {}
    for think in budgets:
        point = runs.point(long, think)
        if point.generated:
            points[str(think)] = point.record().curve
            continue
        points[str(think)] = info = _make_point(session, runs, long, point, records, counts, continuation)
        log.info(f"thinking budget {think}: {info['taken']} taken, {info['continued']} continued "
                 f"({info['decoded']:,} tokens generated where a separate run would generate "
                 f"{info['separate_run_tokens']:,}); spot check {info['spot_check']['outcome']}")
    return {"budgets": budgets, "auto": auto is not None, "source": source, "points": points}


def _make_point(session, runs, long, point, records, counts, continuation) -> dict:
    """One point: made by continuation, spot-checked against real runs at its budget (all asked that way
    when one differs), its manifest written; its curve facts."""
    from ..manifest import write_generation
    from ..samples import read_records

    profile, log = runs.profile, session.log

    def maker(real: bool) -> CurvePoint:
        return CurvePoint(session.job(point, label=f"thinking {point.think}", primary=True), log, records, counts, point.think,
                          long.max_tokens, profile.reasoning_budget_message, session.client.opened_thinking,
                          continuation, real=real)

    made = maker(False)
    summary = made.run()
    spot = made.spot_check()
    spent = [made]  # every pass's tokens count in the cost: the continuation and its spot check, then real runs
    if spot["outcome"] == "failed":
        log.warning(f"thinking budget {point.think}: {len(spot['differing'])} of {spot['checked']} spot-checked answers "
                    f"differ from a real run at that budget (first: {spot['differing'][0]}): asking every cut answer "
                    "that way instead")
        point.folder.samples.unlink()
        made = maker(True)
        summary = made.run()
        spent.append(made)
    elif spot["outcome"] == "unsupported":
        log.warning(f"thinking budget {point.think}: the server ignores the request's `{BUDGET_FIELD}` (its answers "
                    "think past it): the continued answers stand unchecked")
    written = read_records(point.folder.samples)
    info = {"think": point.think, "taken": sum("taken" in r for r in written),
            "continued": sum("continued" in r for r in written), "decoded": sum(m.decoded for m in spent),
            "prefilled": sum(m.prefilled for m in spent),
            "separate_run_tokens": sum(r.get("completion_tokens") or 0 for r in written),
            "spot_check": spot, "asked_at_budget": made.real}
    write_generation(point.folder, session.record(point, summary, curve=info))
    return info
