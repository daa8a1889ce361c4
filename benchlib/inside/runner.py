"""Runs untrusted solutions on test inputs, inside the sandbox: `python runner.py`.

Standalone on purpose (stdlib only; it imports only its sibling modules `wire` and `limits`, which are
stdlib-only too): it runs in a fresh Python, possibly in a container with nothing else installed. It is
a fork server: it imports what solutions commonly use once (as evalplus's forked workers have it
imported), then forks a fresh child per check, which is fast and gives every check a clean process.
The protocol is in wire.py, the limits in limits.py. Output lines are batched (see _Emitter).
Expected outputs never enter this process: the evaluator judges.
"""

import io
import json
import math
import os
import pickle
import resource
import signal
import sys
import time

import limits
import wire

FLUSH_SECONDS = 0.02
FLUSH_BYTES = 1 << 20



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
        parts = wire.output_parts(self.seq, i, cpu, encoded)
        if sum(map(len, parts)) >= FLUSH_BYTES:  # a huge output leaves at once, part by part, uncopied
            self.flush()
            for part in parts:
                self._write(part.encode("utf-8", "surrogatepass"))
            return
        self._add("".join(parts))
        now = time.monotonic()
        if self.size >= FLUSH_BYTES or now - self.last >= FLUSH_SECONDS:
            self.flush()

    def _add(self, text):
        self.parts.append(text)
        self.size += len(text)

    def flush(self):
        data = "".join(self.parts).encode("utf-8", "surrogatepass")
        self.parts, self.size, self.last = [], 0, time.monotonic()
        self._write(data)

    def _write(self, data):
        view = memoryview(data)  # a partial write (a signal) resumes without copying the rest
        while view:
            view = view[os.write(self.fd, view):]


def _message(exc):
    """str(exc), cut to limits.MESSAGE_CHARS; "" when it cannot be had: its __str__ is the solution's code,
    which may raise, loop (a CPU timer stops it) or return something odd. Never raises."""
    try:
        try:
            signal.setitimer(signal.ITIMER_PROF, limits.MESSAGE_CPU)
            text = str(exc)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        if not isinstance(text, str):
            return ""
        return str.__getitem__(text, slice(0, limits.MESSAGE_CHARS))
    except BaseException:  # noqa: BLE001
        return ""


def run_check(payload, emit):
    """In the forked child: load the solution, call it on each input, report each output."""
    sink = _Sink()
    sys.stdin = sys.stdout = sys.stderr = sink
    signal.signal(signal.SIGPROF, _on_limit)
    signal.signal(signal.SIGALRM, _on_limit)
    _evalplus_guard()
    clock = time.process_time
    setitimer = signal.setitimer
    emit({"event": "start", "wire": wire.WIRE_VERSION})
    namespace = {}
    try:
        exec(payload["code"], namespace)
        fn = namespace[payload["entry_point"]]
    except BaseException as exc:  # noqa: BLE001 - anything the code raises is a failed load
        emit({"event": "load_error", "error": type(exc).__name__, "message": _message(exc)})
        return
    for i, (args, limit) in enumerate(zip(payload["inputs"], payload["time_limits"])):
        start = clock()
        try:
            # CPU time decides (load-independent); a generous wall clock catches sleeping or blocked code
            setitimer(signal.ITIMER_PROF, limit)
            setitimer(signal.ITIMER_REAL, limits.input_wall(limit))
            try:
                out = fn(*args)
            finally:
                setitimer(signal.ITIMER_PROF, 0)
                setitimer(signal.ITIMER_REAL, 0)
            encoded = wire.encode_output(out)
            cpu = clock() - start
        except TimeoutException:
            emit({"i": i, "error": "timeout", "cpu": clock() - start})
            continue
        except BaseException as exc:  # noqa: BLE001
            cpu = clock() - start
            emit({"i": i, "error": type(exc).__name__, "message": _message(exc), "cpu": cpu})
            continue
        try:
            emit.output(i, cpu, encoded)
        except (Exception, MemoryError):  # noqa: BLE001 - e.g. too large to serialise within the limits
            encoded = None
            emit({"i": i, "error": "unencodable output", "cpu": clock() - start})
        encoded = None
    emit({"event": "done"})


