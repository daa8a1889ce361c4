"""The wire format (wire.encode -> wire.decode) and evalplus-equivalent judging."""

import collections
import math
from fractions import Fraction

import numpy as np
import pytest

import json

from benchlib.evaluation.oracle import Judge
from benchlib.inside.wire import Opaque, decode, decode_raw, dumps, encode, encode_output


def roundtrip(value):
    return decode(json.loads(json.dumps(encode(value))))


def wire(value) -> bytes:
    """What the runner really sends for an output (fast paths included)."""
    return dumps(encode_output(value)).encode()


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
    judge = Judge("humaneval", "f", 0.0)
    assert not judge.passes([], roundtrip(Anything()), 4)
    assert isinstance(roundtrip(Anything()), Opaque)
    assert not judge.passes([], roundtrip(x for x in [1]), [1])


def test_numpy_values_compare_as_under_evalplus():
    judge = Judge("humaneval", "f", 0.0)
    assert judge.passes([], roundtrip(np.int64(3)), 3)
    assert judge.passes([], roundtrip(np.float64(0.5)), 0.5)
    assert judge.passes([], roundtrip(np.array([7])), [7])  # one-element array: truthy
    assert not judge.passes([], roundtrip(np.array([1, 2])), [1, 2])  # ambiguous truth value: evalplus fails it


def test_float_tolerance_and_type_check():
    judge = Judge("humaneval", "f", 0.0)
    assert judge.passes([], 0.1 + 0.2, 0.3)  # atol widens to 1e-6 for float outputs
    assert not judge.passes([], 0.31, 0.3)
    assert not Judge("humaneval", "f", 1e-3).passes([], [1.0], (1.0,))  # type must match


def test_find_zero_judged_by_the_polynomial_not_by_equality():
    judge = Judge("humaneval", "find_zero", 1e-4)
    xs = [-6.0, 11.0, -6.0, 1.0]  # roots 1, 2, 3
    assert judge.passes([xs], 2.0, 1.0)  # a different but valid root passes
    assert judge.passes([xs], 3.00000001, 1.0)
    assert not judge.passes([xs], 2.5, 2.0)  # not a root
    assert not judge.passes([xs], "2", 2.0)


def test_mbpp_special_oracles():
    assert Judge("mbpp", "similar_elements", 0).passes([], (5, 4), (4, 5))
    assert Judge("mbpp", "check_str", 0).passes([], "match", True)
    assert not Judge("mbpp", "check_str", 0).passes([], None, True)


NUMBER_LISTS = [
    [0.1 * i for i in range(100)],  # floats only
    [1, 3] + [2.0 + i for i in range(98)],  # HumanEval/130's shape: a few ints among floats
    [True, 1.5, False, -2] * 30,  # bools and ints keep their types
    [-0.0, 5e-324, 1e300, -1e-300] * 20,  # signed zero, subnormal, extremes
    [2**53, -(2**53), 0.5] * 30,  # ints at the edge of exactness
]


TUPLE_ROWS = [  # lists of tuples of scalars: json.dumps's own text, tagged as rows
    [("Red", "Green", "Red")] * 70, [(1, 2.5, None, True, "é")] * 80, [()] * 64, [(-(2**255), 2**255 - 1)] * 64,
]


@pytest.mark.parametrize("value", NUMBER_LISTS + [
    [2**53 + 1, 0.5] * 40,  # an int a double cannot hold: general path
    [float("nan")] + [1.0] * 80, [float("inf")] + [1.0] * 80,  # non-finite: general path, tagged
    [1.0, "a"] * 40, [[1.0, 2.0]] * 40, list(range(100)), "text", 7, 2**300, 1.25, None,
] + TUPLE_ROWS + [
    [(2**300, 1)] * 70, [(float("inf"), 1.0)] * 70, [(1, [2])] * 70, [(1, 2)] * 69 + [[1, 2]], [(1, (2,))] * 70,
    [(True, 1)] * 70, [("x",)] * 63,  # a big int, inf, nesting, a list among the tuples, too short: general path
])
def test_the_runner_fast_paths_roundtrip_values_and_element_types(value):
    out = decode_raw(wire(value))
    if isinstance(value, list) and any(isinstance(v, float) and math.isnan(v) for v in value):
        assert math.isnan(out[0]) and out[1:] == value[1:]
        return
    assert out == value and type(out) is type(value)
    if isinstance(value, list):
        assert [type(v) for v in out] == [type(v) for v in value]
        assert [[type(x) for x in v] for v in out if type(v) is tuple] == \
            [[type(x) for x in v] for v in value if type(v) is tuple]
        assert [math.copysign(1, v) for v in out if type(v) is float] == \
            [math.copysign(1, v) for v in value if type(v) is float]


def test_long_float_lists_travel_as_doubles_and_other_plain_data_as_the_general_encoding():
    for value in NUMBER_LISTS:
        assert wire(value).startswith(b'{"$n": ')
    for value in TUPLE_ROWS:
        assert wire(value) == b'{"$lt": ' + json.dumps(value).encode() + b"}"
    for value in ([1.0, "a"] * 40, [[1.0, 2.0]] * 40, list(range(100)), [1.5, 2], "x\n\u00e9", 2**300,
                  [float("nan")] + [1.0] * 80, {"k": [1.0]}):
        assert wire(value) == json.dumps(encode(value)).encode()


@pytest.mark.parametrize("forged", [
    '{"$n": [[], [], "AAAAAAAA8D8="]}',  # fine: one double, 1.0
    '{"$n": [[5], [], "AAAAAAAA8D8="]}',  # int position out of range
    '{"$n": [[0], [], "mpmZmZmZuT8="]}',  # "int" 0.1
    '{"$n": [["0"], [], "AAAAAAAA8D8="]}',  # position not an int
    '{"$n": [[], [], "AAAA"]}',  # not a whole double
    '{"$n": [[], [], "%%%"]}',  # not base64
    '{"$n": [[], []]}',  # missing data
])
def test_forged_number_lists_decode_to_a_failing_value_not_an_error(forged):
    out = decode_raw(forged.encode())
    if forged.startswith('{"$n": [[], [], "AAAAAAAA8D8="'):
        assert out == [1.0]
    else:
        assert isinstance(out, Opaque)
