"""The SQLite event store (the embedded default): eventsourcing's SQLite application
recorder with the write side's tables written in its insert hook."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from typing import Any, Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from reputation.store.chain import GENESIS, links
from reputation.store.recorded import CHAIN_PAGE, RecordedStore

LOCK_TIMEOUT = 30  # seconds a writer waits for SQLite's write lock


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
            "CREATE TABLE IF NOT EXISTS rep_event_ids (event_id TEXT PRIMARY KEY, digest BLOB NOT NULL)",
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

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        states: Sequence[tuple[str, int, bytes]] = (),
        ids: Sequence[tuple[str, bytes]] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        # the events first, so that the transaction holds the write lock from its first statement
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        c.executemany(self.upsert_state_statement, states)
        c.executemany(self.insert_digest_statement, ids)
        if self.chained and notification_ids:
            c.execute(self.chain_tail_statement)  # read under the write lock taken above
            tail = c.fetchone()
            rows = zip(notification_ids, (e.state for e in stored_events))
            c.executemany(self.insert_chain_statement, links((tail[0], tail[1]) if tail else (0, GENESIS), rows))
        return notification_ids

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
        self.datastore = wal_datastore(path)
        recorder = SQLiteReputationRecorder(self.datastore, chained=chained)
        recorder.create_table()
        super().__init__(recorder)

    def close(self) -> None:
        self.datastore.close()
