"""A local OpenAI-compatible server for tests: chat completions (streamed or not) and embeddings,
over real HTTP, that the real `openai` client talks to. Shared by the course Q&A tests
(test_rag.py) and the content brief tests (test_briefs.py)."""

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
    """Behaviour is chosen by the model name: ok | error | slow | nocite | refuse, or a model a
    test registers in `REPLIES` (name -> function of the request body -> the reply's text)."""

    requests: ClassVar[list[dict]] = []
    REPLIES: ClassVar[dict[str, Callable[[dict], str]]] = {}

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
            # Deterministic 16-d vectors from character counts: enough to test the plumbing.
            vecs = []
            for text in body["input"]:
                v = np.zeros(16)
                for ch in text.lower():
                    v[ord(ch) % 16] += 1
                vecs.append((v / max(np.linalg.norm(v), 1e-9)).tolist())
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
        if model in FakeLLM.REPLIES:
            text = FakeLLM.REPLIES[model](body)
        else:
            text = {
                "nocite": "Loops can be left early.",
                "refuse": "NOT_COVERED",
            }.get(
                model, "A break statement exits the loop [1]. Use it when the search is done [1]."
            )
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
def serving() -> Iterator[str]:
    """The server on a free local port, for the block: its base URL (ends in /v1)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
