"""Incremental sync of the audit database with the event log and the score-change ledger.

`sync` reads the events after the position it tracked last time (through `EventStore.read`,
so it works the same with SQLite and PostgreSQL), loads them through Arrow and commits the
rows together with the new position in one DuckDB transaction. A kill at any moment leaves a
database that the next sync completes, without duplicates. The contracts the new events touch
are then re-derived in SQL, and the ledger is synced the same way by its `seq`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import pyarrow as pa

from projections.audit import schema
from projections.audit.errors import AuditError
from projections.audit.loader import sql
from projections.publication import days_mask
from reputation.store import EventStore

PAGE = 10_000  # rows per store read
CHUNK = 200_000  # events per DuckDB transaction
LEDGER_PAGE = 50_000
BAR_THRESHOLD = 20_000  # show a progress bar when at least this many rows are behind


class SyncStats(NamedTuple):
    events: int  # events added by this sync
    contracts: int  # contract rows refreshed
    changes: int  # ledger rows added
    position: int  # log position the database is now at
    seq: int  # ledger seq the database is now at
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return (self.events + self.changes) / self.seconds if self.seconds else 0.0


_envelope = msgspec.json.Decoder(tuple[msgspec.Raw, str])

# the payload fields copied into typed columns, extracted with one JSON parse per event
_FIELDS = [
    "type",
    "event_id",
    "contract_id",
    "freelancer_id",
    "client_id",
    "occurred_at",
    "by",
    "of",
    "amount",
    "stars",
    "recommend",
    "reason",
    "end_reason",
    "closed_by",
    "basis",
    "scope",
]


def _insert_events_sql() -> str:
    paths = "[" + ", ".join(f"'$.{f}'" for f in _FIELDS) + "]"
    fields = {f: f"f[{i + 1}]" for i, f in enumerate(_FIELDS)}  # 1-based list index
    return sql("insert_events", paths=paths, **fields)


_INSERT_EVENTS = _insert_events_sql()


def _event_batch(rows: list[tuple[int, bytes, bytes | None]]) -> pa.Table:
    positions = []
    recorded = []
    payloads = []
    chains = []
    decode = _envelope.decode
    for position, state, chain in rows:
        raw, recorded_at = decode(state)
        positions.append(position)
        recorded.append(recorded_at)
        payloads.append(bytes(raw).decode())
        chains.append(None if chain is None else chain.hex())
    return pa.table(
        {
            "position": pa.array(positions, pa.int64()),
            "recorded_at": pa.array(recorded, pa.string()),
            "payload": pa.array(payloads, pa.string()),
            "chain": pa.array(chains, pa.string()),
        }
    )


def _ledger_batch(changes: list[Any]) -> pa.Table:
    enc = msgspec.json.Encoder()
    cols: dict[str, list] = {
        k: []
        for k in (
            "seq",
            "change_id",
            "freelancer_id",
            "rules",
            "effective_at",
            "recorded_at",
            "position",
            "jss_before",
            "jss_after",
            "jss_exact_before",
            "jss_exact_after",
            "feedback_before",
            "feedback_after",
            "causes",
            "top_rated_before",
            "top_rated_after",
        )
    }
    for c in changes:
        for k, column in cols.items():
            column.append(enc.encode(c.causes).decode() if k == "causes" else getattr(c, k, None))
    types = {
        "seq": pa.int64(),
        "position": pa.int64(),
        "jss_before": pa.int32(),
        "jss_after": pa.int32(),
        "jss_exact_before": pa.float64(),
        "jss_exact_after": pa.float64(),
        "feedback_before": pa.float64(),
        "feedback_after": pa.float64(),
        "top_rated_before": pa.bool_(),
        "top_rated_after": pa.bool_(),
    }
    return pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in cols.items()})


class _Bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.bar = None
        if enabled and total > 0:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(label),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(label, total=total)

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def want_bar(progress: bool | None, behind: int) -> bool:
    """None: a bar on a terminal when at least BAR_THRESHOLD rows are behind; else as told
    (and never when nothing is behind)."""
    if progress is None:
        return behind >= BAR_THRESHOLD and sys.stderr.isatty()
    return bool(progress) and behind > 0


def _read_pages(store: EventStore, after: int, upto: int, page: int) -> Iterable[list[tuple[int, bytes, bytes | None]]]:
    while after < upto:
        rows = store.read_chained(after, page, upto)
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def sync(
    store: EventStore,
    proj: Any,
    path: str,
    progress: bool | None = None,
    *,
    catch_up: bool = True,
    chunk: int = CHUNK,
    page: int = PAGE,
    _fail_after_insert: Callable[[int], None] | None = None,
) -> SyncStats:
    """Bring the audit database at `path` up to date with the log (and the ledger of `proj`).

    Events go in chunks of `chunk` rows; each chunk's rows and the new position are committed
    in one transaction. The contract summaries of the touched contracts are refreshed in one
    transaction that also records the position they are valid for, and the ledger is synced by
    `seq` the same way. `progress`: None = a bar on a terminal for big catch-ups, True/False.
    `_fail_after_insert` is a test hook called inside each chunk's transaction.
    """
    started = time.perf_counter()
    if proj is not None and catch_up:
        proj.catch_up(store)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = schema.connect(path)
    try:
        schema.ensure_schema(con)
        position = schema.get(con, "position")
        target = store.max_position()
        if target < position:
            raise AuditError(
                f"the audit database {path} is at log position {position} but the event store "
                f"ends at {target}: it belongs to another store; delete the file to rebuild it"
            )
        bar = _Bar(want_bar(progress, target - position), target - position, "audit sync: events")
        added = 0
        try:
            buffer: list[tuple[int, bytes, bytes | None]] = []
            for rows in _read_pages(store, position, target, page):
                buffer.extend(rows)
                if len(buffer) >= chunk:
                    added += _commit_events(con, buffer, _fail_after_insert)
                    bar.advance(len(buffer))
                    buffer = []
            if buffer:
                added += _commit_events(con, buffer, _fail_after_insert)
                bar.advance(len(buffer))
        finally:
            bar.close()
        refreshed = _refresh_contracts(con)
        changes, seq = _sync_ledger(con, proj, progress)
        return SyncStats(added, refreshed, changes, schema.get(con, "position"), seq, time.perf_counter() - started)
    finally:
        con.close()


def _commit_events(con, rows, hook) -> int:
    batch = _event_batch(rows)
    con.execute("BEGIN")
    try:
        con.register("_batch", batch)
        con.execute(_INSERT_EVENTS)
        if hook is not None:
            hook(rows[-1][0])
        schema.set_(con, "position", rows[-1][0])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_batch")
    return len(rows)


def _refresh_contracts(con) -> int:
    done = schema.get(con, "contracts_position")
    position = schema.get(con, "position")
    if done >= position:
        return 0
    con.execute("BEGIN")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT contract_id FROM events "
            "WHERE position > ? AND contract_id IS NOT NULL",
            [done],
        )
        (count,) = con.execute("SELECT count(*) FROM _touched").fetchone()
        if done > 0:
            con.execute("DELETE FROM contracts WHERE contract_id IN (SELECT contract_id FROM _touched)")
            where = "contract_id IN (SELECT contract_id FROM _touched)"
        else:
            where = "true"
        con.execute(f"INSERT INTO contracts {schema.contracts_select(where)}")
        con.execute("DROP TABLE _touched")
        schema.set_(con, "contracts_position", position)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(count)


def _sync_ledger(con, proj, progress) -> tuple[int, int]:
    seq = schema.get(con, "seq")
    if proj is None:
        return 0, seq
    # the days the ledger's published scores were made on (Projections refuses other days)
    schema.set_(con, "publish_days", days_mask(proj.policy.days))
    target = proj.max_seq()
    if target < seq:  # the projections were rebuilt and are not this far yet: same ledger
        con.execute("BEGIN")
        con.execute("DELETE FROM score_changes WHERE seq > ?", [target])
        schema.set_(con, "seq", target)
        con.execute("COMMIT")
        seq = target
    bar = _Bar(want_bar(progress, target - seq), target - seq, "audit sync: ledger")
    added = 0
    try:
        while seq < target:
            changes = proj.ledger_after(seq, LEDGER_PAGE)
            if not changes:
                break
            table = _ledger_batch(changes)
            con.execute("BEGIN")
            try:
                con.register("_ledger", table)
                con.execute(sql("insert_ledger"))
                seq = changes[-1].seq
                schema.set_(con, "seq", seq)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.unregister("_ledger")
            added += len(changes)
            bar.advance(len(changes))
    finally:
        bar.close()
    return added, seq
