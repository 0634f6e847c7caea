"""The PostgreSQL event store: eventsourcing's PostgreSQL application recorder with the
write side's tables written in the transaction of its insert (by COPY), the log followed with the recorder's
LISTEN/NOTIFY subscription, and schema creation serialised by an advisory lock."""

from __future__ import annotations

import os
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, ContextManager, Iterable, Iterator, Sequence
from urllib.parse import urlparse

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.string import BytesBinaryDumper

from reputation.store.chain import GENESIS, links
from reputation.store.port import TOPIC_PREFIX, Batch, Unavailable, stream_uuid
from reputation.store.recorded import CHAIN_PAGE, RecordedStore

STATES_PER_UPSERT = 5_000  # write-side states per upsert statement


@contextmanager
def advisory_lock(datastore: PostgresDatastore, name: str, wait: float | None = None) -> Iterator[bool]:
    """Hold the session advisory lock `name` (scoped to the datastore's schema) while in the
    block; yield False, without it, when another session kept it for `wait` seconds."""
    key = f"{datastore.schema}:{name}"
    with datastore.get_connection() as conn:
        if wait is None:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            got = True
        else:
            deadline = time.monotonic() + wait
            while True:
                row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0)) AS got", (key,)).fetchone()
                got = bool(row and row["got"])
                if got or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        try:
            yield got
        finally:
            if got:  # the pooled connection outlives the block: release explicitly
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))


