"""What the scores mean: outcomes per problem, paired comparisons, verdicts at a margin, where profiles
stand and differ. Structured findings (numbers, labels), no sentences: markdown.py, summary.py, charts.py
and page.py render them; the numbers come from statistics.py (pure functions, tested alone).

- per problem and profile, an outcome: passed, or the category of the failure (`classify`);
- one pass@1 per profile and run, with a 95% interval (Wilson for one greedy answer per problem);
- paired comparisons between local profiles of a run (exact McNemar for greedy pairs, the sign-flip
  permutation test for sampled ones), each with its interval, the smallest difference it detects and the
  answers per problem a TARGET-point difference would need, all at one level: the family's (`Family`);
- per pair, one *primary* comparison (the plus tests on the largest full run the two share): Holm over the
  primary comparisons of every pair; every other comparison (the base tests, each dataset when both
  together are compared, subsets beside a full run, reasoning-budget runs) is *secondary*: shown, never
  a verdict;
- a verdict at a margin (BENCH_MARGIN, default 3 points): non-inferiority of a profile to its
  `reference_profile` (one-sided), else equivalence (two one-sided tests), with what an inconclusive one
  would need.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import combinations

from ..datasets import DATASETS
from . import statistics as stats
from .comparisons import TARGET, Comparison, Coupling, MarginVerdict, Need, Pair, compare, margin_verdict, mcnemar
from .outcomes import (CATEGORIES, OPTIONAL, PASSED, PHASES, SHORT, Outcome, ProfileResults, classify, digest,
                       published_interval)
from .statistics import ALPHA, MARGIN, POWER, wilson

__all__ = ["COMBINED", "TARGET", "POWER", "ALPHA", "MARGIN", "CATEGORIES", "OPTIONAL", "PASSED", "SHORT", "Outcome",
           "ProfileResults", "Comparison", "Need", "Coupling", "MarginVerdict", "classify", "wilson",
           "published_interval", "mcnemar", "compare_all", "analyse", "digest", "Analysis", "RunAnalysis",
           "Standing", "SelfTestCheck", "Agreement", "agreement", "check_self_test"]

# the run key of every leaderboard dataset's problems together ("humaneval+mbpp"; report/__init__._together)
COMBINED = "+".join(key for key, spec in DATASETS.items() if spec.leaderboard)

# ---------------------------------------------------------------------------------------------------
# the analysis of a whole results folder: what every rendering (markdown, charts, JSON) reads


@dataclass(frozen=True)
class Standing:
    """Where a local profile stands among the published models (plus tests), by interval overlap."""

    key: str  # the published score compared ("humaneval+")
    score: float  # the local profile's
    level: list = field(default_factory=list)  # PublishedScore whose intervals overlap the profile's
    above: list = field(default_factory=list)  # published models clearly above it
    below: list = field(default_factory=list)

    @property
    def closest(self) -> list:
        return sorted(self.level, key=lambda m: abs(m.scores[self.key] - self.score))[:3]


def standing(result: ProfileResults, published: list, key: str) -> Standing:
    """`result` against the published `key` scores, each taken on the same number of problems. A row made
    with the base (completion) prompt is compared with the published base-prompt rows only."""
    low, high = result.interval("plus")
    found = Standing(key=key, score=result.score("plus"))
    for model in published:
        score = model.scores.get(key)
        if score is None or (not result.prompted and model.prompted):
            continue
        theirs = published_interval(score, result.n)
        (found.below if theirs[1] < low else found.above if theirs[0] > high else found.level).append(model)
    return found


@dataclass(frozen=True)
class SelfTestCheck:
    """The self-test against what its dataset file is known to fail (datasets.SELF_TEST)."""

    result: ProfileResults
    expectation: object  # datasets.SelfTestExpectation, or None when none is recorded for the file
    failing: list[str]  # every task failing a phase
    unexpected: list[str]  # "task (phase)" failing although not expected to
    recovered: list[str]  # "task (phase)" expected to fail but passing
    known: dict[str, str]  # task -> why, the expected failures among the run's tasks


def check_self_test(result: ProfileResults) -> SelfTestCheck:
    from ..datasets import SELF_TEST

    failing = {phase: {t for t, o in result.outcomes.items() if not getattr(o, phase)} for phase in PHASES}
    expectation = SELF_TEST.get(result.dataset_md5)
    fails = expectation.fails if expectation else {}
    known = {t: why for t, (phases, why) in fails.items() if t in result.outcomes}
    expected = {phase: {t for t in known if phase in fails[t][0]} for phase in PHASES}
    return SelfTestCheck(
        result=result, expectation=expectation, failing=sorted(failing["base"] | failing["plus"]),
        unexpected=sorted(f"{t} ({phase})" for phase in PHASES for t in failing[phase] - expected[phase])
        if expectation else [],
        recovered=sorted(f"{t} ({phase})" for phase in PHASES for t in expected[phase] - failing[phase]),
        known=known)


@dataclass
class RunAnalysis:
    """Everything the report says about one run folder (a dataset, or a subset of one)."""

    key: str
    subset: bool
    self_tests: list[SelfTestCheck]
    results: list[ProfileResults]  # the models, best first (plus tests)
    matrix: list[ProfileResults]  # the models in the report's profile order (the problem matrix's columns)
    standings: dict[str, Standing]  # profile -> its standing (full datasets with published scores only)
    comparisons: dict[str, list[Comparison]]  # phase -> every pair, Holm-adjusted per phase
    tasks: list[str]  # every problem of the run, in dataset order
    disagreements: list[str]  # problems whose outcome differs among the models
    full_size: int = 0  # the full dataset's problems (a subset pilot's needs are projected to it)
    margin: float = MARGIN  # points: the verdict at the margin's
    made: list = field(default_factory=list)  # report.provenance.RunProvenance of its profiles (what made the answers)
    mismatches: list = field(default_factory=list)  # report.provenance.Mismatch: its pairs made by other servers

    @property
    def sizes(self) -> list[int]:
        return sorted({r.n for r in [*self.results, *(c.result for c in self.self_tests)]})

    @cached_property
    def best(self) -> str:
        return max(self.results, key=lambda r: r.solved("plus")).profile if self.results else ""

    def shown(self, limit: int) -> list[Comparison]:
        """The plus-test comparisons shown inline: all pairs up to `limit`, else each against the best."""
        plus, best = self.comparisons["plus"], self.best
        return plus if len(plus) <= limit else [c for c in plus if best in (c.a, c.b)]

    @property
    def changed_on_base(self) -> list[Comparison]:
        """Base-test comparisons whose verdict differs from the plus tests'."""
        return [b for p, b in zip(self.comparisons["plus"], self.comparisons["base"]) if p.significant != b.significant]


