"""The event store port.

The log is eventsourcing's notification log: one stream per contract (and per client, and
one for the engine clock); the log position is the notification id. Next to it, in the same
transaction, the store keeps the write side's latest state per stream (to check new events
without replaying) and the digest of every accepted event id (idempotency).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from abc import ABC, abstractmethod
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterable, Iterator, NamedTuple, Protocol, Sequence

from reputation.errors import Conflict, Unavailable  # noqa: F401  (the port raises them)

NAMESPACE = uuid.UUID("6f1c7a8e-3d0b-4a55-9a53-5e2b1a8f0c11")
TOPIC_PREFIX = "reputation.events:"
POLL_SECONDS = 0.05  # how often `wait_for_events` looks when it has to poll


@lru_cache(maxsize=1 << 16)
def stream_uuid(stream: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, stream)


def digest(canonical: bytes) -> bytes:
    return hashlib.blake2b(canonical, digest_size=16).digest()


class NewEvent(NamedTuple):
    stream: str  # e.g. "contract:c-1"
    version: int  # 1-based position within the stream
    type: str
    state: bytes  # encoded `Recorded`


class Batch(NamedTuple):
    """Everything one ingest call writes, atomically."""

    events: Sequence[NewEvent]
    states: dict[str, tuple[int, bytes]]  # key -> (version, encoded state)
    ids: dict[str, bytes]  # event id -> digest of its canonical bytes


class Writer(Protocol):
    """One open write transaction (EventStore.writer): reads see what it wrote so far."""

    first: int | None  # the first and last log position written (None: nothing yet)
    last: int | None

    @property
    def originators(self) -> str | None:
        """How the writer's `insert` (RowWriter) takes originator ids: "hex" (UUID hex
        strings) or "uuid" (uuid.UUID); None when it has no `insert`, only `append`."""
        ...

    def load_states(self, keys: Iterable[str]) -> dict[str, tuple[int, bytes]]: ...

    def load_digests(self, event_ids: Iterable[str]) -> dict[str, bytes]: ...

    def append(self, batch: Batch) -> None: ...


class RowWriter(Writer, Protocol):
    """A Writer over one of the library's recorders (Writer.originators is not None)."""

    def insert(self, rows: list[tuple], states: Sequence[tuple], ids: Sequence[tuple]) -> list[int]:
        """The recorder's own rows (originator id, version, topic, stored bytes), states (key,
        version, state) and ids (event id, digest), as `append` writes a Batch (the native
        ingest makes the rows itself); their positions."""
        ...


class BufferedWriter:
    """A Writer for stores without a transaction to stream into: keeps the chunks and
    appends them as one batch when the block ends."""

    originators: str | None = None  # no `insert`: the chunks are kept as batches

    def __init__(self, store: EventStore):
        self.store = store
        self.first: int | None = None
        self.last: int | None = None
        self.events: list[NewEvent] = []
        self.states: dict[str, tuple[int, bytes]] = {}
        self.ids: dict[str, bytes] = {}

    def load_states(self, keys: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        keys = list(keys)
        found = self.store.load_states([k for k in keys if k not in self.states])
        return found | {k: self.states[k] for k in keys if k in self.states}

    def load_digests(self, event_ids: Iterable[str]) -> dict[str, bytes]:
        event_ids = list(event_ids)
        found = self.store.load_digests([i for i in event_ids if i not in self.ids])
        return found | {i: self.ids[i] for i in event_ids if i in self.ids}

    def append(self, batch: Batch) -> None:
        self.events += batch.events
        self.states.update(batch.states)
        self.ids.update(batch.ids)

    def commit(self) -> None:
        if self.events:
            positions = self.store.append(Batch(self.events, self.states, self.ids))
            self.first, self.last = positions[0], positions[-1]


class EventStore(ABC):
    """The write side's persistence port. Every adapter runs the same contract tests."""

    name: str = "store"

    @abstractmethod
    def append(self, batch: Batch) -> list[int]:
        """Write all events, states and ids in one transaction; return log positions."""

    @contextmanager
    def writer(self) -> Iterator[Writer]:
        """One transaction for appending a batch in chunks (streamed ingest): committed when
        the block ends, rolled back (nothing written) when it raises. This default buffers
        the chunks and appends them at the end."""
        w = BufferedWriter(self)
        yield w
        w.commit()

    @abstractmethod
    def load_states(self, keys: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        """Latest write-side state of the given keys that exist."""

    @abstractmethod
    def load_digests(self, event_ids: Iterable[str]) -> dict[str, bytes]:
        """Digests of the given event ids that were accepted."""

    @abstractmethod
    def read(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, bytes]]:
        """(position, encoded Recorded) of the log after `after`, in order."""

    @abstractmethod
    def max_position(self) -> int:
        """The last log position (0 when empty)."""

    def read_chain(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, int, bytes]]:
        """(position, previous position, chain hash) of the chain after `after`, in order
        (reputation.store.chain). A store that keeps no chain has none."""
        raise NotImplementedError(f"the {self.name} store keeps no hash chain")

    def read_chained(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, bytes, bytes | None]]:
        """`read`, each row with the chain hash stored for its position (None: none stored)."""
        rows = self.read(after, limit, upto)
        if not rows:
            return []
        try:
            chain = {p: h for p, _, h in self.read_chain(after, rows[-1][0] - after, rows[-1][0])}
        except NotImplementedError:  # a store (or a test's wrapper) that keeps no chain
            chain = {}
        return [(p, s, chain.get(p)) for p, s in rows]

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """True as soon as the log holds a position after `after`, False after `timeout`
        seconds without one. This default polls; an adapter with notifications overrides it."""
        deadline = time.monotonic() + timeout
        while self.max_position() <= after:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_SECONDS, left))
        return True

    def close(self) -> None:  # noqa: B027 - optional
        pass
