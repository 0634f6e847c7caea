"""Where projection state lives: in memory (tests), SQLite (embedded), PostgreSQL.

State and the tracked log position commit in one transaction (eventsourcing's tracking
recorder), so a crash never applies a batch twice or loses one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec
from eventsourcing.persistence import IntegrityError, Tracking

from reputation import contract as ct
from reputation.sqlstore import Sql

from projections.ledger import ScoreChange, from_json, to_json
from projections.projector import INF, Changes, Client, Freelancer, Meta, Repo

TRACKING_NAME = "projections"
_enc = msgspec.msgpack.Encoder()
_dec_contract = msgspec.msgpack.Decoder(ct.Contract)
_dec_freelancer = msgspec.msgpack.Decoder(Freelancer)
_dec_client = msgspec.msgpack.Decoder(Client)


class Rows(NamedTuple):
    """A batch's changes as the rows the store writes (state encoded), with the position."""

    contracts: list[tuple[str, str, str, bytes]]  # (contract_id, freelancer_id, client_id, state)
    freelancers: list[tuple[str, bytes]]
    clients: list[tuple[str, bytes]]
    ledger: list[tuple[int, str, str, str, int, bytes]]  # (seq, change_id, freelancer_id, effective_at, position, body)
    deadlines: list[tuple[int, str]]
    meta: Meta


def encode_changes(changes: Changes) -> Rows:
    return Rows(
        [(k, v.freelancer, v.client, _enc.encode(v)) for k, v in changes.contracts.items()],
        [(k, _enc.encode(v)) for k, v in changes.freelancers.items()],
        [(k, _enc.encode(v)) for k, v in changes.clients.items()],
        [(s.seq, s.change_id, s.freelancer_id, s.effective_at, s.position, to_json(s)) for s in changes.ledger],
        changes.deadlines,
        changes.meta,
    )


class ReadRepo(Repo):
    """Read access the commands need besides the projector's."""

    def commit(self, changes: Changes) -> None:
        self.commit_rows(encode_changes(changes))

    def commit_rows(self, rows: Rows) -> None:
        """Write encoded changes and the new position in one transaction (exactly once)."""
        raise NotImplementedError

    def ledger_after(self, seq: int, limit: int) -> list[ScoreChange]:
        raise NotImplementedError

    def history(self, freelancer_id: str) -> list[ScoreChange]:
        raise NotImplementedError

    def max_seq(self) -> int:
        raise NotImplementedError

    def contracts_of_client(self, client_id: str) -> list[ct.Contract]:
        raise NotImplementedError

    def get_cursor(self, name: str) -> int:
        raise NotImplementedError

    def set_cursor(self, name: str, value: int) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Drop every projection (keep the relay cursors)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class MemoryRepo(ReadRepo):
    def __init__(self) -> None:
        self._meta = Meta()
        self.contracts: dict[str, bytes] = {}
        self.freelancers: dict[str, bytes] = {}
        self.clients: dict[str, bytes] = {}
        self.ledger: list[ScoreChange] = []
        self.deadlines: set[tuple[int, str]] = set()
        self.cursors: dict[str, int] = {}

    def meta(self) -> Meta:
        return self._meta

    def load_contracts(self, ids):
        return {i: _dec_contract.decode(self.contracts[i]) for i in ids if i in self.contracts}

    def load_freelancers(self, ids):
        return {i: _dec_freelancer.decode(self.freelancers[i]) for i in ids if i in self.freelancers}

    def load_clients(self, ids):
        return {i: _dec_client.decode(self.clients[i]) for i in ids if i in self.clients}

    def due_deadlines(self, after, upto):
        return sorted(d for d in self.deadlines if after < d[0] <= upto)

    def freelancer_ids(self):
        return sorted(self.freelancers)

    def commit_rows(self, rows: Rows) -> None:
        if rows.meta.position <= self._meta.position:  # as the tracking recorder: exactly once
            raise IntegrityError(f"position {rows.meta.position} was already committed")
        self.contracts.update({k: state for k, _, _, state in rows.contracts})
        self.freelancers.update(rows.freelancers)
        self.clients.update(rows.clients)
        self.ledger.extend(from_json(r[5]) for r in rows.ledger)
        self.deadlines.update(rows.deadlines)
        self._meta = rows.meta

    def ledger_after(self, seq, limit):
        return [c for c in self.ledger if c.seq > seq][:limit]

    def max_seq(self):
        return self.ledger[-1].seq if self.ledger else 0

    def history(self, freelancer_id):
        return [c for c in self.ledger if c.freelancer_id == freelancer_id]

    def contracts_of_client(self, client_id):
        cs = (_dec_contract.decode(b) for b in self.contracts.values())
        return [c for c in cs if c.client == client_id]

    def reset(self):
        cursors = self.cursors
        self.__init__()  # type: ignore[misc]
        self.cursors = cursors

    def get_cursor(self, name):
        return self.cursors.get(name, 0)

    def set_cursor(self, name, value):
        self.cursors[name] = value