@dataclass
class Analysis:
    """The analysed results folder: every run's analysis, in the report's order, and each profile's
    agreement with its reference profile."""

    runs: list[RunAnalysis]
    agreements: list["Agreement"] = field(default_factory=list)
    thinking: list["ThinkingLength"] = field(default_factory=list)  # reasoning models' thinking lengths
    curves: list["Curve"] = field(default_factory=list)  # reasoning models' score at each thinking budget
    provenance: list = field(default_factory=list)  # report.provenance.RunProvenance: what made each run's answers

    def run(self, key: str) -> RunAnalysis | None:
        return next((r for r in self.runs if r.key == key), None)


def _pairs(key: str, models: list[ProfileResults], subset: bool) -> list[Pair]:
    """The pairs of a run: profiles evaluated on the same dataset file and the same way (a greedy and a
    sampled row measure different things: never paired)."""
    from ..results import parse_run_key

    parsed = parse_run_key(key)
    budget = bool(parsed and parsed.budget)
    return [Pair(x, y, key, subset, budget) for x, y in combinations(models, 2)
            if x.dataset_md5 == y.dataset_md5 and x.sampled == y.sampled]


def _primary(pairs: list[Pair]) -> set[Pair]:
    """Per pair of profiles, the one comparison that is its verdict: the largest full run the two share (not
    a subset, not a reasoning-budget run, where they have one; both datasets together where they have both)."""
    best: dict[frozenset, Pair] = {}
    for pair in pairs:
        if pair.names not in best or pair.rank > best[pair.names].rank:
            best[pair.names] = pair
    return set(best.values())


def _margin_kind(pair: Pair, references: dict[str, str], related: bool) -> tuple[str, bool] | None:
    """(kind, whether x is the candidate) of the pair's verdict at the margin, or None: non-inferiority
    where one names the other as its reference_profile; equivalence where no pair of the run has such a link."""
    x, y = pair.x.profile, pair.y.profile
    if references.get(x) == y:
        return "non-inferiority", True
    if references.get(y) == x:
        return "non-inferiority", False
    return None if related else ("equivalence", True)


def compare_all(results: list[ProfileResults], phase: str, resamples: int | None = None) -> list[Comparison]:
    """Every pair of one run's profiles on one phase, Holm-adjusted as one family (the family's level for
    intervals and power figures)."""
    pairs = _pairs(results[0].dataset if results else "", results, False)
    level = ALPHA / max(1, len(pairs))
    found = [compare(pair, phase, len(pairs), level, len(pair.common), resamples or stats.resamples_for(len(pairs)))
             for pair in pairs]
    for comparison, adjusted in zip(found, stats.holm([c.p for c in found])):
        comparison.p_adjusted = adjusted
    return found


