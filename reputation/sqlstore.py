"""SQL adapters of the event store: SQLite (embedded default) and PostgreSQL.

Both go through eventsourcing's application recorders (same `stored_events` table and
notification log as any eventsourcing application) and write the write-side state and
the event-id digests in the same transaction as the events. `Sql` is the small dialect
shim that the projections reuse for their own tables.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import Any, Iterable, Iterator
from urllib.parse import urlparse

from eventsourcing.persistence import IntegrityError, OperationalError, InterfaceError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from reputation.store import (
    TOPIC_PREFIX,
    Batch,
    Conflict,
    EventStore,
    Unavailable,
    stream_uuid,
)

CHUNK = 500  # rows per IN (...) query and per insert call


class Sql:
    """A datastore with its dialect: `?` placeholders in, native ones out."""

    def __init__(self, datastore: Any, dialect: str, schema: str = ""):
        self.datastore = datastore
        self.dialect = dialect
        self.blob = "BLOB" if dialect == "sqlite" else "BYTEA"
        self.schema = schema

    def q(self, statement: str) -> str:
        """Dialect-specific statement; table names are written `{rep_state}` style."""
        statement = re.sub(r"\{(\w+)\}", lambda m: self.table(m.group(1)), statement)
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    def table(self, name: str) -> str:
        return f'"{self.schema}".{name}' if self.schema else name

    @contextmanager
    def transaction(self, commit: bool = True) -> Iterator[Any]:
        try:
            with self.datastore.transaction(commit=commit) as cursor:
                yield cursor
        except (OperationalError, InterfaceError) as exc:
            if self.dialect == "postgres":
                raise Unavailable(_pg_help(str(exc))) from None
            raise

    def execute(self, cursor: Any, statement: str, params: Any = ()) -> None:
        cursor.execute(self.q(statement), params)

    def executemany(self, cursor: Any, statement: str, rows: list) -> None:
        if rows:
            cursor.executemany(self.q(statement), rows)

    def upsert(self, table: str, key: str, columns: list[str]) -> str:
        cols = ", ".join([key, *columns])
        marks = ", ".join("?" * (len(columns) + 1))
        updates = ", ".join(f"{c}=excluded.{c}" for c in columns)
        return (
            f"INSERT INTO {{{table}}} ({cols}) VALUES ({marks}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )

    def fetch_in(self, cursor: Any, statement: str, keys: list) -> list:
        """Run `statement` (with one `IN (?*)`) over `keys` in chunks."""
        rows: list = []
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i : i + CHUNK]
            self.execute(cursor, statement.replace("?*", ", ".join("?" * len(chunk))), chunk)
            rows.extend(cursor.fetchall())
        return rows


def _pg_help(detail: str) -> str:
    return (
        f"cannot reach the PostgreSQL store ({detail.strip().splitlines()[0] if detail else 'no answer'}). "
        "Start it (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) "
        "or unset REPUTATION_STORE to use the embedded SQLite store."
    )


WRITE_TABLES = [
    "CREATE TABLE IF NOT EXISTS {rep_state} (key TEXT PRIMARY KEY, version BIGINT NOT NULL, state BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {rep_event_ids} (event_id TEXT PRIMARY KEY, digest BLOB NOT NULL)",
]


class SqlEventStore(EventStore):
    def __init__(self, sql: Sql, recorder: Any):
        self.sql = sql
        self.recorder = recorder
        with sql.transaction() as c:
            for statement in WRITE_TABLES:
                sql.execute(c, statement.replace("BLOB", sql.blob))

    def _stored(self, batch: Batch) -> list[StoredEvent]:
        return [
            StoredEvent(
                originator_id=stream_uuid(e.stream),
                originator_version=e.version,
                topic=TOPIC_PREFIX + e.type,
                state=e.state,
            )
            for e in batch.events
        ]

    def append(self, batch: Batch) -> list[int]:
        stored = self._rows(batch)
        sql = self.sql
        try:
            with sql.transaction() as c:
                positions: list[int] = []
                for i in range(0, len(stored), CHUNK * 10):
                    positions.extend(self._insert(c, stored[i : i + CHUNK * 10]))
                sql.executemany(
                    c,
                    sql.upsert("rep_state", "key", ["version", "state"]),
                    [(k, v, s) for k, (v, s) in batch.states.items()],
                )
                sql.executemany(
                    c, "INSERT INTO {rep_event_ids} (event_id, digest) VALUES (?, ?)", list(batch.ids.items())
                )
        except IntegrityError as exc:
            raise Conflict(f"another writer appended meanwhile; nothing was written ({exc})") from None
        return positions

    def _rows(self, batch: Batch) -> list:
        return self._stored(batch)

    def _insert(self, cursor: Any, stored: list) -> list[int]:
        raise NotImplementedError

    def load_states(self, keys: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        keys = list(keys)
        with self.sql.transaction(commit=False) as c:
            rows = self.sql.fetch_in(c, "SELECT key, version, state FROM {rep_state} WHERE key IN (?*)", keys)
        return {r["key"]: (r["version"], bytes(r["state"])) for r in rows}

    def load_digests(self, event_ids: Iterable[str]) -> dict[str, bytes]:
        ids = list(event_ids)
        with self.sql.transaction(commit=False) as c:
            rows = self.sql.fetch_in(
                c, "SELECT event_id, digest FROM {rep_event_ids} WHERE event_id IN (?*)", ids
            )
        return {r["event_id"]: bytes(r["digest"]) for r in rows}

    def read(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, bytes]]:
        try:
            notes = self.recorder.select_notifications(start=after + 1, limit=limit, stop=upto)
        except (OperationalError, InterfaceError) as exc:
            if self.sql.dialect == "postgres":
                raise Unavailable(_pg_help(str(exc))) from None
            raise
        return [(n.id, n.state) for n in notes]

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def close(self) -> None:
        self.sql.datastore.close()


class SQLiteEventStore(SqlEventStore):
    name = "sqlite"

    def __init__(self, path: str):
        datastore = SQLiteDatastore(db_name=path, lock_timeout=30)
        recorder = SQLiteApplicationRecorder(datastore)
        recorder.create_table()
        super().__init__(Sql(datastore, "sqlite"), recorder)

    def _rows(self, batch: Batch) -> list:
        # the recorder's own table and INSERT statement, without a StoredEvent object per row
        return [(stream_uuid(e.stream).hex, e.version, TOPIC_PREFIX + e.type, e.state) for e in batch.events]

    def read(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, bytes]]:
        # the notification log's own table and order, without a Notification (and UUID) per row
        table = self.recorder.events_table_name
        statement = f"SELECT rowid, state FROM {table} WHERE rowid > ?"
        params: list[int] = [after]
        if upto is not None:
            statement += " AND rowid <= ?"
            params.append(upto)
        with self.sql.transaction(commit=False) as c:
            c.execute(statement + " ORDER BY rowid LIMIT ?", (*params, limit))
            return [(row[0], row[1]) for row in c.fetchall()]

    def _insert(self, cursor: Any, rows: list) -> list[int]:
        # Write first (so the transaction holds the write lock from its first statement); a
        # rowid is max(rowid) + 1, and no one else writes inside this transaction, so these
        # rows hold the last len(rows) notification ids.
        cursor.executemany(self.recorder.insert_events_statement, rows)
        cursor.execute(f"SELECT MAX(rowid) FROM {self.recorder.events_table_name}")
        last = cursor.fetchone()[0]
        first = last - len(rows) + 1
        return list(range(first, last + 1))


class PostgresEventStore(SqlEventStore):
    name = "postgres"

    def __init__(self, url: str, schema: str = ""):
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

        u = urlparse(url)
        params = dict(
            dbname=(u.path or "/").lstrip("/") or "postgres",
            host=u.hostname or "127.0.0.1",
            port=u.port or 5432,
            user=u.username or os.environ.get("USER", "postgres"),
            password=u.password or "",
        )
        _probe(params)
        datastore = PostgresDatastore(
            **params,
            schema=schema,
            connect_timeout=5,
            pool_open_timeout=5,
            pool_size=2,
            max_overflow=4,
        )
        try:
            recorder = PostgresApplicationRecorder(datastore)
            recorder.create_table()
        except Exception as exc:  # psycopg raises several kinds when the server is away
            datastore.close()
            if _is_unreachable(exc):
                raise Unavailable(_pg_help(str(exc))) from None
            raise
        super().__init__(Sql(datastore, "postgres", datastore.schema), recorder)

    def _insert(self, cursor: Any, stored: list[StoredEvent]) -> list[int]:
        self.recorder._insert_stored_events(cursor, stored)
        return list(self.recorder._fetch_ids_after_insert_events(cursor, stored))


def _probe(params: dict) -> None:
    """One plain connection first: a refused or unknown server fails at once with its own
    reason, instead of after the pool's open timeout with "pool initialization incomplete"."""
    import psycopg

    try:
        psycopg.connect(**{**params, "password": params["password"] or None}, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        raise Unavailable(_pg_help(str(exc))) from None


def _is_unreachable(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return bool(
        re.search(r"operational|interface|connect|timeout|refused|pool|could not", text)
    )
