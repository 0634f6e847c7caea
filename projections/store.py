"""Where projection state lives: in memory (tests), SQLite (embedded), PostgreSQL.

State and the tracked log position commit in one transaction (the SQL stores are
eventsourcing tracking recorders: `projections.sqlview`, `projections.pgview`), so a crash
never applies a batch twice or loses one.
"""

from __future__ import annotations

import bisect
import threading
from contextlib import contextmanager
from typing import Any, ContextManager, Iterator, NamedTuple

import msgspec
from eventsourcing.persistence import IntegrityError

from projections.ledger import ScoreChange, from_json, to_json
from projections.projector import Changes, Client, Freelancer, Meta, Repo
from reputation import contract as ct

TRACKING_NAME = "projections"
enc = msgspec.msgpack.Encoder()
dec_contract = msgspec.msgpack.Decoder(ct.Contract)
dec_freelancer = msgspec.msgpack.Decoder(Freelancer)
dec_client = msgspec.msgpack.Decoder(Client)


class Rows(NamedTuple):
    """A batch's changes as the rows the store writes (state encoded), with the position.
    The Python projector's `Changes` are encoded to this; the native core returns it."""

    contracts: list[tuple[str, str, str, bytes]]  # (contract_id, freelancer_id, client_id, state)
    freelancers: list[tuple[str, bytes]]
    clients: list[tuple[str, bytes]]
    ledger: list[tuple[int, str, str, str, int, bytes]]  # (seq, change_id, freelancer_id, effective_at, position, body)
    deadlines: list[tuple[int, str]]  # sorted, each once
    meta: Meta


def encode_changes(changes: Changes) -> Rows:
    return Rows(
        [(k, v.freelancer, v.client, enc.encode(v)) for k, v in changes.contracts.items()],
        [(k, enc.encode(v)) for k, v in changes.freelancers.items()],
        [(k, enc.encode(v)) for k, v in changes.clients.items()],
        [(s.seq, s.change_id, s.freelancer_id, s.effective_at, s.position, to_json(s)) for s in changes.ledger],
        sorted(set(changes.deadlines)),
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

    def clock_at(self, position: int) -> tuple[int, int] | None:
        """The last commit at or before log `position`: (its position, the engine clock it
        left), or None (none, or the projections predate these records)."""
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

    def catch_up_lock(self, wait: float | None) -> ContextManager[bool]:
        """Held by whoever catches the projections up (one at a time per store); yields
        False, without the lock, when someone else held it for `wait` seconds (None: as
        long as it takes)."""
        raise NotImplementedError

    def checkpoint(self) -> None:
        """After a catch-up: settle what the store deferred while committing (SQLite: copy
        its write-ahead log back into the file), so the catch-up pays for its own writes."""

    def close(self) -> None:
        pass


@contextmanager
def thread_lock(lock: threading.Lock, wait: float | None) -> Iterator[bool]:
    got = lock.acquire(timeout=-1 if wait is None else wait)
    try:
        yield got
    finally:
        if got:
            lock.release()


class MemoryRepo(ReadRepo):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._meta = Meta()
        self.contracts: dict[str, bytes] = {}
        self.freelancers: dict[str, bytes] = {}
        self.clients: dict[str, bytes] = {}
        self.ledger: list[ScoreChange] = []
        self.deadlines: set[tuple[int, str]] = set()
        self.clocks: list[tuple[int, int]] = []  # (position, clock) of each commit, in order
        self.cursors: dict[str, int] = {}

    def meta(self) -> Meta:
        return self._meta

    def load_contracts(self, ids):
        return {i: dec_contract.decode(self.contracts[i]) for i in ids if i in self.contracts}

    def load_freelancers(self, ids):
        return {i: dec_freelancer.decode(self.freelancers[i]) for i in ids if i in self.freelancers}

    def load_clients(self, ids):
        return {i: dec_client.decode(self.clients[i]) for i in ids if i in self.clients}

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
        self.clocks.append((rows.meta.position, rows.meta.clock))
        self._meta = rows.meta

    def clock_at(self, position):
        i = bisect.bisect_right(self.clocks, position, key=lambda c: c[0])
        return self.clocks[i - 1] if i else None

    def ledger_after(self, seq, limit):
        return [c for c in self.ledger if c.seq > seq][:limit]

    def max_seq(self):
        return self.ledger[-1].seq if self.ledger else 0

    def history(self, freelancer_id):
        return [c for c in self.ledger if c.freelancer_id == freelancer_id]

    def contracts_of_client(self, client_id):
        cs = (dec_contract.decode(b) for b in self.contracts.values())
        return [c for c in cs if c.client == client_id]

    def reset(self):
        cursors, lock = self.cursors, self._lock
        self.__init__()
        self.cursors, self._lock = cursors, lock

    def catch_up_lock(self, wait):
        return thread_lock(self._lock, wait)

    def get_cursor(self, name):
        return self.cursors.get(name, 0)

    def set_cursor(self, name, value):
        self.cursors[name] = value


def sqlite_repo(path: str) -> ReadRepo:
    """The projection store in its own SQLite file."""
    from projections.sqlview import SQLiteProjectionView
    from reputation.store.sqlite import wal_datastore

    view = SQLiteProjectionView(wal_datastore(path))
    view.create_table()
    return view


def postgres_repo(datastore: Any) -> ReadRepo:
    """The projection store in the event store's PostgreSQL schema (sharing its pool)."""
    from projections.pgview import PostgresProjectionView

    view = PostgresProjectionView(datastore)
    view.create_table()
    return view
