"""The read-only sandbox of `reputation audit`: the escape campaign (tests/integration/
audit_escapes.py), each attempt refused with exit 3 and one line and nothing written anywhere;
the runtime limits alone (without the statement check) still stop file access; the reads the
docs promise keep running; and the CLI as a user runs it (csv, json, params, files, exits)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

from projections import audit
from projections.audit import sandbox
from reputation.config import Settings, open_store
from tests.integration.audit_escapes import CASES, READS
from tests.integration.audit_support import ingest, projections_for, reputation, run_cli
from tests.scenarios import worked_example


class Sandbox:
    """A home with the worked example synced, a folder of readable files, HOME and the temp
    folders pointed at watched places, and the working directory inside a watched folder."""

    def __init__(self, root: Path):
        self.root = root
        self.home = root / "home"
        self.tmp = root / "files"
        self.db = self.home / "audit.duckdb"
        self.watched = [root, Path.home() / ".duckdb"]

    def fill(self) -> None:
        self.tmp.mkdir(parents=True)
        (self.tmp / "x.csv").write_text("a,b\n1,2\n")
        (self.tmp / "x.json").write_text('{"a": 1}\n')
        settings = Settings(home=str(self.home))
        store = open_store(settings)
        try:
            ingest(store, worked_example.lines())
            proj = projections_for(settings, store)
            audit.sync(store, proj, settings.audit_path)
            proj.close()
        finally:
            store.close()
        # the folder DuckDB spills into by default: a COPY into it once slipped through
        (self.home / "audit.duckdb.tmp").mkdir()
        (self.root / "cwd").mkdir()

    def files(self) -> dict[str, tuple[int, str]]:
        """Every file under the watched folders: size and content hash (the audit file too)."""
        out = {}
        for top in self.watched:
            if not top.exists():
                continue
            for p in sorted(top.rglob("*")):
                if p.is_file():
                    out[str(p)] = (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
                else:
                    out[str(p)] = (-1, "dir")
        return out

    def fmt(self, text: str) -> str:
        return text.format(tmp=self.tmp, home=self.home, out=self.home / "audit.duckdb.tmp" / "f.csv")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox")
    box = Sandbox(root)
    box.fill()
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(box.home))
    mp.setenv("TMPDIR", str(root / "tmpdir"))
    mp.chdir(root / "cwd")  # a relative path would land in a watched folder
    (root / "tmpdir").mkdir()
    yield box
    mp.undo()


def test_the_campaign_is_big_and_has_no_duplicates():
    assert len(CASES) >= 180
    assert len(set(CASES)) == len(CASES)


def _case_id(i: int, statement: str) -> str:
    return f"{i:03d}-" + "".join(ch if ch.isascii() and ch.isprintable() else "?" for ch in statement)[:48]


@pytest.mark.parametrize("statement,args", CASES, ids=[_case_id(i, s) for i, (s, _a) in enumerate(CASES)])
def test_escape_attempt_is_refused_and_writes_nothing(box, statement, args):
    before = box.files()
    result = run_cli(box.home, "audit", "--no-sync", "--sql", box.fmt(statement), *[box.fmt(a) for a in args])
    assert result.exit_code == 3, (statement, result.output)
    assert isinstance(result.exception, SystemExit), "a clean exit, no traceback"
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) > 20, result.stderr
    assert box.files() == before, "nothing written, the audit file unchanged"


# Statements that reach files or other databases, run on the read-only connection with the
# statement check switched off: DuckDB's own limits must stop each of them on their own.
RUNTIME = [
    "WITH x AS (COPY (SELECT 'x') TO '{out}') SELECT 1",
    "WITH x AS (COPY events TO '{home}/audit.duckdb.tmp/e.parquet' (FORMAT parquet)) SELECT 1",
    "SELECT * FROM read_csv('{tmp}/x.csv')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('{tmp}/*')",
    "SELECT * FROM '{tmp}/x.csv'",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM read_json('{tmp}/x.json')",
    "WITH x AS (DELETE FROM events RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (INSERT INTO _sync VALUES ('x', 1) RETURNING *) SELECT * FROM x",
]


@pytest.mark.parametrize("statement", RUNTIME)
def test_the_connection_limits_stop_file_access_without_the_statement_check(box, statement, monkeypatch):
    monkeypatch.setattr(sandbox, "_check_tree", lambda con, query: None)
    before = box.files()
    con = audit.open_readonly(str(box.db))
    try:
        for setting in ("enable_external_access", "lock_configuration"):
            assert con.execute(f"SELECT current_setting('{setting}')").fetchone() == (setting == "lock_configuration",)
        assert con.execute("SELECT current_setting('temp_directory')").fetchone() == ("",)
        with pytest.raises(audit.AuditError):
            audit.query(con, box.fmt(statement))
    finally:
        con.close()
    assert box.files() == before


def test_connection_limits_cannot_be_reset(box):
    con = audit.open_readonly(str(box.db))
    try:
        for sql in (
            "SET enable_external_access = true",
            "SET temp_directory = '/tmp'",
            "SET lock_configuration = false",
            "RESET lock_configuration",
        ):
            with pytest.raises(Exception, match="locked"):
                con.execute(sql)
    finally:
        con.close()


@pytest.mark.parametrize("statement", READS)
def test_reads_still_run(box, statement):
    before = box.files()
    result = run_cli(box.home, "audit", "--no-sync", "--json", "--sql", statement)
    assert result.exit_code == 0, (statement, result.output)
    assert isinstance(json.loads(result.stdout), list)
    assert box.files() == before


def test_refusal_messages_say_why(box):
    def err(sql):
        return run_cli(box.home, "audit", "--no-sync", "--sql", box.fmt(sql)).stderr

    assert "DELETE statements are refused" in err("DELETE FROM events") and "read-only" in err("DELETE FROM events")
    assert "COPY inside a query is refused" in err("WITH x AS (COPY (SELECT 1) TO '{out}') SELECT 1")
    assert "DELETE inside a query is refused" in err("WITH x AS (DELETE FROM events RETURNING *) SELECT 1")
    assert "read_csv()" in err("SELECT * FROM read_csv('{tmp}/x.csv')")
    assert "out of scope" in err("SELECT * FROM read_csv('{tmp}/x.csv')")
    assert "x.csv' is a file" in err("FROM '{tmp}/x.csv'")
    assert "getenv()" in err("SELECT getenv('HOME')")
    assert "one statement at a time please (2 given)" in err("SELECT 1; SELECT 2")
    assert "unknown to this client" in err("UPDATE EXTENSIONS")
    assert "does not parse" in err("SELEC 1")


def test_parameters_are_matched_against_the_parser(box):
    assert sandbox.check_query("SELECT $a, $b", {"a": 1, "b": "x"}) == {"a": 1, "b": "x"}
    with pytest.raises(audit.ParameterError, match=r"uses \$b"):
        sandbox.check_query("SELECT $a, $b", {"a": 1})
    with pytest.raises(audit.ParameterError, match="--param c: the query has no such"):
        sandbox.check_query("SELECT $a", {"a": 1, "c": 2})
    # a `$name` inside a string literal is text, not a parameter
    assert sandbox.check_query("SELECT '$a' AS s", {}) == {}
    with pytest.raises(audit.MalformedParameter):
        audit.parse_params(["nope"])
    assert audit.parse_params(["n=3", "x=1.5", "$s=abc", "big=12345678901234567890"]) == {
        "n": 3,
        "x": 1.5,
        "s": "abc",
        "big": 1.2345678901234567e19,
    }


def test_reads_work_in_process(box):
    con = audit.open_readonly(str(box.db))
    try:
        _names, _types, rows = audit.query(con, "EXPLAIN SELECT * FROM events")
        assert rows
        names, _types, rows = audit.query(
            con,
            "SELECT type, count(*) AS n FROM events WHERE type = $t GROUP BY type",
            {"t": "ContractOpened"},
        )
        assert names == ["type", "n"] and rows == [("ContractOpened", 9)]
        names, _types, rows = audit.query(con, "FROM range(5)", limit=2)
        assert rows == [(0,), (1,)]
    finally:
        con.close()


# -- the CLI, as a user runs it ----------------------------------------------------


def test_cli_csv_json_param_and_file(tmp_path):
    home = tmp_path / "home"
    feed = tmp_path / "events.jsonl"
    feed.write_bytes(b"\n".join(worked_example.lines()) + b"\n")
    assert reputation(home, "ingest", str(feed)).returncode == 0

    # --csv (syncs first: the audit file does not exist yet)
    r = reputation(
        home,
        "audit",
        "--csv",
        "--sql",
        "SELECT contract_id, client_id, earnings, closed_at FROM contracts ORDER BY contract_id LIMIT 2",
    )
    assert r.returncode == 0, r.stderr
    assert list(csv.reader(io.StringIO(r.stdout.decode()))) == [
        ["contract_id", "client_id", "earnings", "closed_at"],
        ["X1", "k-x", "500.00", "2019-01-04T00:00:00Z"],
        ["X2", "k-x", "0.00", ""],
    ]

    # --json with --param, through the ledger macro and the SQL JSS
    r = reputation(
        home,
        "audit",
        "--json",
        "--param",
        "ts=2019-03-01T00:00:00Z",
        "--param",
        "r=jss-2016",
        "--sql",
        "SELECT s.freelancer_id, s.jss, s.feedback_score, l.jss AS ledger_jss "
        "FROM jss_sql($ts, rules := $r) s JOIN jss_as_of($ts) l USING (freelancer_id)",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"freelancer_id": "f-cathy", "jss": 75, "feedback_score": 4.88, "ledger_jss": 75}]

    # --file, JSON columns come out as JSON, table output by default
    q = tmp_path / "q.sql"
    q.write_text(
        "-- the causes of Cathy's first change\nSELECT seq, causes FROM score_changes\n"
        "WHERE freelancer_id = $f ORDER BY seq LIMIT 1\n"
    )
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
    for args in (
        ["--sql", "SELECT 1", "--file", str(q)],
        ["--csv", "--json", "--sql", "SELECT 1"],
        ["--sql", "SELECT $x"],
        ["--sql", "SELECT 1", "--param", "nope"],
        ["--sql", "SELECT 1", "--param", "y=1"],
    ):
        r = reputation(home, "audit", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert b"Traceback" not in r.stderr and r.stderr.strip()
    # a write: exit 3; a bad query: exit 3; a statement type the client cannot name: exit 3
    for sql in ("DROP TABLE events", "SELECT * FROM no_such_table", "UPDATE EXTENSIONS"):
        r = reputation(home, "audit", "--sql", sql)
        assert r.returncode == 3 and r.stderr.startswith(b"error:") and b"Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in home.iterdir() if "audit" in p.name) == ["audit.duckdb"]
