"""In-memory twin of the event store, for fast unit tests."""

from __future__ import annotations

from typing import Iterable

from reputation.store.chain import GENESIS, Link, links
from reputation.store.port import Batch, Conflict, EventStore, NewEvent


class MemoryStore(EventStore):
    """In-memory twin for fast unit tests."""

    name = "memory"

    def __init__(self) -> None:
        self.log: list[tuple[int, NewEvent]] = []
        self.versions: dict[str, int] = {}
        self.states: dict[str, tuple[int, bytes]] = {}
        self.ids: dict[str, bytes] = {}
        self.chain: list[Link] = []

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
        tail = (self.chain[-1].position, self.chain[-1].hash) if self.chain else (0, GENESIS)
        self.chain += links(tail, [(p, e.state) for p, e in zip(positions, batch.events)])
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

    def read_chain(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, int, bytes]]:
        rows = self.chain[after : after + max(limit, 0)]
        return [tuple(r) for r in rows if upto is None or r.position <= upto]  # type: ignore[misc]
