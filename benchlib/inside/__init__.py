"""The code that runs inside the sandbox: the sandbox boundary, as a folder.

    runner.py   the fork server that runs model-written code on test inputs (`python runner.py --serve`)
    wire.py     the wire format both ways (framing, encoding on this side, decoding on the judge's side)
    limits.py   every limit a check runs under

This folder, and only it, is mounted read-only into the sandbox (bubblewrap binds it back, the docker
sandbox mounts it at /benchlib). Its modules run in a bare Python (possibly a container with nothing else
installed), so they import the standard library and each other only: tests/test_inside.py checks that.
The judge side imports `wire` and `limits` from here as `benchlib.inside`.
"""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent  # what the sandbox mounts
RUNNER = FOLDER / "runner.py"
