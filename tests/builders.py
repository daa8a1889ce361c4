"""Files as benchlib writes them now, built without a server or a sandbox (samples, an evaluated run), and
the stages run directly with keyword arguments (`generation`, `evaluation`)."""

from __future__ import annotations

import json
from pathlib import Path

# task -> solution body replacing the canonical one; covers wrong, crashing, slow and odd solutions
MIXED = {
    "HumanEval/0": "    return True\n",  # wrong
    "HumanEval/2": "    raise ValueError('boom')\n",  # crashes
    "HumanEval/3": "    while True:\n        pass\n",  # infinite loop: per-test time limit
    "HumanEval/4": "    import time\n    time.sleep(30)\n",  # sleeps
    "HumanEval/5": "    return numbers  # wrong on most inputs\n",
    "HumanEval/7": "    return [s for s in strings if substring in s][:1]\n",  # base right on some, plus wrong
    "HumanEval/10": "  syntax error here\n",  # does not parse
    "HumanEval/12": "    import sys\n    sys.exit(0)\n",  # exits inside the call
    "HumanEval/13": "    print('noise' * 1000)\n    return 1\n",  # prints, wrong for most
    "HumanEval/16": "    return len(set(string.lower()))  # correct, different code\n",
    "HumanEval/20": "    return tuple(sorted(numbers)[:2])  # wrong\n",
    "HumanEval/23": "    return len(string) if len(string) < 50 else sum(1 for _ in range(10**8))\n",  # slow on large
    "HumanEval/26": "    import numpy as np\n    return list(np.unique(numbers))  # wrong order semantics\n",
    "HumanEval/31": "    return n > 1 and all(n % k for k in range(2, n))  # correct but slow on big primes\n",
    "HumanEval/35": "    import numpy as np\n    return np.max(l)  # numpy scalar\n",
    "HumanEval/53": "    return float(x + y)  # float instead of int: equal\n",
    "HumanEval/55": "    return (lambda f, n: f(f, n))(lambda f, n: n if n < 2 else f(f, n - 1) + f(f, n - 2), n)\n",
}


def write_samples(dataset, path: Path, overrides: dict | None = None) -> Path:
    """A samples file with the canonical solution of every task, except the bodies in `overrides`."""
    overrides = overrides or {}
    with open(path, "w") as handle:
        for task_id in dataset.task_ids:
            problem = dataset.problems[task_id]
            body = overrides.get(task_id, problem["canonical_solution"])
            handle.write(json.dumps({"task_id": task_id, "solution": problem["prompt"] + body}) + "\n")
    return path


