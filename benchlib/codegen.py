"""Generating one solution per problem through a chat-completions endpoint, exactly as evalplus asks.

The request is evalplus 0.3.1's `openai` backend request (system message, instruction prefix, greedy,
top_p 0.95, n 1, max_tokens), so scores stay comparable with the leaderboard. Each finished sample is
appended durably to a journal; a rerun resumes at the first unfinished problem.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

from .client import ChatClient, Completion
from .datasets import Dataset
from .errors import BenchError, GenerationError
from .layout import ProfilePaths
from .progress import Progress
from .storage import Journal, atomic_write_text

__all__ = ["SYSTEM_MESSAGE", "INSTRUCTION_PREFIX", "PROMPT_VERSION", "build_messages", "request_body",
           "generate_samples", "GenerationSummary", "probe_token_cap"]

PROBE_TOKENS = 4
VOLATILE = ("latency", "timings")  # per-request measurements, not model output
PROMPT_VERSION = "evalplus-0.3.1-openai-chat"  # bump with any change to the request below
SYSTEM_MESSAGE = "You are a helpful assistant good at coding."
INSTRUCTION_PREFIX = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
)


def build_messages(task_prompt: str) -> list[dict]:
    user = INSTRUCTION_PREFIX + f"\n```python\n{task_prompt.strip()}\n```"
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def request_body(model: str, task_prompt: str, max_tokens: int, extra: dict | None = None) -> dict:
    """evalplus's greedy request; `extra` holds fields a server backend adds (e.g. cache_prompt)."""
    body = {
        "messages": build_messages(task_prompt),
        "model": model,
        "max_tokens": max_tokens,
        "n": 1,
        "temperature": 0.0,
        "top_p": 0.95,
    }
    body.update(extra or {})
    return body


@dataclass
class GenerationSummary:
    samples: int
    generated_now: int
    seconds: float
    completion_tokens: int
    hit_token_limit: int
    empty_answers: int


def probe_token_cap(client: ChatClient, model: str, task_prompt: str, extra: dict | None) -> dict:
    """Which request field caps the answer's length on this server (evalplus sends `max_tokens`; some
    servers honour only `max_completion_tokens`). One tiny request with each, first match wins."""
    for field in ("max_tokens", "max_completion_tokens"):
        body = request_body(model, task_prompt, PROBE_TOKENS, extra)
        if field != "max_tokens":
            body[field] = PROBE_TOKENS
        completion = client.complete(body)
        if completion.completion_tokens is not None and completion.completion_tokens <= PROBE_TOKENS:
            return {"field": field, "honoured": True}
        if completion.completion_tokens is None:
            return {"field": "max_tokens", "honoured": None}  # no usage reported: cannot tell
    return {"field": "max_tokens", "honoured": False}


def _sanitize(content: str, entry_point: str) -> str:
    from evalplus.sanitize import sanitize

    return sanitize(content, entrypoint=entry_point)


def _record(task_id: str, entry_point: str, completion: Completion) -> dict:
    return {
        "task_id": task_id,
        "solution": _sanitize(completion.content, entry_point),
        "raw_solution": completion.content,
        "reasoning": completion.reasoning,
        "finish_reason": completion.finish_reason,
        "empty_answer": completion.content_was_empty,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "latency": round(completion.latency, 3),
        "timings": completion.timings,
    }


def generate_samples(
    dataset: Dataset,
    paths: ProfilePaths,
    client: ChatClient,
    model: str,
    max_tokens: int,
    parallel: int,
    header: dict,
    extra_body: dict | None,
    log: Callable[[str], None],
    label: str = "generate",
) -> GenerationSummary:
    """Fill paths.samples_journal until every task has a sample, then write paths.samples atomically."""
    started = time.monotonic()
    with Journal(paths.samples_journal, header) as journal:
        done = {r["task_id"]: r for r in journal if r.get("task_id") in dataset.problems}
        pending = [t for t in dataset.task_ids if t not in done]
        if done:
            log(f"resuming: {len(done)} of {len(dataset.problems)} samples already generated")
        # longest prompts first: the long requests start early and the batch drains evenly
        pending.sort(key=lambda t: -len(dataset.problems[t]["prompt"]))
        progress = Progress(label, len(dataset.problems), done=len(done))
        failure: BaseException | None = None
        stop = client.stop
        pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="gen")

        def work(task_id: str) -> dict:
            problem = dataset.problems[task_id]
            completion = client.complete(request_body(model, problem["prompt"], max_tokens, extra_body))
            return _record(task_id, problem["entry_point"], completion)

        try:
            queue = iter(pending)
            running = {}
            for task_id in queue:
                running[pool.submit(work, task_id)] = task_id
                if len(running) >= parallel:
                    break
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    task_id = running.pop(future)
                    try:
                        record = future.result()
                    except BaseException as exc:  # noqa: BLE001 - keep the others' work, then report
                        failure = failure or exc
                        stop.set()
                        continue
                    if failure is None:  # refill the server's slot first, then do the bookkeeping
                        next_task = next(queue, None)
                        if next_task is not None:
                            running[pool.submit(work, next_task)] = next_task
                    journal.append(record)
                    done[task_id] = record
                    progress.update(tokens=record.get("completion_tokens") or 0)
                    log(f"{task_id}: {record['finish_reason']}, {record['completion_tokens']} tokens, "
                        f"{record['latency']:.1f} s")
        except BaseException:
            # Ctrl-C or SIGTERM: don't wait for requests in flight; stopping the server ends them
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            progress.close()
        pool.shutdown(wait=True)
        if failure is not None:
            if isinstance(failure, BenchError):
                raise GenerationError(
                    f"{failure.message} ({len(done)} of {len(dataset.problems)} samples kept)", failure.tip
                ) from None
            raise failure
    records = [done[t] for t in dataset.task_ids]
    # samples.jsonl holds only what the model produced (identical across reproducible reruns);
    # the per-request measurements go beside it
    atomic_write_text(paths.generation_stats, "".join(
        _json_line({"task_id": r["task_id"], **{k: r[k] for k in VOLATILE if k in r}}) for r in records))
    atomic_write_text(paths.samples, "".join(
        _json_line({k: v for k, v in r.items() if k not in VOLATILE}) for r in records))
    paths.samples_journal.unlink(missing_ok=True)
    tokens = sum(r.get("completion_tokens") or 0 for r in records)
    return GenerationSummary(
        samples=len(records),
        generated_now=len(pending),
        seconds=round(time.monotonic() - started, 1),
        completion_tokens=tokens,
        hit_token_limit=sum(r.get("finish_reason") == "length" for r in records),
        empty_answers=sum(bool(r.get("empty_answer")) for r in records),
    )


def _json_line(record: dict) -> str:
    import json

    return json.dumps(record) + "\n"
