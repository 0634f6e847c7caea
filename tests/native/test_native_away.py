"""A freelancer's contracts out of every window leave the core's memory once the projection store
has them (native/src/away.rs) and come back when something reads them again: a new fact on
one, a late event from before they left, a late flag of their client. None of it may change a
byte of what the core writes: the Python reference, which keeps everything, is the bar."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from projections.ledger import to_json
from projections.native import NativeProjector, _Loader
from projections.service import Projections
from projections.store import MemoryRepo, sqlite_repo
from reputation import events as ev
from reputation.ingest import ingest
from reputation.store import MemoryStore
from tests.integration.test_store_contract import PG_URL, pg_schema  # noqa: F401 (fixture)
from tests.native.test_native_equals_python import assert_same, project
from tests.property.histories import histories
from tests.property.test_projection_properties import log_of

CONTRACTS = 14  # an archive needs 12
START = ev.parse_time("2019-01-07T00:00:00Z")


class _Log:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, at: int, **e) -> None:
        e["event_id"] = f"e{len(self.items) + 1}"
        e["occurred_at"] = ev.format_time(at)
        self.items.append(e)


def _career(then: str) -> list[bytes]:
    """One freelancer's contracts, one every 60 days from 2019 (so later contracts' deadlines
    come after earlier ones left every window), the clock to 2023-06, then `then`."""
    log = _Log()
    for i in range(CONTRACTS):
        t = START + i * 60 * ev.DAY
        cid, kid = f"c{i}", f"k{i % 3}"
        log.add(t, type="ContractOpened", contract_id=cid, freelancer_id="f0", client_id=kid, pricing="fixed")
        log.add(t + 5 * ev.DAY, type="PaymentMade", contract_id=cid, amount=500 + 100 * i)
        log.add(
            t + 9 * ev.DAY, type="ContractClosed", contract_id=cid, closed_by="client", reason="completed_successfully"
        )
        log.add(t + 10 * ev.DAY, type="PublicFeedbackSubmitted", contract_id=cid, by="client", stars=5.0 - (i % 4))
    end = ev.parse_time("2023-06-01T00:00:00Z")
    t = START + CONTRACTS * 60 * ev.DAY
    while t < end:
        t += 30 * ev.DAY
        log.add(t, type="ClockAdvanced", to=ev.format_time(t))
    late = ev.parse_time("2019-02-01T00:00:00Z")
    if then == "a new fact on an old contract":
        log.add(t, type="FeedbackRemoved", contract_id="c0", of="client", basis="policy_violation", scope="jss_only")
    elif then == "a late contract from 2019":
        log.add(late, type="ContractOpened", contract_id="c99", freelancer_id="f0", client_id="k9", pricing="hourly")
        log.add(late + ev.DAY, type="PaymentMade", contract_id="c99", amount=700)
        log.add(
            late + 3 * ev.DAY,
            type="ContractClosed",
            contract_id="c99",
            closed_by="client",
            reason="freelancer_unresponsive",
        )
        log.add(late + 4 * ev.DAY, type="PublicFeedbackSubmitted", contract_id="c99", by="client", stars=1.0)
    elif then == "a late flag of an old client":
        log.add(late, type="ClientFlagged", client_id="k1")
    if then == "a flag of an old client now":
        log.add(t, type="ClientFlagged", client_id="k2")
    return [json.dumps(e).encode() for e in log.items]


@contextlib.contextmanager
def _counted_loads() -> Iterator[list[tuple[str, list[str]]]]:
    """(table, ids) of every load back from the projection store while inside."""
    loads: list[tuple[str, list[str]]] = []
    load = _Loader.load

    def counted(self, table, ids):
        loads.append((table, ids))
        return load(self, table, ids)

    _Loader.load = counted  # type: ignore[method-assign]
    try:
        yield loads
    finally:
        _Loader.load = load  # type: ignore[method-assign]


THEN = [
    "a new fact on an old contract",
    "a late contract from 2019",
    "a late flag of an old client",
    "a flag of an old client now",
]


@pytest.mark.parametrize("then", THEN)
@pytest.mark.parametrize("every", [7, 40])
def test_contracts_out_of_every_window_leave_memory_and_come_back_unchanged(then, every):
    """Batches of 7 rows: the old contracts leave memory while the clock runs, then `then`
    reads them again (or, a flag of today, does not). Batches of 40: they leave only in the last
    batch (the store has a batch's state once the batch after it is committed)."""
    lines = _career(then)
    rows = log_of(lines)
    assert len(rows) == len(lines), "every line is valid"
    repo = MemoryRepo()
    native = NativeProjector(repo)
    held = []
    with _counted_loads() as loads:
        for lo in range(0, len(rows), every):
            native.run(rows[lo : lo + every])
            held.append(native.held)
    assert_same(project("python", rows), repo)
    back = [ids for table, ids in loads if table == "contracts"]
    if every == 40:
        assert back == [], back
        return
    assert min(held) <= CONTRACTS // 2, held
    if then == "a flag of an old client now":
        assert back == [] and held[-1] == 0, (back, held)  # nothing before the flag is read
    else:
        assert max(len(ids) for ids in back) >= CONTRACTS - 3, back  # brought back together


@given(histories(max_contracts=30, open_days=1200, clock_days=1600, max_ticks=6), st.integers(2, 25))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_histories_put_away_and_bring_back_the_same(lines, every):
    """Random histories over four years (contracts opened over three, so the first are out of
    every window while later ones work; late arrivals delivered last, flags, removals, ticks)
    through one projector in batches of `every` rows: what it puts away and loads back
    changes nothing."""
    rows = log_of(lines)
    repo = MemoryRepo()
    native = NativeProjector(repo)
    put_away = False
    with _counted_loads() as loads:
        for lo in range(0, len(rows), every):
            native.run(rows[lo : lo + every])
            put_away |= native.held < len(repo.contracts)
    event(f"put away: {put_away}")
    event(f"brought back: {any(table == 'contracts' for table, _ in loads)}")
    assert_same(project("python", rows), repo)


def _through_catch_up(store, repo, then: str) -> None:
    """`then` ingested into `store`, projected into `repo` by the pipelined catch-up in batches of
    7 rows (batch N committed while N + 1 is projected), against the Python reference."""
    assert not ingest(store, _career(then), recorded_at="2026-01-01T00:00:00Z").rejects
    reference = MemoryRepo()
    Projections(reference, engine="python").catch_up(store)
    proj = Projections(repo, owns_connection=False, engine="native")
    with _counted_loads() as loads:
        proj.catch_up(store, batch=7)
    assert [to_json(c) for c in repo.ledger_after(0, 10**9)] == [to_json(c) for c in reference.ledger]
    assert any(table == "contracts" for table, _ in loads)  # put away, then brought back from the store


@pytest.mark.parametrize("then", ["a new fact on an old contract", "a late contract from 2019"])
def test_the_pipelined_catch_up_brings_back_from_sqlite(then, tmp_path):
    repo = sqlite_repo(str(tmp_path / "projections.sqlite"))
    try:
        _through_catch_up(MemoryStore(), repo, then)
    finally:
        repo.close()


@pytest.mark.postgres
def test_the_pipelined_catch_up_brings_back_from_postgresql(pg_schema):  # noqa: F811
    """Log and projections in one PostgreSQL database: loads back share the pool (and its lock)
    with the reader and the committer."""
    from projections.store import postgres_repo
    from reputation.store.postgres import PostgresEventStore

    pg = PostgresEventStore(PG_URL, schema=pg_schema)
    try:
        _through_catch_up(pg, postgres_repo(pg.datastore), "a late contract from 2019")
    finally:
        pg.close()
