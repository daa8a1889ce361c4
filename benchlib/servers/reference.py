"""The built-in self-test server: OpenAI-compatible, answers each benchmark prompt with its canonical
solution. A profile with `server = reference` runs the whole pipeline without a GPU or Docker and must
score 100.0. `start` launches it as a process (`python -m benchlib.servers.reference --dataset humaneval
[--data-dir DIR]`) like a llama-server; it cannot be probed for a token cap (it answers canonically).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..datasets import load_dataset
from ..generation.prompt import PROMPT_STYLES

if TYPE_CHECKING:
    from ..config import Profile
    from ..results import ServerFiles
    from ..settings import Settings
    from . import ServerHandle

__all__ = ["answers_for", "serve", "start"]


@contextlib.contextmanager
def start(profile: "Profile", settings: "Settings", files: "ServerFiles", log: logging.Logger) -> Iterator["ServerHandle"]:
    from .hosts import LOCAL
    from .process import ProcessServer, serve_process

    command = [sys.executable, "-m", "benchlib.servers.reference", "--dataset", settings.dataset]
    if settings.data_dir:
        command += ["--data-dir", str(settings.data_dir)]
    override = settings.dataset_overrides.get(settings.dataset)
    if override:
        command += ["--file", override]
    if settings.reference_delay:
        command += ["--delay", str(settings.reference_delay)]
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    server = ProcessServer(command, files.server_log, files.server_pid, env=env)
    with serve_process(server, profile.health_timeout, log, {"backend": "reference", "host": LOCAL}, {},
                       probe_token_cap=False) as handle:
        yield handle


def answers_for(dataset) -> dict[str, dict[str, str]]:
    """Per endpoint, the prompt (exactly as evalplus builds it) -> the answer holding the canonical solution:
    for chat, the user message -> a markdown answer; for completions (a base model's prompt style), the
    task's prompt -> the canonical solution's body, its continuation."""
    answers: dict[str, dict[str, str]] = {style.path: {} for style in PROMPT_STYLES.values()}
    for task_id in dataset.task_ids:
        problem = dataset.problems[task_id]
        for style in PROMPT_STYLES.values():
            answers[style.path][style.asking(problem["prompt"])] = (
                f"Here is a solution:\n```python\n{dataset.solution_of(task_id).strip()}\n```\n" if style.chat
                else problem["canonical_solution"])
    return answers


def _handler(answers: dict[str, str], delay: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            sys.stderr.write("reference-server: " + (fmt % args) + "\n")

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/health":
                self._send(200, {"status": "ok"})
            elif self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": "reference", "object": "model"}]})
            elif self.path == "/props":
                self._send(200, {"build_info": "benchlib reference server", "model_path": "canonical-solutions"})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}", "code": 404}})

        def do_POST(self) -> None:  # noqa: N802
            if self.path not in answers:
                self._send(404, {"error": {"message": f"no route {self.path}", "code": 404}})
                return
            style = next(style for style in PROMPT_STYLES.values() if style.path == self.path)
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length))
                asked = style.asked(body)
            except (ValueError, KeyError, StopIteration, TypeError):
                self._send(400, {"error": {"message": f"expected a request for {style.path}", "code": 400}})
                return
            answer = answers[self.path].get(asked)
            if answer is None:
                self._send(400, {"error": {"message": "unknown prompt: not a benchmark problem of this dataset",
                                           "code": 400}})
                return
            if delay:
                time.sleep(delay)
            tokens = max(1, len(answer) // 4)
            usage = {"prompt_tokens": len(asked) // 4, "completion_tokens": tokens,
                     "total_tokens": len(asked) // 4 + tokens}
            kind, choice = style.reply(answer)
            self._send(200, {"id": "cmpl-reference", "object": kind,
                             "created": int(time.time()), "model": body.get("model", "reference"),
                             "choices": [choice], "usage": usage})

    return Handler


def serve(dataset_key: str, data_dir: str | None, host: str, port: int, delay: float, file: str | None = None) -> None:
    answers = answers_for(load_dataset(dataset_key, data_dir, override=file))
    server = ThreadingHTTPServer((host, port), _handler(answers, delay))
    server.daemon_threads = True
    # the same line llama-server prints once it is ready: the launcher reads the port from it
    print(f"main: server is listening on http://{host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="humaneval")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--file", default=None, help="the dataset file itself")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each answer (tests)")
    args = parser.parse_args(argv)
    serve(args.dataset, args.data_dir, args.host, args.port, args.delay, args.file)


if __name__ == "__main__":
    main()
