"""The projector on every projection store (in memory, SQLite, the real PostgreSQL):
same ledger, exactly-once commits, resume after SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from eventsourcing.persistence import IntegrityError

from engine.simulate import simulate
from projections.ledger import to_json
from projections.projector import Projector
from projections.replay import fold
from projections.service import Projections
from projections.store import MemoryRepo, postgres_repo, sqlite_repo
from reputation.ingest import ingest
from reputation.store import MemoryStore
from reputation.store.postgres import PostgresEventStore
from reputation.store.sqlite import SQLiteEventStore
from tests.integration.test_store_contract import PG_URL, pg_schema  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def market() -> list[bytes]:
    return list(simulate(12, 60, seed=3))


def ledger_of(repo) -> list[bytes]:
    return [to_json(c) for c in repo.ledger_after(0, 10**9)]


@pytest.fixture(scope="module")
def reference(market):
    store = MemoryStore()
    assert not ingest(store, market, recorded_at="2026-01-01T00:00:00Z").rejects
    repo = MemoryRepo()
    Projections(repo).catch_up(store, batch=10**6)
    return store, ledger_of(repo)


class ProjectionStoreContract:
    """Every projection store yields the reference ledger, batch by batch, restart by restart."""

    def repo(self, tmp_path):  # pragma: no cover - overridden
        raise NotImplementedError

    def test_batches_and_restarts_give_the_reference_ledger(self, reference, tmp_path):
        store, expected = reference
        repo = self.repo(tmp_path)
        rows = store.read(0, 10**9)
        cuts = sorted(random.Random(1).sample(range(1, len(rows)), 5))
        for lo, hi in zip([0, *cuts], [*cuts, len(rows)]):
            Projector(repo).run(rows[lo:hi])  # a fresh projector each time: state via the store
        assert ledger_of(repo) == expected
        assert repo.meta().position == len(rows)

    def test_a_position_commits_once(self, reference, tmp_path):
        store, _ = reference
        repo = self.repo(tmp_path)
        rows = store.read(0, 300)
        Projector(repo).run(rows)
        stale = Projector(MemoryRepo())  # another projector that thinks it is at 0
        stale.repo = repo
        with pytest.raises(IntegrityError):
            stale.run(rows)  # same positions again: the tracking record refuses, nothing written
        assert repo.meta().position == 300
        assert len(ledger_of(repo)) == len({c.change_id for c in repo.ledger_after(0, 10**9)})


class TestMemoryRepo(ProjectionStoreContract):
    def repo(self, tmp_path):
        return MemoryRepo()


class TestSQLiteRepo(ProjectionStoreContract):
    def repo(self, tmp_path):
        return sqlite_repo(str(tmp_path / "p.sqlite"))


@pytest.mark.postgres
class TestPostgresRepo(ProjectionStoreContract):
    @pytest.fixture(autouse=True)
    def _schema(self, pg_schema):  # noqa: F811
        self.schema = pg_schema
        yield
        for s in getattr(self, "stores", []):
            s.close()

    def repo(self, tmp_path):
        s = PostgresEventStore(PG_URL, schema=self.schema)
        self.stores = [*getattr(self, "stores", []), s]
        return postgres_repo(s.datastore)


def _reputation() -> list[str]:
    return [sys.executable, "-c", "from engine.cli import main; main()"]


@pytest.mark.slow
def test_project_killed_mid_batch_resumes_to_the_same_ledger(tmp_path, market):
    home = tmp_path / "home"
    env = {**os.environ, "REPUTATION_HOME": str(home)}
    data = tmp_path / "market.jsonl"
    data.write_bytes(b"\n".join(market) + b"\n")
    subprocess.run([*_reputation(), "ingest", str(data)], env=env, check=True, capture_output=True)
    rnd = random.Random(7)
    for _ in range(3):
        proc = subprocess.Popen(
            [*_reputation(), "project"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rnd.uniform(0.5, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    subprocess.run([*_reputation(), "project"], env=env, check=True, capture_output=True)
    resumed = sqlite_repo(str(home / "projections.sqlite"))
    store = SQLiteEventStore(str(home / "events.sqlite"))
    fresh = MemoryRepo()
    Projections(fresh).catch_up(store)
    assert resumed.meta().position == store.max_position()
    got, want = ledger_of(resumed), ledger_of(fresh)
    # recorded_at comes from the store in both: the ledgers must be byte-identical
    assert got == want
    assert len(got) > 50


def test_the_archive_changes_no_ledger_entry(reference, monkeypatch):
    """The archive of contracts out of every window is a shortcut: without it (every
    freelancer evaluated in full at every point) the ledger is byte-identical."""
    store, expected = reference
    by_freelancer, _ = fold(store.read(0, 10**9))
    assert max(len(c) for c in by_freelancer.values()) >= Projector.ARCHIVE_AFTER  # it is used here
    monkeypatch.setattr(Projector, "ARCHIVE_AFTER", 10**9)
    repo = MemoryRepo()
    Projections(repo).catch_up(store, batch=977)
    assert ledger_of(repo) == expected
