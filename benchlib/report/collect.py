"""The report's first step: read the results folder into data. Nothing here computes a statistic or
writes text; every file the report reads is read here (the list is `results.report_inputs`).

    one LocalRow per profile (models.conf's, and any results folder whose profile was removed)
      .runs     one RunRecord per run folder (dataset, or dataset subset): its files and its state
      .results  per evaluated run, the outcomes per problem (analysis.ProfileResults)
    read_answers(run)   every answer of a run, with what generation and evaluation recorded of it
                        (the browsable page's detail; read only when that page is written)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..config import Profile
from ..fingerprints import DETAIL_SINCE
from ..generation.prompt import LEADERBOARD_MAX_TOKENS, PROMPT_STYLES
from ..manifest import GenerationRecord, read_generation
from ..results import (DATASET_KEYS, RunFolder, parse_run_key, profile_names, run_folder, read_or_empty, read_status,
                       run_keys, run_folder_at)
from ..samples import read_records
from ..servers import is_self_test
from .outcomes import ProfileResults, classify, digest

__all__ = ["RunRecord", "LocalRow", "Answer", "collect_local", "read_answers", "is_subset", "is_budget", "is_curve"]


def is_subset(key: str) -> bool:
    """Whether a run folder holds a subset (a smoke test), never ranked among full-dataset scores."""
    parsed = parse_run_key(key)
    return bool(parsed and parsed.subset)


def is_curve(key: str) -> bool:
    """Whether a run folder holds a point of a thinking-budget curve (reported as a curve, never a verdict)."""
    parsed = parse_run_key(key)
    return bool(parsed and parsed.think)


def is_budget(key: str) -> bool:
    """Whether a run folder holds a reasoning model's run at its budget (never ranked on the leaderboard)."""
    parsed = parse_run_key(key)
    return bool(parsed and parsed.budget)


@dataclass
class RunRecord:
    """One run folder of one profile: what its files say, and its state (decided here only)."""

    key: str  # the run folder: a dataset key, or `<dataset>-subset<k>`
    paths: RunFolder
    evaluated: dict  # eval_results.json ({} when missing or damaged)
    status: dict  # status.json: why the last stage failed
    generation: GenerationRecord  # the manifest's (empty when it has none)

    @property
    def subset(self) -> bool:
        return is_subset(self.key)

    @cached_property
    def samples(self) -> dict[str, list[dict]]:
        """The evaluated samples file's records, per task in file order (read once per report)."""
        return _read_samples(Path(self.evaluated.get("samples", "")))

    @property
    def state(self) -> tuple[str, str]:
        """(state, reason): failed, done, partial or not run."""
        if self.status:
            return "failed", f"{self.status.get('stage')}: {self.status.get('reason')}"
        if self.evaluated:
            return "done", ""
        if self.paths.samples.exists():
            return "partial", "samples generated, not yet evaluated"
        if self.paths.samples_journal.exists():
            return "partial", "generation interrupted (rerun to resume)"
        return "not run", ""

    @property
    def sampled(self) -> bool:
        """Sampled answers (pass@k), not the leaderboard's one greedy answer per problem."""
        return bool(self.evaluated.get("pass_at_k")) or bool(self.generation.temperature)

    @property
    def scored(self) -> bool:
        return bool(self.evaluated.get("pass_at_1"))

    @property
    def details_recorded(self) -> bool:
        """Its failures recorded what they showed: input, expected and actual output (DETAIL_SINCE)."""
        version = self.evaluated.get("eval_version")
        return isinstance(version, int) and version >= DETAIL_SINCE

    @property
    def samples_file(self) -> str:
        """The samples file its evaluation scored."""
        return str(self.evaluated.get("samples", ""))

    @property
    def dataset_file(self) -> tuple[str, str]:
        """(dataset key, md5) of the file its evaluation used; ("", "") when not recorded."""
        described = self.evaluated.get("dataset")
        described = described if isinstance(described, dict) else {}
        return str(described.get("name", "")), str(described.get("md5", ""))

    @property
    def sandboxed(self) -> bool:
        return bool(self.evaluated.get("sandbox", {}).get("sandboxed", True))

    def prompted(self, profile: Profile | None) -> bool:
        """Asked with evalplus's chat prompt (as generated; else as the profile says)."""
        style = self.generation.prompt_style or (profile.prompt_style if profile else "chat")
        return PROMPT_STYLES.get(style, PROMPT_STYLES["chat"]).prompted

    @property
    def leaderboard_cap(self) -> bool:
        """Generated with the leaderboard's token cap (or with none recorded)."""
        return self.generation.max_tokens in (None, LEADERBOARD_MAX_TOKENS)

    def details(self) -> dict:
        """The facts the report's profile table shows for this run."""
        state, reason = self.state
        sandbox = self.evaluated.get("sandbox", {})
        return {
            "state": state + (f": {reason}" if reason else ""),
            "reused": self.generation.reuse,
            "pass@1": self.evaluated.get("pass_at_1"),
            "hit_token_limit": self.generation.hit_token_limit,
            "empty_answers": self.generation.empty_answers,
            "gen_seconds": self.generation.seconds,
            "tokens_per_second": self.generation.tokens_per_second,
            "eval_seconds": self.evaluated.get("eval_seconds"),
            "sandbox": sandbox.get("label") or sandbox.get("backend"),
            "host": self.generation.host,
        }


