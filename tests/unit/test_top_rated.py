"""Top Rated (rules.md "Top Rated") at its boundaries, table-driven: the rule on hand-made
weekly JSS and payments, then the ledger of small projected markets. Expected dates are worked
by hand from rules.md (2024-01-01 and 2025-01-06 are Mondays; each week reads the JSS as
published at 00:00 UTC on the 1st and the 15th)."""

from __future__ import annotations

import json
from typing import NamedTuple

import pytest

from projections import toprated
from projections.publication import Policy
from projections.service import memory_projections
from tests.scenarios.builder import US, Market, d, micros

M = micros(d("2024-01-01"))  # the evaluation (a Monday)
DAY_US = 24 * 3600 * 1_000_000
WEEK = 7 * DAY_US


class At(NamedTuple):  # a ledger entry as the rule reads it
    at: int
    jss: int | None


def every_instant(t: int) -> int:
    """A schedule publishing at every instant: the weeks read the JSS at the Monday itself."""
    return t


PUBLISHED = Policy((1, 15)).published_at  # the default: 00:00 UTC on the 1st and the 15th


def weekly(values: list[int | None], after: int | None = None) -> list[At]:
    """A timeline with 16 weekly values, oldest first (the last from M on), `after` from M + 1 day."""
    out = [At(M - (15 - i) * WEEK, v) for i, v in enumerate(values)]
    return out + ([At(M + DAY_US, after)] if after is not None else [])


def changes(*points: tuple[str, int | None]) -> list[At]:
    return [At(micros(d(t)), j) for t, j in points]


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
    e = toprated.evaluate(weekly(weeks), sorted(money), M, every_instant)
    assert e.top is top
    assert [w.at for w in e.weeks] == [M - i * WEEK for i in range(15, -1, -1)]


