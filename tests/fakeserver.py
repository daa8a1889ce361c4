"""A chat-completions server the tests script: each request gets the next planned answer."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    """plan: list of (status, body) or callables(request_body) -> (status, body); the last one repeats."""

    def __init__(self, plan=None, health=200):
        self.plan = list(plan or [])
        self.health = health
        self.requests = []
        self.streamed = 0  # events written of streamed answers
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                status = server.health() if callable(server.health) else server.health
                self._send(status, {"status": "ok" if status == 200 else "loading"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    step = server.plan[0] if len(server.plan) == 1 else server.plan.pop(0)
                status, answer = step(body) if callable(step) else step
                if isinstance(answer, list):  # server-sent events: a streamed answer
                    self.send_response(status)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    try:
                        for event in answer:
                            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
                            self.wfile.flush()
                            server.streamed += 1
                        self.wfile.write(b"data: [DONE]\n\n")
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client stopped reading: it ended the answer
                    return
                self._send(status, answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(content, finish_reason="stop", reasoning=None, tokens=10):
    message = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return 200, {"choices": [{"index": 0, "finish_reason": finish_reason, "message": message}],
                 "usage": {"prompt_tokens": 5, "completion_tokens": tokens}}


class ScriptedReasoner:
    """A deterministic, greedy "reasoning model" for a dataset: for each problem a fixed reasoning text and
    a fixed answer (the canonical solution in markdown), as one stream of tokens of CHARS characters each;
    a request with max_tokens M gets the first M tokens of the stream, reasoning first (`reasoning_content`,
    or inline `<think>` text with `inline=True`): cut while thinking, cut while answering, or whole. Its
    /tokenize counts the same tokens. `plan(task_id) -> (reasoning tokens, looped)` shapes each problem."""

    CHARS = 8

    def __init__(self, dataset, plan, inline=False, delay=0.0):
        from benchlib.generation.prompt import build_messages

        self.inline = inline
        self.delay = delay  # seconds per answer
        self.by_prompt = {}
        for task_id, problem in dataset.problems.items():
            tokens, loops = plan(task_id)
            size = tokens * self.CHARS
            if loops:
                thought = ("Wait, maybe not. " * (size // 17 + 1))[:size]
            else:  # never repeating itself
                thought = "".join(f"Step {i}: case {i * 7919 % 104729} of {task_id}. " for i in range(size // 20 + 1))[:size]
            answer = f"```python\n{problem['prompt']}{problem['canonical_solution']}```\n"
            self.by_prompt[build_messages(problem["prompt"])[1]["content"]] = (thought, answer)

    def __call__(self, body):
        if "messages" not in body:  # /tokenize
            return 200, {"tokens": list(range(-(-len(body.get("content", "")) // self.CHARS)))}
        thought, answer = self.by_prompt[body["messages"][1]["content"]]
        if self.delay:
            import time

            time.sleep(self.delay)
        budget = body.get("max_tokens", 10**9) * self.CHARS
        thinking, answering = thought[:budget], answer[: max(0, budget - len(thought))]
        finish = "stop" if len(thought) + len(answer) <= budget else "length"
        used = -(-(len(thinking) + len(answering)) // self.CHARS)
        if body.get("stream"):  # one event per token, reasoning first, then the finish and the usage
            step = self.CHARS
            events = [{"choices": [{"index": 0, "delta": {"reasoning_content": thinking[i:i + step]}}]}
                      for i in range(0, len(thinking), step)]
            events += [{"choices": [{"index": 0, "delta": {"content": answering[i:i + step]}}]}
                       for i in range(0, len(answering), step)]
            events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                           "usage": {"prompt_tokens": 50, "completion_tokens": used}})
            return 200, events
        if self.inline:
            message = {"role": "assistant",
                       "content": f"<think>{thinking}" + (f"</think>{answering}" if len(thinking) == len(thought) else "")}
        else:
            message = {"role": "assistant", "content": answering, "reasoning_content": thinking}
        return 200, {"choices": [{"index": 0, "finish_reason": finish, "message": message}],
                     "usage": {"prompt_tokens": 50, "completion_tokens": used}}
