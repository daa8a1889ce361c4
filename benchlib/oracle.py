"""Judging outputs: rebuild the values a sandboxed solution returned, and compare them as evalplus does.

The comparison is evalplus 0.3.1's (exact match, its special oracles, float tolerance), run here,
outside the sandbox, on plain data. One deliberate difference: HumanEval/32 (`find_zero`) passes when
|poly(xs, x)| <= atol, as in evalplus's fix (commit 6eb1e19); 0.3.1 fails even the canonical solution.
"""

from __future__ import annotations

import array
import binascii
import math
from decimal import Decimal
from fractions import Fraction

import numpy as np

__all__ = ["decode", "Opaque", "Judge", "FIND_ZERO_RULE", "is_floats"]

FIND_ZERO_RULE = "HumanEval/32 (find_zero): pass iff |poly(xs, x)| <= atol (1e-4), as fixed upstream in evalplus 6eb1e19"

# evalplus/eval/_special_oracle.py (0.3.1)
MBPP_OUTPUT_NOT_NONE_TASKS = ["check_str", "text_match_three", "text_starta_endb"]
MBPP_OUTPUT_SET_EQ_TASKS = ["similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                            "larg_nnum", "intersection_array", "find_dissimilar", "Diff"]


class Opaque:
    """An output that was not plain data (a generator, a custom object): equal to nothing."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self.kind}>"


_SUBCLASSES: dict[str, type] = {}


def _subclass_of(base_name: str) -> type:
    """A plain subclass of a base type: compares like the base, but `type(x) == base` is False."""
    if base_name not in _SUBCLASSES:
        base = {"int": int, "float": float, "str": str, "list": list, "tuple": tuple, "dict": dict,
                "set": set, "frozenset": frozenset, "bytes": bytes}[base_name]
        _SUBCLASSES[base_name] = type(f"{base_name}_subclass", (base,), {})
    return _SUBCLASSES[base_name]


def decode(x):
    """Inverse of runner.encode."""
    if isinstance(x, list):
        return [decode(v) for v in x]
    if not isinstance(x, dict):
        return x
    (tag, value), = x.items()
    if tag == "$t":
        return tuple(decode(v) for v in value)
    if tag == "$d":
        return {decode(k): decode(v) for k, v in value}
    if tag == "$s":
        return {decode(v) for v in value}
    if tag == "$fs":
        return frozenset(decode(v) for v in value)
    if tag == "$i":
        return int(value, 16)
    if tag == "$f":
        return float(value)
    if tag == "$c":
        return complex(decode(value[0]), decode(value[1]))
    if tag == "$b":
        return bytes.fromhex(value)
    if tag == "$fr":
        return Fraction(value[0], value[1])
    if tag == "$dec":
        return Decimal(value)
    if tag == "$nd":
        dtype, data = value
        return np.array(decode(data), dtype=None if dtype == "object" else dtype)
    if tag == "$np":
        dtype, data = value
        return np.dtype(dtype).type(decode(data))
    if tag == "$sub":
        return _rebuild_subclass(*value)
    if tag == "$n":
        return _number_list(*value)
    return Opaque(str(value))


def _number_list(ints: list, bools: list, data: str) -> list:
    """Inverse of runner._number_list: the values as base64 IEEE doubles, and which of them are ints or bools."""
    raw = binascii.a2b_base64(data)
    if binascii.b2a_base64(raw, newline=False) != data.encode():
        raise ValueError("malformed number list")  # only the runner's own, canonical base64
    values = array.array("d")
    values.frombytes(raw)
    out: list = values.tolist()
    for kind, positions in ((int, ints), (bool, bools)):
        for at in positions:
            if type(at) is not int or not 0 <= at < len(out) or not out[at].is_integer():
                raise ValueError("malformed number list")
            out[at] = kind(out[at])
    return out


def _rebuild_subclass(base_name: str, encoded):
    value = decode(encoded)
    if base_name == "bool":
        return bool(value)  # bool cannot be subclassed; its subclasses are really ints
    return _subclass_of(base_name)(value)


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

    def __init__(self, dataset: str, entry_point: str, atol: float, not_none: bool) -> None:
        self.dataset = dataset
        self.entry_point = entry_point
        self.atol = atol
        self.not_none = not_none

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
