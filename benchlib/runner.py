"""Runs untrusted solutions on test inputs, inside the sandbox: `python runner.py --serve`.

Standalone on purpose (stdlib only, no benchlib imports): it runs in a fresh Python, possibly in a
container with nothing else installed. It is a fork server: it imports what solutions commonly use
once (as evalplus's forked workers have it imported), then forks a fresh child per check, which is
fast and gives every check a clean process. Protocol on its stdin (from the evaluator):
  b"P" + 8-byte length + pickle {"seq", "code", "entry_point", "inputs", "time_limits",
                                  "cpu_budget", "wall_budget", "memory"}   run one check
  b"S" + 8-byte seq                                                     stop that check now
and lines on its stdout, each carrying the check's seq: JSON records {"event": "pid"}, {"event": "start"},
per input either `=seq i cpu <the output's encoding>` or {"i", "error", "cpu"}, then {"event": "done"} or
{"event": "load_error"}, and finally {"event": "exit", "reason"} from the server itself once the child is
gone. Output lines are batched (see _Emitter). Outputs are plain tagged
data (see `encode`), never pickles; expected outputs never enter this process: the evaluator judges.
Per-input limits are CPU seconds (ITIMER_PROF), so a busy machine does not turn a correct solution
into a timeout, with a generous wall-clock limit beside them for code that sleeps or blocks; the
evaluator adds the hard CPU rlimit and a wall-clock backstop for the whole run.
"""

import array
import binascii
import io
import json
import math
import os
import pickle
import signal
import sys
import time

