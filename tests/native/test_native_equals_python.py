"""The native projector (reputation._core) against the Python reference, field by field:
the ledger (every field, causes' text included), the projection state, the deadlines, the
position/clock/seq and `score --json` output, on random histories and simulated markets."""

from __future__ import annotations

import contextlib
import os
import random

import msgspec
import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.simulate import simulate
from projections.ledger import to_json
from projections.native import HOLD_ENV, NativeProjector, projector_for
from projections.projector import Projector
from projections.service import Projections
from projections.store import MemoryRepo, sqlite_repo
from reputation.ingest import ingest
from reputation.store import MemoryStore
from tests.property.histories import careers, histories
from tests.property.test_projection_properties import log_of

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = (1, 2, 3)  # simulated markets: 40 freelancers x 60 months each


def project(engine: str, rows, cuts=(), repo=None):
    """Project `rows` in batches cut at `cuts`, a fresh projector per batch (state through the
    store, as after a restart)."""
    repo = repo if repo is not None else MemoryRepo()
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(rows))), len(rows)]
    for lo, hi in zip(bounds, bounds[1:]):
        projector_for(engine, repo).run(rows[lo:hi])
    return repo


def assert_same(python: MemoryRepo, native: MemoryRepo) -> None:
    assert [to_json(c) for c in native.ledger] == [to_json(c) for c in python.ledger]
    assert native.contracts == python.contracts  # msgpack state, byte for byte
    assert native.freelancers == python.freelancers
    assert native.clients == python.clients
    assert native.deadlines == python.deadlines
    assert native.meta() == python.meta()


def scores(repo: MemoryRepo) -> list[bytes]:
    proj = Projections(repo)
    out = []
    for fid in proj.freelancers():
        out.append(msgspec.json.encode(proj.score(fid)))
        out.append(msgspec.json.encode(proj.score(fid, audience="freelancer", known_at=proj.position // 2)))
    return out


@SETTINGS
@given(histories(), st.lists(st.integers(1, 80), max_size=4), st.lists(st.integers(1, 80), max_size=4))
def test_random_histories_give_the_same_ledger_and_state(lines, cuts_python, cuts_native):
    rows = log_of(lines)
    python = project("python", rows, cuts_python)
    native = project("native", rows, cuts_native)
    assert_same(python, native)
    assert scores(native) == scores(python)


@given(histories(max_contracts=30), st.lists(st.integers(1, 150), max_size=3))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_long_histories_give_the_same_ledger_and_state(lines, cuts):
    """Freelancers with 12 contracts or more: the projector's archive of contracts out of
    every window is in play."""
    rows = log_of(lines)
    assert_same(project("python", rows), project("native", rows, cuts))


@given(careers(), st.lists(st.integers(1, 60), max_size=3))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_top_rated_careers_give_the_same_ledger_and_state(lines, cuts):
    """Histories that gain and lose the badge (weeks at exactly Monday 00:00, payments at the
    $1,000 edge, late deliveries that restate badge entries)."""
    rows = log_of(lines)
    assert_same(project("python", rows), project("native", rows, cuts))


@given(histories(max_contracts=30), st.integers(2, 25), st.booleans())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_projector_that_lets_go_of_everything_it_can_gives_the_same(lines, every, resumed):
    """One native projector holding at most one contract: after every batch it lets go of every
    freelancer the last batch did not touch and loads them back from the store when an event,
    a deadline, a late event or a flag needs them (crate::hold); from an empty store or a
    resumed one."""
    rows = log_of(lines)
    python = project("python", rows)
    repo = MemoryRepo()
    start = len(rows) // 3 if resumed else 0
    if start:
        projector_for("native", repo).run(rows[:start])
    with _env(HOLD_ENV, "1"):
        native = NativeProjector(repo)
    least = 10**9
    for lo in range(start, len(rows), every):
        native.run(rows[lo : lo + every])
        least = min(least, native.held)
    event(f"let go: {least < len(repo.contracts)}")
    assert_same(python, repo)


@contextlib.contextmanager
def _env(name: str, value: str):
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


@given(histories(max_contracts=3))
@settings(max_examples=30, deadline=None)
def test_engines_can_take_turns_on_one_store(lines):
    """A native projector resumes what the Python one wrote, and the other way round."""
    rows = log_of(lines)
    python = project("python", rows)
    mixed = MemoryRepo()
    half = len(rows) // 2
    for i, engine in enumerate(("native", "python", "native")):
        part = rows[[0, half // 2, half][i] : [half // 2, half, len(rows)][i]]
        projector_for(engine, mixed).run(part)
    assert_same(python, mixed)


@pytest.fixture(scope="module", params=SEEDS)
def simulated(request) -> list[tuple[int, bytes]]:
    store = MemoryStore()
    lines = list(simulate(40, 60, seed=request.param))
    result = ingest(store, lines, recorded_at="2026-01-01T00:00:00Z")
    assert not result.rejects
    return store.read(0, 10**9)


def test_simulated_markets_give_the_same_ledger_and_state(simulated):
    python = project("python", simulated)
    cuts = sorted(random.Random(len(simulated)).sample(range(1, len(simulated)), 4))
    native = project("native", simulated, cuts)
    assert len(python.ledger) > 100
    assert sum(c.top_rated_before != c.top_rated_after for c in python.ledger) > 5  # badge entries covered
    assert_same(python, native)
    assert scores(native) == scores(python)


def test_native_commits_through_sqlite_and_resumes(simulated, tmp_path):
    """The same ledger through the SQLite store, with a restart mid-way; a position commits once."""
    expected = [to_json(c) for c in project("python", simulated).ledger]
    repo = sqlite_repo(str(tmp_path / "p.sqlite"))
    try:
        half = len(simulated) // 2
        NativeProjector(repo).run(simulated[:half])
        NativeProjector(repo).run(simulated[half:])
        assert [to_json(c) for c in repo.ledger_after(0, 10**9)] == expected
        stale = NativeProjector(MemoryRepo())  # thinks it is at 0: the tracking record refuses
        stale.repo = repo
        with pytest.raises(IntegrityError):
            stale.run(simulated[:10])
        assert repo.meta().position == len(simulated)
    finally:
        repo.close()


def test_a_bad_row_names_its_position():
    repo = MemoryRepo()
    with pytest.raises(RuntimeError, match="position 7"):
        NativeProjector(repo).run([(7, b'[{"type": "Nope"}, "2026-01-01T00:00:00Z"]')])
    assert repo.meta().position == 0


def test_the_native_core_is_the_default_and_the_reference_is_one_switch_away():
    assert isinstance(Projections(MemoryRepo()).projector, NativeProjector)
    assert isinstance(Projections(MemoryRepo(), engine="python").projector, Projector)
