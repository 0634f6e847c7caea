"""Top Rated (rules.md "Top Rated") at its boundaries, table-driven: the rule on hand-made
weekly JSS and payments, then the ledger of small projected markets. Expected dates are worked
by hand from rules.md (2024-01-01 and 2025-01-06 are Mondays)."""

from __future__ import annotations

import pytest

from projections import toprated
from projections.service import memory_projections
from tests.scenarios.builder import US, Market, d, micros

M = micros(d("2024-01-01"))  # the evaluation (a Monday)
DAY_US = 24 * 3600 * 1_000_000
WEEK = 7 * DAY_US


def weekly(values: list[int | None], after: int | None = None):
    """jss_at for 16 weekly values, oldest first (the last from M on), `after` from M + 1 day."""

    def jss_at(t: int) -> int | None:
        if t > M:
            return after if after is not None and t >= M + DAY_US else values[-1]
        i = 15 - (M - t) // WEEK
        return values[i] if 0 <= i < 16 else None

    return jss_at


PAID = [(M - 30 * DAY_US, 1000_00)]  # $1,000 a month before


@pytest.mark.parametrize(
    "weeks, money, top",
    [
        ([90] * 13 + [89] * 3, PAID, True),  # 13 of 16 at 90: enough
        ([90] * 12 + [89] * 4, PAID, False),  # 12 of 16
        ([89] + [90] * 12 + [89] * 3, PAID, False),  # 89 is short
        ([None] * 3 + [100] * 13, PAID, True),  # not shown counts as short
        ([None] * 4 + [100] * 12, PAID, False),
        ([100] * 15 + [89], PAID, True),  # this week short, 15 others
        ([100] * 16, [(M - DAY_US, 999_99)], False),  # $999.99
        ([100] * 16, [(M - DAY_US, 1000_00)], True),  # $1,000.00
        ([100] * 16, [(M - 2 * DAY_US, 1000_00), (M - DAY_US, -1)], False),  # a refund of $0.01
        ([100] * 16, [(M, 1000_00)], True),  # paid at the evaluation instant: counted
        ([100] * 16, [(M + 1, 1000_00)], False),  # a microsecond after it
        ([100] * 16, [(micros(d("2023-01-01")), 1000_00)], False),  # exactly 12 months before: out
        ([100] * 16, [(micros(d("2023-01-01")) + 1, 1000_00)], True),  # a microsecond later: in
    ],
)
def test_the_rule_at_its_boundaries(weeks, money, top):
    e = toprated.evaluate(weekly(weeks), sorted(money), M)
    assert e.top is top
    assert [w.at for w in e.weeks] == [M - i * WEEK for i in range(15, -1, -1)]


@pytest.mark.parametrize(
    "jss_at, money, top, flip",
    [
        # a payment of 2023-06-15 12:00 leaves at 2024-06-15 12:00 (a Saturday): next Monday
        (weekly([100] * 16), [(micros(d("2023-06-15T12:00:00Z")), 1000_00)], True, "2024-06-17"),
        # JSS 80 from M + 1 day: weeks M+1w.. are short; 16 - 4 = 12 < 13 at M + 4 weeks
        (weekly([100] * 16, after=80), [(M - WEEK, 5000_00)], True, "2024-01-29"),
        # JSS 100 all along but no earnings: never
        (weekly([100] * 16), [], False, None),
        # back to 100 after the 8 weeks to M at 50: at M + k weeks (k >= 8) k weeks count,
        # 13 at M + 13 weeks
        (weekly([100] * 8 + [50] * 8, after=100), [(M - WEEK, 5000_00)], False, "2024-04-01"),
    ],
)
def test_the_next_flip_if_nothing_new_happens(jss_at, money, top, flip):
    got = toprated.next_flip(jss_at, money, M, top)
    assert (toprated.day(got) if got is not None else None) == flip


def test_dollars():
    assert [toprated.dollars(c) for c in (0, 99999, 100000, 123456789, -1)] == [
        "$0.00",
        "$999.99",
        "$1,000.00",
        "$1,234,567.89",
        "-$0.01",
    ]


# -- the ledger ------------------------------------------------------------------


def market(
    second_payment=(d("2024-11-23T01:00:00Z"), "500"), tick="2026-01-01", first_at="2024-11-23T01:00:00Z", closed=None
):
    """Two positive contracts from two clients, closed 2024-12-23 (a Monday): both settle at the
    end of their feedback windows, 2025-01-06 00:00 (a Monday): JSS 100 from that instant."""
    m = Market()
    closed = closed or d("2024-12-23")
    m.contract("c-1", closed=closed, client="k-1", recommend=10, pay=[(d(first_at), "500")])
    m.contract("c-2", closed=closed, client="k-2", recommend=10, pay=[second_payment])
    m.tick(d(tick))
    return m


