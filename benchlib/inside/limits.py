"""Every limit a check runs under, in one place (standard library only: the runner imports it too).

How long a solution may take, from the smallest unit up:
  per input     CPU seconds: max(MIN_TIME_LIMIT, GT_TIME_LIMIT_FACTOR x the canonical solution's CPU time)
                (evalplus's rule, but CPU time, so a busy machine cannot fail a correct solution);
                beside it a wall clock of INPUT_WALL_FACTOR x that + 1 s for code that sleeps or blocks
                (runner: ITIMER_PROF and ITIMER_REAL around each call)
  per phase     CPU: min(60, sum of the per-input limits) + 2 s, evalplus's phase budget, as a hard
                RLIMIT_CPU on the check's process; wall: 3 x that + 10 s (runner: its supervisor kills it)
  per check     the evaluator presumes the fork server itself stuck SERVER_SLACK seconds past the wall
                budget, and replaces it
Other limits of a check's process: memory (EVALPLUS_MAX_MEMORY_BYTES, evalplus's 4 GiB default), file
size, processes of its user, no core dumps, and how many bytes of records it may send back.
"""

from __future__ import annotations

MIN_TIME_LIMIT = 1.0  # evalplus DEFAULT_MIN_TIME_LIMIT
GT_TIME_LIMIT_FACTOR = 4.0  # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
PHASE_CPU_CAP = 60.0  # evalplus: min(60, sum(limits)) + 2 for a whole phase
PHASE_CPU_EXTRA = 2.0
INPUT_WALL_FACTOR = 4
SERVER_SLACK = 15.0
MEMORY_LIMIT = 4 * 1024**3  # evalplus's default for EVALPLUS_MAX_MEMORY_BYTES
FILE_SIZE_LIMIT = 64 * 1024**2
PROCESS_LIMIT = 64  # processes of a check's user (a fork bomb stops here)
OUTPUT_LIMIT = 64 * 1024**2  # bytes of records one check may send back, at least
OUTPUT_FACTOR = 4  # ... or this many times what the canonical solution sent
MESSAGE_CHARS = 1000  # of an exception's message sent back (and kept: eval_results.json)
MESSAGE_CPU = 0.5  # seconds of CPU a solution's exception may take to say its message (its __str__ is its code)
# the canonical solutions (trusted) when computing the ground truth: generous, they only measure
CANONICAL_INPUT_LIMIT = 60.0
CANONICAL_BUDGETS = (600.0, 1200.0)

LIMITS_TEXT = (f"per input max({MIN_TIME_LIMIT:g} s, {GT_TIME_LIMIT_FACTOR:g} x canonical) of CPU time; per phase "
               f"min({PHASE_CPU_CAP:g}, sum) + {PHASE_CPU_EXTRA:g} s of CPU; memory: the limit less the phase's "
               f"expected outputs")


def input_limits(canonical_cpu: list[float]) -> list[float]:
    """Per-input CPU-time limits from the canonical solution's CPU time per input."""
    return [max(MIN_TIME_LIMIT, GT_TIME_LIMIT_FACTOR * t) for t in canonical_cpu]


def phase_budgets(limits: list[float]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) for a whole phase of a check."""
    cpu = min(PHASE_CPU_CAP, sum(limits)) + PHASE_CPU_EXTRA
    return cpu, 3 * cpu + 10.0


def input_wall(limit: float) -> float:
    """The wall-clock limit beside an input's CPU-time limit."""
    return INPUT_WALL_FACTOR * limit + 1.0


def check_memory(limit: int | None, expected_bytes: int) -> int | None:
    """The memory limit of one check: evalplus's, less what evalplus's own check process holds beside the
    solution, the phase's expected outputs (about their encoded size). A solution so gets the headroom it
    has under evalplus: Mbpp/255's 1 GB answer does not fit beside its 1 GB expected output there, nor here."""
    if limit is None:
        return None
    return max(limit // 4, limit - expected_bytes)


def output_limit(canonical_bytes: int) -> int:
    return max(OUTPUT_LIMIT, OUTPUT_FACTOR * canonical_bytes)