def _open_import_dirs():
    """Folders Python imports from, opened while we can still read them: {path: fd}.

    Run as root without bubblewrap, the checks drop to a user of their own, who may not be allowed to
    reach the interpreter's files (a venv or pyenv under /root, mode 0700). A directory file descriptor
    opened before the drop still works after it: paths through /proc/self/fd/N are checked from that
    folder down, not from / (so /root's other files stay out of reach: looking anything up in /root
    itself still needs a search permission the check's user lacks)."""
    found = {}
    for path in sys.path:
        path = os.path.abspath(path or ".")
        if path not in found and os.path.isdir(path):
            try:
                found[path] = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                pass
    return found


def _import_through(dir_fds):
    """Once, in the fork server: import from the folders held open (see _open_import_dirs), so the
    checks' own user can. Each child only has to make itself dumpable again (see _child)."""
    ordered = sorted(dir_fds.items(), key=lambda item: -len(item[0]))

    def moved(path):
        for folder, fd in ordered:
            if path == folder or path.startswith(folder + os.sep):
                return "/proc/self/fd/%d%s" % (fd, path[len(folder):])
        return path

    sys.path[:] = [moved(os.path.abspath(p or ".")) for p in sys.path]
    for module in list(sys.modules.values()):
        paths = getattr(module, "__path__", None)
        if type(paths) is list:
            paths[:] = [moved(p) for p in paths]
    sys.path_importer_cache.clear()


def _close_fds(keep):
    """Close every descriptor from 3 up, except those in `keep`."""
    start = 3
    for fd in sorted(keep):
        if fd >= start:
            os.closerange(start, fd)
            start = fd + 1
    os.closerange(start, 1 << 16)


def _child(payload, out_fd, workdir, dir_fds, prctl):
    """Trusted set-up in the forked child, before any untrusted code runs."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    os.chdir(workdir)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)  # the command pipe and the record pipe's usual number stay out of reach
    _close_fds({out_fd, *dir_fds.values()})
    memory = payload.get("memory")
    cpu = max(1, int(math.ceil(payload["cpu_budget"])))
    rlimits = [(resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_FSIZE, (limits.FILE_SIZE_LIMIT,) * 2),
              (resource.RLIMIT_CORE, (0, 0)), (resource.RLIMIT_NPROC, (limits.PROCESS_LIMIT,) * 2)]
    if memory:
        rlimits += [(resource.RLIMIT_AS, (memory, memory)), (resource.RLIMIT_DATA, (memory, memory))]
    for limit, value in rlimits:
        resource.setrlimit(limit, value)
    uid = payload.get("uid")
    if uid and os.geteuid() == 0:
        # an unprivileged user of its own: cannot signal the server, read private files, write outside
        # its work dir, or exceed the process limit (which root ignores)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if dir_fds:
            # a process that changed its uid is not "dumpable": its /proc/self/fd would belong to root
            prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
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
    dir_fds = _open_import_dirs() if "--fd-imports" in sys.argv and os.geteuid() == 0 else {}
    try:  # here, while the interpreter's files are readable: a check's own user may not reach them
        import ctypes

        prctl = ctypes.CDLL(None).prctl
    except (ImportError, OSError, AttributeError):  # a minimal Python: its checks import the usual way
        prctl, dir_fds = None, {}
    if dir_fds:
        _import_through(dir_fds)
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
                _child(payload, out_fd, workdir, dir_fds, prctl)
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
    """SIGKILL every process of `uid` (the check's own user), repeated until none is left. The real uid
    is read from /proc/N/status (not the folder's owner, which a non-dumpable process hides), as raw
    bytes: this runs after every check."""
    key = b"\nUid:\t"
    for _ in range(100):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fd = os.open("/proc/" + entry + "/status", os.O_RDONLY)
                try:
                    data = os.read(fd, 4096)
                finally:
                    os.close(fd)
                at = data.index(key) + len(key)
                owner = int(data[at:data.index(b"\t", at)])
            except (OSError, ValueError):
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