@contextmanager
def reachable() -> Iterator[None]:
    """A lost or refused connection becomes `Unavailable`, naming how to start the server."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise Unavailable(_pg_help(str(exc))) from None


class SchemaLocked:
    """Mixin for PostgreSQL recorders: `create_table` under one advisory lock per schema.
    Processes starting at the same moment otherwise race in the catalogue ("tuple
    concurrently updated", a duplicate composite type)."""

    datastore: PostgresDatastore

    def create_table(self) -> None:
        with advisory_lock(self.datastore, "create-tables"):
            super().create_table()  # type: ignore[misc]


class PostgresReputationRecorder(SchemaLocked, PostgresApplicationRecorder):
    """The application recorder plus `rep_state`, `rep_event_ids` and `rep_chain` (as in
    SQLite), written in the transaction that inserts the events, under the library's table
    lock (`writing`)."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events", chained: bool = True):
        super().__init__(datastore, events_table_name=events_table_name)
        self.chained = chained
        schema = Identifier(self.datastore.schema)
        events = Identifier(self.events_table_name)
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.rep_state "
                "(key TEXT PRIMARY KEY, version BIGINT NOT NULL, state BYTEA NOT NULL)"
            ).format(schema),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.rep_event_ids (event_id TEXT PRIMARY KEY, digest BYTEA NOT NULL)"
            ).format(schema),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.rep_chain "
                "(position BIGINT PRIMARY KEY, previous BIGINT NOT NULL, hash BYTEA NOT NULL, "
                "CONSTRAINT rep_chain_follows CHECK (previous < position))"
            ).format(schema),
        ]
        self.insert_chain_statement = SQL(
            "INSERT INTO {0}.rep_chain (position, previous, hash) VALUES (%s, %s, %s)"
        ).format(schema)
        self.chain_tail_statement = SQL(
            "SELECT position, hash FROM {0}.rep_chain ORDER BY position DESC LIMIT 1"
        ).format(schema)
        self.select_chain_statement = SQL(
            "SELECT position, previous, hash FROM {0}.rep_chain WHERE position > %s AND position <= %s "
            "ORDER BY position LIMIT %s"
        ).format(schema)
        self.unchained_statement = SQL(
            "SELECT NOT EXISTS (SELECT 1 FROM {0}.rep_chain) AND EXISTS (SELECT 1 FROM {0}.{1}) AS unchained"
        ).format(schema, events)
        self.chain_log_statement = SQL(
            "SELECT notification_id, state FROM {0}.{1} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(schema, events)
        # %b: the key lists go as binary arrays (as text, each element is matched against a
        # quoting pattern: most of a streamed ingest's lookup time)
        self.select_states_statement = SQL("SELECT key, version, state FROM {0}.rep_state WHERE key = ANY(%b)").format(
            schema
        )
        self.select_digests_statement = SQL(
            "SELECT event_id, digest FROM {0}.rep_event_ids WHERE event_id = ANY(%b)"
        ).format(schema)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's entry point, through the same write path as the store's (`writing`)."""
        with self.writing() as w:
            return w.insert(
                [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored_events],
                kwargs.get("states", ()),
                kwargs.get("ids", ()),
            )

    @contextmanager
    def writing(self) -> Iterator[PostgresWriter]:
        """One transaction holding the library's EXCLUSIVE lock on the events table from its
        start (inserts are serialised and positions are issued in commit order, as the
        library's own insert does) and notifying the log's followers at commit."""
        with self.datastore.transaction(commit=True) as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            yield PostgresWriter(self, curs)

    def create_table(self) -> None:
        super().create_table()
        if self.chained:
            self.build_chain()

    def build_chain(self) -> int:
        """Chain the log of a store written before the chain existed (events, no chain
        rows), in one transaction that holds the inserts' table lock; return how many."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.unchained_statement)
            if not curs.fetchone()["unchained"]:  # type: ignore[index]
                return 0
        with self.datastore.transaction(commit=True) as curs:
            self._lock_table(curs)
            curs.execute(self.unchained_statement)
            if not curs.fetchone()["unchained"]:  # type: ignore[index]
                return 0  # another process chained it meanwhile
            tail, count = (0, GENESIS), 0
            while True:
                curs.execute(self.chain_log_statement, (tail[0], CHAIN_PAGE))
                new = links(tail, [(r["notification_id"], bytes(r["state"])) for r in curs.fetchall()])
                if not new:
                    return count
                curs.executemany(self.insert_chain_statement, new)
                tail, count = (new[-1].position, new[-1].hash), count + len(new)

    def select_chain(self, after: int, limit: int, upto: int | None) -> list[tuple[int, int, bytes]]:
        stop = (1 << 63) - 1 if upto is None else upto
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.select_chain_statement, (after, stop, limit))
            return [(r["position"], r["previous"], r["hash"]) for r in curs.fetchall()]

    def _select(self, statement: SQL | Any, keys: list[str]) -> list[dict]:
        if not keys:
            return []
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (keys,))
            return curs.fetchall()

    def select_states(self, keys: list[str]) -> list[tuple[str, int, bytes]]:
        return [(r["key"], r["version"], r["state"]) for r in self._select(self.select_states_statement, keys)]

    def select_digests(self, event_ids: list[str]) -> list[tuple[str, bytes]]:
        return [(r["event_id"], r["digest"]) for r in self._select(self.select_digests_statement, event_ids)]

    def select_log(self, after: int, limit: int, upto: int | None) -> list[tuple[int, bytes]]:
        notes = self.select_notifications(start=after, limit=limit, stop=upto, inclusive_of_start=False)
        return [(n.id, n.state) for n in notes]


class PostgresEventStore(RecordedStore):
    name = "postgres"

    def __init__(self, url: str, schema: str = "", *, chained: bool = True):
        u = urlparse(url)
        params: dict[str, Any] = dict(
            dbname=(u.path or "/").lstrip("/") or "postgres",
            host=u.hostname or "127.0.0.1",
            port=u.port or 5432,
            user=u.username or os.environ.get("USER", "postgres"),
            password=u.password or "",
        )
        _probe(params)
        self.datastore = PostgresDatastore(
            **params,
            schema=schema,
            connect_timeout=5,
            # no open timeout: with one it waits for `pool_size` idle connections on every
            # checkout, which never come while an advisory lock or a LISTEN holds one
            # (`_probe` already reports an unreachable server at once)
            pool_open_timeout=None,
            pool_size=2,
            max_overflow=4,
        )
        try:
            recorder = PostgresReputationRecorder(self.datastore, chained=chained)
            recorder.create_table()
        except Exception as exc:  # psycopg raises several kinds when the server is away
            self.datastore.close()
            if _is_unreachable(exc):
                raise Unavailable(_pg_help(str(exc))) from None
            raise
        super().__init__(recorder)

    def _errors(self) -> ContextManager[None]:
        return reachable()

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Waits on the recorder's subscription (LISTEN on the channel its inserts NOTIFY)."""
        if self.max_position() > after:
            return True
        with self._errors(), self.recorder.subscribe(gt=after) as subscription:  # type: ignore[attr-defined]
            # a subscription has no timeout of its own: stopping it ends the iteration
            timer = threading.Timer(timeout, subscription.stop)
            timer.start()
            try:
                next(subscription)
                return True
            except StopIteration:
                return False
            finally:
                timer.cancel()

    def close(self) -> None:
        self.datastore.close()


class PostgresWriter:
    """Writes chunks of one batch in the open transaction `curs` (reputation.store.port.Writer):
    the events, ids and chain by COPY, the states by one upsert of arrays."""

    originators: str | None = "uuid"

    def __init__(self, recorder: PostgresReputationRecorder, curs: Cursor[DictRow]):
        # bytes as the driver's C dumper, in place of the Python one its DB-API module registers
        # for bytea (the same bytes on the wire; a call less per value of a COPY row)
        curs.adapters.register_dumper(bytes, BytesBinaryDumper)
        self.recorder, self.curs = recorder, curs
        self.first: int | None = None
        self.last: int | None = None
        self.tail: tuple[int, bytes] | None = None  # the chain's last link
        schema, events = Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
        self.copy_events = SQL(
            "COPY {0}.{1} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
        ).format(schema, events)
        self.new_positions = SQL(  # one row, one array: not a row object per event
            "SELECT COALESCE(array_agg(notification_id ORDER BY notification_id), '{{}}') AS positions "
            "FROM {0}.{1} WHERE notification_id > %s"
        ).format(schema, events)
        self.upsert_states = SQL(
            "INSERT INTO {0}.rep_state (key, version, state) "
            "SELECT * FROM unnest(%b::text[], %b::bigint[], %b::bytea[]) "
            "ON CONFLICT (key) DO UPDATE SET version=excluded.version, state=excluded.state"
        ).format(schema)
        self.copy_ids = SQL("COPY {0}.rep_event_ids (event_id, digest) FROM STDIN (FORMAT BINARY)").format(schema)
        self.copy_chain = SQL("COPY {0}.rep_chain (position, previous, hash) FROM STDIN (FORMAT BINARY)").format(schema)
        self.max_position = SQL("SELECT COALESCE(MAX(notification_id), 0) AS max FROM {0}.{1}").format(schema, events)

    def load_states(self, keys: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        self.curs.execute(self.recorder.select_states_statement, (list(keys),))
        return {r["key"]: (r["version"], bytes(r["state"])) for r in self.curs.fetchall()}

    def load_digests(self, event_ids: Iterable[str]) -> dict[str, bytes]:
        self.curs.execute(self.recorder.select_digests_statement, (list(event_ids),))
        return {r["event_id"]: bytes(r["digest"]) for r in self.curs.fetchall()}

    def append(self, batch: Batch) -> None:
        rows = [(stream_uuid(e.stream), e.version, TOPIC_PREFIX + e.type, e.state) for e in batch.events]
        self.insert(rows, [(k, v, b) for k, (v, b) in batch.states.items()], list(batch.ids.items()))

    def _copy(self, statement: Composed, types: list[str], rows: Iterable[Sequence[Any]]) -> None:
        with self.curs.copy(statement) as copy:
            copy.set_types(types)  # binary: no text to escape and parse
            for row in rows:
                copy.write_row(row)

    def insert(self, rows: list[tuple], states: Sequence[tuple], ids: Sequence[tuple]) -> list[int]:
        """Events (originator id, version, topic, state), states and ids; their positions."""
        curs, rec = self.curs, self.recorder
        positions: list[int] = []
        if rows:
            if self.last is None:
                curs.execute(self.max_position)
                self.last = curs.fetchone()["max"]  # type: ignore[index]
            self._copy(self.copy_events, [self.recorder.datastore.originator_id_type, "int8", "text", "bytea"], rows)
            # under the table lock every position after the last one is this batch's, in COPY order
            curs.execute(self.new_positions, (self.last,))
            positions = curs.fetchone()["positions"]  # type: ignore[index]
            if len(positions) != len(rows):
                raise AssertionError(f"{len(positions)} positions for {len(rows)} events")
            self.first = positions[0] if self.first is None else self.first
            self.last = positions[-1]
        states = list(states)
        for i in range(0, len(states), STATES_PER_UPSERT):  # a bounded query: memory stays flat
            curs.execute(self.upsert_states, tuple(map(list, zip(*states[i : i + STATES_PER_UPSERT]))))
        if ids:
            self._copy(self.copy_ids, ["text", "bytea"], ids)
        if rec.chained and rows:
            if self.tail is None:
                curs.execute(rec.chain_tail_statement)
                tail = curs.fetchone()
                self.tail = (tail["position"], bytes(tail["hash"])) if tail else (0, GENESIS)
            new = links(self.tail, zip(positions, (r[3] for r in rows)))
            self._copy(self.copy_chain, ["int8", "int8", "bytea"], new)
            self.tail = (new[-1].position, new[-1].hash)
        return positions


def _pg_help(detail: str) -> str:
    missing = re.search(r'database "([^"]+)" does not exist', detail or "")
    if missing:
        name = missing.group(1)
        return (
            f"the PostgreSQL server answers, but it has no database {name!r}: create it "
            f'(`createdb -h HOST -U USER {name}` or `CREATE DATABASE "{name}"`) or point REPUTATION_STORE at another one'
        )
    return (
        f"cannot reach the PostgreSQL store ({detail.strip().splitlines()[0] if detail else 'no answer'}). "
        "Start it (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) "
        "or unset REPUTATION_STORE to use the embedded SQLite store."
    )


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
    return bool(re.search(r"operational|interface|connect|timeout|refused|pool|could not", text))
