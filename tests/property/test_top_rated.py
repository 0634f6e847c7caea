"""The ledger's Top Rated entries against an independent weekly replay (hypothesis): for each
Monday up to the clock as the log stood at a position K, the displayed JSS as published at
each of the last 16 Mondays (evaluated from a fold of the log prefix at the latest 1st or 15th,
00:00 UTC, at or before the Monday), the earnings summed from the log's own
payment and refund events, and the rule of rules.md applied here, not by projections.toprated."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from projections.projector import Entry, Freelancer
from projections.publication import Policy
from projections.replay import clock_at, fold
from projections.rules.fair import ClientFacts
from projections.rules.score import evaluate
from reputation import events as ev
from reputation.outcome import Cut
from tests.property.histories import careers, histories
from tests.property.test_projection_properties import log_of, project

WEEK = 7 * ev.DAY
A_MONDAY = ev.parse_time("2024-01-01T00:00:00Z")
PUBLISHED = Policy().published_at  # the default days, those the projections are built with here


def a_year_later(t: int) -> int:
    d = datetime.fromtimestamp(t / 1e6, UTC).replace(tzinfo=None)
    day = min(d.day, calendar.monthrange(d.year + 1, d.month)[1])
    return t + int((d.replace(year=d.year + 1, day=day) - d).total_seconds()) * 1_000_000


def expected_badges(rows, k: int) -> dict[str, dict[int, bool]]:
    by_freelancer, flags = fold(rows, k)
    clock = clock_at(rows, k)
    facts = ClientFacts.of(flags, [c for cs in by_freelancer.values() for c in cs])
    owner = {c.id: fid for fid, cs in by_freelancer.items() for c in cs}
    money: dict[str, list[tuple[int, int]]] = {}
    for _, data in rows[:k]:
        e = ev.decode_recorded(data).event
        if isinstance(e, (ev.PaymentMade, ev.PaymentRefunded)):
            cents = round(float(e.amount) * 100) * (1 if isinstance(e, ev.PaymentMade) else -1)
            money.setdefault(owner[e.contract_id], []).append((e.at, cents))
    first = min(ev.decode_recorded(d).event.at for _, d in rows[:k])
    monday = first + (A_MONDAY - first) % WEEK
    out: dict[str, dict[int, bool]] = {}
    for fid, contracts in by_freelancer.items():
        # the JSS published at every Monday from 15 weeks before the first evaluation
        shown = {
            w: evaluate(contracts, facts, Cut(PUBLISHED(w))).jss for w in range(monday - 15 * WEEK, clock + 1, WEEK)
        }
        badges = out[fid] = {}
        for m in range(monday, clock + 1, WEEK):
            good = sum(1 for i in range(16) if (j := shown[m - i * WEEK]) is not None and j >= 90)
            earned = sum(c for at, c in money.get(fid, []) if at <= m < a_year_later(at))
            badges[m] = good >= 13 and earned >= 1000_00
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(careers(), histories()), st.data())
def test_ledger_top_rated_equals_a_weekly_replay(lines, data):
    rows = log_of(lines)
    if not rows:
        return
    repo = project(rows)
    k = data.draw(st.one_of(st.just(len(rows)), st.integers(1, len(rows))), label="K")
    timelines: dict[str, Freelancer] = {}
    for ch in repo.ledger_after(0, 10**9):
        if ch.position <= k:
            timelines.setdefault(ch.freelancer_id, Freelancer(ch.freelancer_id)).record(
                Entry(ev.parse_time(ch.effective_at), ch.seq, ch.jss_after, None, None, ch.rules, ch.top_rated_after)
            )
            kinds = {c.kind for c in ch.causes}
            if ch.top_rated_before != ch.top_rated_after:  # says why (alone, or with a JSS change)
                assert ("top_rated_gained" if ch.top_rated_after else "top_rated_lost") in kinds
            else:
                assert not kinds & {"top_rated_gained", "top_rated_lost"}
    expected = expected_badges(rows, k)
    for fid, badges in expected.items():
        f = timelines.get(fid, Freelancer(fid))
        probes = {m: top for m, top in badges.items()}  # each Monday, and each entry in between
        probes.update({e.at: badges.get(e.at - (e.at - A_MONDAY) % WEEK, False) for e in f.timeline})
        for t, top in sorted(probes.items()):
            if t > clock_at(rows, k):
                continue
            got = f.lookup(t)
            assert (got.top if got else False) == top, (fid, ev.format_time(t), k)
        event("badge held" if any(badges.values()) else "no badge")
