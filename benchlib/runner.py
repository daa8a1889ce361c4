"""Runs one untrusted solution on one phase of test inputs, inside the sandbox.

Standalone on purpose (stdlib only, no benchlib imports): it is started as a script by a fresh Python,
possibly in a container with nothing else installed. Protocol:
  stdin  - a pickle written by the evaluator: {"code", "entry_point", "inputs", "time_limits"}
  stdout - JSON lines: {"event": "start"}, then one {"i", "out"|"error", "cpu"} per input, then
           {"event": "done"}; or {"event": "load_error", "error"} when the code does not define the
           entry point. Outputs are plain tagged data (see `encode`), never pickles, and expected
           outputs never enter this process: the comparison happens in the evaluator.
Per-input limits are CPU seconds (ITIMER_PROF), so a busy machine does not turn a correct solution
into a timeout; the evaluator adds the hard CPU rlimit and a wall-clock backstop.
"""

import io
import json
import math
import os
import pickle
import signal
import sys
import time

WIRE_VERSION = 2
_MAX_DEPTH = 100
_BIG = 1 << 256


class _Unencodable(Exception):
    pass


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


class _Sink(io.StringIO):
    """What print() and input() see: writes vanish, reads fail (as under evalplus)."""

    def write(self, text):
        return len(text)

    def read(self, *args, **kwargs):
        raise IOError

    readline = readlines = read

    def readable(self, *args, **kwargs):
        return False


class TimeoutException(Exception):
    pass


def _on_cpu_limit(signum, frame):
    raise TimeoutException("CPU time limit")


def _evalplus_guard():
    """The same functions evalplus's reliability_guard disables, so solutions see the same environment.

    Not a security boundary (the sandbox is): it keeps pass/fail identical to evalplus.
    """
    import builtins
    import faulthandler
    import shutil
    import subprocess

    faulthandler.disable()
    builtins.exit = None
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
                 "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod",
                 "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    builtins.open = None
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def main():
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    payload = pickle.load(sys.stdin.buffer)
    out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sink = _Sink()
    sys.stdin = sys.stdout = sys.stderr = sink
    dumps = json.dumps
    write = os.write

    def emit(record):
        data = (dumps(record) + "\n").encode("utf-8", "surrogatepass")
        while data:
            data = data[write(out_fd, data):]

    signal.signal(signal.SIGPROF, _on_cpu_limit)
    _evalplus_guard()
    clock = time.process_time
    setitimer = signal.setitimer
    emit({"event": "start", "wire": WIRE_VERSION})
    namespace = {}
    try:
        exec(payload["code"], namespace)
        fn = namespace[payload["entry_point"]]
    except BaseException as exc:  # noqa: BLE001 - anything the code raises is a failed load
        emit({"event": "load_error", "error": type(exc).__name__})
        return
    for i, (args, limit) in enumerate(zip(payload["inputs"], payload["time_limits"])):
        start = clock()
        try:
            setitimer(signal.ITIMER_PROF, limit)
            try:
                out = fn(*args)
            finally:
                setitimer(signal.ITIMER_PROF, 0)
            record = {"i": i, "out": encode(out), "cpu": clock() - start}
        except TimeoutException:
            record = {"i": i, "error": "timeout", "cpu": clock() - start}
        except BaseException as exc:  # noqa: BLE001
            record = {"i": i, "error": type(exc).__name__, "cpu": clock() - start}
        try:
            emit(record)
        except (Exception, MemoryError):  # noqa: BLE001 - e.g. too large to serialise within the limits
            record = None
            emit({"i": i, "error": "unencodable output", "cpu": clock() - start})
    emit({"event": "done"})


if __name__ == "__main__":
    main()
