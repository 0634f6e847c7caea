"""Moved to `reputation.store.sqlite` and `reputation.store.postgres`; these names stay
importable from here for code written against the old module."""

from reputation.store.postgres import PostgresEventStore
from reputation.store.sqlite import SQLiteEventStore

__all__ = ["PostgresEventStore", "SQLiteEventStore"]
