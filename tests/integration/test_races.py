"""Several processes on one store at once (SQLite and the real PostgreSQL): catch-ups of
the projections take turns, schema creation does not race, rebuild works on both stores,
and `wait_for_events` wakes on new events."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

import pytest

from engine.simulate import simulate
from projections.service import Projections, ProjectionsBusy, open_projections
from projections.store import MemoryRepo
from reputation.config import Settings, open_store
from reputation.ingest import ingest
from reputation.store import MemoryStore
from tests.integration import race_workers
from tests.integration.race_workers import ledger_digest
from tests.services import PG_URL, pg_admin

SPAWN = multiprocessing.get_context("spawn")  # no inherited connections or pools
KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def market() -> list[bytes]:
    return list(simulate(12, 60, seed=3))  # 1,040 events


def new_schema() -> str:
    conn = pg_admin()
    name = "race_" + uuid.uuid4().hex[:12]
    conn.execute(f'CREATE SCHEMA "{name}"')
    conn.close()
    return name


def drop_schema(name: str) -> None:
    conn = pg_admin()
    conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    conn.close()


@pytest.fixture(params=KINDS)
def where(request, tmp_path):
    """(kind, home, schema): a fresh SQLite home or PostgreSQL schema."""
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "home"), ""
        return
    schema = new_schema()
    yield "postgres", str(tmp_path / "home"), schema
    drop_schema(schema)


def settings_of(where) -> Settings:
    kind, home, schema = where
    return Settings(home=home, store=PG_URL, pg_schema=schema) if kind == "postgres" else Settings(home=home)


def reference_ledger(store) -> list:
    repo = MemoryRepo()
    Projections(repo).catch_up(store, batch=10**6)
    return repo.ledger_after(0, 10**9)


# -- 6. concurrent catch-ups ----------------------------------------------------------------


@pytest.mark.parametrize("followers,readers", [(2, 0), (1, 1), (2, 2), (4, 4)])
def test_concurrent_followers_and_readers_take_turns(where, market, followers, readers):
    kind, home, schema = where
    store = open_store(settings_of(where))
    cut = len(market) * 3 // 5
    assert not ingest(store, market[:cut]).rejects
    n = followers + readers
    roles = ["follower"] * followers + ["reader"] * readers
    with SPAWN.Manager() as manager, ProcessPoolExecutor(n, mp_context=SPAWN) as pool:
        barrier = manager.Barrier(n + 1)
        head = len(market)  # contiguous positions from 1 in a fresh store
        futures = [pool.submit(race_workers.catch_up, barrier, kind, home, schema, role, head, 20) for role in roles]
        try:
            barrier.wait(timeout=120)
        except threading.BrokenBarrierError:
            pass  # a worker failed before it: its result says why
        for i in range(cut, len(market), 150):  # the log grows while they run
            assert not ingest(store, market[i : i + 150]).rejects
            time.sleep(0.05)
        results = [f.result(timeout=300) for f in futures]
    assert store.max_position() == head
    errors = [r["error"] for r in results if not r["ok"]]
    assert errors == [], errors[0]
    expected = reference_ledger(store)
    assert all(r["position"] == head for r in results if r["role"] == "follower")
    for r in results:
        for length, digest in r["snapshots"]:  # what a reader saw is a prefix of the ledger
            assert digest == ledger_digest(expected[:length])
        for position, log_head, behind in r["busy"]:
            assert 0 <= position <= log_head <= head and behind == log_head - position
    proj = open_projections(settings_of(where), store)
    try:
        proj.catch_up(store)
        assert ledger_digest(proj.ledger_after(0, 10**9)) == ledger_digest(expected)
    finally:
        proj.close()
        store.close()


def test_a_reader_that_finds_the_projections_busy_says_how_far_behind(where, market):
    store = open_store(settings_of(where))
    assert not ingest(store, market).rejects
    holder, reader = open_projections(settings_of(where), store), open_projections(settings_of(where), store)
    try:
        with holder.repo.catch_up_lock(None) as got:  # another catch-up is running
            assert got
            started = time.monotonic()
            with pytest.raises(ProjectionsBusy) as busy:
                reader.catch_up(store, wait=0.3)
            assert 0.3 <= time.monotonic() - started < 5
            assert (busy.value.position, busy.value.head, busy.value.behind) == (0, len(market), len(market))
            assert f"{len(market)} events behind" in str(busy.value)
            assert reader.lag(store) == len(market)
        assert reader.catch_up(store, wait=0.3) == len(market)  # free again
        assert reader.lag(store) == 0
    finally:
        holder.close()
        reader.close()
        store.close()


# -- 7. rebuild on every store ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_rebuild_replays_the_same_ledger_and_keeps_the_cursors(kind, market, tmp_path):
    schema = new_schema() if kind == "postgres" else ""
    try:
        if kind == "memory":
            store, proj = MemoryStore(), Projections(MemoryRepo())
        else:
            settings = Settings(home=str(tmp_path), store=PG_URL if schema else "sqlite", pg_schema=schema)
            store = open_store(settings)
            proj = open_projections(settings, store)
        assert not ingest(store, market).rejects
        proj.catch_up(store)
        before = proj.ledger_after(0, 10**9)
        assert len(before) > 50
        proj.set_cursor("relay", 17)
        proj.rebuild()
        assert proj.ledger_after(0, 10**9) == [] and proj.position == 0 and proj.freelancers() == []
        assert proj.get_cursor("relay") == 17
        assert proj.catch_up(store) == len(market)
        assert ledger_digest(proj.ledger_after(0, 10**9)) == ledger_digest(before)
        proj.close()
        store.close()
    finally:
        if schema:
            drop_schema(schema)


# -- 8. processes creating the schema at the same moment --------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_processes_starting_together_create_the_schema_once(kind, tmp_path):
    rounds, n = 6, 4
    failures = []
    with SPAWN.Manager() as manager, ProcessPoolExecutor(n, mp_context=SPAWN) as pool:
        for r in range(rounds):
            schema = new_schema() if kind == "postgres" else ""
            try:
                barrier = manager.Barrier(n)
                home = str(tmp_path / f"round-{r}")  # SQLite: new files every round
                futures = [pool.submit(race_workers.open_at_once, barrier, kind, home, schema) for _ in range(n)]
                failures += [r["error"] for r in (f.result(timeout=120) for f in futures) if not r["ok"]]
            finally:
                if schema:
                    drop_schema(schema)
    assert failures == [], f"{len(failures)} of {rounds * n} processes failed; first:\n{failures[0]}"


# -- following the log -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_wait_for_events(kind, market, tmp_path):
    schema = new_schema() if kind == "postgres" else ""
    store = (
        MemoryStore()
        if kind == "memory"
        else open_store(Settings(home=str(tmp_path), store=PG_URL if schema else "sqlite", pg_schema=schema))
    )
    try:
        started = time.monotonic()
        assert store.wait_for_events(0, 0.3) is False  # nothing comes
        assert 0.3 <= time.monotonic() - started < 3
        writer = threading.Timer(0.2, lambda: ingest(store, market[:3]))
        started = time.monotonic()
        writer.start()
        assert store.wait_for_events(0, 10) is True  # woken by the append, not by the timeout
        assert time.monotonic() - started < 5
        writer.join()
        assert store.wait_for_events(2, 0.1) is True and store.wait_for_events(3, 0.1) is False
    finally:
        store.close()
        if schema:
            drop_schema(schema)
