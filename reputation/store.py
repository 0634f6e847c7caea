"""The event store port and its in-memory twin.

The log is eventsourcing's notification log: one stream per contract (and per client, and
one for the engine clock); the log position is the notification id. Next to it, in the same
transaction, the store keeps the write side's latest state per stream (to check new events
without replaying) and the digest of every accepted event id (idempotency).
"""

from __future__ import annotations

import hashlib
import uuid
from abc import ABC, abstractmethod
from functools import lru_cache
from typing import Iterable, NamedTuple, Sequence

from reputation.errors import Conflict, Unavailable  # noqa: F401  (the port raises them)

NAMESPACE = uuid.UUID("6f1c7a8e-3d0b-4a55-9a53-5e2b1a8f0c11")
TOPIC_PREFIX = "reputation.events:"


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


class EventStore(ABC):
    """The write side's persistence port. Every adapter runs the same contract tests."""

    name: str = "store"

    @abstractmethod
    def append(self, batch: Batch) -> list[int]:
        """Write all events, states and ids in one transaction; return log positions."""

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

    def close(self) -> None:  # noqa: B027 - optional
        pass


class MemoryStore(EventStore):
    """In-memory twin for fast unit tests."""

    name = "memory"

    def __init__(self) -> None:
        self.log: list[tuple[int, NewEvent]] = []
        self.versions: dict[str, int] = {}
        self.states: dict[str, tuple[int, bytes]] = {}
        self.ids: dict[str, bytes] = {}

    def append(self, batch: Batch) -> list[int]:
        staged: dict[str, int] = {}
        for e in batch.events:  # check everything first: all or nothing
            # each stream's versions continue the stored one, one by one (a version taken
            # twice, in the store or within the batch, is a conflict as in the SQL stores)
            if e.version != staged.get(e.stream, self.versions.get(e.stream, 0)) + 1:
                raise Conflict(f"stream {e.stream} moved on")
            staged[e.stream] = e.version
        if any(i in self.ids for i in batch.ids):
            raise Conflict("an event id was accepted meanwhile")
        positions = []
        for e in batch.events:
            pos = len(self.log) + 1
            self.log.append((pos, e))
            self.versions[e.stream] = e.version
            positions.append(pos)
        self.states.update(batch.states)
        self.ids.update(batch.ids)
        return positions

    def load_states(self, keys: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        return {k: self.states[k] for k in keys if k in self.states}

    def load_digests(self, event_ids: Iterable[str]) -> dict[str, bytes]:
        return {i: self.ids[i] for i in event_ids if i in self.ids}

    def read(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, bytes]]:
        rows = self.log[after : after + limit]
        return [(p, e.state) for p, e in rows if upto is None or p <= upto]

    def max_position(self) -> int:
        return len(self.log)
