"""Configuration (interfaces.md): environment variables, each with a command-line option."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from reputation.store import EventStore

ENV_HOME = "REPUTATION_HOME"
ENV_STORE = "REPUTATION_STORE"
ENV_KAFKA = "REPUTATION_KAFKA"
ENV_TOPIC_PREFIX = "REPUTATION_TOPIC_PREFIX"
ENV_AUDIT_DB = "REPUTATION_AUDIT_DB"
ENV_NAMES = (ENV_HOME, ENV_STORE, ENV_KAFKA, ENV_TOPIC_PREFIX, ENV_AUDIT_DB)


class Settings(msgspec.Struct, kw_only=True):
    home: str = "./.reputation"
    store: str = "sqlite"  # or postgresql://user@host:port/db
    kafka: str | None = None
    topic_prefix: str = ""
    audit_db: str | None = None  # default: HOME/audit.duckdb
    pg_schema: str = ""  # tests isolate themselves in a schema

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        values = {
            "home": os.environ.get(ENV_HOME) or "./.reputation",
            "store": os.environ.get(ENV_STORE) or "sqlite",
            "kafka": os.environ.get(ENV_KAFKA) or None,
            "topic_prefix": os.environ.get(ENV_TOPIC_PREFIX, ""),
            "audit_db": os.environ.get(ENV_AUDIT_DB) or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_postgres(self) -> bool:
        return self.store.startswith(("postgresql://", "postgres://"))

    @property
    def sqlite_path(self) -> str:
        return str(Path(self.home) / "events.sqlite")

    @property
    def audit_path(self) -> str:
        return self.audit_db or str(Path(self.home) / "audit.duckdb")

    def topic(self, name: str) -> str:
        return self.topic_prefix + name


def open_store(settings: Settings) -> EventStore:
    """The event store named by the settings (SQLite file by default)."""
    if settings.is_postgres:
        from reputation.store.postgres import PostgresEventStore

        return PostgresEventStore(settings.store, schema=settings.pg_schema)
    if settings.store not in ("sqlite", "", None) and not settings.store.startswith("sqlite"):
        raise ValueError(
            f"REPUTATION_STORE must be `sqlite` or a postgresql:// URL, not {settings.store!r}"
        )
    from reputation.store.sqlite import SQLiteEventStore

    Path(settings.home).mkdir(parents=True, exist_ok=True)
    return SQLiteEventStore(settings.sqlite_path)
