"""Shared helpers of the audit database tests (sync, sandbox, queries)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from click.testing import CliRunner

from engine.cli import main_group
from engine.simulate import simulate
from reputation.config import Settings
from reputation.ingest import ingest_lines

ROOT = Path(__file__).resolve().parents[2]


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


def run_cli(home: Path, *args: str, input: str | None = None, env: dict | None = None):
    """`reputation ARGS` in process (CliRunner), with REPUTATION_HOME=home."""
    return CliRunner().invoke(main_group, list(args), env={"REPUTATION_HOME": str(home), **(env or {})}, input=input)


def reputation(home: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    """`reputation ARGS` as a user runs it (a subprocess of the installed script)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "reputation"), *args],
        env={**os.environ, "REPUTATION_HOME": str(home)},
        input=input,
        capture_output=True,
        timeout=120,
        check=False,
    )
