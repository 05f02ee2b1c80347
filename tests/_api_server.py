"""The read API in a real uvicorn server on a free local port, for tests that reach it over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from benchmarks.browser import free_port


@contextmanager
def api_server(app) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL once it answers /health."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.config.port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/health")  # any answer: the server is up
            break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
