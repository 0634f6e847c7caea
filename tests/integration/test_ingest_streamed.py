"""Streamed ingest: the native path writes a batch chunk by chunk into one transaction of the
store. A line that breaks a rule in a late chunk, after earlier chunks were written in that
transaction, must leave the store as it was and be reported exactly as the Python reference
reports it; rules that need state from earlier chunks (a contract opened there, an id
accepted there) must hold across chunk boundaries. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from engine.simulate import simulate
from reputation import native_ingest
from reputation.ingest import ingest_lines
from reputation.store import MemoryStore
from tests.integration.test_store_contract import PG_URL, pg_schema  # noqa: F401  (a fixture)

RECORDED = "2026-12-01T10:00:00.123456Z"
CHUNK = 50  # lines per chunk in these tests (the default is 20,000)
SEED = 5  # of the simulated market


@pytest.fixture(params=[0, native_ingest.KEEP_STATES], ids=["reload-states", "keep-states"])
def keep(request, monkeypatch):
    """States loaded back from the open transaction at every chunk, or kept by the core."""
    monkeypatch.setattr(native_ingest, "KEEP_STATES", request.param)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path, monkeypatch, keep):
    monkeypatch.setenv(native_ingest.CHUNK_ENV, str(CHUNK))
    if request.param == "sqlite":
        from reputation.store.sqlite import SQLiteEventStore

        s = SQLiteEventStore(str(tmp_path / "events.sqlite"))
    else:
        from reputation.store.postgres import PostgresEventStore

        s = PostgresEventStore(PG_URL, schema=request.getfixturevalue("pg_schema"))
    yield s
    s.close()


class Chunks:
    """Counts the chunks written into the store's open transaction."""

    def __init__(self, store):
        self.written = 0
        writer = store.writer

        @contextmanager
        def counting():
            with writer() as w:
                # the native ingest hands a recorder's writer its own rows (insert), else a Batch
                name = "insert" if w.originators else "append"
                write = getattr(w, name)

                def counted(*args):
                    self.written += 1
                    return write(*args)

                setattr(w, name, counted)
                yield w

        store.writer = counting


def market() -> list[bytes]:
    lines = list(simulate(6, 36, SEED))
    assert len(lines) > 6 * CHUNK  # several chunks
    return lines


def snapshot(store, lines: list[bytes]):
    ids = [json.loads(line)["event_id"] for line in lines]
    keys = sorted({"contract:" + json.loads(line)["contract_id"] for line in lines if b'"contract_id"' in line})
    return store.read(0, 10**6), store.read_chain(0, 10**6), store.load_states(keys), store.load_digests(ids)


def reference(batches: list[list[bytes]]):
    """The Python reference's result of the last batch, after the ones before it."""
    memory = MemoryStore()
    for lines in batches:
        result = ingest_lines(memory, lines, engine="python", recorded_at=RECORDED)
    return result, memory


def test_a_reject_in_a_late_chunk_writes_nothing(store):
    lines = market()
    first, rest = lines[: 2 * CHUNK], lines[2 * CHUNK :]
    assert ingest_lines(store, first, recorded_at=RECORDED).written
    before = snapshot(store, lines)
    bad = json.loads(rest[-3])
    bad["occurred_at"] = "2017-01-01T00:00:00Z"  # before everything of its stream: a broken rule
    rest[-3] = json.dumps(bad).encode()
    chunks = Chunks(store)
    result = ingest_lines(store, rest, recorded_at=RECORDED)
    expected, _ = reference([first, rest])
    assert [r.message() for r in result.rejects] == [r.message() for r in expected.rejects]
    assert result.rejects and result.rejects[0].event_id == bad["event_id"]
    assert not result.written and result.accepted == 0
    assert chunks.written >= 4  # the earlier chunks were written in the transaction, then rolled back
    assert snapshot(store, lines) == before
    again = ingest_lines(store, first, recorded_at=RECORDED)  # the store still works: all known
    assert (again.accepted, again.duplicates) == (0, len(first))


def test_rules_see_the_chunks_before_them(store):
    """Events of contracts opened chunks earlier, re-sent lines of earlier chunks (duplicates)
    and an earlier chunk's id with other content (a conflict) are judged as the reference does."""
    lines = market()
    resent = lines[:CHUNK:7]
    ok = ingest_lines(store, lines + resent, recorded_at=RECORDED)
    expected, memory = reference([lines + resent])
    assert (ok.accepted, ok.duplicates, ok.rejects) == (expected.accepted, expected.duplicates, [])
    assert ok.duplicates == len(resent) and ok.positions == (1, len(lines))
    assert [body for _, body in store.read(0, 10**6)] == [body for _, body in memory.read(0, 10**6)]
    assert store.read_chain(0, 10**6) == memory.read_chain(0, 10**6)

    conflict = json.loads(lines[1])
    conflict["event_id"] = json.loads(lines[3 * CHUNK])["event_id"]  # an id of chunk 4, other content
    more = [*simulate(2, 12, SEED + 1), json.dumps(conflict).encode()]
    result = ingest_lines(store, more, recorded_at=RECORDED)
    expected, _ = reference([lines + resent, more])
    assert [r.message() for r in result.rejects] == [r.message() for r in expected.rejects]
    assert "conflict" in result.rejects[-1].reason and not result.written
    assert store.max_position() == len(lines)
