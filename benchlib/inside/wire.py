"""The wire format between the evaluator and the sandboxed runner, both directions, in one place.

Standard library only: the runner imports it inside the sandbox (a bare `python3`, perhaps a container
with nothing else installed), the evaluator imports it as `benchlib.inside.wire`.

Evaluator -> runner (the runner's stdin):
  b"P" + 8-byte length + pickle {"seq", "code", "entry_point", "inputs", "time_limits",
                                  "cpu_budget", "wall_budget", "memory", "uid"}   run one check
  b"S" + 8-byte seq                                                             stop that check now
The pickle travels only this way (trusted -> untrusted); nothing from the sandbox is ever unpickled.

Runner -> evaluator (its stdout), one line per record, each carrying the check's seq:
  `=seq i cpu <encoding>`        input i's output: its encoding (`encode`) as JSON text, kept raw by the
                                 evaluator so an output identical to the expected one is never parsed
  {"seq", "event": "pid"|"start"|"done"|"load_error"|"exit", ...}      JSON events
  {"seq", "i", "error", "cpu"}                                         input i raised or timed out

Outputs are plain tagged data, never pickles: subclasses are reduced to their base value (a hostile
`__eq__` is never called), huge ints travel as hex, long float lists as base64 IEEE doubles, long lists of tuples of scalars as
rows ({"$lt": ...}).
"""

from __future__ import annotations

import array
import binascii
import itertools
import json
import math
import pickle
from decimal import Decimal
from fractions import Fraction

__all__ = ["WIRE_VERSION", "encode", "encode_output", "dumps", "decode", "decode_raw", "Opaque",
           "check_message", "stop_message", "output_parts", "parse_record"]

WIRE_VERSION = 8  # bump with any change to the format below (the ground-truth cache is keyed by it)
_MAX_DEPTH = 100
_BIG = 1 << 256


# encoding (runner side)


def _seq(values, depth):
    return [encode(v, depth + 1) for v in values]


