"""A chat-completions server the tests script: each request gets the next planned answer."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    """plan: list of (status, body) or callables(request_body) -> (status, body); the last one repeats.
    `template`: what /apply-template renders a chat request as (its prompt's text), or None: that route is
    missing (404), as on servers that are not llama-server; it is answered apart from the plan."""

    def __init__(self, plan=None, health=200, template=None, props=None):
        self.plan = list(plan or [])
        self.health = health
        self.template = template
        self.props = props  # what GET /props answers (a dict, changeable between runs), None: as /health
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
                if self.path == "/props" and server.props is not None:
                    self._send(200, server.props)
                    return
                status = server.health() if callable(server.health) else server.health
                self._send(status, {"status": "ok" if status == 200 else "loading"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/apply-template":
                    if server.template is None:
                        self._send(404, {"error": {"message": "File Not Found", "code": 404}})
                    else:
                        self._send(200, {"prompt": server.template(body)})
                    return
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
    a request with max_tokens M gets the first M tokens of the stream, reasoning first: cut while thinking,
    cut while answering, or whole. `plan(task_id) -> (reasoning tokens, looped[, answer loops])` shapes each
    problem. `shape` is how the reasoning reaches the client, as real servers send it:

        reasoning_content  a separate field (llama-server with a reasoning format)
        reasoning          a separate field named as vLLM 0.11+ and OpenRouter name it
        inline             `<think>...</think>` in the content (--reasoning-format none, unknown templates)
        template           the chat template opened the thinking (FakeServer's `template` renders a prompt
                           ending in <think>): the content is bare reasoning, `</think>`, then the answer

    `tokenize`: its /tokenize counts the same tokens (False: 404, as vLLM or OpenRouter); `usage_reasoning`:
    usage.completion_tokens_details.reasoning_tokens is reported.

    A thinking budget, as llama-server's: a chat request's `reasoning_budget` B cuts the thinking at B tokens,
    forces `budget_message` and the closing tag, and the answer follows; what the model answers after a
    forced end depends on how long it thought (`answer_after`: right from half its natural thinking on,
    wrong before; a looping thinker never right). /tokenize (special tags as single ids with
    parse_special), /detokenize and /completion (a prompt of token ids: the templated prompt, the thinking,
    the forced tokens) behave as llama-server's, so a curve point by continuation can be compared with a
    real run at that budget. /completion answers nonsense unless the closing tag is the special id."""

    CHARS = 8
    SHAPES = ("reasoning_content", "reasoning", "inline", "template")

    def __init__(self, dataset, plan, inline=False, delay=0.0, shape=None, tokenize=True, usage_reasoning=False,
                 budget_message="", drift=False):
        import threading

        from benchlib.generation.prompt import build_messages

        self.shape = shape or ("inline" if inline else "reasoning_content")
        assert self.shape in self.SHAPES, self.shape
        self.tokenize = tokenize
        self.usage_reasoning = usage_reasoning
        self.budget_message = budget_message
        self.drift = drift  # /completion answers otherwise than a real run would (a spot check must catch it)
        self.delay = delay  # seconds per answer
        self.by_prompt = {}  # user message -> (thinking, answer)
        self.by_task = {}  # task -> (thinking, answer)
        self.task_of = {}  # user message -> task
        self.need = {}  # task -> thinking tokens it needs to answer right after a forced end (None: never)
        self.wrong = {}  # task -> its answer when it had to stop thinking too early
        self.vocab = {"<think>": 0, "</think>": 1}  # the special tags' ids; plain pieces get the next ones
        self.pieces = ["<think>", "</think>"]
        self.lock = threading.Lock()
        for task_id, problem in dataset.problems.items():
            tokens, loops, *answer_loops = plan(task_id)
            user = build_messages(problem["prompt"])[1]["content"]
            self.task_of[user] = task_id
            self.need[task_id] = None if loops else tokens // 2
            self.wrong[task_id] = f"```python\n{problem['prompt']}    return None\n```\n"
            size = tokens * self.CHARS
            if loops:
                thought = ("Wait, maybe not. " * (size // 17 + 1))[:size]
            else:  # never repeating itself
                thought = "".join(f"Step {i}: case {i * 7919 % 104729} of {task_id}. " for i in range(size // 20 + 1))[:size]
            answer = f"```python\n{problem['prompt']}{problem['canonical_solution']}```\n"
            if answer_loops and answer_loops[0]:  # an answer that never ends: the same line, over and over
                answer = "```python\n" + "    x = x + 1  # again\n" * 4000
            self.by_prompt[user] = self.by_task[task_id] = (thought, answer)

    # tokens, as llama-server's endpoints see them: CHARS-character pieces, the tags special with parse_special

    def ids(self, text, special=False):
        import re

        parts = re.split(r"(</?think>)", text) if special else [text]
        out = []
        with self.lock:
            for part in parts:
                if special and part in ("<think>", "</think>"):
                    out.append(self.vocab[part])
                    continue
                for i in range(0, len(part), self.CHARS):
                    piece = part[i:i + self.CHARS]
                    if piece not in self.vocab:
                        self.vocab[piece] = len(self.pieces)
                        self.pieces.append(piece)
                    out.append(self.vocab[piece])
        return out

    def text(self, ids):
        return "".join(self.pieces[i] for i in ids)

    def answer_after(self, task_id, thought_tokens):
        """What the model answers once its thinking was ended after `thought_tokens` tokens."""
        need = self.need[task_id]
        return self.by_task[task_id][1] if need is not None and thought_tokens >= need else self.wrong[task_id]

    def complete(self, body):
        """/completion with a prompt of token ids: templated prompt, <think>, the thinking, forced tokens."""
        ids = body["prompt"]
        prompt = self.text(ids)
        task_id = next(task for user, task in self.task_of.items() if user in prompt)
        thought, _ = self.by_task[task_id]
        forced = self.ids(self.budget_message) + [self.vocab["</think>"]] if self.budget_message else [self.vocab["</think>"]]
        opened = max(i for i, token in enumerate(ids) if token == self.vocab["<think>"])
        thinking = self.text(ids[opened + 1:len(ids) - len(forced)]).lstrip("\n")
        if ids[-len(forced):] != forced or not thought.startswith(thinking):
            answer = "the forced end of thinking was not the special token: nonsense follows"
        else:
            answer = self.answer_after(task_id, -(-len(thinking) // self.CHARS) + (10**6 if self.drift else 0))
        limit = body.get("n_predict", 10**9) * self.CHARS
        content = answer[:limit]
        return 200, {"content": content, "tokens_predicted": -(-len(content) // self.CHARS),
                     "stop_type": "eos" if len(answer) <= limit else "limit"}

    @staticmethod
    def template(body):
        """FakeServer's /apply-template for the `template` shape: a prompt that opens the thinking."""
        return "".join(f"<|{m['role']}|>{m['content']}\n" for m in body["messages"]) + "<|assistant|>\n<think>\n"

    def _message(self, thinking, answering, whole_thought):
        """(reasoning field, content) of this shape."""
        closed = "</think>" + answering if whole_thought else ""
        if self.shape == "inline":
            return None, f"<think>{thinking}{closed}"
        if self.shape == "template":
            return None, f"{thinking}{closed}"
        return thinking, answering

    def __call__(self, body):
        if "messages" not in body:  # /tokenize, /detokenize, /completion
            if not self.tokenize:
                return 404, {"error": {"message": "File Not Found", "code": 404}}
            if "tokens" in body:
                return 200, {"content": self.text(body["tokens"])}
            if isinstance(body.get("prompt"), list):
                return self.complete(body)
            return 200, {"tokens": self.ids(body.get("content", ""), special=body.get("parse_special", False))}
        user = body["messages"][1]["content"]
        thought, answer = self.by_prompt[user]
        if self.delay:
            import time

            time.sleep(self.delay)
        budget = (body.get("max_completion_tokens") or body.get("max_tokens", 10**9)) * self.CHARS
        think_budget = body.get("reasoning_budget")
        forced_text, forced = "", 0
        if isinstance(think_budget, int) and think_budget * self.CHARS < len(thought):  # the budget ends the thinking
            thought = thought[:think_budget * self.CHARS]
            answer = self.answer_after(self.task_of[user], think_budget)
            forced_text = self.budget_message
            forced = len(self.ids(self.budget_message)) + 1  # the message and the closing tag, as tokens
            budget -= forced * self.CHARS  # the forced tokens count against max_tokens
        thinking, answering = thought[:budget], answer[: max(0, budget - len(thought))]
        finish = "stop" if len(thought) + len(answer) <= budget else "length"
        used = -(-(len(thinking) + len(answering)) // self.CHARS) + forced
        usage = {"prompt_tokens": 50, "completion_tokens": used}
        if self.usage_reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": -(-len(thinking) // self.CHARS)}
        field = "reasoning" if self.shape == "reasoning" else "reasoning_content"
        reasoning, content = self._message(thinking + forced_text, answering, len(thinking) == len(thought))
        if body.get("stream"):  # one event per token, reasoning first, then the finish and the usage
            step = self.CHARS
            events = [{"choices": [{"index": 0, "delta": {field: reasoning[i:i + step]}}]}
                      for i in range(0, len(reasoning or ""), step)]
            events += [{"choices": [{"index": 0, "delta": {"content": content[i:i + step]}}]}
                       for i in range(0, len(content), step)]
            events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage})
            return 200, events
        message = {"role": "assistant", "content": content, **({field: reasoning} if reasoning is not None else {})}
        return 200, {"choices": [{"index": 0, "finish_reason": finish, "message": message}], "usage": usage}
