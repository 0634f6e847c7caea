"""The freelancer-facing changes with the Top Rated badge: a change is shown at each publication
instant that moved the published score (projections.freelancer_view) and at each Monday whose
evaluation flipped the badge (its weeks read published JSS only, projections.toprated), so the
instants and the values shown depend on nothing a private answer's timing could move. One entry
shape for `history --audience freelancer|public` and the Kafka topic score-changes.
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

from projections import freelancer_view, toprated
from projections.cache import Cache
from projections.publication import Policy
from projections.rules.score import Score, evaluate
from reputation import events as ev
from reputation.clock import INF
from reputation.outcome import Cut


class At(NamedTuple):
    """A ledger entry as the badge reads it."""

    at: int
    jss: int | None
    top: bool


def badge_at(timeline: list, t: int) -> bool:
    """The badge the ledger says at `t` (every entry carries the badge of its instant)."""
    i = bisect.bisect_right(timeline, t, key=lambda e: e.at)
    return bool(timeline[i - 1].top) if i else False


def instants(policy: Policy, lo: int, hi: int) -> list[int]:
    """The freelancer-facing instants in (lo, hi]: the publication instants and the Mondays."""
    mondays = range(toprated.monday_at_or_after(lo + 1), hi + 1, toprated.WEEK)
    return sorted(set(policy.instants(lo, hi)) | set(mondays))


def change(
    contracts: list,
    flags,
    timeline: list,
    p0: int,
    x: int,
    before: tuple[int | None, float | None, bool],
    end: Score,
    known: int,
    policy: Policy,
    freelancer_id: str,
    audience: str,
) -> dict:
    """The change at instant `x` from the value shown before (published JSS, feedback, badge):
    freelancer_view.change_entry for the published score at policy.published_at(x) since `p0`,
    the badge before and after, and for a flip its causes (weeks of published JSS, earnings)."""
    p1 = policy.published_at(x)
    entry = freelancer_view.change_entry(
        contracts, flags, p0, p1, before[:2], end, known, policy, freelancer_id, audience
    )
    top = badge_at(timeline, x)
    entry["change_id"], entry["published_at"] = f"{freelancer_id}@{ev.format_time(x)}", ev.format_time(x)
    entry["top_rated_before"], entry["top_rated_after"] = before[2], top
    if audience == "freelancer" and top != before[2]:
        e = toprated.evaluate(timeline, toprated.money_of(contracts, known), x, policy.published_at)
        entry["causes"] += [
            {"kind": k, "published_at": ev.format_time(x), "jss_delta": 0.0, "jss_delta_exact": "0", "text": t}
            for k, t in toprated.causes(e)
        ]
    return entry


def history(
    contracts: list,
    flags,
    timeline: list,
    first_at: int,
    clock: int,
    known: int,
    policy: Policy,
    freelancer_id: str,
    audience: str,
) -> list[dict]:
    """One entry per freelancer-facing instant at which the published JSS, its visibility, the
    feedback score or the badge changed, from the freelancer's first fact to the engine clock."""
    cache = Cache()
    last = policy.published_at(first_at)
    score = evaluate(contracts, flags, Cut(last, INF, known), None, cache=cache)
    top = badge_at(timeline, last)
    out = []
    for x in instants(policy, last, clock):
        p = policy.published_at(x)
        nxt = score if p == last else evaluate(contracts, flags, Cut(p, INF, known), None, cache=cache)
        now = badge_at(timeline, x)
        if nxt.shown != score.shown or now != top:
            before = (score.jss, freelancer_view._two(score.feedback), top)
            out.append(change(contracts, flags, timeline, last, x, before, nxt, known, policy, freelancer_id, audience))
        last, score, top = p, nxt, now
    return out
