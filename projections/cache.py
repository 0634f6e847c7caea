"""The projector's shortcuts: per-contract views and assessments kept while a contract does
not change (`Cache`), and the contracts out of every window for good (`Archive`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from projections.rules.score import feedback_score
from projections.rules.windows import window_exit
from reputation.clock import INF
from reputation.contract import FEEDBACK_WINDOW, Contract
from reputation.outcome import Cut, View, view


class Cache:
    """Per-contract views and assessments, valid while the contract does not change.

    The projector owns one and calls `forget` when it folds an event into a contract;
    most evaluations look at a contract with all its facts visible, which this serves.
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, int, View | None, dict]] = {}

    def forget(self, contract_id: str) -> None:
        self.entries.pop(contract_id, None)

    def view(self, c: Contract, cut: Cut) -> tuple[View | None, dict | None]:
        entry = self.entries.get(c.id)
        if entry is None:
            full = view(c, Cut(INF))
            entry = self.entries[c.id] = (_max_pos(c), c.last_at, full, {})
        max_pos, last_at, full, memo = entry
        if cut.known >= max_pos and (cut.at > last_at or (cut.at == last_at and cut.pos >= max_pos)):
            return full, memo
        return view(c, cut), None


def _max_pos(c: Contract) -> int:
    pos = c.opened_pos
    facts: list = [
        *c.payments,
        *c.refunds,
        *c.client_public,
        *c.freelancer_public,
        *c.removals,
        *c.scope_changes,
        c.closed,
        c.client_private,
        c.freelancer_private,
        *c.edit_allowed.values(),
    ]
    for f in facts:
        if f is not None:
            pos = max(pos, f.pos)
    return pos


class Archive(NamedTuple):
    """Contracts out of every window for good (the projector's shortcut): from `since` on,
    and seen with everything up to `known`, they only add a constant to the feedback score."""

    since: int
    known: int
    ids: frozenset[str]
    fb_num: int  # as in feedback_score: stars x 10^6 x cents
    fb_den: int
    fb_exact: Fraction | None

    def applies(self, cut: Cut) -> bool:
        return cut.at >= self.since and cut.known >= self.known


def archive_of(contracts: list[Contract], cache: Cache, at: int, known: int) -> Archive | None:
    """The contracts that left the 24-month window (and whose last fact is) before `at`."""
    ids, num, den, exact, since, top = [], 0, 0, None, -INF, -INF
    for c in contracts:
        entry = cache.entries.get(c.id)
        if entry is None:
            cache.view(c, Cut(INF))
            entry = cache.entries[c.id]
        max_pos, last_at, v, _ = entry
        if v is None or v.closed_at is None or max_pos > known:
            continue
        done = max(window_exit(v.closed_at, 24), last_at, v.closed_at + FEEDBACK_WINDOW)
        if done > at:
            continue
        ids.append(c.id)
        since, top = max(since, done), max(top, max_pos)
        part = feedback_score([v], INF, raw=True)
        if part is not None:
            num, den = num + part[0], den + part[1]
            exact = part[2] if exact is None else (exact + part[2] if part[2] is not None else exact)
    if not ids:
        return None
    return Archive(since, top, frozenset(ids), num, den, exact)
