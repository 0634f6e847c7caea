"""A SQLite store created by the previous version keeps its tables: its `rep_event_ids` is a
rowid table with an index on the id, where a new store keys the table itself by the id
(WITHOUT ROWID; docs/storage.md). Both must ingest, read, dedupe and refuse alike: the same
lines go into an old-layout and a new store, through both engines and several chunks, and
everything read back must be equal."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

from engine.simulate import simulate
from reputation import native_ingest
from reputation.ingest import ingest_lines
from reputation.store import Batch, NewEvent
from reputation.store.sqlite import SQLiteEventStore
from reputation.verify import check

RECORDED = "2026-12-01T10:00:00.123456Z"
CHUNK = 40  # lines per chunk of the native path here (several chunks per call)
SEED = 9  # of the simulated market
# rep_event_ids as the previous version created it (its other tables are the same as now)
OLD_EVENT_IDS = "CREATE TABLE rep_event_ids (event_id TEXT PRIMARY KEY, digest BLOB NOT NULL)"


def open_store(path: str, old: bool) -> SQLiteEventStore:
    if old:  # the table exists already: the store's CREATE ... IF NOT EXISTS leaves it as it is
        with closing(sqlite3.connect(path)) as db:
            db.execute(OLD_EVENT_IDS)
    return SQLiteEventStore(path)


def table_sql(path: str) -> str:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT sql FROM sqlite_master WHERE name = 'rep_event_ids'").fetchone()[0]


def everything(store: SQLiteEventStore, lines: list[bytes]):
    ids = [json.loads(line)["event_id"] for line in lines]
    keys = sorted({"contract:" + json.loads(line)["contract_id"] for line in lines if b'"contract_id"' in line})
    return store.read(0, 10**6), store.read_chain(0, 10**6), store.load_states(keys), store.load_digests(ids)


def outcome(result):
    return result.accepted, result.duplicates, [r.message() for r in result.rejects], result.positions


def session(path: str, old: bool, engine: str, lines: list[bytes]):
    """Three calls with the store reopened in between: half the market; the rest with re-sent
    lines (duplicates); then new lines, one of which reuses an id with other content (the whole
    call is refused)."""
    half = len(lines) // 2
    conflict = json.loads(lines[half + 1])
    conflict["event_id"] = json.loads(lines[3])["event_id"]
    calls = [lines[:half], lines[half:] + lines[:half:5], [*simulate(2, 12, SEED + 1), json.dumps(conflict).encode()]]
    results = []
    for call in calls:
        store = open_store(path, old) if not results else SQLiteEventStore(path)
        try:
            results.append(outcome(ingest_lines(store, call, engine=engine, recorded_at=RECORDED)))
            state = everything(store, lines + calls[2])
            check(store)  # the hash chain matches the log
        finally:
            store.close()
    return results, state


@pytest.mark.parametrize("engine", ["native", "python"])
def test_a_store_of_the_previous_layout_ingests_and_reads_as_a_new_one(tmp_path, monkeypatch, engine):
    monkeypatch.setenv(native_ingest.CHUNK_ENV, str(CHUNK))
    lines = list(simulate(6, 30, SEED))
    assert len(lines) > 4 * CHUNK
    old = session(str(tmp_path / "old.sqlite"), True, engine, lines)
    new = session(str(tmp_path / "new.sqlite"), False, engine, lines)
    assert old == new
    results, (log, _, states, digests) = new
    assert results[0][0] + results[1][0] == len(lines) and results[1][1] == len(lines[: len(lines) // 2 : 5])
    assert "conflict" in results[2][2][-1] and results[2][0] == 0  # refused, nothing written
    assert len(log) == len(lines) and len(digests) == len(lines) and states
    # the two files really differ in layout, and the old one was left as it was
    assert table_sql(str(tmp_path / "old.sqlite")) == OLD_EVENT_IDS
    assert "WITHOUT ROWID" in table_sql(str(tmp_path / "new.sqlite"))


def test_ids_that_one_statement_cannot_carry_are_written_exactly(tmp_path):
    """A chunk's ids go in one statement as a JSON array; an id with a NUL (cut short by
    SQLite's JSON) or digests of several sizes are written row by row instead."""
    path = str(tmp_path / "s.sqlite")
    store = SQLiteEventStore(path)
    nul = {"a\x00b": bytes(16), "a": b"\x01" * 16}
    sizes = {"c": b"\x02" * 3, "d": b"\x03" * 16}
    try:
        store.append(Batch([NewEvent("contract:z", 1, "T", b"z")], {}, nul))
        store.append(Batch([NewEvent("contract:z", 2, "T", b"z")], {}, sizes))
    finally:
        store.close()
    with closing(sqlite3.connect(path)) as db:
        assert dict(db.execute("SELECT event_id, digest FROM rep_event_ids")) == nul | sizes