def fake_evaluation(results: Path, profile: str, outcomes: dict, *, dataset: str = "humaneval", md5: str = "d",
                    tokens_per_second: float | None = None, finish: dict | None = None,
                    sandboxed: bool = True, answers: dict | None = None, subset: int = 0,
                    sampling: dict | None = None, legacy: bool = False) -> Path:
    """An evaluated profile without running anything, in the files benchlib writes now (each failure as
    data, `verdicts.Failure`, beside its sentence): outcomes maps task -> (base ok, plus ok, what failed: a
    Failure's sentence, e.g. "raised ValueError"), or to a list of those for sampled answers; `finish` maps task -> finish_reason recorded in its samples
    file, `answers` task -> its answer's text (or a list: each answer's). `subset`: the run folder of that
    subset; `sampling`: the manifest's sampling settings, as generation writes them (seeded answers, each
    record with its sample_index). `legacy`: as benchlib wrote it before failures were data (EVAL_VERSION 2:
    the sentence only, read back through `Failure.from_legacy`)."""
    from benchlib.evaluation.scoring import pass_at_k
    from benchlib.results import run_folder

    paths = run_folder(results, profile, dataset, subset)
    paths.root.mkdir(parents=True, exist_ok=True)
    finish, answers = finish or {}, answers or {}
    from benchlib.evaluation.verdicts import Failure
    from benchlib.fingerprints import EVAL_VERSION, evaluation_header

    def phase(name: str, ok: bool, detail: str) -> dict:
        failure = None if ok else Failure.from_legacy("fail", detail)
        words = {f"{name}_status": failure.status if failure else "pass", f"{name}_detail": failure.sentence if failure else ""}
        return words if legacy else {**words, f"{name}_fail_tests": [], f"{name}_failure": failure.to_json() if failure else None}

    per_task = {}
    for task, value in outcomes.items():
        per_task[task] = [{"task_id": task, **phase("base", base, detail), **phase("plus", plus, detail),
                           "solution": "def f(): pass"} for base, plus, detail in (value if isinstance(value, list) else [value])]
    with open(paths.samples, "w") as handle:
        for task, records in per_task.items():
            for index in range(len(records)):
                text = answers.get(task, "def f(): pass")
                handle.write(json.dumps({"task_id": task, **({"sample_index": index} if sampling else {}),
                                         "solution": "def f(): pass",
                                         "raw_solution": text[index] if isinstance(text, list) else text,
                                         "finish_reason": finish.get(task, "stop"), "completion_tokens": 100}) + "\n")
    n = len(per_task)
    scores = {"base": round(100 * sum(sum(r["base_status"] == "pass" for r in rs) / len(rs) for rs in per_task.values()) / n, 1),
              "plus": round(100 * sum(sum(r["base_status"] == r["plus_status"] == "pass" for r in rs) / len(rs)
                                      for rs in per_task.values()) / n, 1)}
    paths.eval_results.write_text(json.dumps({
        "eval_version": 2 if legacy else EVAL_VERSION, "header": {**evaluation_header(dataset), **({"eval_version": 2} if legacy else {})},
        "hash": md5,
        "pass_at_1": scores, **({"pass_at_k": pass_at_k(per_task)} if pass_at_k(per_task) else {}),
        "n_tasks": n, "n_samples": sum(len(records) for records in per_task.values()),
        "eval": per_task, "dataset": {"md5": md5, "tasks": n}, "samples": str(paths.samples),
        "date": "2026-11-26 00:00 UTC", "eval_seconds": 1.0,
        "sandbox": {"backend": "local" if sandboxed else "unsafe", "sandboxed": sandboxed, "label": "test"}}))
    if tokens_per_second is not None or sampling:
        from benchlib.manifest import GenerationRecord, write_generation

        write_generation(paths, GenerationRecord(tokens_per_second=tokens_per_second, seconds=10, sampling=sampling or {}))
    return paths.root


def few_tasks(dataset, task_ids: list[str], folder: Path):
    """A dataset file of only these tasks (a unit test's ground truth is then computed in a moment)."""
    from benchlib.datasets import load_dataset

    path = Path(folder) / f"{dataset.spec.name}-few-{len(task_ids)}.jsonl"
    path.write_text("".join(json.dumps(dataset.problems[t]) + "\n" for t in task_ids))
    return load_dataset(dataset.spec.key, override=str(path))


_MUTATIONS = [(r"<=", "<"), (r"(?<![<>=!])<(?![<=])", "<="), (r">=", ">"), (r"(?<![<>=!-])>(?![>=])", ">="),
              (r"==", "!="), (r"\+ 1\b", "+ 2"), (r"- 1\b", "+ 1"), (r"\[1:\]", "[2:]"), (r"\[:-1\]", "[:-2]"),
              (r"\band\b", "or"), (r"\bor\b", "and"), (r"\bTrue\b", "False"), (r"\bFalse\b", "True"),
              (r"\bmax\(", "min("), (r"\bmin\(", "max("), (r"range\(len\(", "range(1, len("),
              (r"\.append\(", ".insert(0, "), (r"= 0\b", "= 1")]


def mutated(body: str, seed: int) -> str | None:
    """`body` with one mutation (an off-by-one, a flipped comparison, ...) chosen by `seed`; None if none applies."""
    import random
    import re

    rng = random.Random(seed)
    choices = [(pattern, new, m) for pattern, new in _MUTATIONS for m in re.finditer(pattern, body)]
    if not choices:
        return None
    pattern, new, match = rng.choice(choices)
    return body[:match.start()] + re.sub(pattern, new, match.group(0)) + body[match.end():]


