"""Read API under load: 50 concurrent clients for 60 s on the demo data, with a publish mid-way.

The server is the real `pathwise serve` process; the clients run in another process, each a
keep-alive HTTP/1.1 connection written with asyncio streams (a client library would cost more CPU
than the server on this 2-core machine and so inflate the figures). Halfway through, a new snapshot
is published (`pathwise publish`) and the server switches to it while the clients keep reading.

Two loads, the same 50 clients:
- `paced`: each client asks every --interval seconds (an app's steady traffic); the latency then is
  the service time. Target: p95 <= 20 ms, 0 errors.
- `saturated`: each client asks again as soon as it has its answer; shows the throughput ceiling,
  and latency there is mostly queueing (Little's law: clients / throughput).
A bare baseline in the same run: the same clients against `GET /health` (no recommendation work).
The clients call as the platform would, with a service key (created for the run, revoked after),
so the figures include checking the key and its rate limit; the server's limit is raised for the
run (`PATHWISE_API_RATE_LIMIT_PER_MINUTE`), as 50 clients from one key would exceed the default.

    make demo && python -m benchmarks.api --seconds 60 --clients 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pathwise import snapshots
from pathwise.api_keys import KeyStore
from pathwise.settings import get_settings

TARGET_P95_MS = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _client(
    port: int,
    paths: list[str],
    until: float,
    interval: float,
    out: list[tuple[float, float, int, str]],
    token: str,
) -> None:
    """One keep-alive connection; records (start time, latency s, status, snapshot version)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(random.random() * max(interval, 0.001))  # spread the first requests
    i = random.randrange(len(paths))
    next_at = time.perf_counter()
    while (now := time.perf_counter()) < until:
        if interval and now < next_at:
            await asyncio.sleep(next_at - now)
        next_at += interval
        path = paths[i % len(paths)]
        i += 1
        start = time.perf_counter()
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            out.append((start, time.perf_counter() - start, 599, ""))
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            continue
        latency = time.perf_counter() - start
        marker = body.find(b'"snapshot_version":"')
        version = body[marker + 20 : body.find(b'"', marker + 20)].decode() if marker >= 0 else ""
        out.append((start, latency, status, version))
    writer.close()


def run_clients(
    port: int, paths: list[str], clients: int, seconds: float, interval: float, token: str
) -> list[tuple[float, float, int, str]]:
    out: list[tuple[float, float, int, str]] = []

    async def main() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(_client(port, paths, until, interval, out, token) for _ in range(clients))
        )

    asyncio.run(main())
    return out


def _client_process() -> None:
    """Entry point of the load process: args as JSON on stdin, results as JSON on stdout."""
    args = json.loads(sys.stdin.read())
    rows = run_clients(
        args["port"],
        args["paths"],
        args["clients"],
        args["seconds"],
        args["interval"],
        args["token"],
    )
    json.dump(rows, sys.stdout)


def summarize(name: str, rows: list[tuple[float, float, int, str]], seconds: float) -> dict:
    latencies = sorted(r[1] * 1000 for r in rows if r[2] == 200)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {
        "load": name,
        "requests": len(rows),
        "errors": sum(1 for r in rows if r[2] != 200),
        "throughput_rps": round(len(rows) / seconds),
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "versions_seen": sorted({r[3] for r in rows if r[3]}),
    }


def load(
    port: int,
    paths: list[str],
    clients: int,
    seconds: float,
    interval: float,
    publish_at: float | None,
    token: str,
) -> list:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from benchmarks.api import _client_process; _client_process()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    proc.stdin.write(
        json.dumps(
            {
                "port": port,
                "paths": paths,
                "clients": clients,
                "seconds": seconds,
                "interval": interval,
                "token": token,
            }
        )
    )
    proc.stdin.close()
    if publish_at is not None:
        time.sleep(publish_at)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cli", "publish"], check=True, capture_output=True)
        print(f"  published a new snapshot mid-run in {time.perf_counter() - started:.1f}s")
    rows = json.loads(proc.stdout.read())
    proc.wait()
    return rows


def _request_paths(snap: snapshots.Snapshot, k: int) -> tuple[list[str], list[str]]:
    """The served learners, and a shuffled request path for each, plus one request in ten from
    a learner Pathwise has never seen (the cold-start path)."""
    con = snap.connect()
    try:
        learners = [
            r[0] for r in con.execute("select distinct learner_key from recommendations").fetchall()
        ]
    finally:
        con.close()
    random.seed(7)
    paths = [f"/v1/learners/{key}/recommendations?k={k}&id_kind=learner_key" for key in learners]
    paths += [f"/v1/learners/new-user-{i}/recommendations?k={k}" for i in range(len(paths) // 9)]
    random.shuffle(paths)
    return learners, paths


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--interval",
        type=float,
        default=0.1,
        help="paced load: seconds between one client's requests",
    )
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)

    snap = snapshots.current()
    if snap is None or "recommendations" not in snap.tables:
        raise SystemExit(
            f"No published recommendations under {get_settings().home}: run `make demo`."
        )
    learners, paths = _request_paths(snap, args.k)

    port = _free_port()
    keys = KeyStore()
    key, token = keys.create("benchmarks.api", "service")
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PATHWISE_API_RATE_LIMIT_PER_MINUTE": str(10**9)},
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        results = []
        print(
            f"read API on {len(learners):,} learners, snapshot {snap.version}, "
            f"{args.clients} clients x {args.seconds:.0f} s per load"
        )
        short = min(args.seconds, 15)
        rows = load(port, ["/health"], args.clients, short, args.interval, None, token)
        results.append(summarize("baseline: GET /health, paced", rows, short))
        rows = load(port, paths, args.clients, args.seconds, args.interval, args.seconds / 2, token)
        results.append(summarize("paced", rows, args.seconds))
        rows = load(port, paths, args.clients, short, 0, None, token)
        results.append(summarize("saturated", rows, short))
    finally:
        server.terminate()
        server.wait(10)
        keys.revoke(key.key_id)
    for r in results:
        print(
            f"  {r['load']:<30} {r['requests']:>7,} req  {r['throughput_rps']:>5,} req/s  "
            f"p50 {r['p50_ms']:>6} ms  p95 {r['p95_ms']:>6} ms  p99 {r['p99_ms']:>6} ms  "
            f"errors {r['errors']}  versions {len(r['versions_seen'])}"
        )
    paced = results[1]
    print(
        f"  target p95 <= {TARGET_P95_MS} ms and 0 errors (paced): "
        + ("met" if paced["p95_ms"] <= TARGET_P95_MS and paced["errors"] == 0 else "NOT met")
    )
    out = Path(get_settings().home) / "benchmarks" / "api.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return {"results": results}


if __name__ == "__main__":
    main()