def _full_size(key: str, evaluated: dict[str, list[ProfileResults]]) -> int:
    """The problems of the full dataset a run belongs to (a subset pilot's needs are projected to it):
    its full run's where one is evaluated, else the release's count."""
    from ..datasets import DATASETS
    from ..results import parse_run_key

    parsed = parse_run_key(key)
    if not parsed or not parsed.subset:
        return max((r.n for r in evaluated.get(key, [])), default=0)
    full = max((r.n for r in evaluated.get(parsed.dataset, [])), default=0)
    spec = DATASETS.get(parsed.dataset)
    return full or (spec.tasks if spec and spec.tasks else max((r.n for r in evaluated[key]), default=0))


def _families(pairs: list[Pair], primary: set[Pair], phase: str) -> dict[tuple, list[Pair]]:
    """The Holm families of a phase: on the plus tests, every pair's primary comparison together and the
    secondary ones per run; on the base tests (all secondary), per run."""
    families: dict[tuple, list[Pair]] = {}
    for pair in pairs:
        name = ("primary",) if phase == "plus" and pair in primary else ("run", pair.run)
        families.setdefault(name, []).append(pair)
    return families


def _judge(pairs: list[Pair], primary: set[Pair], references: dict[str, str], margin: float,
           sizes: dict[str, int]) -> dict[tuple[str, str], list[Comparison]]:
    """Every comparison of every pair, per (run, phase), adjusted within its family (`_families`); on the
    plus tests, the verdicts at the margin, each family's at ALPHA over its number of such verdicts."""
    related = {pair.run for pair in pairs if (_margin_kind(pair, references, False) or ("",))[0] == "non-inferiority"}
    found: dict[tuple[str, str], list[tuple[int, Comparison]]] = {}
    for phase in ("plus", "base"):
        for name, members in _families(pairs, primary, phase).items():
            size, resamples = len(members), stats.resamples_for(len(members))
            judged = [compare(pair, phase, size, ALPHA / size, sizes[pair.run], resamples, margin) for pair in members]
            for comparison, adjusted in zip(judged, stats.holm([c.p for c in judged])):
                comparison.p_adjusted = adjusted
                comparison.primary = name == ("primary",)
            if phase == "plus":
                kinds = [_margin_kind(pair, references, pair.run in related) for pair in members]
                verdicts = sum(kind is not None for kind in kinds)
                for pair, comparison, kind in zip(members, judged, kinds):
                    if kind is not None:
                        comparison.margin = margin_verdict(pair, comparison, *kind, margin, ALPHA / verdicts,
                                                           sizes[pair.run], resamples)
            for pair, comparison in zip(members, judged):
                found.setdefault((pair.run, phase), []).append((pairs.index(pair), comparison))
    return {key: [c for _, c in sorted(items, key=lambda item: item[0])] for key, items in found.items()}


def analyse(evaluated: dict[str, list[ProfileResults]], published: list, subsets: set[str],
            leaderboard_key: dict[str, str], references: dict[str, str] | None = None,
            margin: float = MARGIN) -> Analysis:
    """The analysis of every run folder: `evaluated` maps a run key to its profiles' results (in the
    report's order), `leaderboard_key` a full dataset's key to the published score it compares with,
    `references` a profile to its reference_profile (the direction of the verdict at `margin` points)."""
    models_of = {key: sorted((r for r in everything if not r.self_test), key=lambda r: -r.solved("plus"))
                 for key, everything in evaluated.items()}
    pairs = [pair for key, models in models_of.items() for pair in _pairs(key, models, key in subsets)]
    sizes = {key: _full_size(key, evaluated) for key in evaluated}
    judged = _judge(pairs, _primary(pairs), references or {}, margin, sizes)
    runs = []
    for key, everything in evaluated.items():
        models = models_of[key]
        published_key = None if key in subsets else leaderboard_key.get(key)
        matrix = [r for r in everything if not r.self_test]
        tasks = list(dict.fromkeys(t for r in matrix for t in r.outcomes))
        runs.append(RunAnalysis(
            key=key, subset=key in subsets,
            self_tests=[check_self_test(r) for r in everything if r.self_test],
            results=models, matrix=matrix,
            standings={r.profile: standing(r, published, published_key) for r in models if not r.sampled}
            if published_key else {},
            comparisons={phase: judged.get((key, phase), []) for phase in ("plus", "base")},
            tasks=tasks, full_size=sizes[key], margin=margin,
            disagreements=[t for t in tasks if len({(r.outcomes[t].plus if t in r.outcomes else None)
                                                     for r in matrix}) > 1]))
    return Analysis(runs=runs)


