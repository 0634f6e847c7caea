"""The projection store in PostgreSQL: `SqlView` over eventsourcing's PostgreSQL tracking
recorder, in the event store's schema (tables created under the schema lock)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, ContextManager, Iterator

from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Identifier

from projections.sqlview import VIEW_TABLES, SqlView, bind, create_statements
from reputation.store.postgres import SchemaLocked, advisory_lock, reachable

TRACKING_TABLE = "reputation_tracking"


class PostgresProjectionView(SchemaLocked, SqlView, PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any):
        super().__init__(datastore, tracking_table_name=TRACKING_TABLE, **kwargs)
        schema = '"' + self.datastore.schema.replace('"', '""') + '"'
        tables = {name: f"{schema}.{name}" for name in (*VIEW_TABLES, "proj_meta")}
        self.sql_create_statements += [SQL(s) for s in create_statements(tables, "BYTEA")]  # type: ignore[misc]  # SQL is a Composable the recorder executes
        bind(self, tables, "%s", "{column} = ANY(%s)")
        self.delete_tracking_statement = SQL("DELETE FROM {0}.{1} WHERE application_name = %s").format(
            Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
        )

    def keys(self, ids: list[str]) -> list[str]:
        return ids

    def _errors(self) -> ContextManager[None]:
        return reachable()

    @contextmanager
    def catch_up_lock(self, wait: float | None) -> Iterator[bool]:
        with reachable(), advisory_lock(self.datastore, "catch-up", wait) as got:
            yield got
