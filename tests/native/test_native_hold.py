"""The core holds at most REPUTATION_PROJECTOR_HOLD contracts: past it, idle freelancers let go
of their state and are loaded back from the projection store when needed. Letting go must not
change a byte of the ledger or the projection tables, through the pipelined catch-up (batch N
committed while N + 1 is projected), from a fresh store and from a resumed one."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from engine.simulate import simulate
from projections.ledger import to_json
from projections.native import HOLD_ENV, _Loader, hold_from_env
from projections.service import Projections
from projections.store import MemoryRepo, sqlite_repo
from reputation.errors import BadRequest
from reputation.ingest import ingest
from reputation.store import MemoryStore
from tests.integration.test_store_contract import PG_URL, pg_schema  # noqa: F401 (fixture)

SEED = 12
TABLES = ("proj_contracts", "proj_freelancers", "proj_clients", "proj_deadlines", "proj_ledger")


def _cohorts(n: int = 14, freelancers: int = 16, months: int = 6) -> list[bytes]:
    """Cohorts of freelancers, each working `months` and then idle (their ids kept apart):
    the freelancers of early cohorts go quiet while later ones work."""
    lines: list[bytes] = []
    for k in range(n):
        start = f"{2017 + (k * months) // 12}-{(k * months) % 12 + 1:02d}-01T00:00:00Z"
        for line in simulate(freelancers, months, seed=SEED + k, start=start):
            for prefix in (b'"f-', b'"c-', b'"e-', b'"k-'):
                line = line.replace(prefix, prefix[:2] + str(k).encode() + b"-")
            lines.append(line)
    return lines


@pytest.fixture(scope="module")
def store() -> MemoryStore:
    s = MemoryStore()
    result = ingest(s, _cohorts(), recorded_at="2026-01-01T00:00:00Z")
    assert not result.rejects, result.rejects[:3]
    return s


@pytest.fixture(scope="module")
def reference(store) -> list[bytes]:
    repo = MemoryRepo()
    Projections(repo, engine="python").catch_up(store)
    return [to_json(c) for c in repo.ledger]


def _count_loads(monkeypatch) -> list[str]:
    """The tables of every load back from the projection store, from now on."""
    loads: list[str] = []
    load = _Loader.load

    def counted(self, table, ids):
        loads.append(table)
        return load(self, table, ids)

    monkeypatch.setattr(_Loader, "load", counted)
    return loads


def _tables(path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as c:
        return {t: c.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def _project(store, path, hold: int, monkeypatch, upto: int | None = None) -> tuple[int, int, int, int]:
    """Project (up to log position `upto`) in batches of 50; -> (most contracts held after a
    batch, contracts held at the end, state loads back from the store, the core's state bytes
    at the end)."""
    monkeypatch.setenv(HOLD_ENV, str(hold))
    loads = _count_loads(monkeypatch)
    repo = sqlite_repo(str(path))
    proj = Projections(repo, engine="native")
    most = 0

    def seen(pos: int, last: int) -> None:
        nonlocal most
        most = max(most, proj.projector.held)

    try:
        source = store if upto is None else _Prefix(store, upto)
        proj.catch_up(source, seen, batch=50)
        return most, proj.projector.held, len(loads), proj.projector.state_bytes
    finally:
        repo.close()


class _Prefix:
    """The log up to a position (a projector stopped there)."""

    def __init__(self, store, upto: int):
        self.store, self.upto = store, upto

    def read(self, after: int, limit: int, upto: int | None = None):
        return self.store.read(after, limit, self.upto)

    def max_position(self) -> int:
        return self.upto


def test_letting_go_changes_nothing_and_bounds_what_is_held(store, reference, tmp_path, monkeypatch):
    most_all, _, loads_all, state_all = _project(store, tmp_path / "all.sqlite", 0, monkeypatch)
    most_held, end_held, loads, state_held = _project(store, tmp_path / "held.sqlite", 60, monkeypatch)
    whole, held = _tables(tmp_path / "all.sqlite"), _tables(tmp_path / "held.sqlite")
    for t in TABLES:
        assert held[t] == whole[t], t
    assert len(held["proj_ledger"]) == len(reference) > 200, len(reference)
    contracts = len(whole["proj_contracts"])
    # without a limit every contract stays (none has the 12 contracts an archive, and so putting
    # away, needs: tests/native/test_native_away.py)
    assert most_all == contracts and loads_all == 0
    # with one: the limit plus what the last two batches use (all freelancers at a rule switch)
    assert end_held < contracts / 3, (end_held, contracts)
    assert loads > 20 and most_held < contracts
    # the state's heap (bench's state_per_contract) follows what is held; at this size a
    # fixed part (the first 320 KiB chunk of contract slots) is half of it
    assert 0 < state_held < state_all, (state_held, state_all)


def test_a_resumed_projector_lets_go_and_loads_back_the_same(store, tmp_path, monkeypatch):
    half = store.max_position() // 2
    _project(store, tmp_path / "all.sqlite", 0, monkeypatch)
    _project(store, tmp_path / "resumed.sqlite", 0, monkeypatch, upto=half)
    _, end_held, _, _ = _project(store, tmp_path / "resumed.sqlite", 60, monkeypatch)
    whole = _tables(tmp_path / "all.sqlite")
    assert _tables(tmp_path / "resumed.sqlite") == whole
    assert end_held < len(whole["proj_contracts"]) / 3


@pytest.mark.parametrize("raw", ["lots", "-5", "1e6", "3.5"])
def test_a_malformed_hold_is_named(raw, monkeypatch):
    monkeypatch.setenv(HOLD_ENV, raw)
    with pytest.raises(BadRequest, match=HOLD_ENV):
        hold_from_env()


def test_the_cli_refuses_a_malformed_hold_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPUTATION_")}
    env.update(REPUTATION_HOME=str(tmp_path), **{HOLD_ENV: "lots"})
    cli = [sys.executable, "-c", "from engine.cli import main; main()"]
    (tmp_path / "log.jsonl").write_bytes(b"\n".join(simulate(2, 3, seed=SEED)) + b"\n")
    subprocess.run([*cli, "ingest", "--no-progress", str(tmp_path / "log.jsonl")], env=env, check=True, timeout=120)
    done = subprocess.run([*cli, "project", "--no-progress"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert HOLD_ENV in done.stderr and "Traceback" not in done.stderr
    projections = tmp_path / "projections.sqlite"
    assert not projections.exists() or not any(_tables(projections).values())  # nothing projected


@pytest.mark.postgres
def test_letting_go_on_postgresql_loads_back_through_the_shared_pool(reference, pg_schema, monkeypatch):  # noqa: F811
    """Log and projections in one PostgreSQL database: the reader, the committer and the loads
    back share one pool (and its lock), through the pipelined catch-up."""
    from projections.store import postgres_repo
    from reputation.store.postgres import PostgresEventStore

    monkeypatch.setenv(HOLD_ENV, "60")
    pg = PostgresEventStore(PG_URL, schema=pg_schema)
    try:
        lines = _cohorts()
        opened = sum(1 for line in lines if b'"ContractOpened"' in line)
        assert not ingest(pg, lines, recorded_at="2026-01-01T00:00:00Z").rejects
        repo = postgres_repo(pg.datastore)
        proj = Projections(repo, owns_connection=False, engine="native")
        loads = _count_loads(monkeypatch)
        proj.catch_up(pg, batch=50)
        assert [to_json(c) for c in repo.ledger_after(0, 10**9)] == reference
        assert len(loads) > 20 and proj.projector.held < opened / 3
    finally:
        pg.close()
