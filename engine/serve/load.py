"""Load on a real server: `reputation serve` in its own process on loopback, N concurrent
clients for a bounded time, latency percentiles and requests per second (`reputation bench`)."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from typing import Iterator, NamedTuple


class Load(NamedTuple):
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    per_second: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def started_server(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 60.0, serve: tuple[str, ...] = ()
) -> Iterator[str]:
    """`reputation <args> serve <serve>` in a child process; yields its base URL once /healthz answers."""
    port = free_port()
    cmd = [sys.executable, "-c", "from engine.cli import main; main()", *args, "serve", *serve, "--port", str(port)]
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                said = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                raise RuntimeError(f"`reputation serve` exited with {proc.returncode}: {said}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"`reputation serve` did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(url: str, paths: list[str], clients: int = 8, seconds: float = 10.0) -> Load:
    """`clients` threads, each with its own keep-alive connection, cycling through `paths`
    until `seconds` pass. Latency is per request, measured by the client."""
    from http.client import HTTPConnection
    from urllib.parse import urlsplit

    where = urlsplit(url)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.perf_counter() + seconds

    def run(i: int) -> None:
        http = HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=10)  # one keep-alive connection
        n = i
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                http.request("GET", paths[n % len(paths)])
                r = http.getresponse()
                r.read()
                latencies[i].append((time.perf_counter() - t0) * 1000)
                errors[i] += r.status != 200
                n += clients
        finally:
            http.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    every = [x for xs in latencies for x in xs]
    return Load(len(every), sum(errors), elapsed, _percentile(every, 50), _percentile(every, 99), len(every) / elapsed)


def wait_level(url: str, timeout: float = 600.0) -> None:
    """Until the server's projector has caught up with the log (bounded)."""
    import json

    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
            if json.load(r)["lag_events"] == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server's projector did not catch up within {timeout:.0f} s")
        time.sleep(0.2)


def serve_load(
    args: list[str],
    freelancers: list[str],
    clock: str,
    seconds: float,
    clients: int = 8,
    seed: int = 5,
    workers: int = 1,
) -> tuple[Load, Load]:
    """`score` and `explain` (the last 365 days) of random freelancers against `reputation serve`
    started with `args` (the store options), each for `seconds` with `clients` concurrent clients."""
    import random

    from reputation import events as ev

    rnd = random.Random(seed)
    picks = [rnd.choice(freelancers) for _ in range(500)]
    start = ev.format_time(ev.parse_time(clock) - 365 * ev.DAY)
    with started_server(args, serve=("--workers", str(workers))) as url:
        wait_level(url)
        score = measure(url, [f"/freelancers/{f}/score" for f in picks], clients, seconds)
        explain = measure(url, [f"/freelancers/{f}/explain?from={start}&to={clock}" for f in picks], clients, seconds)
    return score, explain
