"""`reputation bench`: each figure next to its naive path, measured in the same run.

Figures (name, value, unit, baseline, baseline_value, ratio = value / baseline_value for
rates, baseline_value / value for times and memory):
- ingest: durable events/s into the embedded store by the native core vs the Python reference
  on the same lines; ingest_python: the reference vs one eventsourcing `save()` per event;
  ingest_chain_cost: the same ingest (hash chain included, as always) vs a store that keeps
  no chain, so ratio = the share of the rate the chain leaves (docs/verify.md);
  ingest_memory: peak RSS of `reputation ingest` of the lines (above an empty file's), streamed
  by the native path vs held whole by the reference (ratio = how many times less); ingest_postgres: when the store is a
  PostgreSQL URL (--store / REPUTATION_STORE), the native ingest into it vs the reference,
  each in a schema of its own, dropped afterwards (the ingest figures: engine/bench_ingest.py);
- rebuild: events/s from the log to projections + ledger by the native core vs the Python
  reference projector on the same log; rebuild_python: the reference vs eventsourcing's
  repository replay (mapper + aggregate) of the same events;
- jss_as_of: seconds for every freelancer at one timestamp in DuckDB vs the Python engine
  scoring each freelancer;
- score_p99 / explain_p99 at a small and at the full store vs a full replay of the log;
- memory_per_contract: bytes the Python reference projector holds per contract vs the raw events as dicts;
  rebuild_memory_per_contract: the native core's peak heap (its allocator's) during `reputation
  project` of the log in its own process, per contract, vs the reference's figure (the batches
  in flight included); state_per_contract: the core's state after the in-process rebuild, per
  contract of the log (those out of every window live in the projection store, not in memory),
  counted part by part (what the projector keeps), vs the reference's figure;
- relay, relay_latency_p99: when a Kafka broker is given (--kafka / REPUTATION_KAFKA);
- serve_score_p99 / serve_explain_p99 and their requests/s: `reputation serve` in its own process
  on loopback under 8 concurrent clients for --serve-seconds each, next to the in-process p99.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, NamedTuple, cast

import click

from reputation import events as ev
from reputation.config import Settings, open_store


class Figure(NamedTuple):
    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float | None
    ratio: float | None


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def _lines(events: int, seed: int = 11) -> list[bytes]:
    from engine.simulate import simulate

    freelancers = max(4, events // 130)  # ~130 events per freelancer over 84 months
    out = []
    for line in simulate(freelancers, 84, seed):
        out.append(line)
        if len(out) >= events:
            break
    return out


def bench_rebuild(store, home: Path, baseline) -> tuple[list[Figure], Any, tuple[Figure, Figure]]:
    """The native core's rebuild next to the Python reference's, in the same run (same log,
    fresh projection stores), and the reference next to eventsourcing's repository replay."""
    from projections.native import NativeProjector
    from projections.service import Projections
    from projections.store import sqlite_repo

    n = store.max_position()
    timed = {}
    for engine in ("python", "native"):
        proj = Projections(sqlite_repo(str(home / f"rebuild-{engine}.sqlite")), engine=engine)
        t0 = time.perf_counter()
        proj.catch_up(store)
        timed[engine] = (time.perf_counter() - t0, proj)
    dt, proj = timed["native"]
    core = cast(NativeProjector, proj.projector)  # engine="native"
    state = core.state_bytes
    py_dt, py_proj = timed["python"]
    py_proj.close()

    # memory on a second, in-memory rebuild (tracemalloc slows allocation: never time under it)
    from projections.service import memory_projections

    probe = memory_projections(engine="python")  # the reference's objects (the core's are not Python's)
    gc.collect()
    tracemalloc.start()
    probe.catch_up(store, batch=5000)
    p = probe.projector
    p.cache.entries.clear()  # the cache is a speed-up, not state: measure what must be held
    p.archives.clear()
    probe.repo.__init__()  # type: ignore[misc]  # the in-memory "database" is not the projector
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    contracts = max(1, len(p.contracts))
    del probe, p

    app, aggregates = baseline
    ids = [a.id for a in aggregates]
    replayed = 0
    t0 = time.perf_counter()
    for i in ids:
        agg = app.repository.get(i)
        replayed += agg.version
    base_dt = time.perf_counter() - t0
    base_rate = replayed / base_dt if base_dt else float("nan")
    rebuild = Figure("rebuild", n / dt, "events/s", "the Python reference projector, same log", n / py_dt, py_dt / dt)
    reference = Figure(
        "rebuild_python",
        n / py_dt,
        "events/s",
        "eventsourcing repository replay (mapper + aggregate)",
        base_rate,
        (n / py_dt) / base_rate,
    )

    rows = store.read(0, 10**9)
    tracemalloc.start()
    copy = [json.loads(data)[0] for _, data in rows]  # the naive read model: keep every event
    naive, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del copy, rows
    memory = Figure(
        "memory_per_contract",
        held / contracts,
        "bytes",
        "every event kept as a dict",
        naive / contracts,
        (naive / contracts) / (held / contracts),
    )
    kept = _beside_reference(
        "state_per_contract",
        state / contracts,
        "bytes (the native core's state after the rebuild, counted part by part, per contract of the log)",
        memory,
    )
    return [rebuild, reference], proj, (memory, kept)