@pytest.mark.parametrize(
    "timeline, money, top, flip",
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
def test_the_next_flip_if_nothing_new_happens(timeline, money, top, flip):
    got = toprated.next_flip(timeline, money, M, top, every_instant)
    assert (toprated.day(got) if got is not None else None) == flip


# the 16 weeks to 2024-01-01 (a Monday and a publication instant) start on 2023-09-18; JSS 85
# from 2023-10-01 to 2023-10-15 makes the weeks of 2023-10-02 and 2023-10-09 short either way
SHORT_OCTOBER = (("2023-09-01", 100), ("2023-10-01", 85), ("2023-10-15", 100))


@pytest.mark.parametrize(
    "timeline, trust, published",
    [
        # the JSS dips to 80 from Saturday 2023-12-16 to 2023-12-30, between two publications:
        # Mondays 12-18 and 12-25 read 80 at the instant (12 weeks count) but 100 as published
        # on 12-15 (14 count): the badge holds
        (changes(*SHORT_OCTOBER, ("2023-12-16", 80), ("2023-12-30", 100)), False, True),
        # 80 from Tuesday 2023-11-14 to Thursday 11-16 only: no Monday sees it at the instant
        # (14 weeks count), but it is what was published on the 15th, read by the Mondays 11-20
        # and 11-27 (12 count): the badge is lost
        (changes(*SHORT_OCTOBER, ("2023-11-14", 80), ("2023-11-16", 100)), True, False),
        # a JSS at exactly the publication instant is published then; a microsecond later is not
        (changes(*SHORT_OCTOBER, ("2023-12-15", 80), ("2023-12-29", 100)), False, False),
        (changes(*SHORT_OCTOBER, ("2023-12-15T00:00:00.000001Z", 80), ("2023-12-29", 100)), False, True),
    ],
)
def test_the_weeks_read_the_published_jss(timeline, trust, published):
    assert toprated.evaluate(timeline, PAID, M, every_instant).top is trust
    e = toprated.evaluate(timeline, PAID, M, PUBLISHED)
    assert e.top is published
    assert [w.at for w in e.weeks] == [M - i * WEEK for i in range(15, -1, -1)]  # still the Mondays


def test_the_next_flip_follows_the_publications():
    # JSS 100 for 16 weeks, then 80 from M + 1 day: published on 2024-01-15, so the Mondays from
    # 2024-01-15 read 80; the fourth short one (12 of 16) is 2024-02-05
    timeline = weekly([100] * 16, after=80)
    assert toprated.day(toprated.next_flip(timeline, [(M - WEEK, 5000_00)], M, True, PUBLISHED)) == "2024-02-05"
    # at every instant the Mondays from 2024-01-08 read it: 2024-01-29
    assert toprated.day(toprated.next_flip(timeline, [(M - WEEK, 5000_00)], M, True, every_instant)) == "2024-01-29"


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
    end of their feedback windows, 2025-01-06 00:00 (a Monday): JSS 100 from that instant,
    published from 2025-01-15, so the first Monday that counts is 2025-01-20."""
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
    # the week of 2025-01-20 is the first to count (it reads the JSS published on 2025-01-15;
    # 2025-01-06 and 2025-01-13 read the one of 2025-01-01: none); the 13th counted week is
    # 2025-01-20 + 12 weeks = 2025-04-14
    entries = badge_entries(market(second_payment, first_at=first_at))
    assert entries == [
        ("2025-04-14T00:00:00Z", True, ["top_rated_gained"]),
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
    # at 2025-04-14 the weeks 2024-12-30, 2025-01-06 and 2025-01-13 had no JSS published
    assert "2024-12-30 (not shown), 2025-01-06 (not shown), 2025-01-13 (not shown)" in gained.causes[0].text
    assert "$1,000.00" in gained.causes[0].text
    assert "$0.00" in lost.causes[0].text
    # the loss is recorded when the clock passes it, from the one deadline scheduled for it
    assert lost.position == len(market(tick="2025-12-15").lines)


def test_not_yet_at_the_12th_week():
    m = market(tick="2025-04-13T23:59:59Z")
    assert badge_entries(m) == []
    m = market(tick="2025-04-14")
    assert [e[:2] for e in badge_entries(m)] == [("2025-04-14T00:00:00Z", True)]


@pytest.mark.parametrize(
    "closed, gained",
    [
        # settled at 2025-01-15 00:00, a publication instant: published then, first counted
        # Monday 2025-01-20, 13th 2025-04-14
        (d("2025-01-01"), "2025-04-14T00:00:00Z"),
        # a microsecond later: published on 2025-02-01, first counted 2025-02-03, 13th 2025-04-28
        (d("2025-01-01") + US, "2025-04-28T00:00:00Z"),
        # settled at Monday 2025-01-06 00:00:00.000001: still published on 2025-01-15
        (d("2024-12-23") + US, "2025-04-14T00:00:00Z"),
    ],
)
def test_a_week_counts_from_the_publication_of_its_jss(closed, gained):
    m = market((d("2024-12-10"), "500"), first_at="2024-12-10T00:00:00Z", closed=closed)
    assert [e[:2] for e in badge_entries(m)][:1] == [(gained, True)]


def test_score_shows_the_badge_as_the_ledger_stood_at_k():
    m = market(tick="2026-01-01")
    proj = m.projections()
    at, k = micros(d("2025-06-01")), len(m.lines) - 1  # before the tick that passed every deadline
    now = proj.score("f-1", at)["top_rated"]
    then = proj.score("f-1", at, known_at=k)["top_rated"]
    assert (now["top_rated"], now["evaluated_at"], now["weeks_counted"]) == (True, "2025-05-26T00:00:00Z", 16)
    assert (then["top_rated"], then["weeks_counted"]) == (False, 0)
    assert {w["jss"] for w in then["weeks"]} == {None} and then["earnings_last_months"] == 1000.0


# -- the freelancer-facing changes: history and the topic score-changes --------------


def test_the_badge_flips_are_freelancer_facing_changes_on_history_and_the_topic():
    from consumers.relay import Relay
    from reputation.config import Settings
    from reputation.ingest import ingest_lines
    from tests.unit.test_kafka_edge import FakeProducer

    m = market(tick="2025-02-01")
    store, proj = m.store(), m.projections()
    sent = []
    # the relay runs as the clock moves on (cursors between runs), the history once at the end
    for tick in ("2025-04-14", "2025-08-01", "2026-01-01"):
        line = {"type": "ClockAdvanced", "event_id": f"t-{tick}", "occurred_at": f"{tick}T00:00:00Z"}
        assert not ingest_lines(store, [json.dumps({**line, "to": line["occurred_at"]}).encode()]).rejects
        producer = FakeProducer()
        Relay(Settings(kafka="x:1"), store, proj, producer=producer).run()
        sent += [json.loads(v) for topic, _, v, _ in producer.sent if topic == "score-changes"]
    history = proj.published_history("f-1", "freelancer")
    assert sent == history
    flips = [(e["published_at"], e["top_rated_after"], [c["kind"] for c in e["causes"]]) for e in history]
    flips = [f for f in flips if f[2] and f[2][-1].startswith("top_rated")]
    assert flips == [
        ("2025-04-14T00:00:00Z", True, ["top_rated_gained"]),
        ("2025-11-24T00:00:00Z", False, ["top_rated_lost"]),
    ]
    gained = next(e for e in history if e["published_at"] == "2025-04-14T00:00:00Z")
    assert gained["change_id"] == "f-1@2025-04-14T00:00:00Z"
    assert (gained["jss_before"], gained["jss_after"], gained["top_rated_before"]) == (100, 100, False)
    public = proj.published_history("f-1", "public")
    assert [
        (e["published_at"], e["top_rated_after"]) for e in public if e["top_rated_before"] != e["top_rated_after"]
    ] == [
        ("2025-04-14T00:00:00Z", True),
        ("2025-11-24T00:00:00Z", False),
    ]