@dataclass(frozen=True)
class Agreement:
    """A profile's first answers against its reference profile's, on the problems both answered."""

    profile: str
    reference: str
    run: str
    problems: int
    identical: int  # answers identical to the reference's, character for character
    both_pass: int  # the others, by their plus-test outcomes
    both_fail: int
    only_profile: int  # it passes, the reference does not
    only_reference: int


def agreement(result: ProfileResults, reference: ProfileResults) -> Agreement:
    common = [t for t in result.outcomes if t in reference.outcomes]
    same = [t for t in common if t in result.first_answers and result.first_answers.get(t) == reference.first_answers.get(t)]
    identical = set(same)
    other = [t for t in common if t not in identical]
    mine = {t: result.outcomes[t].plus for t in other}
    theirs = {t: reference.outcomes[t].plus for t in other}
    return Agreement(result.profile, reference.profile, result.dataset, len(common), len(same),
                     sum(mine[t] and theirs[t] for t in other), sum(not mine[t] and not theirs[t] for t in other),
                     sum(mine[t] and not theirs[t] for t in other), sum(theirs[t] and not mine[t] for t in other))


@dataclass(frozen=True)
class ThinkingLength:
    """How long a reasoning model thinks on one run (its long run's answers where it has one), and, against
    its reference profile, how much longer: quantized reasoning models think longer (README: Reasoning models)."""

    profile: str
    run: str  # the run key its row is reported under (the leaderboard's run)
    tokens_from: str  # the run folder the reasoning tokens were counted in (the long run's, where there is one)
    answers: int  # answers that carry reasoning
    median: int | None
    p90: int | None
    hit_budget: float | None  # share of the answers that ran out of tokens (finish_reason = length)
    reference: str | None = None
    common: int = 0  # problems both answered with reasoning
    ratio: float | None = None  # its reasoning tokens over the reference's, on those problems
    low: float | None = None  # 95% bootstrap interval of the ratio (over problems)
    high: float | None = None


def thinking_length(profile: str, run: str, tokens_from: str, reasoning: dict, answers: int,
                    reference: tuple[str, dict] | None = None) -> ThinkingLength:
    """ThinkingLength from a run's reasoning summary (`generation.reasoning.reasoning_summary`, the
    manifest's) and, with `reference` (its name, its summary), the ratio on the first answers both hold."""
    spread = reasoning.get("reasoning_tokens") or {}
    hit = reasoning.get("hit_budget")
    length = ThinkingLength(profile, run, tokens_from, int(reasoning.get("answers") or 0), spread.get("median"),
                            spread.get("p90"), hit / answers if isinstance(hit, int) and answers else None)
    if reference is None:
        return length
    mine, theirs = reasoning.get("per_answer") or {}, reference[1].get("per_answer") or {}
    common = [key for key in mine if "#" not in key and key in theirs]  # first answers (reuse.answer_key)
    if not common:
        return replace(length, reference=reference[0])
    ratio, low, high = stats.ratio_interval([mine[k] for k in common], [theirs[k] for k in common])
    if ratio != ratio:  # NaN: the reference's answers hold no reasoning tokens to compare with
        return replace(length, reference=reference[0], common=len(common))
    return replace(length, reference=reference[0], common=len(common), ratio=ratio, low=low, high=high)


@dataclass(frozen=True)
class BudgetPoint:
    """One point of a thinking-budget curve: the plus and base scores at `think` tokens of thinking."""

    think: int  # tokens of thinking; the long run's own max_tokens for its last point
    plus: float
    low: float  # 95% interval of the plus score (Wilson, or the sampled rows' own)
    high: float
    base: float
    problems: int
    long: bool = False  # the long run itself (no thinking budget: only its max_tokens)


@dataclass(frozen=True)
class Curve:
    """A reasoning model's score at each thinking budget on one run (`generation.curve`), beside its long
    run and the leaderboard's row; what the curve cost against separate runs at each budget."""

    profile: str
    run: str  # the long run's key: the curve's points are taken from it
    leaderboard_run: str  # the run at max_tokens (the leaderboard's row), its key
    points: list[BudgetPoint]  # ascending, the long run last
    leaderboard: float | None  # the plus score of the leaderboard's row (max_tokens), for comparison only
    decoded: int  # tokens the curve generated (the answers after a cut)
    prefilled: int  # prompt tokens it processed for them (templated prompt and the kept thinking)
    separate: int  # tokens separate runs at each budget would have generated


def curve_point(think: int, result: ProfileResults, long: bool = False) -> BudgetPoint:
    low, high = result.interval("plus")
    return BudgetPoint(think, result.score("plus"), low, high, result.score("base"), result.n, long)
