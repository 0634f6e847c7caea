"""The DuckDB audit database: incremental sync, crash safety, read-only queries, the CLI,
the worked example through the SQL JSS, and the documented example queries."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from projections import audit
from engine.cli import main_group
from reputation.ingest import ingest_lines
from tests.services import PG_URL, pg_admin
from reputation.config import Settings, open_store
from engine.simulate import simulate
from tests.scenarios import worked_example

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "audit.md"


def market(freelancers: int = 50, months: int = 30, seed: int = 5, start: str = "2018-06-01T00:00:00Z"):
    return list(simulate(freelancers, months, seed, start))


def projections_for(settings: Settings, store):
    from projections.service import open_projections

    return open_projections(settings, store)


def ingest(store, lines) -> None:
    result = ingest_lines(store, lines, recorded_at="2026-01-01T00:00:00Z")
    assert not result.rejects, result.rejects[:3]


def snapshot(path: str) -> dict:
    """Everything sync writes, in a comparable form."""
    con = duckdb.connect(path, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    try:
        def rows(sql):
            return con.execute(sql).fetchall()

        return {
            "events": rows("SELECT * EXCLUDE (payload), payload::VARCHAR FROM events ORDER BY position"),
            "contracts": rows("SELECT * FROM contracts ORDER BY contract_id"),
            "score_changes": rows("SELECT * EXCLUDE (causes), causes::VARCHAR FROM score_changes ORDER BY seq"),
            "sync": dict(rows("SELECT key, value FROM _sync WHERE key NOT LIKE '%_version'")),
        }
    finally:
        con.close()


def check_complete(path: str, store, proj=None) -> dict:
    """The audit database holds the log exactly once, and the contracts and ledger match."""
    snap = snapshot(path)
    n = store.max_position()
    positions = [r[0] for r in snap["events"]]
    assert positions == list(range(1, n + 1)), "every log position exactly once, in order"
    assert snap["sync"]["position"] == n
    assert snap["sync"]["contracts_position"] == n
    con = duckdb.connect(path, read_only=True)
    try:
        (opened,) = con.execute("SELECT count(*) FROM events WHERE type = 'ContractOpened'").fetchone()
        (rows, distinct) = con.execute("SELECT count(*), count(DISTINCT contract_id) FROM contracts").fetchone()
        assert rows == distinct == opened
        (orphans,) = con.execute(
            """SELECT count(*) FROM events e LEFT JOIN contracts c USING (contract_id)
               WHERE e.contract_id IS NOT NULL
                 AND (e.freelancer_id IS DISTINCT FROM c.freelancer_id
                      OR e.client_id IS DISTINCT FROM c.client_id OR c.contract_id IS NULL)"""
        ).fetchone()
        assert orphans == 0, "every contract event carries its contract's freelancer and client"
        if proj is not None:
            (changes, seqs) = con.execute("SELECT count(*), count(DISTINCT seq) FROM score_changes").fetchone()
            assert changes == seqs == proj.max_seq()
            assert snap["sync"]["seq"] == proj.max_seq()
    finally:
        con.close()
    return snap


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
    real_set = audit._set

    def failing_set(con, key, value):
        if key == "contracts_position":
            raise RuntimeError("crash before the contracts commit")
        real_set(con, key, value)

    monkeypatch.setattr(audit, "_set", failing_set)
    with pytest.raises(RuntimeError):
        audit.sync(store, None, settings.audit_path)
    monkeypatch.setattr(audit, "_set", real_set)
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
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
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


# -- read-only queries -------------------------------------------------------------


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """A home with the worked example ingested and the audit database synced (shared: the
    tests below must leave it unchanged)."""
    tmp_path = tmp_path_factory.mktemp("populated")
    home = tmp_path / "home"
    settings = Settings(home=str(home))
    store = open_store(settings)
    ingest(store, worked_example.lines())
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    proj = projections_for(settings, store)
    audit.sync(store, proj, settings.audit_path)
    proj.close()
    store.close()
    return tmp_path, home


WRITES = [
    "DELETE FROM events",
    "TRUNCATE events",
    "INSERT INTO events SELECT * FROM events",
    "UPDATE _sync SET value = 0",
    "DROP TABLE events",
    "DROP MACRO jss_as_of",
    "ALTER TABLE events ADD COLUMN x INTEGER",
    "CREATE TABLE t AS SELECT 1 AS a",
    "CREATE TEMP TABLE t AS SELECT 1 AS a",
    "CREATE OR REPLACE VIEW v AS SELECT 1 AS a",
    "CREATE MACRO m(x) AS x + 1",
    "CREATE SEQUENCE s",
    "COMMENT ON TABLE events IS 'x'",
    "MERGE INTO events USING events AS s ON events.position = s.position WHEN MATCHED THEN DELETE",
    "COPY events TO '{tmp}/out.csv'",
    "COPY (SELECT 1) TO '{tmp}/out.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{tmp}/export'",
    "IMPORT DATABASE '{tmp}/export'",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "ATTACH ':memory:' AS mem",
    "DETACH audit",
    "USE memory",
    "INSTALL sqlite",
    "LOAD json",
    "PRAGMA enable_profiling",
    "PRAGMA force_checkpoint",
    "CALL pragma_version()",
    "SET threads = 1",
    "SET enable_external_access = true",
    "RESET TimeZone",
    "CHECKPOINT",
    "VACUUM",
    "BEGIN TRANSACTION",
    "PREPARE p AS DELETE FROM events",
    "EXECUTE p",
    "EXPLAIN DELETE FROM events",
    "EXPLAIN ANALYZE DELETE FROM events",
    "SELECT 1; DELETE FROM events",
    "SELECT * FROM read_csv('{tmp}/x.csv')",
    "SELECT * FROM '{tmp}/x.csv'",
    "SELECT * FROM read_parquet('{tmp}/x.parquet')",
    "SELECT * FROM read_json('{tmp}/x.csv')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('{tmp}/x.csv')",
    "SELECT * FROM glob('{tmp}/*')",
    "SELECT * FROM sniff_csv('{tmp}/x.csv')",
    "SELECT * FROM query('DELETE FROM events')",
    "SELECT * FROM sys",  # a Python object in scope: no replacement scans
]


def run_cli(home: Path, *args: str, input: str | None = None):
    runner = CliRunner()
    return runner.invoke(main_group, list(args), env={"REPUTATION_HOME": str(home)}, input=input)


@pytest.mark.parametrize("statement", WRITES)
def test_every_write_or_outside_access_is_refused(populated, statement):
    tmp, home = populated
    before = snapshot(str(home / "audit.duckdb"))
    files = sorted(p.name for p in tmp.rglob("*"))
    result = run_cli(home, "audit", "--no-sync", "--sql", statement.format(tmp=tmp))
    assert result.exit_code in (2, 3), result.output
    assert isinstance(result.exception, SystemExit), "a clean exit, no traceback"
    assert "Traceback" not in result.output
    assert result.output.strip().startswith(("error:", "Usage:")) and len(result.output.strip()) > 10
    assert sorted(p.name for p in tmp.rglob("*")) == files, "no file created"
    assert snapshot(str(home / "audit.duckdb")) == before
    ok = run_cli(home, "audit", "--no-sync", "--json", "--sql", "SELECT count(*) AS n FROM events")
    assert ok.exit_code == 0 and json.loads(ok.output) == [{"n": 50}]


def test_refusal_messages_say_why(populated):
    tmp, home = populated
    out = run_cli(home, "audit", "--sql", "DELETE FROM events").output
    assert "DELETE statements are refused" in out and "read-only" in out
    out = run_cli(home, "audit", "--sql", f"SELECT * FROM read_csv('{tmp}/x.csv')").output
    assert "out of scope" in out
    out = run_cli(home, "audit", "--sql", "SELECT 1; SELECT 2").output
    assert "one statement" in out


def test_reads_work_in_process(populated):
    _tmp, home = populated
    con = audit.open_readonly(str(home / "audit.duckdb"))
    try:
        _names, _types, rows = audit.query(con, "EXPLAIN SELECT * FROM events")
        assert rows
        names, _types, rows = audit.query(
            con, "SELECT type, count(*) AS n FROM events WHERE type = $t GROUP BY type",
            {"t": "ContractOpened"},
        )
        assert names == ["type", "n"] and rows == [("ContractOpened", 9)]
        for sql in ("DESCRIBE events", "SHOW TABLES", "SUMMARIZE SELECT 1 AS a", "FROM contracts LIMIT 1",
                    "WITH x AS (SELECT 1 AS a) SELECT * FROM x", "VALUES (1)"):
            audit.query(con, sql)
    finally:
        con.close()


# -- the CLI, as a user runs it ----------------------------------------------------


def reputation(home: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "reputation"), *args],
        env={**os.environ, "REPUTATION_HOME": str(home)},
        input=input, capture_output=True, timeout=120, check=False,
    )


def test_cli_csv_json_param_and_file(tmp_path):
    home = tmp_path / "home"
    feed = tmp_path / "events.jsonl"
    feed.write_bytes(b"\n".join(worked_example.lines()) + b"\n")
    assert reputation(home, "ingest", str(feed)).returncode == 0

    # --csv (syncs first: the audit file does not exist yet)
    r = reputation(home, "audit", "--csv", "--sql",
                   "SELECT contract_id, client_id, earnings, closed_at FROM contracts ORDER BY contract_id LIMIT 2")
    assert r.returncode == 0, r.stderr
    assert list(csv.reader(io.StringIO(r.stdout.decode()))) == [
        ["contract_id", "client_id", "earnings", "closed_at"],
        ["X1", "k-x", "500.00", "2019-01-04T00:00:00Z"],
        ["X2", "k-x", "0.00", ""],
    ]

    # --json with --param, through the ledger macro and the SQL JSS
    r = reputation(home, "audit", "--json", "--param", "ts=2019-03-01T00:00:00Z", "--param", "r=jss-2016", "--sql",
                   "SELECT s.freelancer_id, s.jss, s.feedback_score, l.jss AS ledger_jss "
                   "FROM jss_sql($ts, rules := $r) s JOIN jss_as_of($ts) l USING (freelancer_id)")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [
        {"freelancer_id": "f-cathy", "jss": 75, "feedback_score": 4.88, "ledger_jss": 75}
    ]

    # --file, JSON columns come out as JSON, table output by default
    q = tmp_path / "q.sql"
    q.write_text("-- the causes of Cathy's first change\nSELECT seq, causes FROM score_changes\n"
                 "WHERE freelancer_id = $f ORDER BY seq LIMIT 1\n")
    r = reputation(home, "audit", "--json", "--file", str(q), "--param", "f=f-cathy")
    assert r.returncode == 0, r.stderr
    [row] = json.loads(r.stdout)
    assert isinstance(row["causes"], list) and row["causes"][0]["kind"]
    r = reputation(home, "audit", "--file", str(q), "--param", "f=f-cathy")
    assert r.returncode == 0 and b"causes" in r.stdout and b"1 row" in r.stdout

    # a number-like parameter binds as a number; cast it for text
    r = reputation(home, "audit", "--json", "--param", "n=3", "--sql", "SELECT $n + 1 AS m, $n::VARCHAR AS s")
    assert json.loads(r.stdout) == [{"m": 4, "s": "3"}]

    # usage errors: exit 2, one message, no traceback
    for args in (["--sql", "SELECT 1", "--file", str(q)], ["--csv", "--json", "--sql", "SELECT 1"],
                 ["--sql", "SELECT $x"], ["--sql", "SELECT 1", "--param", "nope"],
                 ["--sql", "SELECT 1", "--param", "y=1"]):
        r = reputation(home, "audit", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert b"Traceback" not in r.stderr and r.stderr.strip()
    # a write: exit 3; a bad query: exit 3
    for sql in ("DROP TABLE events", "SELECT * FROM no_such_table"):
        r = reputation(home, "audit", "--sql", sql)
        assert r.returncode == 3 and r.stderr.startswith(b"error:") and b"Traceback" not in r.stderr


# -- the worked example through the SQL JSS ----------------------------------------


def test_worked_example_through_the_sql_jss(populated):
    _tmp, home = populated
    con = audit.open_readonly(str(home / "audit.duckdb"))
    try:
        def score(rules):
            return con.execute(
                "SELECT jss, jss_exact, jss_window_months, jss_hidden_reason, feedback_score, "
                "counted_contracts, positive, neutral, negative "
                "FROM jss_sql('2019-03-01T00:00:00Z', rules := $r) WHERE freelancer_id = 'f-cathy'",
                {"r": rules},
            ).fetchone()

        jss, exact, window, hidden, fb, counted, pos, neu, neg = score("jss-2016")
        assert (jss, exact, window, hidden, float(fb)) == (75, 75.0, 6, None, 4.88)
        assert (counted, pos, neu, neg) == (8, 7, 0, 1)
        jss, exact, window, hidden, fb, counted, pos, neu, neg = score("jss-2020")
        assert (jss, exact, float(fb), counted, pos, neg) == (100, 100.0, 4.88, 8, 8, 0)
        assert score(None)[0] == 75  # 2019: jss-2016 is in force

        x1 = dict(con.execute(
            "SELECT rules, outcome FROM contract_assessments('2019-03-01', rules := 'all') "
            "WHERE contract_id = 'X1'").fetchall())
        assert x1 == {"jss-2016": "negative", "jss-2020": "positive", "jss-2024": "positive"}
        (x2_counted,) = con.execute(
            "SELECT counted FROM contract_assessments('2019-03-01') WHERE contract_id = 'X2'").fetchone()
        assert x2_counted is False
        # X1 closed 2019-01-04 leaves the 6-month window on 2019-07-05; the others (closed
        # 2019-01-03) a day earlier: in between, the 6-month window holds X1 alone (0), and the
        # 12- and 24-month windows tie at 75: the shortest is named
        (leaves,) = con.execute("SELECT leaves_window_6 FROM contracts WHERE contract_id = 'X1'").fetchone()
        assert leaves.isoformat() == "2019-07-05T00:00:00+00:00"
        assert con.execute(
            "SELECT jss, score_6, score_12, score_24, jss_window_months "
            "FROM jss_sql('2019-07-04T12:00:00Z', rules := 'jss-2016')"
        ).fetchone() == (75, 0.0, 75.0, 75.0, 12)
        # and the ledger agrees
        assert con.execute("SELECT jss, feedback_score FROM jss_as_of('2019-03-01')").fetchone()[0] == 75
    finally:
        con.close()


def test_month_end_windows_clamp_like_add_months(tmp_path):
    """`closed_at + INTERVAL N MONTH` clamps the 31st to the month's last day, like rules.md."""
    from projections.rules.windows import window_exit
    from reputation import events as ev

    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")  # the macros do not depend on it
    for closed in ("2019-08-31T23:30:00Z", "2020-01-31T00:00:00Z", "2020-02-29T12:00:00Z",
                   "2019-03-31T06:00:00Z", "2021-12-31T23:59:59.999999Z"):
        for months in (6, 12, 24):
            (got,) = con.execute(
                "SELECT epoch_us(timezone('UTC', timezone('UTC', $c::TIMESTAMPTZ) "
                "+ INTERVAL (CAST($m AS INTEGER)) MONTH + INTERVAL 1 DAY))",
                {"c": closed, "m": months},
            ).fetchone()
            assert got == window_exit(ev.parse_time(closed), months), (closed, months)


# -- the documented example queries run as written ----------------------------------


def doc_queries() -> list[str]:
    text = DOCS.read_text() + (ROOT / "README.md").read_text()  # the README's examples run too
    return re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)


def test_docs_have_at_least_four_example_queries():
    assert len(doc_queries()) >= 4


def test_documented_queries_run(tmp_path):
    settings = Settings(home=str(tmp_path / "home"))
    store = open_store(settings)
    try:
        ingest(store, market(40, 30, 2, "2018-06-01T00:00:00Z"))
        proj = projections_for(settings, store)
        audit.sync(store, proj, settings.audit_path)
        proj.close()
    finally:
        store.close()
    con = audit.open_readonly(settings.audit_path)
    try:
        for sql in doc_queries():
            params = {name: value for name, value in re.findall(r"--param (\w+)=(\S+)", sql)}
            names, _types, _rows = audit.query(con, sql, params or None)
            assert names, sql
    finally:
        con.close()


def test_progress_bar_and_files_of_other_versions(env):
    settings, store = env
    ingest(store, market(10, 12))
    stats = audit.sync(store, None, settings.audit_path, progress=True)
    assert stats.events == store.max_position()

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