def model_like_samples(dataset, path: Path, broken: dict[str, str], reasoning: bool = False,
                       answers: int = 1, seed: int = 0) -> Path:
    """A samples file in benchlib's format (solution, raw_solution, finish_reason, tokens): every task's
    canonical solution, except `broken` (task -> "mutate", "cut" or "prose"). `answers` > 1 writes that many
    per task (each later one mutated with probability 1/3: sampled answers); `reasoning` adds a reasoning text."""
    import random

    rng = random.Random(seed)
    with open(path, "w") as handle:
        for number, task_id in enumerate(dataset.task_ids):
            problem = dataset.problems[task_id]
            for index in range(answers):
                how = broken.get(task_id) if index == 0 else ("mutate" if rng.random() < 1 / 3 else None)
                body, finish = problem["canonical_solution"], "stop"
                if how == "mutate":
                    body = mutated(body, seed * 7919 + number * 31 + index) or body.replace("return", "return None #", 1)
                elif how == "cut":
                    body, finish = body[: max(8, len(body) // 2)], "length"
                code = problem["prompt"] + body
                raw = (f"Here is the solution:\n```python\n{code}\n```\nIt handles the examples in the docstring."
                       if how != "prose" else "I am not sure how to solve this problem. Could you give more examples?")
                record = {"task_id": task_id, "solution": code if how != "prose" else "", "raw_solution": raw,
                          "finish_reason": finish, "empty_answer": False, "prompt_tokens": len(problem["prompt"]) // 4,
                          "completion_tokens": 768 if finish == "length" else len(raw) // 4,
                          "latency": round(0.5 + len(raw) / 900, 3)}
                if reasoning:
                    record["reasoning"] = (f"Let me think about {problem['entry_point']}. " * 40 +
                                           "The docstring's examples pin the edge cases. " * 30)
                handle.write(json.dumps(record) + "\n")
    return path


def broken_tasks(dataset, fraction: float, seed: int, keep: dict[str, str] | None = None, changes: int = 0) -> dict[str, str]:
    """Which tasks a model-like profile breaks and how: `fraction` of them, or (`keep` given) `keep` with
    `changes` of its broken tasks fixed and `changes` * 2 others broken (what a lower quant does)."""
    import random

    rng = random.Random(seed)
    tasks = dataset.task_ids
    if keep is None:
        chosen = rng.sample(tasks, round(fraction * len(tasks)))
        return {t: rng.choices(["mutate", "cut", "prose"], weights=[16, 2, 1])[0] for t in chosen}
    out = dict(keep)
    for task in rng.sample(sorted(out), min(changes, len(out))):
        del out[task]
    for task in rng.sample([t for t in tasks if t not in keep], 2 * changes):
        out[task] = "mutate"
    return out


def generation(dataset, paths, client, *, model: str = "m", max_tokens: int = 768, parallel: int = 2,
               header: dict | None = None, extra: dict | None = None, style: str = "chat", stop_loops: bool = False,
               answers: int = 1, sampling: tuple[float, float] | None = None, reuse=None, log=None):
    """One generation run as the stage runs it (codegen.Generation), its request settings by keyword."""
    from benchlib.generation.codegen import Generation, GenerationJob
    from benchlib.generation.pool import Pool
    from benchlib.generation.prompt import PROMPT_STYLES
    from benchlib.generation.request import Request
    from support import quiet_log

    request = Request(model=model, max_tokens=max_tokens, family=dataset.spec.family, style=PROMPT_STYLES[style],
                      extra=dict(extra or {}), sampling=sampling, stop_loops=stop_loops)
    log = log or quiet_log()
    pool = client if isinstance(client, Pool) else Pool.single(client, parallel, log)
    job = GenerationJob(dataset=dataset, paths=paths, pool=pool, request=request,
                        header=header if header is not None else {}, answers=answers)
    return Generation(job, log, reuse).run()


def evaluation(samples, dataset, paths, sandbox, *, cache, workers: int = 2, log=None, **job) -> dict:
    """One evaluation as the stage runs it (scoring.Evaluation): eval_results.json's content."""
    from benchlib.evaluation.scoring import Evaluation, EvaluationJob
    from support import quiet_log

    return Evaluation(EvaluationJob(samples=Path(samples), dataset=dataset, paths=paths, sandbox=sandbox,
                                    workers=workers, cache=cache, **job), log or quiet_log()).run()
