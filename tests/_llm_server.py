"""A local OpenAI-compatible HTTP server (chat completions, streamed or not, and embeddings) that
the real `openai` client talks to: every test of an LLM or embeddings backend uses this one."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np


class FakeLLM(BaseHTTPRequestHandler):
    """Behaviour is chosen by the model name: `error` answers HTTP 500, `slow` waits 3 s first
    (`slow-embed`, embeddings, 1 s), and the reply is `replies[model]` (tests add their own: a text, or a function of the request
    body that returns one), else a cited answer."""

    requests: ClassVar[list[dict]] = []
    replies: ClassVar[dict[str, str | Callable[[dict], str]]] = {
        "nocite": "Loops can be left early.",
        "refuse": "NOT_COVERED",
    }

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLLM.requests.append({"path": self.path, **body})
        if self.path.endswith("/embeddings"):
            if body["model"] == "slow-embed":
                time.sleep(1)
            # Deterministic 16-d vectors from character counts: enough to test the plumbing.
            vecs = []
            for text in body["input"]:
                v = np.zeros(16)
                for ch in text.lower():
                    v[ord(ch) % 16] += 1
                vecs.append((v / max(np.linalg.norm(v), 1e-9)).tolist())
            with contextlib.suppress(BrokenPipeError):  # the client gave up (the timeout test)
                self._json(
                    200,
                    {
                        "object": "list",
                        "model": body["model"],
                        "data": [
                            {"object": "embedding", "index": i, "embedding": v}
                            for i, v in enumerate(vecs)
                        ],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    },
                )
            return
        model = body["model"]
        if model == "error":
            self._json(500, {"error": {"message": "model crashed", "type": "server_error"}})
            return
        if model == "slow":
            time.sleep(3)
        reply = FakeLLM.replies.get(
            model, "A break statement exits the loop [1]. Use it when the search is done [1]."
        )
        text = reply(body) if callable(reply) else reply
        if not body.get("stream"):
            self._json(
                200,
                {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )
            return
        with contextlib.suppress(BrokenPipeError):  # the client gave up (the timeout test)
            self._stream(model, text)

    def _stream(self, model: str, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in [text[i : i + 12] for i in range(0, len(text), 12)]:
            chunk = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


@contextlib.contextmanager
def llm_server() -> Iterator[str]:
    """Serve FakeLLM until the block ends; yields its base URL (.../v1)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
