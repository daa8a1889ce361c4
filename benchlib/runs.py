"""Which runs a profile makes, in one place: their folders, what each asks the server, and what doit knows
of them (targets, dependencies, what `doit clean` removes). dodo.py, the generation and evaluation stages
and the report's collection all ask this module; none decides it again.

For the run's dataset and subset, a profile makes:

    main   results/<profile>/<dataset>[-subset<k>]/            at max_tokens (the leaderboard's 768): always
    long   results/<profile>/<dataset>[-subset<k>]-budget<n>/  a reasoning model's run at its budget n, made
           first; the main run takes from it what it determines (generation.reuse.plan_from_longer)
    curve  .../<dataset>[-subset<k>]-budget<n>-think<b>/       a point of its thinking-budget curve: what a
           run at n tokens with at most b of thinking (llama-server's --reasoning-budget b) answers, taken
           from the long run (generation.curve): one per budget of `thinking_budgets`, or (auto) the
           budgets chosen from the long run's reasoning lengths, recorded in the main run's manifest

The long run exists where `reasoning_budget` > max_tokens (configured, known when doit builds its tasks),
or, with reasoning_budget = 0 (auto), where the token-cap probe finds a reasoning model at run time
(DEFAULT_REASONING_BUDGET): then the main run's manifest records it (`GenerationRecord.reasoning_budget`)
and from the next task creation on it is a doit target and dependency like a configured one; the stage
that made it evaluates it in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .config import Profile
from .fingerprints import generation_header
from .manifest import GenerationRecord, read_generation
from .results import RunFolder, run_folder

__all__ = ["Run", "ProfileRuns", "DEFAULT_REASONING_BUDGET"]

DEFAULT_REASONING_BUDGET = 8192  # the long run of a model detected as reasoning, where its slots hold it


@dataclass(frozen=True)
class Run:
    """One run of a profile: its folder, the profile as this run asks the server, and its fingerprint."""

    kind: str  # "main" | "long" | "curve"
    profile: Profile  # with this run's max_tokens
    folder: RunFolder
    dataset_id: str  # settings.dataset_id(): the dataset file and subset the samples answer
    think: int = 0  # a curve point's thinking budget

    @property
    def max_tokens(self) -> int:
        return self.profile.max_tokens

    @property
    def header(self) -> dict:
        """fingerprints.generation_header: doit's config_changed value, the journal's and the manifest's
        (a curve point's: its long run's, with the thinking budget and the message forced when it runs out)."""
        header = generation_header(self.profile, self.dataset_id)
        if self.kind == "curve":
            header["thinking_budget"] = self.think
            if self.profile.reasoning_budget_message:
                header["budget_message"] = self.profile.reasoning_budget_message
        return header

    def record(self) -> GenerationRecord:
        return read_generation(self.folder)

    @property
    def generated(self) -> bool:
        """Whether its samples exist and were made under this run's settings."""
        return self.folder.samples.exists() and self.record().header == self.header


@dataclass(frozen=True)
class ProfileRuns:
    """The runs of one profile for one dataset and subset (`settings.runs(name)`)."""

    profile: Profile
    results: Path
    dataset: str
    subset: int
    dataset_id: str
    project: Path  # where a relative `samples =` (server = none) is found

    def folder(self, budget: int = 0, think: int = 0) -> RunFolder:
        return run_folder(self.results, self.profile.name, self.dataset, self.subset, budget, think)

    @property
    def main(self) -> Run:
        return Run("main", self.profile, self.folder(), self.dataset_id)

    def long_budget(self, detected: bool = False) -> int:
        """The max_tokens of the long run (0: none): the profile's `reasoning_budget`, or for a model
        detected as reasoning (reasoning_budget = 0, auto), DEFAULT_REASONING_BUDGET; none unless it is
        above max_tokens."""
        budget = self.profile.reasoning_budget or (DEFAULT_REASONING_BUDGET if detected else 0)
        return budget if budget > self.profile.max_tokens else 0

    def long(self, budget: int) -> Run:
        """The long run at `budget` tokens."""
        return Run("long", replace(self.profile, max_tokens=budget), self.folder(budget), self.dataset_id)

    def point(self, long: Run, think: int) -> Run:
        """The curve point at `think` tokens of thinking, taken from `long`."""
        return Run("curve", long.profile, self.folder(long.max_tokens, think), self.dataset_id, think)

    def curve_budgets(self, long: Run, auto: list[int] | None = None) -> list[int]:
        """The thinking budgets of the curve from `long`: the profile's, or (auto) `auto`, the budgets chosen
        from the long run (`generation.curve.auto_budgets`); only those below the long run's max_tokens."""
        configured = self.profile.curve_budgets
        budgets = list(configured) if configured is not None else list(auto or [])
        return [b for b in budgets if b < long.max_tokens]

    @property
    def known(self) -> list[Run]:
        """The runs known now: the main run; the long run if configured, or recorded by the main run's last
        generation (auto-detected); the curve's points, configured or recorded. Reads one small manifest:
        cheap enough for doit's task creation."""
        if not self.generates:
            return [self.main]
        record = self.main.record()
        budget = self.long_budget()
        if not budget and self.profile.reasoning_budget == 0:
            recorded = record.reasoning_budget
            budget = recorded.max_tokens if recorded and recorded.auto else 0
        if not budget:
            return [self.main]
        long = self.long(budget)
        auto = record.curve.get("budgets") if record.curve.get("auto") else None
        return [self.main, long] + [self.point(long, b) for b in self.curve_budgets(long, auto)]

    def scored(self, run: Run) -> Path:
        """The samples an evaluation of `run` scores: its own, or (server = none) the file the profile names."""
        from .servers import BACKENDS

        if run.kind == "main" and BACKENDS[self.profile.server].scores_a_file:
            path = Path(self.profile.samples).expanduser()
            return path if path.is_absolute() else Path(self.project) / path
        return run.folder.samples

    @property
    def generates(self) -> bool:
        """Whether benchlib makes this profile's samples (a server), or scores a file it is given."""
        from .servers import runs_server

        return runs_server(self.profile)

    # what doit knows of the runs

    @property
    def samples_targets(self) -> list[Path]:
        return [run.folder.samples for run in self.known] if self.generates else []

    @property
    def evaluation_deps(self) -> list[Path]:
        """The samples files the evaluation reads (a file named by `samples =` only once it exists: doit
        refuses a missing file_dep, and the stage says what is wrong with a clearer message)."""
        files = [self.scored(run) for run in self.known]
        return files if self.generates else [f for f in files if f.is_file()]

    @property
    def evaluation_targets(self) -> list[Path]:
        return [run.folder.eval_results for run in self.known]

    @property
    def generated_files(self) -> list[Path]:
        """What `doit clean gen:<profile>` removes."""
        return [path for run in self.known for path in run.folder.generated]

    @property
    def evaluated_files(self) -> list[Path]:
        """What `doit clean` removes of the evaluation."""
        return [path for run in self.known for path in run.folder.evaluated]
