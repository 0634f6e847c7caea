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

from reputation.store.recorded import RecordedStore

LOCK_TIMEOUT = 30  # seconds a writer waits for SQLite's write lock


class SQLiteReputationRecorder(SQLiteApplicationRecorder):
    """The application recorder plus `rep_state` (latest state per key) and `rep_event_ids`
    (digest per accepted event id), written in the same transaction as the events."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
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
        self.select_log_statement = f"SELECT rowid, state FROM {self.events_table_name} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS rep_state (key TEXT PRIMARY KEY, version BIGINT NOT NULL, state BLOB NOT NULL)",
            "CREATE TABLE IF NOT EXISTS rep_event_ids (event_id TEXT PRIMARY KEY, digest BLOB NOT NULL)",
        ]

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
        # the notification log's own order, without a Notification (and a UUID) per row
        stop = (1 << 63) - 1 if upto is None else upto
        return [(r[0], r[1]) for r in self._select(self.select_log_statement, (after, stop, limit))]


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

    def __init__(self, path: str):
        self.datastore = wal_datastore(path)
        recorder = SQLiteReputationRecorder(self.datastore)
        recorder.create_table()
        super().__init__(recorder)

    def close(self) -> None:
        self.datastore.close()
