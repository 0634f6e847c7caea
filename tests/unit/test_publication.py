"""The publication schedule of the freelancer-facing score (projections.publication)."""

from __future__ import annotations

import pytest

from projections.publication import DAYS_KEY, Policy, days_of
from projections.service import memory_projections
from reputation.clock import format_time, parse_time
from reputation.errors import BadRequest, Misconfigured
from tests.unit.test_top_rated import market


@pytest.mark.parametrize(
    "at, published",
    [
        ("2024-06-15T00:00:00Z", "2024-06-15T00:00:00Z"),  # an instant publishes itself
        ("2024-06-14T23:59:59.999999Z", "2024-06-01T00:00:00Z"),
        ("2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z"),
        ("2024-05-31T23:00:00Z", "2024-05-15T00:00:00Z"),
        ("2024-01-10T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00.000001Z", "2024-01-01T00:00:00Z"),
        ("2023-12-31T23:59:59Z", "2023-12-15T00:00:00Z"),
    ],
)
def test_published_at_is_the_latest_instant_at_or_before(at, published):
    assert format_time(Policy().published_at(parse_time(at))) == published


def test_instants_between_two_times():
    got = [
        format_time(p)
        for p in Policy().instants(parse_time("2024-01-15T00:00:00Z"), parse_time("2024-03-01T00:00:00Z"))
    ]
    assert got == ["2024-02-01T00:00:00Z", "2024-02-15T00:00:00Z", "2024-03-01T00:00:00Z"]
    monthly = Policy(days=(1,))
    assert [
        format_time(p) for p in monthly.instants(parse_time("2024-01-01T00:00:00Z"), parse_time("2024-03-10T00:00:00Z"))
    ] == ["2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"]


def test_schedule_and_k_from_the_environment(monkeypatch):
    monkeypatch.setenv("REPUTATION_PUBLISH_DAYS", "10, 1")
    monkeypatch.setenv("REPUTATION_GROUP_MIN", "5")
    assert Policy.from_env() == Policy((1, 10), 5)
    for days in ("31", "0", "x", ","):
        monkeypatch.setenv("REPUTATION_PUBLISH_DAYS", days)
        with pytest.raises(BadRequest, match="REPUTATION_PUBLISH_DAYS"):
            Policy.from_env()
    monkeypatch.setenv("REPUTATION_PUBLISH_DAYS", "1,15")
    for k in ("0", "three"):
        monkeypatch.setenv("REPUTATION_GROUP_MIN", k)
        with pytest.raises(BadRequest, match="REPUTATION_GROUP_MIN"):
            Policy.from_env()


def test_projections_without_recorded_days_are_refused_until_rebuilt():
    store = market(tick="2025-06-01").store()
    proj = memory_projections()
    proj.policy = Policy((1,))  # nothing built yet: these days build it
    proj.catch_up(store)
    assert days_of(proj.repo.get_cursor(DAYS_KEY)) == (1,)
    del proj.repo.cursors[DAYS_KEY]  # as a store projected before the days were recorded
    with pytest.raises(Misconfigured, match="built before the days were recorded.*project --rebuild"):
        proj.policy = Policy((1,))
    proj.rebuild()
    proj.catch_up(store)
    assert days_of(proj.repo.get_cursor(DAYS_KEY)) == (1,)
    with pytest.raises(Misconfigured, match=r"=1,15 but the projections were built with the days 1:"):
        proj.policy = Policy()