def encode(x, depth=0):
    """Plain JSON data for a Python value, built from the base types' own methods only.

    Subclasses are reduced to their base value (a hostile `__eq__` or `__iter__` is never called)
    and tagged, so the evaluator can rebuild a value that compares like the original did.
    """
    if depth > _MAX_DEPTH:
        return {"$obj": "too deep"}
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        # decimal conversion of huge ints is quadratic; hex is linear
        return x if -_BIG < x < _BIG else {"$i": hex(x)}
    if t is float:
        return x if math.isfinite(x) else {"$f": repr(x)}
    if t is list:
        return _seq(list.__iter__(x), depth)
    if t is tuple:
        return {"$t": _seq(tuple.__iter__(x), depth)}
    if t is dict:
        return {"$d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in dict.items(x)]}
    if t is set:
        return {"$s": _seq(set.__iter__(x), depth)}
    if t is frozenset:
        return {"$fs": _seq(frozenset.__iter__(x), depth)}
    if t is complex:
        return {"$c": [encode(complex.real.__get__(x)), encode(complex.imag.__get__(x))]}
    if t is bytes:
        return {"$b": x.hex()}
    module = getattr(t, "__module__", "")
    if module == "numpy":
        return _encode_numpy(x, t, depth)
    if module == "fractions" and t.__name__ == "Fraction":
        return {"$fr": [int.__int__(x.numerator), int.__int__(x.denominator)]}
    if module == "decimal" and t.__name__ == "Decimal":
        return {"$dec": str.__str__(x.__str__())}
    # subclasses of the plain types (namedtuple, defaultdict, Counter, bool-like ints ...)
    for base in (bool, int, float, str, list, tuple, dict, set, frozenset, bytes):
        if isinstance(x, base):
            value = _base_value(x, base)
            return {"$sub": [base.__name__, encode(value, depth + 1)]}
    return {"$obj": t.__qualname__ if isinstance(getattr(t, "__qualname__", None), str) else "?"}


_SCALARS = frozenset((int, float, bool, str, type(None)))
_NUMBERS = frozenset((int, float, bool))
_EXACT = 1 << 53
NUMBER_LIST_MIN = 64


class _Plain:
    """An output whose JSON text is already the wire encoding (see `encode_output`), in parts: a huge
    body is never copied just to add a tag around it."""

    __slots__ = ("parts",)

    def __init__(self, *parts):
        self.parts = parts


def _is_plain(x, depth=0):
    """Whether encode(x) would be x itself: lists (of lists) of exact plain types, ints within range.
    Checked with C-level passes (map(type), min/max), not a Python call per element."""
    t = type(x)
    if t in _SCALARS:
        return t is not int or -_BIG < x < _BIG
    if t is not list or depth > _MAX_DEPTH:
        return False
    types = set(map(type, x))
    if types <= _SCALARS:
        if int in types:
            if types <= _NUMBERS:
                return -_BIG < min(x) and max(x) < _BIG
            return all(-_BIG < v < _BIG for v in x if type(v) is int)
        return True
    if types == {list}:
        return all(_is_plain(v, depth + 1) for v in x)
    return False


def _number_list(x):
    """A long list of floats (maybe with some ints or bools) as {"$n": [positions of the ints, positions
    of the bools, base64 of all values as IEEE doubles]}: exact, and several times faster than writing
    each float's decimal repr. Only where every value survives as a double: finite floats, ints within
    2**53. Every step is a C-level pass over the list, plus one Python step per int or bool."""
    if type(x) is not list or len(x) < NUMBER_LIST_MIN:
        return None
    types = list(map(type, x))
    n_float = types.count(float)
    if not n_float:
        return None  # ints alone: their JSON text is compact and fast already
    positions = {int: [], bool: []}
    left = len(x) - n_float
    for kind in (int, bool):
        if not left:
            break  # the rest are floats: no pass over the types for what is not there
        found, at = [], -1
        for _ in range(types.count(kind)):
            at = types.index(kind, at + 1)
            found.append(at)
        positions[kind] = found
        left -= len(found)
    if left:
        return None
    if any(not -_EXACT <= x[at] <= _EXACT for at in positions[int]):
        return None
    try:
        values = array.array("d", x)
    except OverflowError:
        return None
    if not math.isfinite(sum(values)):
        return None  # nan or inf: the general path tags them
    return _Plain('{"$n": [%s, %s, "%s"]}' % (json.dumps(positions[int]), json.dumps(positions[bool]),
                                            binascii.b2a_base64(values, newline=False).decode()))


def _tuple_rows(x):
    """A long list of tuples of plain scalars (rows, pairs, combinations) as {"$lt": [[...], ...]}: its
    JSON text straight from json.dumps (which writes a tuple as an array), instead of a Python call per
    tuple and per item (Mbpp/255's canonical output: 1.7 million tuples, 1 GB, 36 s -> a few). Every check
    is a C-level pass; big ints (hex on the general path) and non-finite floats fall back to it."""
    if type(x) is not list or len(x) < NUMBER_LIST_MIN or set(map(type, x)) != {tuple}:
        return None
    items = set(map(type, itertools.chain.from_iterable(x)))
    if not items <= _SCALARS:
        return None
    if int in items and not all(-_BIG < v < _BIG for v in itertools.chain.from_iterable(x) if type(v) is int):
        return None
    try:
        return _Plain('{"$lt": ', json.dumps(x, allow_nan=False, check_circular=False), "}")  # no cycles in rows
    except ValueError:
        return None


def encode_output(out):
    """The wire encoding of `out`: for plain data (the common case: numbers, strings, lists of them)
    the JSON text straight away, which equals json.dumps(encode(out)) but skips a Python call per element;
    non-finite floats (not JSON) take the general path."""
    if type(out) is str and out.isascii() and out.isprintable() and '"' not in out and "\\" not in out:
        return _Plain('"', out, '"')  # nothing to escape: what json.dumps would write, without a scan or copy
    numbers = _number_list(out)
    if numbers is not None:
        return numbers
    rows = _tuple_rows(out)
    if rows is not None:
        return rows
    if _is_plain(out):
        try:
            return _Plain(json.dumps(out, allow_nan=False, check_circular=False))  # a tree: _is_plain
        except ValueError:
            pass
    return encode(out)


def dumps(encoded):
    if type(encoded) is _Plain:
        return encoded.parts[0] if len(encoded.parts) == 1 else "".join(encoded.parts)
    return json.dumps(encoded)


def _base_value(x, base):
    if base in (bool, int):
        return int.__int__(x)
    if base is float:
        return float.__float__(x)
    if base is str:
        return str.__str__(x)
    if base is bytes:
        return bytes.__bytes__(x) if hasattr(bytes, "__bytes__") else bytes(bytearray(x))
    if base is dict:
        return dict(dict.items(x))
    return base(base.__iter__(x))


def _encode_numpy(x, t, depth):
    import numpy

    if isinstance(x, numpy.ndarray):
        return {"$nd": [str(x.dtype), encode(numpy.ndarray.tolist(x), depth + 1)]}
    if isinstance(x, numpy.generic):
        return {"$np": [str(x.dtype), encode(x.item(), depth + 1)]}
    return {"$obj": "numpy." + t.__name__}


# ---------------------------------------------------------------------------------------------------
# framing


def check_message(payload: dict) -> bytes:
    """Evaluator -> runner: run one check."""
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return b"P" + len(data).to_bytes(8, "big") + data


def stop_message(seq: int) -> bytes:
    """Evaluator -> runner: stop check `seq` now."""
    return b"S" + seq.to_bytes(8, "big")


def output_parts(seq: int, index: int, cpu: float, encoded) -> list[str]:
    """Runner -> evaluator: input `index`'s output line, in parts (the encoding is JSON text: never a raw
    newline). A huge output is written part by part, never joined into one more copy."""
    body = list(encoded.parts) if type(encoded) is _Plain else [json.dumps(encoded)]
    return ["=%d %d %r " % (seq, index, cpu), *body, "\n"]



def parse_record(head: bytes, *rest: bytes):
    """A runner line, in the pieces it arrived in: `=seq i cpu encoding` (an output, its encoding kept as
    raw bytes, joined once: a gigabyte output is not copied twice) or a JSON record.
    Raises ValueError (or RecursionError) on a malformed line."""
    if head[:1] == b"=":
        if rest and head.count(b" ") < 3:  # the header itself was cut between reads
            head, rest = b"".join([head, *rest]), ()
        seq, index, cpu, first = head.split(b" ", 3)  # ValueError if malformed
        raw = b"".join([first, *rest]) if rest else first
        return {"seq": int(seq[1:]), "i": int(index), "cpu": float(cpu), "out_raw": raw}
    return json.loads(b"".join([head, *rest]) if rest else head)


# ---------------------------------------------------------------------------------------------------
# decoding (evaluator side)


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
    """Inverse of `encode` (numpy is imported only for numpy values)."""
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
        import numpy as np

        return np.array(decode(data), dtype=None if dtype == "object" else dtype)
    if tag == "$np":
        dtype, data = value
        import numpy as np

        return np.dtype(dtype).type(decode(data))
    if tag == "$sub":
        return _rebuild_subclass(*value)
    if tag == "$n":
        return _decode_number_list(*value)
    if tag == "$lt":
        return [tuple(decode(v) for v in row) for row in value]
    return Opaque(str(value))


def _decode_number_list(ints: list, bools: list, data: str) -> list:
    """Inverse of `_number_list`: the values as base64 IEEE doubles, and which of them are ints or bools."""
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


def decode_raw(raw: bytes):
    """An output line's encoding back to a value; anything malformed decodes to a value equal to nothing."""
    try:
        return decode(json.loads(raw))
    except (ValueError, RecursionError, TypeError, KeyError):
        return Opaque("undecodable output")
