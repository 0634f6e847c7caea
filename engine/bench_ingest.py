"""The ingest figures of `reputation bench` (engine/bench.py lists them all): the native
ingest and the Python reference into SQLite and PostgreSQL, the hash chain's cost, the peak
memory of an ingest process, and the naive path of one eventsourcing `save()` per event."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from engine.bench import Figure
from reputation import events as ev
from reputation.config import Settings, open_store


def _baseline_app(path: str):
    """The naive path: eventsourcing's Application, one aggregate per contract stream."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class ContractStream(Aggregate):
        @event("Opened")
        def __init__(self, body: str):
            self.events = [body]

        @event("Recorded")
        def record(self, body: str) -> None:
            self.events.append(body)

    class Baseline(Application):
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path}

    return Baseline(), ContractStream


def _ingest_rate(store, lines: list[bytes], engine: str | None = None) -> float:
    from reputation.ingest import ingest_lines

    t0 = time.perf_counter()
    result = ingest_lines(store, lines, engine=engine)
    dt = time.perf_counter() - t0
    assert not result.rejects, result.rejects[:3]
    return len(lines) / dt


def bench_chain_cost(lines: list[bytes], home: Path) -> Figure:
    """Both into fresh files after the main ingest, so neither pays the warm-up."""
    from reputation.store.sqlite import SQLiteEventStore

    rates = {}
    for chained in (False, True):
        store = SQLiteEventStore(str(home / f"chain-{chained}.sqlite"), chained=chained)
        try:
            rates[chained] = _ingest_rate(store, lines)
        finally:
            store.close()
    return Figure(
        "ingest_chain_cost",
        rates[True],
        "events/s",
        "the same ingest into a store without the hash chain",
        rates[False],
        rates[True] / rates[False],
    )


def bench_ingest(lines: list[bytes], home: Path, baseline_events: int) -> tuple[list[Figure], object, float]:
    """The native ingest next to the Python reference (same lines, a fresh store each), and
    the reference next to one eventsourcing save() per event."""
    rates = {}
    for engine in ("python", "native"):  # the native store is the one the later figures read
        store = open_store(Settings(home=str(home if engine == "native" else home / "ingest-python")))
        try:
            rates[engine] = _ingest_rate(store, lines, engine)
        finally:
            store.close()
    rate = rates["native"]

    app, ContractStream = _baseline_app(str(home / "baseline.sqlite"))
    streams: dict[str, object] = {}
    sample = lines[:baseline_events]
    t0 = time.perf_counter()
    for line in sample:  # one save() per event, through the library's aggregate machinery
        e = ev.decode_event(line)
        key = ev.stream_of(e)
        agg = streams.get(key)
        if agg is None:
            agg = streams[key] = ContractStream(line.decode())
        else:
            agg.record(line.decode())  # type: ignore[attr-defined]
        app.save(agg)
    base_dt = time.perf_counter() - t0
    base_rate = len(sample) / base_dt
    figs = [
        Figure(
            "ingest",
            rate,
            "events/s",
            "the Python reference ingest, same lines",
            rates["python"],
            rate / rates["python"],
        ),
        Figure(
            "ingest_python",
            rates["python"],
            "events/s",
            "eventsourcing save() per event",
            base_rate,
            rates["python"] / base_rate,
        ),
    ]
    return figs, (app, list(streams.values())), len(sample)


def bench_postgres_ingest(lines: list[bytes], url: str) -> Figure:
    """The native ingest into PostgreSQL next to the Python reference, each into a fresh
    schema of the given database (dropped afterwards)."""
    import psycopg

    rates = {}
    for engine in ("python", "native"):
        schema = f"reputation_bench_{engine}_{os.getpid()}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
            try:
                store = open_store(Settings(store=url, pg_schema=schema))
                try:
                    rates[engine] = _ingest_rate(store, lines, engine)
                finally:
                    store.close()
            finally:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return Figure(
        "ingest_postgres",
        rates["native"],
        "events/s",
        "the Python reference ingest into PostgreSQL, same lines",
        rates["python"],
        rates["native"] / rates["python"],
    )


_PEAK = """
import sys
from engine.cli import main
try:
    main()
finally:  # VmHWM: the peak of this process's own memory (ru_maxrss would count the parent's at fork)
    sys.stderr.write(next(x for x in open("/proc/self/status") if x.startswith("VmHWM")))
    if "reputation._core" in sys.modules:  # what the core's own allocator held at its peak
        sys.stderr.write(f"\\nCoreHWM: {sys.modules['reputation._core'].memory()[1]}\\n")
"""


def peaks(home: Path, *args: str) -> tuple[float, int]:
    """`reputation --home home ARGS` in its own process (Linux): its peak resident memory in MB,
    and the peak bytes the native core's allocator held (0: the core was not loaded)."""
    env = {**os.environ, "REPUTATION_STORE": "sqlite"}
    cmd = [sys.executable, "-c", _PEAK, "--home", str(home), *args]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    err = proc.stderr.decode().splitlines()
    peak = [x for x in err if x.startswith("VmHWM")]
    if proc.returncode != 0 or not peak:
        raise RuntimeError(f"`reputation {args[0]}` for a memory figure failed: {proc.stderr.decode()[-500:]}")
    core = [int(x.split()[1]) for x in err if x.startswith("CoreHWM")]
    return int(peak[-1].split()[1]) / 1024, (core or [0])[-1]  # kB


def _ingest_peak_rss(path: Path, home: Path, engine: str) -> float:
    return peaks(home, "ingest", "--engine", engine, str(path))[0]


def bench_ingest_memory(lines: list[bytes], home: Path) -> Figure:
    """Peak memory of one all-or-nothing ingest of the lines as a file (above that of an
    empty file: the interpreter and its imports), streamed by the native path vs held whole
    by the Python reference. (Flat in file size: by hand at 1M and 2M lines, README.)"""
    path, empty = home / "memory.jsonl", home / "empty.jsonl"
    path.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in lines))
    empty.write_bytes(b"")
    base = _ingest_peak_rss(empty, home / "memory-empty", "native")
    native, python = (_ingest_peak_rss(path, home / f"memory-{e}", e) - base for e in ("native", "python"))
    return Figure(
        "ingest_memory",
        native,
        "MB peak RSS above an empty ingest",
        "the Python reference, which holds the batch in memory",
        python,
        python / max(native, 1e-9),
    )
