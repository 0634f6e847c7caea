"""The write side's event store: the port, its in-memory twin, and the SQLite and
PostgreSQL adapters (`reputation.store.sqlite`, `reputation.store.postgres`, imported
on demand so that the memory store needs no database driver)."""

from reputation.store.memory import MemoryStore
from reputation.store.port import (
    NAMESPACE,
    POLL_SECONDS,
    TOPIC_PREFIX,
    Batch,
    Conflict,
    EventStore,
    NewEvent,
    Unavailable,
    digest,
    stream_uuid,
)

__all__ = [
    "NAMESPACE",
    "POLL_SECONDS",
    "TOPIC_PREFIX",
    "Batch",
    "Conflict",
    "EventStore",
    "MemoryStore",
    "NewEvent",
    "Unavailable",
    "digest",
    "stream_uuid",
]
