"""The wire format (runner.encode -> oracle.decode) and evalplus-equivalent judging."""

import collections
import math
from fractions import Fraction

import numpy as np
import pytest

from benchlib.oracle import Judge, Opaque, decode
from benchlib.runner import encode

import json


def roundtrip(value):
    return decode(json.loads(json.dumps(encode(value))))


@pytest.mark.parametrize("value", [
    None, True, 0, -5, 10**5000, 1.5, -0.0, "x\u00e9", [1, (2, 3)], (), {1: "a", (1, 2): [3]}, {"k": 1},
    {1, 2}, frozenset({"a"}), complex(1, -2), b"\x00\xff", Fraction(1, 3), [[[]]],
], ids=lambda value: type(value).__name__)
def test_plain_values_roundtrip_exactly(value):
    out = roundtrip(value)
    assert out == value and type(out) is type(value)


def test_non_finite_floats():
    assert math.isinf(roundtrip(float("inf"))) and math.isnan(roundtrip(float("nan")))


def test_subclasses_compare_like_their_base_but_keep_a_distinct_type():
    point = collections.namedtuple("P", "x y")(1, 2)
    out = roundtrip(point)
    assert out == (1, 2) and type(out) is not tuple
    counter = roundtrip(collections.Counter("aab"))
    assert counter == {"a": 2, "b": 1}


def test_hostile_eq_is_never_called_and_never_passes():
    class Liar(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Anything:
        def __eq__(self, other):
            return True

    assert roundtrip(Liar(3)) == 3 and roundtrip(Liar(3)) != 4
    judge = Judge("humaneval", "f", 0.0, False)
    assert not judge.passes([], roundtrip(Anything()), 4)
    assert isinstance(roundtrip(Anything()), Opaque)
    assert not judge.passes([], roundtrip(x for x in [1]), [1])


def test_numpy_values_compare_as_under_evalplus():
    judge = Judge("humaneval", "f", 0.0, False)
    assert judge.passes([], roundtrip(np.int64(3)), 3)
    assert judge.passes([], roundtrip(np.float64(0.5)), 0.5)
    assert judge.passes([], roundtrip(np.array([7])), [7])  # one-element array: truthy
    assert not judge.passes([], roundtrip(np.array([1, 2])), [1, 2])  # ambiguous truth value: evalplus fails it


def test_float_tolerance_and_type_check():
    judge = Judge("humaneval", "f", 0.0, False)
    assert judge.passes([], 0.1 + 0.2, 0.3)  # atol widens to 1e-6 for float outputs
    assert not judge.passes([], 0.31, 0.3)
    assert not Judge("humaneval", "f", 1e-3, False).passes([], [1.0], (1.0,))  # type must match


def test_find_zero_judged_by_the_polynomial_not_by_equality():
    judge = Judge("humaneval", "find_zero", 1e-4, False)
    xs = [-6.0, 11.0, -6.0, 1.0]  # roots 1, 2, 3
    assert judge.passes([xs], 2.0, 1.0)  # a different but valid root passes
    assert judge.passes([xs], 3.00000001, 1.0)
    assert not judge.passes([xs], 2.5, 2.0)  # not a root
    assert not judge.passes([xs], "2", 2.0)


def test_mbpp_special_oracles():
    assert Judge("mbpp", "similar_elements", 0, False).passes([], (5, 4), (4, 5))
    assert Judge("mbpp", "check_str", 0, True).passes([], "match", True)
    assert not Judge("mbpp", "check_str", 0, True).passes([], None, True)