def _beside_reference(name: str, per: float, unit: str, reference: Figure) -> Figure:
    """A native memory figure per contract next to the reference's held objects (ratio: how
    many times less)."""
    baseline = "the Python reference projector's held objects (memory_per_contract)"
    return Figure(name, per, unit, baseline, reference.value, reference.value / max(per, 1e-9))


def bench_rebuild_memory(events: str, home: Path, contracts: int, reference: Figure) -> Figure:
    """The native projector's memory: what the core's allocator held at its peak during
    `reputation project` in its own process, on a copy of the log, per contract (its state and
    the batch in flight; the interpreter's objects and SQLite's cache are not the projector's)."""
    import sqlite3

    from engine.bench_ingest import peaks

    copy = home / "memory-rebuild"
    copy.mkdir()
    with sqlite3.connect(events) as src, sqlite3.connect(copy / "events.sqlite") as dst:
        src.backup(dst)
    _, core = peaks(copy, "project", "--no-progress")
    return _beside_reference(
        "rebuild_memory_per_contract",
        core / max(contracts, 1),
        "bytes (the native core's peak heap during a rebuild)",
        reference,
    )


def bench_point_queries(store, proj, label: str, samples: int = 200) -> list[Figure]:
    from projections.explain import explain
    from projections.replay import fold
    from projections.rules.score import evaluate
    from reputation.outcome import Cut

    fids = proj.freelancers()
    rnd = random.Random(5)
    picks = [rnd.choice(fids) for _ in range(samples)]
    clock = proj.clock
    score_ms, explain_ms = [], []
    for fid in picks:
        t0 = time.perf_counter()
        proj.score(fid)
        score_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        proj.explain(fid, clock - 365 * ev.DAY, clock)
        explain_ms.append((time.perf_counter() - t0) * 1000)
    base_score, base_explain = [], []
    rows = store.read(0, 10**9)
    for fid in picks[:5]:  # the naive path: replay the whole log for one freelancer
        t0 = time.perf_counter()
        by_freelancer, flags = fold(rows)
        evaluate(by_freelancer[fid], flags, Cut(clock))
        base_score.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        by_freelancer, flags = fold(rows)
        explain(by_freelancer[fid], flags, clock - 365 * ev.DAY, clock)
        base_explain.append((time.perf_counter() - t0) * 1000)
    s, e = _p99(score_ms), _p99(explain_ms)
    bs, be = statistics.median(base_score), statistics.median(base_explain)
    return [
        Figure(f"score_p99_{label}", s, "ms", "full replay of the log (median)", bs, bs / s),
        Figure(f"explain_p99_{label}", e, "ms", "full replay of the log (median)", be, be / e),
    ]


def bench_audit(store, proj, home: Path) -> Figure | None:
    try:
        from projections import audit
    except ImportError:
        return None
    path = str(home / "audit.duckdb")
    audit.sync(store, proj, path, progress=False)
    at = ev.format_time(proj.clock)
    con = audit.open_readonly(path)
    try:
        t0 = time.perf_counter()
        con.sql(f"SELECT count(*) FROM jss_as_of(TIMESTAMPTZ '{at}')").fetchall()
        dt = time.perf_counter() - t0
    finally:
        con.close()
    fids = proj.freelancers()
    t0 = time.perf_counter()
    for fid in fids:
        proj.score(fid)
    base = time.perf_counter() - t0
    return Figure("jss_as_of", dt, "s", f"Python engine, {len(fids)} freelancers one by one", base, base / dt)


def bench_relay(kafka: str) -> list[Figure]:
    try:
        from engine.latency import measure_latency, measure_relay
    except ImportError:
        return []
    fast = measure_relay(kafka, batch=1000)
    slow = measure_relay(kafka, batch=1, freelancers=60, producer_config={"linger_ms": 0})
    lat = measure_latency(kafka, events=3000, rate=1000.0)
    return [
        Figure(
            "relay",
            fast.per_second,
            "changes/s",
            "batch of 1, no linger",
            slow.per_second,
            fast.per_second / slow.per_second,
        ),
        Figure("relay_latency_p99", lat.p99_ms, "ms", "p50 of the same run", lat.p50_ms, None),
    ]


def bench_serve(home: Path, proj, label: str, figures: list[Figure], seconds: float) -> list[Figure]:
    from engine.serve.load import serve_load

    score, explain = serve_load(["--home", str(home)], proj.freelancers(), ev.format_time(proj.clock), seconds)
    base = {f.name: f.value for f in figures}
    out = []
    for name, load in (("score", score), ("explain", explain)):
        inside = base[f"{name}_p99_{label}"]
        out += [
            Figure(
                f"serve_{name}_p99",
                load.p99_ms,
                "ms",
                f"in-process {name} p99 (same store); HTTP p50 {load.p50_ms:.2f} ms",
                inside,
                None,
            ),
            Figure(
                f"serve_{name}_rps",
                load.per_second,
                "requests/s",
                f"8 clients for {seconds:g} s, {load.errors} errors",
                1000 / inside if inside else None,
                None,
            ),
        ]
    return out


