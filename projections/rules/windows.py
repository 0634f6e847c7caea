"""Which contracts count, with what outcome and weight, and how long they stay in a window
(rules.md). Deadlines at an instant (window exit) take effect at the instant itself.
Weights are kept in quarters, so every value is exact.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from reputation import clock
from reputation.clock import DAY
from reputation.outcome import LONG_TERM, Cut, Reason, Signals, Usual, View, is_long_term, outcome, signals
from reputation.rulesets import RuleSet

WINDOWS = (6, 12, 24)


@lru_cache(maxsize=1 << 16)
def window_exit(closed_at: int, months: int) -> int:
    """add_months(closed_at, N) + 1 day: the first instant the contract is out of the window."""
    return clock.to_micros(clock.add_months(clock.to_datetime(closed_at), months)) + DAY


def weight4(v: View, rules: RuleSet) -> int:
    """The contract's weight in quarters (4 = 1.0)."""
    if not rules.weighted:
        return 4
    e = max(v.earnings, 0)
    base = 4 if e <= 250_00 else 5 if e <= 1000_00 else 6
    if v.first_paid is not None:
        base += 4 * ((v.last_paid - v.first_paid) // LONG_TERM)  # type: ignore[operator]
    return min(base, 32)


class Assessment(NamedTuple):
    contract_id: str
    client_id: str
    counted: bool
    outcome: str | None  # None when not settled
    weight4: int
    why: list[Reason]  # rendered per audience by projections.audiences
    closed_at: int | None
    settled_at: int | None
    earnings: int
    exits: tuple[int, ...] = ()  # window_exit for 6, 12, 24 months (counted contracts)

    def in_window(self, at: int, months: int) -> bool:
        return at < self.exits[WINDOWS.index(months)]


def assess(
    v: View,
    cut: Cut,
    rules: RuleSet,
    flagged: bool,
    override: str | None = None,
    s: Signals | None = None,
    usual: Usual | None = None,
) -> Assessment:
    """`s` and `usual`: given by fair-2026 (projections.rules.fair), which reads more than `v`."""
    c = v.contract
    if v.settled_at is None or cut.at < v.settled_at:
        why = [Reason("open")] if v.closed_at is None else [Reason("not_settled")]
        return Assessment(c.id, c.client, False, None, 0, why, v.closed_at, v.settled_at, v.earnings)
    s = s or signals(v, rules, flagged)
    result, why = outcome(v, s, rules, usual)
    if s.stripped:
        why.insert(0, s.stripped)
    if s.note:
        why.append(s.note)
    if override in ("neutral", "positive", "negative"):
        result, why = override, [Reason("what_if", (override,))]
    counted = True
    if v.client_removed is not None and v.client_removed[0] == "top_rated_perk":
        counted, why = False, [Reason("excluded_perk")]
    elif override == "exclude":
        counted, why = False, [Reason("what_if_left_out")]
    elif rules.needs_signal_or_long_term and not (s.any or is_long_term(v)):
        counted, why = False, why + [Reason("excluded_no_signal", (rules.name,))]
    elif not rules.needs_signal_or_long_term and not (v.earnings > 0 or s.any):
        counted, why = False, why + [Reason("excluded_zero_no_signal")]
    if counted and rules.zero_only_if_negative and v.earnings <= 0 and result != "negative":
        counted, why = False, why + [Reason("excluded_zero_not_negative", (rules.name,))]
    exits = tuple(window_exit(v.closed_at, m) for m in WINDOWS) if counted else ()
    return Assessment(
        c.id,
        c.client,
        counted,
        result,
        weight4(v, rules) if counted else 0,
        why,
        v.closed_at,
        v.settled_at,
        v.earnings,
        exits,
    )
