"""Judging outputs: rebuild the values a sandboxed solution returned, and compare them as evalplus does.

The comparison is evalplus 0.3.1's (exact match, its special oracles, float tolerance), run here,
outside the sandbox, on plain data. One deliberate difference: HumanEval/32 (`find_zero`) passes when
|poly(xs, x)| <= atol, as in evalplus's fix (commit 6eb1e19); 0.3.1 fails even the canonical solution.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Judge", "FIND_ZERO_RULE", "is_floats", "only_not_none"]

FIND_ZERO_RULE = "HumanEval/32 (find_zero): pass iff |poly(xs, x)| <= atol (1e-4), as fixed upstream in evalplus 6eb1e19"

# evalplus/eval/_special_oracle.py (0.3.1)
MBPP_OUTPUT_NOT_NONE_TASKS = ["check_str", "text_match_three", "text_starta_endb"]
MBPP_OUTPUT_SET_EQ_TASKS = ["similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                            "larg_nnum", "intersection_array", "find_dissimilar", "Diff"]


def only_not_none(dataset: str, entry_point: str) -> bool:
    """evalplus keeps only whether these tasks' expected outputs are None (its ground truth too)."""
    return dataset == "mbpp" and entry_point in MBPP_OUTPUT_NOT_NONE_TASKS


def _poly(xs: list, x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge, height):  # oracle for Mbpp/581
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _digit_distance_nums(num1, num2):  # oracle for Mbpp/558
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(p) - int(q)) for p, q in zip(a.zfill(width), b.zfill(width)))


def is_floats(x) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    if isinstance(x, np.ndarray):
        return x.dtype == np.float64 or x.dtype == np.float32
    return False


class Judge:
    """Compares one phase's outputs in order, keeping evalplus's per-phase state (its `atol` widens
    to 1e-6 once a float expected output is seen, for the rest of the phase)."""

    def __init__(self, dataset: str, entry_point: str, atol: float) -> None:
        self.dataset = dataset
        self.entry_point = entry_point
        self.atol = atol
        self.not_none = only_not_none(dataset, entry_point)

    @property
    def exact_match_decides(self) -> bool:
        """True when an output identical to the expected one passes with no special oracle involved."""
        if self.dataset == "humaneval":
            return self.entry_point != "find_zero"
        return self.entry_point not in MBPP_OUTPUT_SET_EQ_TASKS and not self.not_none

    def saw_expected(self, floaty: bool) -> None:
        """Keep the per-phase state when an identical output passed without a full comparison."""
        if self.atol == 0 and floaty:
            self.atol = 1e-6

    def passes(self, inp: list, out, exp) -> bool:
        try:
            return self._passes(inp, out, exp)
        except Exception:  # noqa: BLE001 - evalplus counts any error while comparing as a failure
            return False

    def _passes(self, inp: list, out, exp) -> bool:
        entry_point = self.entry_point
        exact_match = out == exp
        if self.dataset == "mbpp":
            if entry_point == "are_equivalent":  # Mbpp/164
                exact_match = True
            elif entry_point == "sum_div":  # Mbpp/295
                exact_match = exact_match or out == 0
            elif entry_point == "surface_Area":  # Mbpp/581
                exact_match = exact_match or abs(out - _surface_area(*inp)) <= self.atol
            elif entry_point == "digit_distance_nums":  # Mbpp/558
                exact_match = exact_match or out == _digit_distance_nums(*inp)
            elif entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
                exact_match = set(out) == set(exp)
            elif self.not_none:
                exact_match = out == exp if isinstance(out, bool) else exp == (out is not None)
        if self.dataset == "humaneval" and entry_point == "find_zero":
            return bool(abs(_poly(*inp, out)) <= self.atol)
        if self.atol == 0 and is_floats(exp):
            self.atol = 1e-6
        if not exact_match and self.atol != 0:
            if type(out) != type(exp):
                return False
            if isinstance(exp, (list, tuple)) and len(out) != len(exp):
                return False
            return bool(np.allclose(out, exp, rtol=1e-07, atol=self.atol))
        return bool(exact_match)
