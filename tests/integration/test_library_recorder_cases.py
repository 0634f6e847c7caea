"""eventsourcing's own recorder test cases, run against this project's subclasses of its
recorders (SQLite and the real PostgreSQL, a fresh database file or schema per test):
the insert hook and the projection views must keep every promise of the library's
application and tracking recorders."""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase, TrackingRecorderTestCase

from projections.pgview import PostgresProjectionView
from projections.sqlview import SQLiteProjectionView
from reputation.store.postgres import PostgresReputationRecorder
from reputation.store.sqlite import SQLiteReputationRecorder
from tests.services import PG_URL, pg_admin


class JoinThreads:
    """The library's concurrency cases leave their reader threads running for a moment after
    the test; closing the datastore under them crashes sqlite3, so wait for them first."""

    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        self.threads_before = set(threading.enumerate())

    def join_threads(self) -> None:
        for thread in set(threading.enumerate()) - self.threads_before:
            if not thread.daemon:  # not the connection pool's workers
                thread.join(timeout=30)


class SQLiteFile(JoinThreads):
    def setUp(self) -> None:
        super().setUp()
        self.dir = tempfile.mkdtemp()
        self.datastore = SQLiteDatastore(str(Path(self.dir) / "db.sqlite"), lock_timeout=30)

    def tearDown(self) -> None:
        self.join_threads()
        self.datastore.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        super().tearDown()  # type: ignore[misc]


class PostgresSchema(JoinThreads):
    def setUp(self) -> None:
        super().setUp()
        self.admin = pg_admin()
        self.schema = "lib_" + uuid.uuid4().hex[:12]
        self.admin.execute(f'CREATE SCHEMA "{self.schema}"')
        info = self.admin.info
        self.datastore = PostgresDatastore(
            info.dbname,
            info.host,
            info.port,
            info.user,
            info.password or "",
            schema=self.schema,
            pool_size=4,
            max_overflow=12,
        )

    def tearDown(self) -> None:
        self.join_threads()
        self.datastore.close()
        self.admin.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        self.admin.close()
        super().tearDown()  # type: ignore[misc]


class TestSQLiteApplicationRecorder(SQLiteFile, ApplicationRecorderTestCase):
    def create_recorder(self) -> SQLiteReputationRecorder:
        recorder = SQLiteReputationRecorder(self.datastore)
        recorder.create_table()
        return recorder


class TestSQLiteTrackingRecorder(SQLiteFile, TrackingRecorderTestCase):
    def create_recorder(self) -> SQLiteProjectionView:
        view = SQLiteProjectionView(self.datastore)
        view.create_table()
        return view


@pytest.mark.postgres
class TestPostgresApplicationRecorder(PostgresSchema, ApplicationRecorderTestCase):
    def create_recorder(self) -> PostgresReputationRecorder:
        recorder = PostgresReputationRecorder(self.datastore)
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        # the subscription that `wait_for_events` relies on
        self.optional_test_insert_subscribe()


@pytest.mark.postgres
class TestPostgresTrackingRecorder(PostgresSchema, TrackingRecorderTestCase):
    def create_recorder(self) -> PostgresProjectionView:
        view = PostgresProjectionView(self.datastore)
        view.create_table()
        return view


del ApplicationRecorderTestCase, TrackingRecorderTestCase  # not collected on their own
assert PG_URL  # the server the PostgreSQL cases use (pg_admin skips or fails without it)
