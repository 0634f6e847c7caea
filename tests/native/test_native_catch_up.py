"""The native projector's pipelined catch-up (next batch read and last batch committed while
the core projects): same ledger as the Python reference, commits in log order, a failed
commit stops everything and a restart resumes exactly, and a SIGKILL at any moment of
`reputation project --engine native` resumes to the same ledger."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from engine.simulate import simulate
from projections.ledger import to_json
from projections.service import Projections
from projections.store import MemoryRepo, sqlite_repo
from reputation.ingest import ingest
from reputation.store import MemoryStore
from reputation.store.sqlite import SQLiteEventStore
from tests.integration.test_store_contract import PG_URL, pg_schema  # noqa: F401 (fixture)

SEED = 4


@pytest.fixture(scope="module")
def store() -> MemoryStore:
    s = MemoryStore()
    lines = list(simulate(40, 60, seed=SEED))
    assert not ingest(s, lines, recorded_at="2026-01-01T00:00:00Z").rejects
    return s


@pytest.fixture(scope="module")
def reference(store) -> list[bytes]:
    repo = MemoryRepo()
    Projections(repo).catch_up(store)
    return [to_json(c) for c in repo.ledger]


def ledger(repo) -> list[bytes]:
    return [to_json(c) for c in repo.ledger_after(0, 10**9)]


@pytest.mark.parametrize("batch", [97, 1000, 10**6])
def test_pipelined_catch_up_gives_the_reference_ledger(store, reference, tmp_path, batch):
    repo = sqlite_repo(str(tmp_path / "p.sqlite"))
    seen = []
    try:
        n = Projections(repo, engine="native").catch_up(store, lambda pos, last: seen.append(pos), batch=batch)
        assert n == store.max_position() == repo.meta().position
        assert ledger(repo) == reference
        assert seen == sorted(seen) and seen[-1] == n
    finally:
        repo.close()


class CountingRepo(MemoryRepo):
    def __init__(self):
        super().__init__()
        self.positions: list[int] = []

    def commit_rows(self, rows):
        super().commit_rows(rows)
        self.positions.append(rows.meta.position)


def test_default_batches_start_small_and_double_up_to_the_largest(store, reference, monkeypatch):
    from projections.native import NativeProjector

    monkeypatch.setattr(NativeProjector, "FIRST", 100)
    monkeypatch.setattr(NativeProjector, "BATCH", 350)
    repo = CountingRepo()
    Projections(repo, engine="native").catch_up(store)
    n = store.max_position()
    assert n > 2000
    expected = [100, 300, 650]  # one commit per batch: 100, 200, 350, 350, ... rows
    while expected[-1] < n:  # and at most half of what is left, down to 50
        left = n - expected[-1]
        expected.append(expected[-1] + min(350, max(50, left // 2), left))
    assert repo.positions == expected
    assert repo.positions[-1] - repo.positions[-2] <= 50  # the last commit, overlapped by nothing, is small
    assert ledger(repo) == reference


class FailingRepo(MemoryRepo):
    """Refuses its `fail_at`-th commit, as a store that lost its connection would."""

    def __init__(self, fail_at: int):
        super().__init__()
        self.fail_at, self.commits = fail_at, 0

    def commit_rows(self, rows):
        self.commits += 1
        if self.commits == self.fail_at:
            raise ConnectionError(f"commit {self.commits} refused")
        super().commit_rows(rows)


def test_a_failed_commit_stops_the_pipeline_and_a_restart_resumes(store, reference):
    repo = FailingRepo(fail_at=3)
    proj = Projections(repo, engine="native")
    with pytest.raises(ConnectionError, match="commit 3 refused"):
        proj.catch_up(store, batch=500)
    assert repo.meta().position == 1000  # two batches committed, nothing after the failure
    assert proj._projector is None  # its state ran ahead of the store: dropped
    proj.catch_up(store, batch=500)
    assert ledger(repo) == reference


def _project(home, engine: str) -> list[str]:
    return [sys.executable, "-c", "from engine.cli import main; main()", "project", "--no-progress", "--engine", engine]


@pytest.mark.slow
def test_project_native_killed_at_any_moment_resumes_to_the_same_ledger(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "REPUTATION_HOME": str(home)}
    data = tmp_path / "market.jsonl"
    data.write_bytes(
        b"\n".join(simulate(800, 60, seed=SEED)) + b"\n"
    )  # about 80k events: three batches (20k, 40k, the rest)
    subprocess.run(
        [*_project(home, "native")[:3], "ingest", "--no-progress", str(data)], env=env, check=True, capture_output=True
    )
    rnd = random.Random(SEED)
    killed_running = []
    for engine in ("native", "native", "python", "native"):  # the engines resume each other's work too
        proc = subprocess.Popen(_project(home, engine), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not (home / "projections.sqlite").exists() and proc.poll() is None:
            time.sleep(0.005)
        time.sleep(rnd.uniform(0.05, 0.4))  # somewhere in the projection of a few batches
        if proc.poll() is None:
            killed_running.append(engine)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert "native" in killed_running, "every native run finished before its kill"
    subprocess.run(_project(home, "native"), env=env, check=True, capture_output=True)
    resumed = sqlite_repo(str(home / "projections.sqlite"))
    events = SQLiteEventStore(str(home / "events.sqlite"))
    try:
        fresh = MemoryRepo()
        Projections(fresh, engine="native").catch_up(events)
        python = MemoryRepo()
        Projections(python).catch_up(events)
        assert resumed.meta().position == events.max_position()
        assert ledger(resumed) == ledger(fresh) == ledger(python)
        assert len(ledger(python)) > 1000
    finally:
        resumed.close()
        events.close()


@pytest.mark.postgres
def test_pipelined_catch_up_on_postgresql(reference, pg_schema):  # noqa: F811
    """Log and projections in one PostgreSQL database (one pool, as `open_projections` sets
    up): reads and commits from the pipeline's threads, a resume, the reference ledger."""
    from projections.store import postgres_repo
    from reputation.store.postgres import PostgresEventStore

    pg = PostgresEventStore(PG_URL, schema=pg_schema)
    try:
        lines = list(simulate(40, 60, seed=SEED))
        assert not ingest(pg, lines, recorded_at="2026-01-01T00:00:00Z").rejects
        repo = postgres_repo(pg.datastore)
        first = Projections(repo, owns_connection=False, engine="native")
        first.projector.run(pg.read(0, 1500))  # a first part, then a fresh projector resumes
        Projections(repo, owns_connection=False, engine="native").catch_up(pg, batch=700)
        assert ledger(repo) == reference
        assert repo.meta().position == pg.max_position()
    finally:
        pg.close()


def _wal_uncopied(path) -> int:
    """Frames of a SQLite file's write-ahead log not yet copied back into it, from the WAL
    index (`-shm`): the header's mxFrame (offset 16) less the checkpoint's nBackfill (96)."""
    import struct

    shm = (path.parent / (path.name + "-shm")).read_bytes()
    (max_frame,), (backfilled,) = struct.unpack_from("=I", shm, 16), struct.unpack_from("=I", shm, 96)
    return max_frame - backfilled


@pytest.mark.parametrize("engine", ["native", "python"])
def test_a_catch_up_copies_its_write_ahead_log_back(store, tmp_path, engine):
    """The projection store lets its log grow to 256 MB between copies while commits come
    (each page is copied once per run of commits); a catch-up still ends with its writes in
    the file, so the time is its own and no later reader or writer pays it."""
    path = tmp_path / "p.sqlite"
    repo = sqlite_repo(str(path))
    try:
        assert Projections(repo, engine=engine).catch_up(store, batch=97) == store.max_position()
        assert repo.meta().position == store.max_position()
        assert _wal_uncopied(path) == 0
    finally:
        repo.close()