@pytest.fixture(params=["native", "python"], autouse=True)
def engine(request, monkeypatch):
    """Every ledger test on both engines."""
    monkeypatch.setattr(Market, "projections", lambda m: _projected(m, request.param))


def _projected(m: Market, engine: str):
    proj = memory_projections(engine)
    proj.catch_up(m.store())
    return proj


def badge_entries(m: Market) -> list[tuple[str, bool, list[str]]]:
    proj = m.projections()
    return [
        (ch.effective_at, ch.top_rated_after, [c.kind for c in ch.causes])
        for ch in proj.history("f-1")
        if ch.top_rated_before != ch.top_rated_after
    ]


@pytest.mark.parametrize(
    "first_at, second_payment, lost",
    [
        # $1,000 paid 2024-11-23 01:00: out of the 12 months from 2025-11-23 01:00, a Sunday
        ("2024-11-23T01:00:00Z", (d("2024-11-23T01:00:00Z"), "500"), "2025-11-24T00:00:00Z"),
        # (the other $500 paid 2024-12-10, in until 2025-12-10)
        # $500 paid exactly 12 months before Monday 2025-11-24: out at that Monday
        ("2024-12-10T00:00:00Z", (d("2024-11-24T00:00:00Z"), "500"), "2025-11-24T00:00:00Z"),
        # a microsecond later: still in at 2025-11-24, out at the next Monday
        ("2024-12-10T00:00:00Z", (d("2024-11-24T00:00:00Z") + US, "500"), "2025-12-01T00:00:00Z"),
    ],
)
def test_gained_after_13_weeks_and_lost_when_the_earnings_age_out(first_at, second_payment, lost):
    # the week of 2025-01-06 counts (the JSS is 100 at that very instant); the 13th counted
    # week is 2025-01-06 + 12 weeks = 2025-03-31
    entries = badge_entries(market(second_payment, first_at=first_at))
    assert entries == [
        ("2025-03-31T00:00:00Z", True, ["top_rated_gained"]),
        (lost, False, ["top_rated_lost"]),
    ]


def test_999_99_never_earns_the_badge():
    m = market((d("2024-11-23T01:00:00Z"), "499.99"))
    assert badge_entries(m) == []
    proj = m.projections()
    assert all(not ch.top_rated_after for ch in proj.history("f-1"))


def test_a_badge_entry_keeps_the_jss_and_names_the_short_weeks():
    proj = market(tick="2025-12-15").projections()
    gained, lost = [ch for ch in proj.history("f-1") if ch.top_rated_before != ch.top_rated_after]
    for ch in (gained, lost):
        assert (ch.jss_before, ch.jss_exact_before, ch.feedback_before) == (
            ch.jss_after,
            ch.jss_exact_after,
            ch.feedback_after,
        )
        assert ch.jss_after == 100
    # at 2025-03-31 the weeks 2024-12-16, 2024-12-23 and 2024-12-30 had no JSS
    assert "2024-12-16 (not shown), 2024-12-23 (not shown), 2024-12-30 (not shown)" in gained.causes[0].text
    assert "$1,000.00" in gained.causes[0].text
    assert "$0.00" in lost.causes[0].text
    # the loss is recorded when the clock passes it, from the one deadline scheduled for it
    assert lost.position == len(market(tick="2025-12-15").lines)


def test_not_yet_at_the_12th_week():
    m = market(tick="2025-03-30T23:59:59Z")
    assert badge_entries(m) == []
    m = market(tick="2025-03-31")
    assert [e[:2] for e in badge_entries(m)] == [("2025-03-31T00:00:00Z", True)]


def test_a_jss_a_microsecond_after_monday_misses_that_week():
    # settled at 2025-01-06 00:00:00.000001: the first counted week is 2025-01-13
    m = market(closed=d("2024-12-23") + US)
    assert [e[:2] for e in badge_entries(m)][:1] == [("2025-04-07T00:00:00Z", True)]


def test_score_shows_the_badge_as_the_ledger_stood_at_k():
    m = market(tick="2026-01-01")
    proj = m.projections()
    at, k = micros(d("2025-06-01")), len(m.lines) - 1  # before the tick that passed every deadline
    now = proj.score("f-1", at)["top_rated"]
    then = proj.score("f-1", at, known_at=k)["top_rated"]
    assert (now["top_rated"], now["evaluated_at"], now["weeks_counted"]) == (True, "2025-05-26T00:00:00Z", 16)
    assert (then["top_rated"], then["weeks_counted"]) == (False, 0)
    assert {w["jss"] for w in then["weeks"]} == {None} and then["earnings_last_months"] == 1000.0