TABLES = [
    "CREATE TABLE IF NOT EXISTS {proj_contracts} (contract_id TEXT PRIMARY KEY, freelancer_id TEXT NOT NULL, "
    "client_id TEXT NOT NULL, state BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS proj_contracts_client ON {proj_contracts} (client_id)",
    "CREATE TABLE IF NOT EXISTS {proj_freelancers} (freelancer_id TEXT PRIMARY KEY, state BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {proj_clients} (client_id TEXT PRIMARY KEY, state BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {proj_ledger} (seq BIGINT PRIMARY KEY, change_id TEXT NOT NULL UNIQUE, "
    "freelancer_id TEXT NOT NULL, effective_at TEXT NOT NULL, position BIGINT NOT NULL, body BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS proj_ledger_freelancer ON {proj_ledger} (freelancer_id, seq)",
    "CREATE TABLE IF NOT EXISTS {proj_deadlines} (at BIGINT NOT NULL, freelancer_id TEXT NOT NULL, "
    "PRIMARY KEY (at, freelancer_id))",
    "CREATE TABLE IF NOT EXISTS {proj_meta} (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
]


class SqlRepo(ReadRepo):
    """Projection state in SQL tables; `tracking` is an eventsourcing TrackingRecorder."""

    def __init__(self, sql: Sql, tracking: Any, tracking_table: str = "tracking"):
        self.sql = sql
        self.tracking = tracking
        self.tracking_table = tracking_table
        with sql.transaction() as c:
            for statement in TABLES:
                sql.execute(c, statement.replace("BLOB", sql.blob))

    def meta(self) -> Meta:
        with self.sql.transaction(commit=False) as c:
            self.sql.execute(c, "SELECT key, value FROM {proj_meta}")
            values = {r["key"]: r["value"] for r in c.fetchall()}
        position = self.tracking.max_tracking_id(TRACKING_NAME) or 0
        return Meta(position, values.get("clock", -INF), values.get("seq", 0))

    def _load(self, table: str, key: str, ids: list[str], decoder) -> dict:
        with self.sql.transaction(commit=False) as c:
            rows = self.sql.fetch_in(c, f"SELECT {key}, state FROM {{{table}}} WHERE {key} IN (?*)", ids)
        return {r[key]: decoder.decode(bytes(r["state"])) for r in rows}

    def load_contracts(self, ids):
        return self._load("proj_contracts", "contract_id", list(ids), _dec_contract)

    def load_freelancers(self, ids):
        return self._load("proj_freelancers", "freelancer_id", list(ids), _dec_freelancer)

    def load_clients(self, ids):
        return self._load("proj_clients", "client_id", list(ids), _dec_client)

    def due_deadlines(self, after, upto):
        with self.sql.transaction(commit=False) as c:
            self.sql.execute(
                c, "SELECT at, freelancer_id FROM {proj_deadlines} WHERE at > ? AND at <= ? ORDER BY at, freelancer_id",
                (max(after, -(1 << 62)), min(upto, 1 << 62)),
            )
            return [(r["at"], r["freelancer_id"]) for r in c.fetchall()]

    def freelancer_ids(self):
        with self.sql.transaction(commit=False) as c:
            self.sql.execute(c, "SELECT freelancer_id FROM {proj_freelancers} ORDER BY freelancer_id")
            return [r["freelancer_id"] for r in c.fetchall()]

    def commit_rows(self, rows: Rows) -> None:
        sql = self.sql
        with sql.transaction() as c:
            sql.executemany(
                c, sql.upsert("proj_contracts", "contract_id", ["freelancer_id", "client_id", "state"]), rows.contracts
            )
            sql.executemany(c, sql.upsert("proj_freelancers", "freelancer_id", ["state"]), rows.freelancers)
            sql.executemany(c, sql.upsert("proj_clients", "client_id", ["state"]), rows.clients)
            sql.executemany(
                c, "INSERT INTO {proj_ledger} (seq, change_id, freelancer_id, effective_at, position, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows.ledger,
            )
            sql.executemany(
                c, "INSERT INTO {proj_deadlines} (at, freelancer_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                sorted(set(rows.deadlines)),
            )
            meta = rows.meta
            sql.executemany(
                c, sql.upsert("proj_meta", "key", ["value"]),
                [("clock", max(meta.clock, -(1 << 62))), ("seq", meta.seq)],
            )
            # raises (and rolls everything back) if another projector committed this position
            self.tracking._insert_tracking(c, Tracking(TRACKING_NAME, meta.position))

    def ledger_after(self, seq, limit):
        with self.sql.transaction(commit=False) as c:
            self.sql.execute(c, "SELECT body FROM {proj_ledger} WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
            return [from_json(bytes(r["body"])) for r in c.fetchall()]

    def max_seq(self) -> int:
        with self.sql.transaction(commit=False) as c:
            self.sql.execute(c, "SELECT MAX(seq) AS m FROM {proj_ledger}")
            row = c.fetchone()
        return (row["m"] if row else None) or 0

    def history(self, freelancer_id):
        with self.sql.transaction(commit=False) as c:
            self.sql.execute(c, "SELECT body FROM {proj_ledger} WHERE freelancer_id = ? ORDER BY seq", (freelancer_id,))
            return [from_json(bytes(r["body"])) for r in c.fetchall()]

    def contracts_of_client(self, client_id):
        with self.sql.transaction(commit=False) as c:
            self.sql.execute(c, "SELECT state FROM {proj_contracts} WHERE client_id = ?", (client_id,))
            return [_dec_contract.decode(bytes(r["state"])) for r in c.fetchall()]

    def get_cursor(self, name):
        with self.sql.transaction(commit=False) as c:
            self.sql.execute(c, "SELECT value FROM {proj_meta} WHERE key = ?", ("cursor:" + name,))
            row = c.fetchone()
        return row["value"] if row else 0

    def set_cursor(self, name, value):
        with self.sql.transaction() as c:
            self.sql.execute(c, self.sql.upsert("proj_meta", "key", ["value"]), ("cursor:" + name, value))

    def reset(self) -> None:
        sql = self.sql
        with sql.transaction() as c:
            for table in ("proj_contracts", "proj_freelancers", "proj_clients", "proj_ledger", "proj_deadlines"):
                sql.execute(c, f"DELETE FROM {{{table}}}")
            sql.execute(c, "DELETE FROM {proj_meta} WHERE key NOT LIKE 'cursor:%'")
            sql.execute(c, f"DELETE FROM {self.tracking_table} WHERE application_name = ?", (TRACKING_NAME,))

    def close(self) -> None:
        self.sql.datastore.close()


def sqlite_repo(path: str) -> SqlRepo:
    from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

    datastore = SQLiteDatastore(db_name=path, lock_timeout=30)
    tracking = SQLiteTrackingRecorder(datastore)
    tracking.create_table()
    return SqlRepo(Sql(datastore, "sqlite"), tracking)


def postgres_repo(datastore: Any) -> SqlRepo:
    from eventsourcing.postgres import PostgresTrackingRecorder

    tracking = PostgresTrackingRecorder(datastore, tracking_table_name="reputation_tracking")
    tracking.create_table()
    sql = Sql(datastore, "postgres", datastore.schema)
    return SqlRepo(sql, tracking, sql.table("reputation_tracking"))
