"""The event store over an eventsourcing application recorder (SQLite or PostgreSQL).

The adapters subclass the library's application recorders and override its insert
(`insert_events`, as in the library's `examples/ftscontentmanagement`) to write the write
side's latest states, the event-id digests and the hash chain in the transaction that
inserts the events; the log is the recorder's notification log. Both the library's entry
point and the port's go through the recorder's `writing()`: one transaction of the
library's datastore, into which a batch can be written in chunks (streamed ingest).
`RecordedStore` adapts such a recorder to the port.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, ContextManager, Iterable, Iterator, Protocol, Sequence

from eventsourcing.persistence import IntegrityError, StoredEvent

from reputation.store.chain import ChainBroken
from reputation.store.port import Batch, Conflict, EventStore, Writer


class StateRecorder(Protocol):
    """What the adapters' recorder subclasses add to the library's application recorder."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None: ...

    def writing(self) -> ContextManager[Writer]: ...

    def select_states(self, keys: list[str]) -> list[tuple[str, int, bytes]]: ...

    def select_digests(self, event_ids: list[str]) -> list[tuple[str, bytes]]: ...

    def select_log(self, after: int, limit: int, upto: int | None) -> list[tuple[int, bytes]]: ...

    def max_notification_id(self) -> int | None: ...

    def select_chain(self, after: int, limit: int, upto: int | None) -> list[tuple[int, int, bytes]]: ...


CHAIN_PAGE = 10_000  # events per read when a store's existing log is chained


class RecordedStore(EventStore):
    def __init__(self, recorder: StateRecorder):
        self.recorder = recorder

    def _errors(self) -> ContextManager[None]:
        """Map the driver's errors to the port's (PostgreSQL: an unreachable server)."""
        return nullcontext()

    @contextmanager
    def writer(self) -> Iterator[Writer]:
        try:
            with self._errors(), self.recorder.writing() as w:
                yield w
        except IntegrityError as exc:
            if "rep_chain" in str(exc):  # the chain's key or CHECK: not a concurrent writer
                raise ChainBroken(" ".join(str(exc).split())[:200]) from None
            raise Conflict(f"another writer appended meanwhile; nothing was written ({exc})") from None

    def append(self, batch: Batch) -> list[int]:
        with self.writer() as w:
            w.append(batch)
        # one transaction under the write lock: its positions follow each other
        return [] if w.first is None or w.last is None else list(range(w.first, w.last + 1))

    def load_states(self, keys: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        with self._errors():
            return {k: (v, bytes(s)) for k, v, s in self.recorder.select_states(list(keys))}

    def load_digests(self, event_ids: Iterable[str]) -> dict[str, bytes]:
        with self._errors():
            return {i: bytes(d) for i, d in self.recorder.select_digests(list(event_ids))}

    def read(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, bytes]]:
        if limit <= 0:
            return []
        with self._errors():
            return self.recorder.select_log(after, limit, upto)

    def max_position(self) -> int:
        with self._errors():
            return self.recorder.max_notification_id() or 0

    def read_chain(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, int, bytes]]:
        if limit <= 0:
            return []
        with self._errors():
            return [(p, q, bytes(h)) for p, q, h in self.recorder.select_chain(after, limit, upto)]
