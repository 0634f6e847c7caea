"""The DuckDB audit database's sync: incremental equals full (SQLite and PostgreSQL stores),
crash safety (an injected failure, a SIGKILL), the progress bar, files of other versions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from projections import audit
from projections.audit import arrow_sync, schema
from reputation.config import Settings, open_store
from tests.integration.audit_support import ROOT, check_complete, ingest, market, projections_for, snapshot
from tests.services import PG_URL, pg_admin


@pytest.fixture
def env(tmp_path):
    settings = Settings(home=str(tmp_path / "home"))
    store = open_store(settings)
    yield settings, store
    store.close()


# -- incremental sync --------------------------------------------------------------


def test_incremental_sync_equals_a_full_sync(env, tmp_path):
    settings, store = env
    lines = market()
    cut = len(lines) * 3 // 5
    ingest(store, lines[:cut])
    proj = projections_for(settings, store)
    try:
        first = audit.sync(store, proj, settings.audit_path)
        assert first.events == cut and first.position == cut
        check_complete(settings.audit_path, store, proj)

        ingest(store, lines[cut:])  # includes late events of contracts synced before
        second = audit.sync(store, proj, settings.audit_path)
        assert second.events == len(lines) - cut
        assert 0 < second.contracts < first.contracts + second.contracts
        incremental = check_complete(settings.audit_path, store, proj)

        again = audit.sync(store, proj, settings.audit_path)
        assert (again.events, again.contracts, again.changes) == (0, 0, 0)

        full_path = str(tmp_path / "full.duckdb")
        audit.sync(store, proj, full_path)
        assert snapshot(full_path) == incremental, "incremental sync == one full sync"
    finally:
        proj.close()


@pytest.fixture
def pg_settings(tmp_path):
    """Settings of a PostgreSQL store in a fresh schema (skipped, visibly, without a server)."""
    import uuid

    admin = pg_admin()
    schema = "ra_" + uuid.uuid4().hex[:12]
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Settings(home=str(tmp_path / "home"), store=PG_URL, pg_schema=schema)
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


@pytest.mark.postgres
def test_incremental_sync_from_a_postgresql_store(pg_settings, tmp_path):
    settings = pg_settings
    store = open_store(settings)
    proj = projections_for(settings, store)
    try:
        lines = market(25, 24, 8)
        ingest(store, lines[: len(lines) // 2])
        audit.sync(store, proj, settings.audit_path)
        ingest(store, lines[len(lines) // 2 :])
        audit.sync(store, proj, settings.audit_path)
        incremental = check_complete(settings.audit_path, store, proj)
        full_path = str(tmp_path / "full.duckdb")
        audit.sync(store, proj, full_path)
        assert snapshot(full_path) == incremental
    finally:
        proj.close()
        store.close()


def test_injected_failure_inside_a_transaction_is_completed_by_the_next_sync(env, tmp_path):
    settings, store = env
    ingest(store, market(30, 24))
    n = store.max_position()
    calls = []

    def fail_third_chunk(position: int) -> None:
        calls.append(position)
        if len(calls) == 3:
            raise RuntimeError("injected crash")

    with pytest.raises(RuntimeError, match="injected crash"):
        audit.sync(store, None, settings.audit_path, chunk=500, page=250, _fail_after_insert=fail_third_chunk)
    partial = snapshot(settings.audit_path)
    assert [r[0] for r in partial["events"]] == list(range(1, calls[1] + 1)), "two chunks, no more"
    assert partial["sync"]["position"] == calls[1]
    assert partial["contracts"] == [] and partial["sync"].get("contracts_position", 0) == 0

    audit.sync(store, None, settings.audit_path, chunk=500, page=250)
    done = check_complete(settings.audit_path, store)
    assert len(done["events"]) == n

    full_path = str(tmp_path / "full.duckdb")
    audit.sync(store, None, full_path)
    assert snapshot(full_path) == done


def test_failure_while_refreshing_contracts_is_redone(env, monkeypatch):
    settings, store = env
    lines = market(20, 24)
    ingest(store, lines[: len(lines) // 2])
    audit.sync(store, None, settings.audit_path)
    ingest(store, lines[len(lines) // 2 :])
    real_set = schema.set_

    def failing_set(con, key, value):
        if key == "contracts_position":
            raise RuntimeError("crash before the contracts commit")
        real_set(con, key, value)

    monkeypatch.setattr(schema, "set_", failing_set)
    with pytest.raises(RuntimeError):
        audit.sync(store, None, settings.audit_path)
    monkeypatch.setattr(schema, "set_", real_set)
    half = snapshot(settings.audit_path)
    assert half["sync"]["position"] == store.max_position()
    assert half["sync"]["contracts_position"] < store.max_position()
    assert audit.sync(store, None, settings.audit_path).contracts > 0
    check_complete(settings.audit_path, store)


KILLED_SYNC = textwrap.dedent(
    """
    import sys, time
    from projections import audit
    from reputation.config import Settings, open_store

    settings = Settings(home=sys.argv[1])
    store = open_store(settings)

    def hook(position):  # inside the chunk's transaction, before its commit
        print("chunk", position, flush=True)
        time.sleep(0.5)

    audit.sync(store, None, settings.audit_path, chunk=400, page=200, _fail_after_insert=hook)
    print("finished", flush=True)
    """
)


def test_sigkill_during_sync_leaves_a_database_the_next_sync_completes(env):
    settings, store = env
    ingest(store, market(40, 24))
    n = store.max_position()
    assert n > 1600
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SYNC, settings.home],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    seen = []
    try:
        for line in proc.stdout:
            if line.startswith("chunk"):
                seen.append(int(line.split()[1]))
            if len(seen) == 3:  # the third chunk is inserted, not committed
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed = snapshot(settings.audit_path)
    assert [r[0] for r in killed["events"]] == list(range(1, seen[1] + 1))
    assert killed["sync"]["position"] == seen[1]

    stats = audit.sync(store, None, settings.audit_path)
    assert stats.events == n - seen[1]
    check_complete(settings.audit_path, store)


# -- the progress bar --------------------------------------------------------------


@pytest.mark.parametrize(
    "progress,behind,tty,shown",
    [
        (None, arrow_sync.BAR_THRESHOLD, True, True),
        (None, arrow_sync.BAR_THRESHOLD - 1, True, False),  # a small catch-up: no bar
        (None, 10 * arrow_sync.BAR_THRESHOLD, False, False),  # not a terminal: no bar
        (True, 1, False, True),
        (True, 0, True, False),  # nothing behind
        (False, 10 * arrow_sync.BAR_THRESHOLD, True, False),
    ],
)
def test_when_the_progress_bar_is_shown(monkeypatch, progress, behind, tty, shown):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    assert arrow_sync.want_bar(progress, behind) is shown


def test_progress_bar_counts_the_rows_synced(env, monkeypatch, capfd):
    """--progress draws a bar on stderr for the events and the ledger, run to the end
    (rich renders to a non-terminal when told the output understands it)."""
    settings, store = env
    lines = market(10, 12)
    ingest(store, lines[: len(lines) // 2])
    n = store.max_position()
    proj = projections_for(settings, store)
    try:
        proj.catch_up(store)
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
        stats = audit.sync(store, proj, settings.audit_path, progress=True, chunk=100, page=50)
        err = capfd.readouterr().err
        assert stats.events == n and stats.changes == proj.max_seq() > 0
        assert "audit sync: events" in err and f"{n}/{n}" in err
        assert "audit sync: ledger" in err and f"{stats.changes}/{stats.changes}" in err

        ingest(store, lines[len(lines) // 2 :])
        stats = audit.sync(store, proj, settings.audit_path, progress=False)
        assert stats.events > 0 and capfd.readouterr().err == "", "--no-progress: nothing on stderr"
        assert audit.sync(store, proj, settings.audit_path, progress=True).events == 0
        assert capfd.readouterr().err == "", "nothing behind: no bar"
    finally:
        proj.close()


# -- files of other versions -------------------------------------------------------


def test_files_of_other_versions(env):
    settings, store = env
    ingest(store, market(10, 12))
    assert audit.sync(store, None, settings.audit_path).events == store.max_position()

    # other macros: recreated, the rows stay
    con = duckdb.connect(settings.audit_path)
    con.execute("UPDATE _sync SET value = value - 1 WHERE key = 'macros_version'")
    con.execute("DROP MACRO TABLE jss_as_of")
    con.close()
    assert audit.sync(store, None, settings.audit_path).events == 0
    con = audit.open_readonly(settings.audit_path)
    assert audit.query(con, "SELECT count(*) FROM jss_as_of('2030-01-01')")[2] == [(0,)]
    con.close()

    # another table layout: rebuilt from the start of the log
    con = duckdb.connect(settings.audit_path)
    con.execute("UPDATE _sync SET value = value - 1 WHERE key = 'tables_version'")
    con.execute("CREATE TABLE leftover AS SELECT 1 AS a")
    con.close()
    stats = audit.sync(store, None, settings.audit_path)
    assert stats.events == store.max_position(), "rebuilt from the start of the log"
    check_complete(settings.audit_path, store)
    con = duckdb.connect(settings.audit_path, read_only=True)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'leftover'").fetchone() == (0,)
    con.close()


def test_the_wheel_ships_every_package_and_the_sql_files(tmp_path):
    """The wheel the Dockerfile installs (maturin) holds the four packages, the native core and
    every SQL file the audit loader reads."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from importlib import resources

    maturin = shutil.which("maturin") or str(Path(sys.executable).with_name("maturin"))
    done = subprocess.run(
        [maturin, "build", "--release", "-q", "-o", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} >= {"reputation", "projections", "consumers", "engine"}
    assert any(n.startswith("reputation/_core") for n in names)
    sql = sorted(
        p.name for p in resources.files("projections.audit").joinpath("sql").iterdir() if p.name.endswith(".sql")
    )
    assert {"tables.sql", "macros.sql", "insert_events.sql", "insert_ledger.sql"} <= set(sql)
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("projections/audit/sql/")} == set(sql)
