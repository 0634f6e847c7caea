"""The freelancer-audience stream: the published score changes on the topic `score-changes`.

The ledger (every instant, every cause with its private values) goes to `score-changes.trust`
(consumers.relay). What services that show scores to people read is the score as *published*:
at each publication instant (00:00 UTC on the 1st and the 15th by default) that the engine clock
has passed, one message per freelancer whose published JSS, its visibility or feedback score
changed since the previous instant, and at each Monday whose Top Rated evaluation flipped the
badge (it reads published JSS only, so its Monday tells nothing private): key = freelancer id,
header `change_id` = `<freelancer>@<published_at>` (stable across re-sends and rebuilds; a
ledger change id would name the log position, i.e. the event, that moved the score), value =
projections.published.PublishedChange with the freelancer-audience causes, the same entries as
`history --audience freelancer` (projections.published_badge).

Cursors (projection store): `relay:<topic>:published`, the last instant sent
(microseconds), `relay:<topic>:seq`, the ledger seq seen then, and `relay:<topic>:from`, the seq
after which ledger entries may still matter (those effective after the last sent instant, or
recorded since). They move only after the broker acknowledged every message of an instant, so a
crash re-sends at most that instant's messages, with the same ids. A late event (recorded after
an instant was sent, effective before it) shows in the next instant's message, whose
`jss_before` is the value as it was sent.
"""

from __future__ import annotations

import bisect
from typing import Callable

import msgspec

from projections import published_badge
from projections.ledger import ScoreChange
from projections.published import PublishedChange, to_json
from projections.rules.score import evaluate
from projections.toprated import monday_at_or_before
from reputation.clock import INF, parse_time
from reputation.outcome import Cut

PAGE = 5000

Value = tuple[int | None, float | None]  # the displayed JSS and feedback score
Shown = tuple[Value, bool]  # as published, and the badge


class Ledger:
    """One freelancer's ledger read as 'the latest entry at or before ts' (as jss_as_of)."""

    def __init__(self, entries: list[ScoreChange]):
        rows = sorted((parse_time(e.effective_at), e.position, e.seq, e) for e in entries)
        self.keys = [r[0] for r in rows]
        self.rows = rows

    def entry(self, at: int, max_seq: int = INF) -> ScoreChange | None:
        i = bisect.bisect_right(self.keys, at)
        for _, _, seq, e in reversed(self.rows[:i]):
            if seq <= max_seq:
                return e
        return None

    def shown(self, x: int, policy, max_seq: int = INF) -> Shown:
        """What the freelancer saw at instant x: the score published then, the badge of x."""
        e, b = self.entry(policy.published_at(x), max_seq), self.entry(x, max_seq)
        return ((e.jss_after, e.feedback_after) if e else (None, None)), (b.top_rated_after if b else False)

    def timeline(self) -> list[published_badge.At]:
        return [published_badge.At(t, e.jss_after, e.top_rated_after) for t, _, _, e in self.rows]


class Publications:
    """Sends the due freelancer-facing instants (publication instants, and the Mondays of the
    Top Rated evaluations); `send(messages)` returns how many were acknowledged (all or it
    raises), in order."""

    def __init__(self, topic: str, projections, send: Callable[[list[tuple[str, str, bytes]]], int]):
        self.topic = topic
        self.proj = projections
        self.send = send
        self.names = {k: f"relay:{topic}:{k}" for k in ("published", "seq", "from")}
        self.published = 0

    def cursor(self, name: str) -> int:
        return self.proj.get_cursor(self.names[name])

    def _entries(self, after: int) -> list[ScoreChange]:
        out: list[ScoreChange] = []
        while True:
            page = self.proj.ledger_after(after, PAGE)
            if not page:
                return out
            out += page
            after = page[-1].seq

    def run_once(self) -> int:
        clock, policy = self.proj.clock, self.proj.policy
        if clock <= -INF:
            return 0
        done, seq_sent, since = self.cursor("published"), self.cursor("seq"), self.cursor("from")
        if done and max(policy.published_at(clock), monday_at_or_before(clock)) <= done:
            return 0  # no instant is due (the usual case of a relay --follow poll)
        entries = self._entries(since)
        if not entries:
            return 0
        max_seq = entries[-1].seq
        if done:
            lo = done
        else:
            first = min(parse_time(e.effective_at) for e in entries)
            lo = min(policy.published_at(first), monday_at_or_before(first)) - 1
        ledgers = {fid: Ledger(self.proj.history(fid)) for fid in sorted({e.freelancer_id for e in entries})}
        sent = 0
        prev: int | None = done or None
        for x in published_badge.instants(policy, lo, clock):
            messages = []
            for fid, ledger in ledgers.items():
                if prev is None:
                    before: Shown = ((None, None), False)
                elif prev == done:
                    before = ledger.shown(prev, policy, seq_sent)  # as it was sent
                else:
                    before = ledger.shown(prev, policy)
                if ledger.shown(x, policy) == before:
                    continue
                p0 = policy.published_at(prev) if prev is not None else policy.published_at(x - 1)
                change = self._change(fid, ledger, p0, x, before)
                messages.append((fid, change.change_id, to_json(change)))
            sent += self.send(messages) if messages else 0
            # ledger entries effective after the score published at x still matter
            later = [e.seq for e in entries if parse_time(e.effective_at) > policy.published_at(x)]
            self.proj.set_cursor(self.names["published"], x)
            self.proj.set_cursor(self.names["seq"], max_seq)
            self.proj.set_cursor(self.names["from"], min(later) - 1 if later else max_seq)
            prev = x
        self.published += sent
        return sent

    def _change(self, fid: str, ledger: Ledger, p0: int, x: int, before: Shown) -> PublishedChange:
        contracts, flags = self.proj.facts(fid)
        end = evaluate(contracts, flags, Cut(self.proj.policy.published_at(x)))
        value = (*before[0], before[1])
        entry = published_badge.change(
            contracts, flags, ledger.timeline(), p0, x, value, end, INF, self.proj.policy, fid, "freelancer"
        )
        return msgspec.convert(entry, PublishedChange)