@dataclass
class LocalRow:
    """One local profile, over all its run folders."""

    profile: str
    description: str = ""
    quant: str = ""
    scores: dict[str, float | None] = field(default_factory=dict)  # "humaneval", "humaneval+", ... (full runs)
    state: str = "not run"  # done | failed | not run | partial
    reason: str = ""
    date: str = ""
    comparable: bool = True
    sandboxed: bool = True  # False when any of its evaluations ran without isolation
    prompted: bool = True  # evalplus's chat prompt; False: its base (completion) prompt
    reference: str = ""  # the profile its answers are compared with (models.conf's reference_profile)
    details: dict[str, dict] = field(default_factory=dict)  # per run: token limit hits, timings
    results: dict[str, ProfileResults] = field(default_factory=dict)  # per run, when evaluated
    runs: list[RunRecord] = field(default_factory=list)


def _read_samples(path: Path) -> dict[str, list[dict]]:
    """Every record of a samples file, per task in file order ({} when missing or not a jsonl file;
    damaged lines skipped)."""
    records: dict[str, list[dict]] = {}
    try:
        for record in read_records(path, skip_damaged=True):
            records.setdefault(record["task_id"], []).append(record)
    except (OSError, UnicodeDecodeError):
        pass
    return records


def _first_records(records: dict[str, list[dict]]) -> tuple[dict[str, dict], float | None]:
    """The first record of each task of a samples file, and the mean completion tokens of all its answers."""
    tokens = [r["completion_tokens"] for task in records.values() for r in task
              if isinstance(r.get("completion_tokens"), int)]
    return {task: found[0] for task, found in records.items()}, (sum(tokens) / len(tokens) if tokens else None)


@dataclass(frozen=True)
class Answer:
    """One answer of one profile to one problem: the program judged, what the model wrote, and what
    generation (`sample`, the samples file's record; {} when it has none) and evaluation (`verdict`,
    eval_results.json's record) recorded of it."""

    verdict: dict
    sample: dict

    @property
    def solution(self) -> str:
        return str(self.verdict.get("solution", self.sample.get("solution", "")))

    @property
    def raw(self) -> str | None:
        raw = self.sample.get("raw_solution")
        return raw if isinstance(raw, str) else None

    @property
    def reasoning(self) -> str | None:
        reasoning = self.sample.get("reasoning")
        return reasoning if isinstance(reasoning, str) and reasoning else None

    def failing_input(self, phase: str) -> str | None:
        """evalplus's `<phase>_fail_tests` entry: the failing input, shortened (what older files recorded)."""
        tests = self.verdict.get(f"{phase}_fail_tests")
        return tests[0] if isinstance(tests, list) and tests and isinstance(tests[0], str) else None


def read_answers(run: RunRecord) -> dict[str, list[Answer]]:
    """Every answer of an evaluated run, per problem in dataset order: eval_results.json's records beside
    the samples file's (the same order: the evaluation keeps the file's)."""
    per_task = run.evaluated.get("eval")
    if not isinstance(per_task, dict):
        return {}
    samples = run.samples
    answers: dict[str, list[Answer]] = {}
    for task, verdicts in per_task.items():
        if not isinstance(verdicts, list):
            continue
        written = samples.get(task, [])
        answers[task] = [Answer(v, _same_answer(v, written[i] if i < len(written) else {}))
                         for i, v in enumerate(verdicts) if isinstance(v, dict)]
    return answers


def _same_answer(verdict: dict, sample: dict) -> dict:
    """The samples file's record when it is the judged answer's ({} when the file changed since)."""
    solution = sample.get("solution")
    return sample if solution is None or solution == verdict.get("solution", solution) else {}


def _read_run(results: Path, name: str, key: str) -> RunRecord:
    paths = run_folder_at(results, name, key)
    return RunRecord(key=key, paths=paths, evaluated=read_or_empty(paths.eval_results), status=read_status(paths),
                     generation=read_generation(paths))


