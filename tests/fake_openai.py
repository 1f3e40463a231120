"""A real HTTP server on 127.0.0.1 speaking the OpenAI embeddings protocol, for tests.

It embeds text as a deterministic bag of hashed words, can be told to answer the next N requests with
429 or garbage, or every request with a redirect (``redirect = (307, "http://elsewhere/v1")``: the
request's path is kept past that prefix), and records the Authorization headers it saw.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def embed(text: str, dim: int = 24) -> list[float]:
    v = np.zeros(dim)
    for w in text.lower().split():
        v[int(hashlib.md5(w.encode()).hexdigest(), 16) % dim] += 1.0
    return v.tolist()


class FakeOpenAI:
    def __init__(self):
        self.fail_next: list[str] = []  # "429", "500", "garbage", "short"
        self.retry_after = "0"  # the Retry-After header of a 429/500 answer
        self.requests = 0
        self.auth: list[str | None] = []
        self.redirect: tuple[int, str] | None = None  # (status, target prefix) answered to every request
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                outer.requests += 1
                outer.auth.append(self.headers.get("Authorization"))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.redirect and not self.path.startswith("/redirected"):
                    code, target = outer.redirect
                    self.send_response(code)
                    self.send_header("Location", target + self.path.removeprefix("/v1"))
                    self.end_headers()
                    return
                mode = outer.fail_next.pop(0) if outer.fail_next else ""
                if self.path.endswith("/chat/completions"):
                    return self._chat(body, mode)
                if mode in ("429", "500"):
                    self.send_response(int(mode))
                    self.send_header("Retry-After", outer.retry_after)
                    self.end_headers()
                    self.wfile.write(b'{"error": "busy"}')
                    return
                if mode == "garbage":
                    payload = b"<html>gateway error</html>"
                else:
                    inputs = body["input"] if mode != "short" else body["input"][:-1]
                    data = [{"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(inputs)]
                    payload = json.dumps({"object": "list", "data": data, "model": body["model"],
                                          "usage": {"prompt_tokens": 3, "total_tokens": 3}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def _chat(self, body, mode):
                if mode in ("429", "500"):
                    self.send_response(int(mode))
                    self.send_header("Retry-After", outer.retry_after)
                    self.end_headers()
                    return
                prompt = body["messages"][-1]["content"]
                title = prompt.split("Title: ", 1)[1].split("\n", 1)[0]
                if mode == "garbage":
                    payload = b'{"choices": []}'
                elif mode == "empty":
                    payload = json.dumps({"choices": [{"message": {"content": "   "}}]}).encode()
                else:
                    text = "\n".join(f"{i + 1}. how do i {title.lower()} variant {i}" for i in range(4))
                    payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}],
                                          "usage": {"prompt_tokens": 50, "completion_tokens": 20}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
