"""The clock as the log stood at position K (`--known-at @K` without `--as-of`): read from
the clock the projections recorded at their last commit at or before K, then the log up to K.
It equals a fold of the whole log prefix (computed here from the decoded events) at every K,
for both engines, batch sizes that do and do not divide the log, on SQLite, PostgreSQL and in
memory, and for projections that predate the records (no records: the whole prefix is read)."""

from __future__ import annotations

import json
import random

import pytest

from engine.simulate import simulate
from projections.cuts import clock_known_at
from projections.service import Projections
from projections.store import MemoryRepo, sqlite_repo
from reputation import events as ev
from reputation.clock import INF
from reputation.ingest import ingest
from reputation.store import MemoryStore
from tests.integration.test_store_contract import PG_URL, pg_schema  # noqa: F401 (fixture)

SEED = 12  # of the market and of the positions asked


@pytest.fixture(scope="module")
def store() -> MemoryStore:
    s = MemoryStore()
    lines = list(simulate(12, 40, seed=SEED))
    rng = random.Random(SEED)
    for i in sorted(rng.sample(range(len(lines)), 6), reverse=True):  # ticks ahead of the events about them
        at = json.loads(lines[i])["occurred_at"]
        to = f"{int(at[:4]) + rng.choice([0, 1])}{at[4:10]}T23:59:59Z"
        tick = {"type": "ClockAdvanced", "event_id": f"tick-{i}", "occurred_at": at, "to": to}
        lines.insert(i + 1, json.dumps(tick).encode())
    assert not ingest(s, lines, recorded_at="2026-01-01T00:00:00Z").rejects
    return s


def folded(store, known: int) -> list[int]:
    """The clock after each position 0..known: the latest occurred_at, or ClockAdvanced.to."""
    out, clock = [-INF], -INF
    for _, data in store.read(0, known):
        e = ev.decode_recorded(data).event
        clock = max(clock, e.at, ev.parse_time(e.to) if isinstance(e, ev.ClockAdvanced) else e.at)
        out.append(clock)
    return out


def positions(store) -> list[int]:
    n = store.max_position()
    rng = random.Random(SEED)
    return sorted({0, 1, n, n + 5, *(rng.randrange(n) for _ in range(40))})


@pytest.mark.parametrize("engine", ["python", "native"])
@pytest.mark.parametrize("batch", [37, 500])
def test_the_clock_known_at_any_position_is_the_prefix_fold(store, tmp_path, engine, batch):
    want = folded(store, store.max_position())
    assert any(isinstance(ev.decode_recorded(d).event, ev.ClockAdvanced) for _, d in store.read(0, 10**6))
    for repo in (MemoryRepo(), sqlite_repo(str(tmp_path / f"{engine}-{batch}.sqlite"))):
        try:
            Projections(repo, engine=engine).catch_up(store, batch=batch)
            assert repo.clock_at(store.max_position()) == (store.max_position(), want[-1])
            for k in positions(store):
                assert clock_known_at(store, k, repo) == want[min(k, len(want) - 1)], k
        finally:
            repo.close()


def test_projections_without_records_read_the_whole_prefix(store, tmp_path):
    want = folded(store, store.max_position())
    repo = sqlite_repo(str(tmp_path / "old.sqlite"))
    try:
        Projections(repo).catch_up(store, batch=200)
        with repo.datastore.transaction(commit=True) as c:  # as a store built before the records
            c.execute("DELETE FROM proj_clocks")
        assert repo.clock_at(store.max_position()) is None
        for k in positions(store):
            assert clock_known_at(store, k, repo) == want[min(k, len(want) - 1)]
        repo.reset()  # a rebuild starts the records again
        assert repo.clock_at(10**9) is None
    finally:
        repo.close()


@pytest.mark.postgres
def test_the_records_on_postgresql(store, pg_schema):  # noqa: F811
    from projections.store import postgres_repo
    from reputation.store.postgres import PostgresEventStore

    pg = PostgresEventStore(PG_URL, schema=pg_schema)
    try:
        repo = postgres_repo(pg.datastore)
        Projections(repo, engine="native").catch_up(store, batch=150)
        want = folded(store, store.max_position())
        for k in positions(store):
            assert clock_known_at(store, k, repo) == want[min(k, len(want) - 1)]
    finally:
        pg.close()
