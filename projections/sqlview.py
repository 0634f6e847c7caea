"""Projection state in SQL, as a subclass of eventsourcing's tracking recorder (the
library's `examples/ftsprojection` shape): the view's tables are created with the tracking
table, and every batch commits its state, ledger entries and tracked position in one
transaction (`_insert_tracking` refuses a position committed before: exactly once).

`SqlView` holds the logic; a dialect (SQLite here, PostgreSQL in `projections.pgview`)
only names its statements.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from typing import Any, ContextManager, Iterator

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from projections.ledger import from_json
from projections.projector import INF, Meta
from projections.store import TRACKING_NAME, ReadRepo, Rows, dec_client, dec_contract, dec_freelancer, thread_lock

BIG = 1 << 62  # the clock's and deadlines' -INF/INF, clamped to what BIGINT holds
FOREVER = 10.0**6  # seconds, "as long as it takes" (sqlite3 keeps the busy timeout in int milliseconds)
VIEW_TABLES = ("proj_contracts", "proj_freelancers", "proj_clients", "proj_ledger", "proj_deadlines", "proj_clocks")


class SqlView(ReadRepo):
    """The projection store's logic over a tracking recorder's datastore; the dialect
    subclass sets the `*_statement` attributes and `keys` (how a list of keys is passed)."""

    datastore: Any
    _insert_tracking: Any
    max_tracking_id: Any
    delete_meta_statement: Any
    delete_tracking_statement: Any
    delete_view_statements: Any
    insert_deadline_statement: Any
    insert_ledger_statement: Any
    insert_clock_statement: Any
    select_clock_at_statement: Any
    select_max_seq_statement: Any
    select_meta_statement: Any
    upsert_client_statement: Any
    upsert_contract_statement: Any
    upsert_freelancer_statement: Any
    upsert_meta_statement: Any

    # run at the start of every commit (per-connection settings of the dialect)
    commit_pragmas: tuple[str, ...] = ()

    def keys(self, ids: list[str]) -> Any:
        raise NotImplementedError

    def _errors(self) -> ContextManager[None]:
        """How the dialect reports a lost server (PostgreSQL: as `Unavailable`)."""
        return nullcontext()

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        with self._errors(), self.datastore.transaction(commit=commit) as c:
            yield c

    def _rows(self, statement: Any, params: Any = ()) -> list[Any]:
        with self._transaction(commit=False) as c:
            c.execute(statement, params)
            return c.fetchall()

    def meta(self) -> Meta:
        values = {r["key"]: r["value"] for r in self._rows(self.select_meta_statement)}
        with self._errors():
            position = self.max_tracking_id(TRACKING_NAME) or 0
        return Meta(position, values.get("clock", -INF), values.get("seq", 0))

    def _load(self, statement: Any, key: str, ids: list[str], decoder) -> dict:
        if not ids:
            return {}
        return {r[key]: decoder.decode(bytes(r["state"])) for r in self._rows(statement, (self.keys(ids),))}

    def load_contracts(self, ids):
        return self._load(self.select_contracts_statement, "contract_id", list(ids), dec_contract)

    def load_freelancers(self, ids):
        return self._load(self.select_freelancers_statement, "freelancer_id", list(ids), dec_freelancer)

    def load_clients(self, ids):
        return self._load(self.select_clients_statement, "client_id", list(ids), dec_client)

    def due_deadlines(self, after, upto):
        rows = self._rows(self.select_deadlines_statement, (max(after, -BIG), min(upto, BIG)))
        return [(r["at"], r["freelancer_id"]) for r in rows]

    def freelancer_ids(self):
        return [r["freelancer_id"] for r in self._rows(self.select_freelancer_ids_statement)]

    def commit_rows(self, rows: Rows) -> None:
        meta = rows.meta
        writes = [
            (self.upsert_contract_statement, rows.contracts),
            (self.upsert_freelancer_statement, rows.freelancers),
            (self.upsert_client_statement, rows.clients),
            (self.insert_ledger_statement, rows.ledger),
            (self.insert_deadline_statement, rows.deadlines),
            (self.upsert_meta_statement, [("clock", max(meta.clock, -BIG)), ("seq", meta.seq)]),
            (self.insert_clock_statement, [(meta.position, max(meta.clock, -BIG))]),
        ]
        with self._transaction(commit=True) as c:
            for pragma in self.commit_pragmas:
                c.execute(pragma)
            for statement, batch in writes:
                if batch:
                    c.executemany(statement, batch)
            # raises (and rolls everything back) if this position was committed before
            self._insert_tracking(c, Tracking(TRACKING_NAME, meta.position))

    def ledger_after(self, seq, limit):
        return [from_json(bytes(r["body"])) for r in self._rows(self.select_ledger_after_statement, (seq, limit))]

    def clock_at(self, position):
        rows = self._rows(self.select_clock_at_statement, (position,))
        if not rows:
            return None
        clock = rows[0]["clock"]
        return rows[0]["position"], -INF if clock <= -BIG else clock

    def max_seq(self) -> int:
        rows = self._rows(self.select_max_seq_statement)
        return (rows[0]["m"] if rows else None) or 0

    def history(self, freelancer_id):
        return [from_json(bytes(r["body"])) for r in self._rows(self.select_history_statement, (freelancer_id,))]

    def contracts_of_client(self, client_id):
        return [
            dec_contract.decode(bytes(r["state"]))
            for r in self._rows(self.select_client_contracts_statement, (client_id,))
        ]

    def get_cursor(self, name):
        rows = self._rows(self.select_meta_value_statement, ("cursor:" + name,))
        return rows[0]["value"] if rows else 0

    def set_cursor(self, name, value):
        with self._transaction(commit=True) as c:
            c.execute(self.upsert_meta_statement, ("cursor:" + name, value))

    def reset(self) -> None:
        with self._transaction(commit=True) as c:
            for statement in self.delete_view_statements:
                c.execute(statement)
            c.execute(self.delete_meta_statement, ("cursor:%",))  # the relay cursors stay
            c.execute(self.delete_tracking_statement, (TRACKING_NAME,))

    def close(self) -> None:
        self.datastore.close()


def statements(t: dict[str, str], mark: str) -> dict[str, str]:
    """The view's statements with the given table names (`t`) and placeholder;
    each dialect formats them once, as the library's recorders do with their own."""
    m = mark

    def upsert(table: str, key: str, columns: list[str]) -> str:
        marks = ", ".join([m] * (len(columns) + 1))
        updates = ", ".join(f"{c}=excluded.{c}" for c in columns)
        return (
            f"INSERT INTO {t[table]} ({', '.join([key, *columns])}) VALUES ({marks}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )

    return {
        "select_meta": f"SELECT key, value FROM {t['proj_meta']}",
        "select_meta_value": f"SELECT value FROM {t['proj_meta']} WHERE key = {m}",
        "select_deadlines": f"SELECT at, freelancer_id FROM {t['proj_deadlines']} WHERE at > {m} AND at <= {m} "
        "ORDER BY at, freelancer_id",
        "select_freelancer_ids": f"SELECT freelancer_id FROM {t['proj_freelancers']} ORDER BY freelancer_id",
        "upsert_contract": upsert("proj_contracts", "contract_id", ["freelancer_id", "client_id", "state"]),
        "upsert_freelancer": upsert("proj_freelancers", "freelancer_id", ["state"]),
        "upsert_client": upsert("proj_clients", "client_id", ["state"]),
        "insert_ledger": f"INSERT INTO {t['proj_ledger']} (seq, change_id, freelancer_id, effective_at, position, body) "
        f"VALUES ({m}, {m}, {m}, {m}, {m}, {m})",
        "insert_deadline": f"INSERT INTO {t['proj_deadlines']} (at, freelancer_id) VALUES ({m}, {m}) ON CONFLICT DO NOTHING",
        "upsert_meta": upsert("proj_meta", "key", ["value"]),
        "insert_clock": f"INSERT INTO {t['proj_clocks']} (position, clock) VALUES ({m}, {m})",
        "select_clock_at": f"SELECT position, clock FROM {t['proj_clocks']} WHERE position <= {m} "
        "ORDER BY position DESC LIMIT 1",
        "select_ledger_after": f"SELECT body FROM {t['proj_ledger']} WHERE seq > {m} ORDER BY seq LIMIT {m}",
        "select_max_seq": f"SELECT MAX(seq) AS m FROM {t['proj_ledger']}",
        "select_history": f"SELECT body FROM {t['proj_ledger']} WHERE freelancer_id = {m} ORDER BY seq",
        "select_client_contracts": f"SELECT state FROM {t['proj_contracts']} WHERE client_id = {m}",
        "delete_meta": f"DELETE FROM {t['proj_meta']} WHERE key NOT LIKE {m}",
    }


def create_statements(t: dict[str, str], blob: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {t['proj_contracts']} (contract_id TEXT PRIMARY KEY, freelancer_id TEXT NOT NULL, "
        f"client_id TEXT NOT NULL, state {blob} NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS proj_contracts_client ON {t['proj_contracts']} (client_id)",
        f"CREATE TABLE IF NOT EXISTS {t['proj_freelancers']} (freelancer_id TEXT PRIMARY KEY, state {blob} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {t['proj_clients']} (client_id TEXT PRIMARY KEY, state {blob} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {t['proj_ledger']} (seq BIGINT PRIMARY KEY, change_id TEXT NOT NULL UNIQUE, "
        f"freelancer_id TEXT NOT NULL, effective_at TEXT NOT NULL, position BIGINT NOT NULL, body {blob} NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS proj_ledger_freelancer ON {t['proj_ledger']} (freelancer_id, seq)",
        f"CREATE TABLE IF NOT EXISTS {t['proj_deadlines']} (at BIGINT NOT NULL, freelancer_id TEXT NOT NULL, "
        "PRIMARY KEY (at, freelancer_id))",
        f"CREATE TABLE IF NOT EXISTS {t['proj_meta']} (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        # the engine clock at each commit (cuts.clock_known_at reads the log from there)
        f"CREATE TABLE IF NOT EXISTS {t['proj_clocks']} (position BIGINT PRIMARY KEY, clock BIGINT NOT NULL)",
    ]


def bind(view: SqlView, t: dict[str, str], mark: str, select_in: str) -> None:
    """Set the view's statements for one dialect (`select_in` renders `column IN <keys>`)."""
    for name, statement in statements(t, mark).items():
        setattr(view, name + "_statement", statement)
    for name, table, key in (
        ("contracts", "proj_contracts", "contract_id"),
        ("freelancers", "proj_freelancers", "freelancer_id"),
        ("clients", "proj_clients", "client_id"),
    ):
        setattr(
            view,
            f"select_{name}_statement",
            f"SELECT {key}, state FROM {t[table]} WHERE {select_in.format(column=key)}",
        )
    view.delete_view_statements = [f"DELETE FROM {t[table]}" for table in VIEW_TABLES]


class SQLiteProjectionView(SqlView, SQLiteTrackingRecorder):
    """The projection store in its own SQLite file."""

    TABLES = {name: name for name in (*VIEW_TABLES, "proj_meta")}
    # 64 MB of page cache instead of SQLite's 2 MB: a rebuild upserts contracts all over
    # their primary key's index, which outgrows 2 MB at about a million events. The write-ahead
    # log is copied back into the file once it passes 256 MB instead of 4 MB: a page that a
    # run of commits rewrites (a busy freelancer's state) is copied once, not after each
    # commit (a 1.1M-event rebuild in 10k-event commits: 17.2 -> 14.0 s of commits), and
    # is cut back to 64 MB after each copy.
    commit_pragmas = (
        "PRAGMA cache_size = -65536",
        "PRAGMA wal_autocheckpoint = 65536",
        "PRAGMA journal_size_limit = 67108864",
    )

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        # one JSON array parameter instead of a chunked IN (?, ?, ...) list
        bind(self, self.TABLES, "?", "{column} IN (SELECT value FROM json_each(?))")
        self.delete_tracking_statement = "DELETE FROM tracking WHERE application_name = ?"

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *create_statements(self.TABLES, "BLOB")]

    def create_table(self) -> None:
        try:
            super().create_table()
        except IntegrityError:
            # Another process created the tracking table at the same moment and recorded the
            # library's migration marker first; the tables exist now, so again is a no-op.
            super().create_table()

    def keys(self, ids: list[str]) -> str:
        return json.dumps(ids)

    def checkpoint(self) -> None:
        # passive: it copies what no reader still needs and waits for no one
        with self._transaction(commit=False) as c:
            c.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def catch_up_lock(self, wait: float | None) -> ContextManager[bool]:
        pool = self.datastore.pool
        if pool.is_sqlite_memory_mode:  # one process only
            self._memory_lock = getattr(self, "_memory_lock", None) or threading.Lock()
            return thread_lock(self._memory_lock, wait)
        return write_lock(pool.db_name + "-catchup", wait)


@contextmanager
def write_lock(path: str, wait: float | None) -> Iterator[bool]:
    """SQLite's write lock on a small database of its own, held for a whole catch-up (the
    batches commit in the projection file meanwhile); the OS drops it if the process dies."""
    conn = sqlite3.connect(path, timeout=FOREVER if wait is None else wait, isolation_level=None)
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            yield False
            return
        try:
            yield True
        finally:
            conn.rollback()
    finally:
        conn.close()
