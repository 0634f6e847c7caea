"""Configuration (interfaces.md): environment variables, each with a command-line option."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from reputation.errors import BadRequest, NotFound
from reputation.store import EventStore

ENV_HOME = "REPUTATION_HOME"
ENV_STORE = "REPUTATION_STORE"
ENV_KAFKA = "REPUTATION_KAFKA"
ENV_TOPIC_PREFIX = "REPUTATION_TOPIC_PREFIX"
ENV_AUDIT_DB = "REPUTATION_AUDIT_DB"
ENV_TRUST_TOKEN = "REPUTATION_TRUST_TOKEN"
ENV_NAMES = (ENV_HOME, ENV_STORE, ENV_KAFKA, ENV_TOPIC_PREFIX, ENV_AUDIT_DB, ENV_TRUST_TOKEN)
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_URL = "sqlite:///"


class Settings(msgspec.Struct, kw_only=True):
    home: str = "./.reputation"
    store: str = "sqlite"  # or postgresql://user@host:port/db
    kafka: str | None = None
    topic_prefix: str = ""
    audit_db: str | None = None  # default: HOME/audit.duckdb
    pg_schema: str = ""  # tests isolate themselves in a schema
    trust_token: str | None = msgspec.field(default=None)  # `serve`: the bearer token of the trust audience

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "home": os.environ.get(ENV_HOME) or "./.reputation",
            "store": os.environ.get(ENV_STORE) or "sqlite",
            "kafka": os.environ.get(ENV_KAFKA) or None,
            "topic_prefix": os.environ.get(ENV_TOPIC_PREFIX, ""),
            "audit_db": os.environ.get(ENV_AUDIT_DB) or None,
            "trust_token": os.environ.get(ENV_TRUST_TOKEN) or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})  # options win over the environment
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_postgres(self) -> bool:
        return self.store.startswith(POSTGRES_SCHEMES)

    @property
    def sqlite_path(self) -> str:
        """The SQLite event store: HOME/events.sqlite, or the file of a sqlite:///PATH URL."""
        if self.store.startswith(SQLITE_URL):
            return self.store[len(SQLITE_URL) :]  # sqlite:///rel/path, sqlite:////abs/path
        return str(Path(self.home) / "events.sqlite")

    @property
    def projections_path(self) -> str:
        """The SQLite projection store: next to the SQLite event store."""
        return str(Path(self.sqlite_path).with_name("projections.sqlite"))

    def check(self) -> None:
        """Refuse a store setting that is not one of the accepted forms (never guess)."""
        ok = (
            self.store == "sqlite"
            or self.is_postgres
            or (self.store.startswith(SQLITE_URL) and len(self.store) > len(SQLITE_URL))
        )
        if not ok:
            raise BadRequest(
                f"{ENV_STORE} / --store {self.store!r} is not a store: use `sqlite` (HOME/events.sqlite), "
                "`sqlite:///path/to/events.sqlite` or `postgresql://user@host:port/db`"
            )

    @property
    def audit_path(self) -> str:
        return self.audit_db or str(Path(self.home) / "audit.duckdb")

    def topic(self, name: str) -> str:
        return self.topic_prefix + name


def open_store(settings: Settings, *, create: bool = True) -> EventStore:
    """The event store named by the settings (SQLite file by default).

    With `create=False` (the read commands) a SQLite store that does not exist yet is not
    created: NotFound names the file, so a mistyped home is not mistaken for an empty store."""
    settings.check()
    if settings.is_postgres:
        from reputation.store.postgres import PostgresEventStore

        return PostgresEventStore(settings.store, schema=settings.pg_schema)
    from reputation.store.sqlite import SQLiteEventStore

    path = Path(settings.sqlite_path)
    if not create and not path.exists():
        raise NotFound(
            f"no event store at {path} (home {settings.home}): ingest events first, or give --home / --store"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteEventStore(str(path))
