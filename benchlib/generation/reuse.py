"""Answers a generation need not ask for again: what a change of the token cap leaves as it was
(`plan_reuse`), and what a reasoning model's long run determines for the run at the leaderboard's cap
(`plan_from_longer`). Both hold only for greedy decoding on a reproducible server; a spot check
(`Generation.reuse_answers`) regenerates the longest reusable answers first and cancels the reuse on any
difference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..datasets import Dataset
from ..manifest import read_generation
from ..results import RunFolder
from ..samples import read_records
from .prompt import PromptStyle, sanitize

__all__ = ["ReusePlan", "plan_reuse", "plan_from_longer", "SPOT_CHECK", "MARGIN", "same_answer", "answer_key",
           "split_key", "key_of"]


def answer_key(task_id: str, index: int = 0) -> str:
    """One answer's name: the task for the first (the leaderboard's only one), `<task>#<i>` for the others."""
    return f"{task_id}#{index}" if index else task_id


def split_key(key: str) -> tuple[str, int]:
    task_id, _, index = key.partition("#")
    return task_id, int(index or 0)


def key_of(record: dict) -> str:
    return answer_key(record["task_id"], record.get("sample_index", 0))


SPOT_CHECK = 5  # stopped answers regenerated before the others are reused (see plan_reuse)


@dataclass
class ReusePlan:
    """Answers of the previous samples file that a new token cap would reproduce exactly."""

    old_cap: int
    new_cap: int
    records: dict[str, dict]  # answer key (`answer_key`: task and answer index) -> the old record, as it is
    spot: list[str]  # answer keys of reusable answers to regenerate first: any difference cancels the reuse
    derived: dict[str, dict] = field(default_factory=dict)  # answer key -> its record at the new cap, derived
    not_derived: str = ""  # why nothing could be derived (no count of the reasoning tokens), "" otherwise


MARGIN = 32  # tokens: a reasoning this far past the new cap is past it however the text re-tokenizes


def plan_from_longer(records: list[dict], old_cap: int, new_cap: int, reasoning_tokens: dict[str, int],
                     dataset: Dataset, style: PromptStyle) -> ReusePlan:
    """What a run at `new_cap` can take from a run at a larger `old_cap` (a reasoning model's budget run),
    with greedy decoding on a reproducible server:
    - an answer that ended by itself below `new_cap` is the same at `new_cap` (reused, spot-checked);
    - an answer whose reasoning alone ran past `new_cap` (+ MARGIN, by the server's count) is, at
      `new_cap`, cut while thinking: no answer, finish_reason = length (derived);
    - every other answer is requested again at `new_cap`."""
    reusable, derived = {}, {}
    for record in records:
        key, tokens = key_of(record), record.get("completion_tokens")
        if record.get("finish_reason") == "stop" and isinstance(tokens, int) and tokens < new_cap:
            reusable[key] = record
        elif reasoning_tokens.get(key, 0) >= new_cap + MARGIN and record["task_id"] in dataset.problems:
            derived[key] = _cut_while_thinking(record, old_cap, new_cap, reasoning_tokens[key], dataset, style)
    spot = sorted(reusable, key=lambda t: -(reusable[t].get("completion_tokens") or 0))[:SPOT_CHECK]
    return ReusePlan(old_cap=old_cap, new_cap=new_cap, records=reusable, spot=spot, derived=derived)


def _cut_while_thinking(record: dict, old_cap: int, new_cap: int, reasoning_tokens: int, dataset: Dataset,
                        style: PromptStyle) -> dict:
    """The record a run at `new_cap` gives for an answer still thinking at `new_cap`: no answer (what is
    scored is exactly what that run would score); its reasoning, the first `new_cap` tokens' worth."""
    problem = dataset.problems[record["task_id"]]
    raw = style.solution(problem["prompt"], "")
    thought = record.get("reasoning") or ""
    index = {"sample_index": record["sample_index"]} if "sample_index" in record else {}
    return {"task_id": record["task_id"], **index, "solution": sanitize(raw, problem["entry_point"]), "raw_solution": raw,
            "reasoning": thought[: max(1, len(thought) * new_cap // max(reasoning_tokens, 1))],
            "finish_reason": "length", "empty_answer": True, "prompt_tokens": record.get("prompt_tokens"),
            "completion_tokens": new_cap,
            # where the server reports reasoning tokens, a real run at new_cap would: all of them reasoning
            **({"reasoning_tokens": new_cap} if isinstance(record.get("reasoning_tokens"), int) else {}),
            "derived": f"from the {old_cap}-token run: its reasoning alone ran past {new_cap} tokens"}


def plan_reuse(paths: RunFolder, header: dict, log: logging.Logger) -> ReusePlan | None:
    """With greedy decoding on a reproducible server, an answer that ended by itself (finish_reason =
    stop) in fewer tokens than the new cap is exactly what the new cap would give; only the others need
    the GPU again. Valid only when the samples on disk were made with the same settings but the cap.

    The spot check regenerates the SPOT_CHECK longest of those answers first (a build whose results depend
    on the batch, e.g. a GPU build that is not batch-invariant, shows it in the long answers first, since a
    difference in one step changes every later token); they are requested together with the cut answers,
    which need the GPU anyway, so the check costs about 3% of a full run on HumanEval+."""
    old = read_generation(paths).header
    if not paths.samples.exists() or not old or old == header:
        return None
    if {k: v for k, v in old.items() if k != "max_tokens"} != {k: v for k, v in header.items() if k != "max_tokens"}:
        return None
    if not header.get("reproducible"):
        log.info("the token cap changed, but reproducible = no: answers cannot be reused, regenerating all")
        return None
    new_cap = header["max_tokens"]
    records = {}
    for record in read_records(paths.samples):
        tokens = record.get("completion_tokens")
        if record.get("finish_reason") == "stop" and isinstance(tokens, int) and tokens < new_cap:
            records[key_of(record)] = record
    spot = sorted(records, key=lambda t: -(records[t].get("completion_tokens") or 0))[:SPOT_CHECK]
    return ReusePlan(old_cap=old["max_tokens"], new_cap=new_cap, records=records, spot=spot)


def same_answer(a: dict, b: dict) -> bool:
    """Whether two records hold the same answer (what the model produced, not how long it took)."""
    return _answer(a) == _answer(b)


def _answer(record: dict) -> tuple:
    return tuple(record.get(k) for k in ("raw_solution", "reasoning", "finish_reason", "completion_tokens"))