def run(
    events: int = 20_000,
    kafka: str | None = None,
    small: int = 5_000,
    echo=print,
    serve_seconds: float = 10.0,
    postgres: str | None = None,
) -> list[Figure]:
    from engine.bench_ingest import bench_chain_cost, bench_ingest, bench_ingest_memory, bench_postgres_ingest

    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="reputation-bench-") as tmp:
        home = Path(tmp)
        lines = _lines(events)
        echo(f"bench: {len(lines):,} simulated events")
        ingests, baseline, _ = bench_ingest(lines, home, baseline_events=min(len(lines), 3000))
        figures += ingests
        echo(f"  ingest {ingests[0].value:,.0f} events/s (native), {ingests[1].value:,.0f} (Python reference)")
        chain = bench_chain_cost(lines, home)
        figures.append(chain)
        echo(f"  ingest {chain.value:,.0f} events/s with the hash chain, {chain.baseline_value:,.0f} without")
        memory_fig = bench_ingest_memory(lines, home)
        figures.append(memory_fig)
        echo(
            f"  ingest peak memory {memory_fig.value:,.0f} MB (native), {memory_fig.baseline_value:,.0f} MB (reference)"
        )
        if postgres:
            pg = bench_postgres_ingest(lines, postgres)
            figures.append(pg)
            echo(f"  ingest into PostgreSQL {pg.value:,.0f} events/s (native), {pg.baseline_value:,.0f} (reference)")
        store = open_store(Settings(home=str(home)))
        rebuilds, proj, (memory, kept) = bench_rebuild(store, home, baseline)
        figures += [*rebuilds, memory, kept]
        echo(f"  rebuild {rebuilds[0].value:,.0f} events/s (native), {rebuilds[1].value:,.0f} (Python reference)")
        opened = sum(1 for line in lines if b'"ContractOpened"' in line)
        rebuild_memory = bench_rebuild_memory(Settings(home=str(home)).sqlite_path, home, opened, memory)
        figures.append(rebuild_memory)
        echo(
            f"  rebuild peak memory {rebuild_memory.value:,.0f} bytes per contract (native), "
            f"its state {kept.value:,.0f} bytes per contract"
        )
        small_home = home / "small"
        small_lines = lines[: min(small, len(lines))]
        from projections.service import Projections
        from projections.store import sqlite_repo
        from reputation.ingest import ingest_lines

        small_store = open_store(Settings(home=str(small_home)))
        ingest_lines(small_store, small_lines)
        small_proj = Projections(sqlite_repo(str(small_home / "p.sqlite")))
        small_proj.catch_up(small_store)
        figures += bench_point_queries(small_store, small_proj, f"{len(small_lines) // 1000}k")
        figures += bench_point_queries(store, proj, f"{len(lines) // 1000}k")
        echo("  score / explain measured")
        if serve_seconds > 0:
            figures += bench_serve(home, proj, f"{len(lines) // 1000}k", figures, serve_seconds)
            echo("  the server's score / explain measured")
        audit_fig = bench_audit(store, proj, home)
        if audit_fig:
            figures.append(audit_fig)
        if kafka:
            figures += bench_relay(kafka)
        for p in (small_proj, proj):
            p.close()
        small_store.close()
        store.close()
    return figures


@click.command("bench")
@click.option("--events", default=20_000, show_default=True, help="Size of the simulated log.")
@click.option(
    "--serve-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds of load on `reputation serve` per endpoint (0: skip).",
)
@click.option("--json", "as_json", is_flag=True, help="A list of {name, value, unit, baseline, baseline_value, ratio}.")
def bench_command(events: int, serve_seconds: float, as_json: bool) -> None:
    """Run the benchmark suite: each figure next to its naive path, in the same run."""
    from engine.cli import settings

    cfg = settings()
    figures = run(
        events,
        cfg.kafka,
        serve_seconds=serve_seconds,
        postgres=cfg.store if cfg.is_postgres else None,
        echo=(lambda s: None) if as_json else (lambda s: click.echo(s, err=True)),
    )
    if as_json:
        click.echo(json.dumps([f._asdict() for f in figures]))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "figure",
        "value",
        "unit",
        "naive path",
        "naive value",
        "ratio",
        title=f"reputation bench, {time.strftime('%Y-%m-%d')}, {events:,} events",
    )
    table.columns[3].overflow = "fold"
    for f in figures:
        table.add_row(
            f.name,
            f"{f.value:,.2f}",
            f.unit,
            f.baseline,
            "-" if f.baseline_value is None else f"{f.baseline_value:,.2f}",
            "-" if f.ratio is None else f"{f.ratio:,.1f}x",
        )
    Console().print(table)
