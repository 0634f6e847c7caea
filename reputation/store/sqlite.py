"""The SQLite event store (the embedded default): eventsourcing's SQLite application
recorder with the write side's tables written in its insert hook."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing, contextmanager
from typing import Any, Iterable, Iterator, Sequence
from uuid import UUID

from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from reputation.errors import Unavailable
from reputation.store.chain import GENESIS, joined_hashes, links
from reputation.store.port import TOPIC_PREFIX, Batch, stream_uuid
from reputation.store.recorded import CHAIN_PAGE, RecordedStore

LOCK_TIMEOUT = 30  # seconds a writer waits for SQLite's write lock
WRITE_CACHE_KIB = 64 * 1024  # SQLite's page cache while a batch is written


class SQLiteReputationRecorder(SQLiteApplicationRecorder):
    """The application recorder plus `rep_state` (latest state per key), `rep_event_ids`
    (digest per accepted event id) and `rep_chain` (the hash chain, reputation.store.chain),
    written in the same transaction as the events. `chained=False` only for the benchmark's
    comparison."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events", *, chained: bool = True):
        super().__init__(datastore, events_table_name)
        self.chained = chained
        self.insert_chain_statement = "INSERT INTO rep_chain (position, previous, hash) VALUES (?, ?, ?)"
        self.chain_tail_statement = "SELECT position, hash FROM rep_chain ORDER BY position DESC LIMIT 1"
        self.select_chain_statement = (
            "SELECT position, previous, hash FROM rep_chain WHERE position > ? AND position <= ? "
            "ORDER BY position LIMIT ?"
        )
        self.unchained_statement = (
            f"SELECT NOT EXISTS (SELECT 1 FROM rep_chain) AND EXISTS (SELECT 1 FROM {self.events_table_name})"
        )
        self.upsert_state_statement = (
            "INSERT INTO rep_state (key, version, state) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET version=excluded.version, state=excluded.state"
        )
        self.insert_digest_statement = "INSERT INTO rep_event_ids (event_id, digest) VALUES (?, ?)"
        # A chunk's ids and chain links in one statement each: executemany binds and steps each
        # row (about 1 us a row, most of these inserts' time). The ids come as a JSON array, the
        # digests (all of one size) and the hashes as one blob each, cut by substr.
        self.insert_digests_statement = (
            "INSERT INTO rep_event_ids (event_id, digest) SELECT value, substr(?2, ?3 * key + 1, ?3) FROM json_each(?1)"
        )
        # the links of ?3 consecutive positions from ?1, the first following ?2
        self.insert_chain_run_statement = (
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?3) "
            "INSERT INTO rep_chain (position, previous, hash) "
            "SELECT ?1 + i, CASE i WHEN 0 THEN ?2 ELSE ?1 + i - 1 END, substr(?4, 32 * i + 1, 32) FROM n"
        )
        # one JSON array parameter instead of a chunked IN (?, ?, ...) list
        self.select_states_statement = (
            "SELECT key, version, state FROM rep_state WHERE key IN (SELECT value FROM json_each(?))"
        )
        self.select_digests_statement = (
            "SELECT event_id, digest FROM rep_event_ids WHERE event_id IN (SELECT value FROM json_each(?))"
        )
        self.select_log_statement = (
            f"SELECT rowid, state FROM {self.events_table_name} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS rep_state (key TEXT PRIMARY KEY, version BIGINT NOT NULL, state BLOB NOT NULL)",
            # one b-tree keyed by the id (a store created before keeps its rowid table and index:
            # the statements are the same; docs/storage.md)
            "CREATE TABLE IF NOT EXISTS rep_event_ids (event_id TEXT PRIMARY KEY, digest BLOB NOT NULL) WITHOUT ROWID",
            (
                "CREATE TABLE IF NOT EXISTS rep_chain "
                "(position INTEGER PRIMARY KEY, previous INTEGER NOT NULL, hash BLOB NOT NULL, "
                "CONSTRAINT rep_chain_follows CHECK (previous < position))"
            ),
        ]

    def create_table(self) -> None:
        super().create_table()
        if self.chained:
            self.build_chain()

    def build_chain(self) -> int:
        """Chain the log of a store written before the chain existed (events, no chain
        rows), in one transaction that holds the write lock; return how many were chained."""
        if not self._select(self.unchained_statement, ())[0][0]:
            return 0
        with self.datastore.transaction(commit=True) as c:
            c.execute("DELETE FROM rep_chain WHERE position < 0")  # a write first: take the lock
            c.execute(self.unchained_statement)
            if not c.fetchone()[0]:
                return 0  # another process chained it meanwhile
            tail, count = (0, GENESIS), 0
            while True:
                c.execute(self.select_log_statement, (tail[0], (1 << 63) - 1, CHAIN_PAGE))
                new = links(tail, [(r[0], r[1]) for r in c.fetchall()])
                if not new:
                    return count
                c.executemany(self.insert_chain_statement, new)
                tail, count = (new[-1].position, new[-1].hash), count + len(new)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's entry point, through the same write path as the store's (`writing`)."""
        with self.writing() as w:
            return w.insert(
                [(_hex(s.originator_id), s.originator_version, s.topic, s.state) for s in stored_events],
                kwargs.get("states", ()),
                kwargs.get("ids", ()),
            )

    @contextmanager
    def writing(self) -> Iterator[SQLiteWriter]:
        """One write transaction, holding SQLite's write lock from its first statement (a
        reader that upgrades later fails at once when another writer came first)."""
        with self.datastore.transaction(commit=True) as c:
            c.execute("DELETE FROM rep_chain WHERE position < 0")  # a write first: take the lock
            c.execute("PRAGMA cache_size")
            cache = c.fetchone()[0]
            # a bigger page cache for the batch's index inserts (not a durability setting:
            # the commit still syncs the WAL as the connection's `synchronous` says)
            c.execute(f"PRAGMA cache_size = {-WRITE_CACHE_KIB}")
            try:
                yield SQLiteWriter(self, c)
            finally:
                c.execute(f"PRAGMA cache_size = {int(cache)}")

    def _select(self, statement: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return c.fetchall()

    def select_states(self, keys: list[str]) -> list[tuple[str, int, bytes]]:
        if not keys:
            return []
        return [tuple(r) for r in self._select(self.select_states_statement, (json.dumps(keys),))]

    def select_digests(self, event_ids: list[str]) -> list[tuple[str, bytes]]:
        if not event_ids:
            return []
        return [tuple(r) for r in self._select(self.select_digests_statement, (json.dumps(event_ids),))]

    def select_log(self, after: int, limit: int, upto: int | None) -> list[tuple[int, bytes]]:
        # the notification log's own order, without a Notification (and a UUID) per row, and
        # as plain tuples: a rebuild reads every row, and sqlite3.Row objects doubled its cost
        stop = (1 << 63) - 1 if upto is None else upto
        with self.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None
            c.execute(self.select_log_statement, (after, stop, limit))
            return c.fetchall()

    def select_chain(self, after: int, limit: int, upto: int | None) -> list[tuple[int, int, bytes]]:
        stop = (1 << 63) - 1 if upto is None else upto
        return [(r[0], r[1], r[2]) for r in self._select(self.select_chain_statement, (after, stop, limit))]


class SQLiteWriter:
    """Writes chunks of one batch in the open transaction `c` (reputation.store.port.Writer)."""

    originators: str | None = "hex"

    def __init__(self, recorder: SQLiteReputationRecorder, c: SQLiteCursor):
        self.recorder, self.c = recorder, c
        self.first: int | None = None
        self.last: int | None = None
        self.tail: tuple[int, bytes] | None = None  # the chain's last link
        self.uuids: dict[str, str] = {}

    def load_states(self, keys: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        keys = list(keys)
        if not keys:
            return {}
        self.c.execute(self.recorder.select_states_statement, (json.dumps(keys),))
        return {k: (v, bytes(b)) for k, v, b in self.c.fetchall()}

    def load_digests(self, event_ids: Iterable[str]) -> dict[str, bytes]:
        event_ids = list(event_ids)
        if not event_ids:
            return {}
        self.c.execute(self.recorder.select_digests_statement, (json.dumps(event_ids),))
        return {i: bytes(d) for i, d in self.c.fetchall()}

    def append(self, batch: Batch) -> None:
        if len(self.uuids) > 1 << 16:  # bounded, like stream_uuid's cache: memory stays flat
            self.uuids.clear()
        uuids, topics = self.uuids, _TOPICS
        rows = []
        for stream, version, type_, state in batch.events:
            u = uuids.get(stream)
            if u is None:
                u = uuids[stream] = stream_uuid(stream).hex
            topic = topics.get(type_) or topics.setdefault(type_, TOPIC_PREFIX + type_)
            rows.append((u, version, topic, state))
        self.insert(rows, [(k, v, b) for k, (v, b) in batch.states.items()], list(batch.ids.items()))

    def insert(self, rows: list[tuple], states: Sequence[tuple], ids: Sequence[tuple]) -> list[int]:
        """Events (originator id hex, version, topic, state), states and ids; their positions."""
        c, rec = self.c, self.recorder
        positions: list[int] = []
        if rows:
            c.executemany(rec.insert_events_statement, rows)
            c.execute("SELECT last_insert_rowid()")
            last = c.fetchone()[0]
            # under the write lock each row got max(rowid) + 1: the batch's rowids are consecutive
            positions = list(range(last - len(rows) + 1, last + 1))
            self.first = positions[0] if self.first is None else self.first
            self.last = last
        c.executemany(rec.upsert_state_statement, states)
        if ids:
            self._insert_ids(ids)
        if rec.chained and rows:
            if self.tail is None:
                c.execute(rec.chain_tail_statement)
                row = c.fetchone()
                self.tail = (row[0], row[1]) if row else (0, GENESIS)
            run = joined_hashes(self.tail[1], positions, [r[3] for r in rows])
            c.execute(rec.insert_chain_run_statement, (positions[0], self.tail[0], len(positions), run))
            self.tail = (positions[-1], run[-32:])
        return positions

    def _insert_ids(self, ids: Sequence[tuple]) -> None:
        digests = [d for _, d in ids]
        doc = json.dumps([i for i, _ in ids])
        sizes = set(map(len, digests))
        # SQLite's JSON cuts a string at an escaped NUL: such an id (and digests of other sizes)
        # take the row-by-row statement
        if len(sizes) == 1 and "\\u0000" not in doc:
            self.c.execute(self.recorder.insert_digests_statement, (doc, b"".join(digests), sizes.pop()))
        else:
            self.c.executemany(self.recorder.insert_digest_statement, ids)


_TOPICS: dict[str, str] = {}  # event type -> topic (a few types)


def _hex(originator_id: Any) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


def wal_datastore(path: str) -> SQLiteDatastore:
    """The library's datastore on `path`, switched to WAL first: the library switches a new
    file itself, but that fails at once ("database is locked", no busy wait) when two
    processes create the file at the same moment; here the switch is retried."""
    for attempt in range(100):
        try:
            with closing(sqlite3.connect(path, timeout=LOCK_TIMEOUT)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)
    return SQLiteDatastore(db_name=path, lock_timeout=LOCK_TIMEOUT)


class SQLiteEventStore(RecordedStore):
    name = "sqlite"

    def __init__(self, path: str, *, chained: bool = True):
        self.path = path
        self.datastore = wal_datastore(path)
        recorder = SQLiteReputationRecorder(self.datastore, chained=chained)
        recorder.create_table()
        super().__init__(recorder)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """A write lock another process held past LOCK_TIMEOUT: the store is busy, not broken
        (the transaction that waited wrote nothing)."""
        try:
            yield
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            raise Unavailable(
                f"the event store {self.path} stayed locked by another writer for {LOCK_TIMEOUT} s "
                "(another ingest still running?); nothing was written: try again when it has finished"
            ) from None

    def close(self) -> None:
        self.datastore.close()