def _sampling(generation: GenerationRecord) -> tuple | None:
    """The settings that decide a sampled answer's seed and draw, as generated (None: not recorded)."""
    sampling = generation.sampling
    if "seed" not in sampling:
        return None
    return sampling.get("temperature"), sampling.get("top_p"), str(sampling.get("seed"))


def _outcomes(name: str, run: RunRecord, comparable: bool, self_test: bool, prompted: bool) -> ProfileResults | None:
    try:
        per_task = run.evaluated["eval"]
        samples, tokens = _first_records(run.samples)
        outcomes = {task: classify(records[0], samples.get(task)) for task, records in per_task.items() if records}
        answers = max((len(records) for records in per_task.values()), default=1)
        rates, each, indices, digests = {}, {}, {}, {}
        if answers > 1:  # sampled: each answer's outcome, by seed index, and the problems' pass rates
            for task, records in per_task.items():
                if not records:
                    continue
                written = run.samples.get(task, [])
                base = [r.get("base_status") == "pass" for r in records]
                plus = [b and r.get("plus_status") == "pass" for b, r in zip(base, records)]
                order = sorted(range(len(records)), key=lambda i: _index_of(written, i))
                each[task] = tuple((base[i], plus[i]) for i in order)
                indices[task] = tuple(_index_of(written, i) for i in order)
                digests[task] = tuple(digest(_text_of(written, records, i)) for i in order)
                rates[task] = (sum(base) / len(records), sum(plus) / len(records))
    except (KeyError, TypeError, IndexError, AttributeError):
        return None
    return ProfileResults(profile=name, dataset=run.key, dataset_md5=run.evaluated.get("dataset", {}).get("md5", ""),
                          outcomes=outcomes, tokens_per_second=run.generation.tokens_per_second,
                          sandboxed=run.sandboxed, comparable=comparable, self_test=self_test, prompted=prompted,
                          rates=rates, answers=answers, pass_at_k=run.evaluated.get("pass_at_k") or {},
                          tokens_per_answer=tokens,
                          first_answers={t: r.get("raw_solution", r.get("solution")) for t, r in samples.items()},
                          answer_outcomes=each, answer_indices=indices, answer_digests=digests,
                          sampling=_sampling(run.generation))


def _index_of(written: list[dict], position: int) -> int:
    """An answer's seed index: the samples file's `sample_index`, else its position among the task's answers."""
    index = written[position].get("sample_index") if position < len(written) else None
    return index if isinstance(index, int) else position


def _text_of(written: list[dict], records: list[dict], position: int) -> str:
    """What the model wrote (the raw response where the samples file has it, else the judged program)."""
    record = written[position] if position < len(written) else {}
    return str(record.get("raw_solution", record.get("solution", records[position].get("solution", ""))))


def _row(name: str, profile: Profile | None, results: Path) -> LocalRow:
    row = LocalRow(profile=name, description=profile.description if profile else "(no longer in models.conf)",
                   reference=profile.reference_profile if profile else "",
                   quant=profile.quant_label if profile else "", comparable=profile.comparable if profile else True)
    self_test = bool(profile and is_self_test(profile))
    for key in dict.fromkeys([*DATASET_KEYS, *run_keys(results, name)]):
        run = _read_run(results, name, key)
        row.runs.append(run)
        if run.scored:
            if not run.subset and not is_budget(run.key) and not run.sampled:  # ranked: the leaderboard's measurement
                row.scores[key] = run.evaluated["pass_at_1"]["base"]
                row.scores[key + "+"] = run.evaluated["pass_at_1"]["plus"]
                row.state = "done"
                row.date = run.evaluated.get("date", "")[:10]
            elif row.state == "not run":
                row.state = "done"
            row.sandboxed = row.sandboxed and run.sandboxed
            row.comparable = row.comparable and run.leaderboard_cap
            row.prompted = row.prompted and run.prompted(profile)
            analysed = _outcomes(name, run, row.comparable, self_test, run.prompted(profile))
            if analysed is not None:
                row.results[key] = analysed
        state, reason = run.state
        if not run.subset and not is_budget(run.key) and state in ("failed", "partial"):
            row.state, row.reason = state, reason
        if run.evaluated or run.generation.made or run.status:
            row.details[key] = run.details()
    return row


def collect_local(profiles: dict[str, Profile], results: Path) -> list[LocalRow]:
    """One row per profile in models.conf, and per results folder whose profile was removed."""
    results = Path(results)
    names = list(profiles) + [name for name in profile_names(results) if name not in profiles
                               and any(run_folder(results, name, key).eval_results.exists() for key in DATASET_KEYS)]
    return [_row(name, profiles.get(name), results) for name in names]
