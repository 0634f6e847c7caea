"""The projector's Top Rated part (projections/toprated.py has the rule): after a freelancer's
scores or earnings change, the badge is recomputed for the Mondays from the earliest affected
one up to the clock and compared with what the ledger says; a difference is a ledger entry
(the JSS and feedback as they were, the badge flipped). One deadline per freelancer: the next
Monday at which the badge would flip if nothing new happened.
"""

from __future__ import annotations

import bisect
import heapq
from typing import TYPE_CHECKING, Any

import msgspec

from projections import toprated
from projections.ledger import Cause, ScoreChange
from projections.timeline import any_deadline_at
from reputation import events as ev
from reputation.clock import INF

if TYPE_CHECKING:
    from projections.projector import Freelancer
    from projections.timeline import Happening


class Badges:
    # set by the Projector
    contracts: dict[str, Any]
    heap: list[tuple[int, str]]
    new_deadlines: list[tuple[int, str]]
    ledger: list[ScoreChange]
    dirty_freelancers: set[str]
    _due: list[tuple[int, str]]
    money: dict[str, toprated.Money]
    _scheduled: dict[str, int]
    _target: int
    seq: int
    _n: int
    freelancer: Any
    contracts_of: Any
    _reconcile_at: Any
    published: toprated.Published  # the publication schedule the projections are built with

    def _pass_deadlines(self, due: list[tuple[int, str]], target: int, pos: int, rec: ev.Recorded) -> None:
        """Take the deadlines (at, freelancer) up to `target` in time order; a badge flip found on
        the way (_schedule) joins them."""
        self._due, self._target, done = due, target, set()
        while self._due:
            d = heapq.heappop(self._due)
            if d in done:
                continue
            done.add(d)
            at, fid = d
            f = self.freelancer(fid)
            grown = len(f.timeline)
            if any_deadline_at(self.contracts_of(f), at, pos - 1):  # else a badge's own: the JSS stands
                self._reconcile_at(f, at, pos - 1, pos, rec, None)
            self._badge_deadline(f, at, len(f.timeline) != grown, pos, rec)
        self._target = -INF

    def _badge_deadline(self, f: Freelancer, at: int, grown: bool, pos: int, rec: ev.Recorded) -> None:
        """The clock reached a deadline of `f` at `at`: a Monday is an evaluation."""
        if grown or at == toprated.monday_at_or_before(at):
            self._badges(f, at, at, pos, rec, None, predict=grown)

    def _badges(
        self, f: Freelancer, lo: int, hi: int, pos: int, rec: ev.Recorded, late: Happening | None, predict=True
    ) -> None:
        """Make the ledger's badge agree with the rule at every instant of [lo, hi]: at each
        Monday and at each entry (an entry carries the badge of its time) from the first Monday
        at or after `lo` (the badge of an earlier Monday does not depend on what changed)."""
        money = self._money_of(f)
        evals: dict[int, toprated.Evaluation] = {}
        grown = len(f.timeline)
        first = toprated.monday_at_or_after(lo)
        points = set(range(first, hi + 1, toprated.WEEK))
        i = bisect.bisect_left(f.timeline, first, key=lambda e: e.at)
        points.update(e.at for e in f.timeline[i:] if e.at <= hi)
        for x in sorted(points):
            m = toprated.monday_at_or_before(x)
            if m not in evals:
                evals[m] = toprated.evaluate(f.timeline, money, m, self.published)
            e = evals[m]
            prev = f.lookup(x)
            if prev is None or prev.top == e.top:  # no entry yet: no JSS, so no badge either
                continue
            self._write_badge(f, x, prev, e, pos, rec, late)
        if predict or len(f.timeline) != grown:
            now = f.lookup(hi)
            flip = toprated.next_flip(f.timeline, money, hi, now.top if now else False, self.published)
            if flip is not None and self._scheduled.get(f.id) != flip:  # once is enough
                self._scheduled[f.id] = flip
                self._schedule(flip, f.id)

    def _badge_at(self, f: Freelancer, at: int) -> toprated.Evaluation:
        """The badge at `at` (its Monday's evaluation) from the timeline as it stands."""
        return toprated.evaluate(f.timeline, self._money_of(f), toprated.monday_at_or_before(at), self.published)

    def _money_of(self, f: Freelancer) -> toprated.Money:
        """toprated.money_of, kept per freelancer (a payment or refund is added by _earned)."""
        money = self.money.get(f.id)
        if money is None:
            money = self.money[f.id] = toprated.money_of(self.contracts[c] for c in f.contracts)
        return money

    def _earned(self, fid: str, at: int, cents: int) -> None:
        money = self.money.get(fid)
        if money is not None:
            bisect.insort(money, (at, cents))

    def _schedule(self, at: int, fid: str) -> None:
        if at <= self._target:  # the clock is moving past it now
            heapq.heappush(self._due, (at, fid))
        else:
            heapq.heappush(self.heap, (at, fid))
            self.new_deadlines.append((at, fid))

    def _write_badge(self, f: Freelancer, x: int, prev, e: toprated.Evaluation, pos, rec, late) -> None:
        self.seq += 1
        entry = msgspec.structs.replace(prev, at=x, seq=self.seq, top=e.top)
        f.record(entry)
        self.dirty_freelancers.add(f.id)
        causes = [late_cause(late)] if late is not None and late.at < x else []  # a late event restates a later point
        causes.extend(badge_causes(e))
        self._append_change(f.id, prev, entry, pos, rec, causes)

    def _append_change(self, fid: str, prev, entry, pos: int, rec: ev.Recorded, causes: list[Cause]) -> None:
        """The ledger entry for the move from timeline entry `prev` (None: nothing shown yet) to
        `entry`, the n-th change caused by log position `pos`."""
        self.ledger.append(
            ScoreChange(
                seq=entry.seq,
                change_id=f"{pos}.{self._n}",
                freelancer_id=fid,
                rules=entry.rules,
                effective_at=ev.format_time(entry.at),
                recorded_at=rec.recorded_at,
                position=pos,
                jss_before=prev.jss if prev else None,
                jss_after=entry.jss,
                jss_exact_before=prev.exact if prev else None,
                jss_exact_after=entry.exact,
                feedback_before=prev.fb / 100 if prev and prev.fb is not None else None,
                feedback_after=entry.fb / 100 if entry.fb is not None else None,
                causes=causes,
                top_rated_before=prev.top if prev else False,
                top_rated_after=entry.top,
            )
        )
        self._n += 1


def late_cause(late: Happening, jss: tuple[float | None, float | None] | None = None) -> Cause:
    """A late event's cause at a later point it restates; `jss`: the exact JSS before and after,
    when the point is a JSS change the late event carries."""
    before, after = jss or (None, None)
    return Cause(
        at=ev.format_time(late.at),
        kind="late_event",
        event_id=late.event_id,
        contract_id=late.contract_id,
        client_id=late.client_id,
        text=f"late event {late.event_id} (occurred {ev.format_time(late.at)}) changed the history",
        jss_before=before,
        jss_after=after,
        jss_delta=None if jss is None else (after or 0.0) - (before or 0.0),
    )


def badge_causes(e: toprated.Evaluation) -> list[Cause]:
    return [Cause(at=ev.format_time(e.at), kind=k, text=t) for k, t in toprated.causes(e)]