WIRE_VERSION = 7
_MAX_DEPTH = 100
_BIG = 1 << 256
FILE_SIZE_LIMIT = 64 * 1024**2
PROCESS_LIMIT = 64  # processes of a check's user (a fork bomb stops here)
WALL_FACTOR = 4
FLUSH_SECONDS = 0.02
FLUSH_BYTES = 1 << 20


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
    """An output whose JSON text is already the wire encoding (see `_plain_or_encoded`)."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


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
    positions = {}
    for kind in (int, bool):
        found, at = [], -1
        for _ in range(types.count(kind)):
            at = types.index(kind, at + 1)
            found.append(at)
        positions[kind] = found
    if n_float + len(positions[int]) + len(positions[bool]) != len(x):
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
                                            binascii.b2a_base64(values.tobytes(), newline=False).decode()))


def _plain_or_encoded(out):
    """The wire encoding of `out`: for plain data (the common case: numbers, strings, lists of them)
    the JSON text straight away, which equals json.dumps(encode(out)) but skips a Python call per element;
    non-finite floats (not JSON) take the general path."""
    if type(out) is str and out.isascii() and out.isprintable() and '"' not in out and "\\" not in out:
        return _Plain('"' + out + '"')  # nothing to escape: what json.dumps would write, without the scan
    numbers = _number_list(out)
    if numbers is not None:
        return numbers
    if _is_plain(out):
        try:
            return _Plain(json.dumps(out, allow_nan=False))
        except ValueError:
            pass
    return encode(out)


def _dumps(encoded):
    return encoded.text if type(encoded) is _Plain else json.dumps(encoded)


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


def _on_limit(signum, frame):
    raise TimeoutException("time limit")


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


class _Emitter:
    """Writes record lines to the evaluator, in batches: an output line waits at most FLUSH_SECONDS (or
    FLUSH_BYTES) before it leaves, so a check with a thousand fast inputs costs a few writes, not a
    thousand, while a wrong output still reaches the judge (which stops the check) within milliseconds.
    Events and errors leave at once. Records still waiting when the process is killed are lost: the
    check fails either way."""

    def __init__(self, fd, seq):
        self.fd = fd
        self.seq = seq
        self.parts = []
        self.size = 0
        self.last = time.monotonic()

    def __call__(self, record, fresh_line=False):
        """An event or error: one JSON line, sent at once with anything still waiting. `fresh_line`
        ends whatever partial line a killed child left in the pipe first."""
        record["seq"] = self.seq
        self._add(("\n" if fresh_line else "") + json.dumps(record) + "\n")
        self.flush()

    def output(self, i, cpu, encoded):
        """Input i's output: `=seq i cpu encoding` on one line (the encoding is JSON text, which never
        holds a raw newline), so the evaluator can compare it with the expected encoding unparsed."""
        self._add("=%d %d %r %s\n" % (self.seq, i, cpu, _dumps(encoded)))
        now = time.monotonic()
        if self.size >= FLUSH_BYTES or now - self.last >= FLUSH_SECONDS:
            self.flush()

    def _add(self, text):
        self.parts.append(text)
        self.size += len(text)

    def flush(self):
        data = "".join(self.parts).encode("utf-8", "surrogatepass")
        self.parts, self.size, self.last = [], 0, time.monotonic()
        write = os.write
        while data:
            data = data[write(self.fd, data):]


def run_check(payload, emit):
    """In the forked child: load the solution, call it on each input, report each output."""
    sink = _Sink()
    sys.stdin = sys.stdout = sys.stderr = sink
    signal.signal(signal.SIGPROF, _on_limit)
    signal.signal(signal.SIGALRM, _on_limit)
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
            # CPU time decides (load-independent); a generous wall clock catches sleeping or blocked code
            setitimer(signal.ITIMER_PROF, limit)
            setitimer(signal.ITIMER_REAL, WALL_FACTOR * limit + 1.0)
            try:
                out = fn(*args)
            finally:
                setitimer(signal.ITIMER_PROF, 0)
                setitimer(signal.ITIMER_REAL, 0)
            encoded = _plain_or_encoded(out)
            cpu = clock() - start
        except TimeoutException:
            emit({"i": i, "error": "timeout", "cpu": clock() - start})
            continue
        except BaseException as exc:  # noqa: BLE001
            emit({"i": i, "error": type(exc).__name__, "cpu": clock() - start})
            continue
        try:
            emit.output(i, cpu, encoded)
        except (Exception, MemoryError):  # noqa: BLE001 - e.g. too large to serialise within the limits
            encoded = None
            emit({"i": i, "error": "unencodable output", "cpu": clock() - start})
        encoded = None
    emit({"event": "done"})


def _child(payload, out_fd, workdir):
    """Trusted set-up in the forked child, before any untrusted code runs."""
    import resource

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    os.chdir(workdir)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)  # the command pipe and the record pipe's usual number stay out of reach
    os.closerange(3, out_fd)
    os.closerange(out_fd + 1, 1 << 16)
    memory = payload.get("memory")
    cpu = max(1, int(math.ceil(payload["cpu_budget"])))
    limits = [(resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT,) * 2),
              (resource.RLIMIT_CORE, (0, 0)), (resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))]
    if memory:
        limits += [(resource.RLIMIT_AS, (memory, memory)), (resource.RLIMIT_DATA, (memory, memory))]
    for limit, value in limits:
        resource.setrlimit(limit, value)
    uid = payload.get("uid")
    if uid and os.geteuid() == 0:
        # an unprivileged user of its own: cannot signal the server, read private files, write outside
        # its work dir, or exceed the process limit (which root ignores)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    run_check(payload, _Emitter(out_fd, payload["seq"]))


def _read_exact(fd, n):
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _preload():
    """Modules evalplus's workers have imported before a solution runs (their import under the
    guard would fail, e.g. numpy needs os.getcwd): import them once, here."""
    for name in ("subprocess", "faulthandler", "numpy", "collections", "itertools", "functools", "heapq", "bisect",
                 "re", "string", "hashlib", "statistics", "fractions", "decimal", "random", "typing", "copy",
                 "operator"):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - absent in a minimal image: solutions will fail as they would
            pass


def serve():
    import shutil
    import tempfile

    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    _preload()
    out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.dup2(null, 2)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *a: None)
    pending = None
    while True:
        if pending is None:
            kind = _read_exact(0, 1)
            if kind is None:
                return
            if kind == b"S":
                _read_exact(0, 8)  # a stop for a check that already ended
                continue
            data = _read_exact(0, int.from_bytes(_read_exact(0, 8), "big"))
        else:
            data, pending = pending, None
        payload = pickle.loads(data)
        emit = _Emitter(out_fd, payload["seq"])
        workdir = tempfile.mkdtemp(prefix="check-")
        uid = payload.get("uid")
        if uid and os.geteuid() == 0:
            os.chown(workdir, uid, uid)
        pid = os.fork()
        if pid == 0:
            try:
                _child(payload, out_fd, workdir)
            finally:
                os._exit(0)
        emit({"event": "pid", "pid": pid})
        reason, pending = _supervise(pid, payload, wake_read)
        _kill_group(pid)  # whatever it started in its session
        if uid and os.geteuid() == 0:
            _kill_user(uid)  # and whatever left the session (setsid, double fork)
        shutil.rmtree(workdir, ignore_errors=True)
        emit({"event": "exit", "reason": reason}, fresh_line=True)


def _kill_user(uid):
    """SIGKILL every process of `uid` (the check's own user), repeated until none is left."""
    for _ in range(100):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/status" % entry) as status:
                    owner = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
            except (OSError, StopIteration, ValueError):
                continue
            if owner == uid:
                found = True
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        if not found:
            return
        time.sleep(0.01)


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _supervise(pid, payload, wake_read):
    """Wait for the child; stop it on the evaluator's request or at the wall-clock budget."""
    import select

    deadline = time.monotonic() + payload["wall_budget"]
    killed = ""
    pending = None  # the next check, if the evaluator sent it early (a child can fake an "exit" record)
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            if killed:
                return killed, pending
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                if sig in (signal.SIGXCPU, signal.SIGKILL) and \
                        usage.ru_utime + usage.ru_stime >= int(math.ceil(payload["cpu_budget"])) - 0.5:
                    return "CPU limit (%d s)" % math.ceil(payload["cpu_budget"]), pending
                return "died of signal %d" % sig, pending
            code = os.WEXITSTATUS(status)
            return ("" if code == 0 else "exit code %d" % code), pending
        remaining = deadline - time.monotonic()
        if remaining <= 0 and not killed:
            killed = "wall-clock limit (%d s)" % payload["wall_budget"]
            _kill_group(pid)
            continue
        ready, _, _ = select.select([0, wake_read], [], [], max(remaining, 0.05) if not killed else 0.05)
        if wake_read in ready:
            os.read(wake_read, 4096)
        if 0 in ready:
            kind = _read_exact(0, 1)
            if kind == b"S":
                seq = int.from_bytes(_read_exact(0, 8), "big")
                if seq == payload["seq"] and not killed:
                    killed = "stopped"
                    _kill_group(pid)
            elif kind == b"P" and pending is None:
                pending = _read_exact(0, int.from_bytes(_read_exact(0, 8), "big"))
            elif kind is None:  # the evaluator is gone
                _kill_group(pid)
                sys.exit(0)


if __name__ == "__main__":
    serve()
