"""Money of a contract: hourly invoices or fixed-price milestones, a bonus after close, refunds.

Amounts are planned in cents; `money` turns them into the two-decimal `Decimal` of the events.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

from engine.simulate.clock import DAY, HOUR
from engine.simulate.model import PAY, REFUND, Plan

Payments = list[tuple[int, int]]  # (time, cents)


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def plan_payments(
    plan: Plan, rng: random.Random, hourly: bool, t0: int, close: int, reopen: bool, hourly_rate: int
) -> tuple[Payments, bool]:
    """The payments up to the close, and whether it is a $0 contract (no payment at all)."""
    zero = rng.random() < (0.02 if hourly else 0.06)
    if zero:
        return [], True
    if hourly:
        pays = _hourly(rng, t0, close, hourly_rate)
    else:
        pays = _milestones(rng, t0, close, reopen)
    for t, cents in pays:
        plan.add(t, PAY, money(cents))
    return pays, False


def _hourly(rng: random.Random, t0: int, close: int, hourly_rate: int) -> Payments:
    """Weekly or fortnightly invoices of the hours worked, some weeks idle, often a last one."""
    r = rng.random
    pays: Payments = []
    cadence = 7 * DAY if r() < 0.4 else 14 * DAY
    t = t0 + cadence
    per_week = 5 + r() * 30
    while t < close:
        if r() < 0.92:
            hours = per_week * (cadence / (7 * DAY)) * (0.6 + 0.8 * r())
            pays.append((t, max(100, int(hours * hourly_rate))))
        t += cadence
    if not pays or r() < 0.5:
        t = close - int((1 + r() * 20) * HOUR)
        if t <= t0 or (pays and t <= pays[-1][0]):
            t = close - 1
        hours = per_week * (0.2 + 0.8 * r())
        pays.append((t, max(100, int(hours * hourly_rate))))
    return pays


def _milestones(rng: random.Random, t0: int, close: int, reopen: bool) -> Payments:
    """A budget paid in 1-3 equal milestones, the last one shortly before the close."""
    r = rng.random
    budget = int(math.exp(rng.gauss(math.log(450), 1.0)) * 100)
    budget = max(500, min(budget, 5_000_000))
    n = 1 if r() < 0.55 else 2 if r() < 0.65 else 3
    if reopen:  # closed early after a scope change, to be continued: one payment
        n = 1
    last = close - int((0.5 + r() * 20) * HOUR)
    if last <= t0:
        last = t0 + (close - t0) // 2
    return [(t0 + (last - t0) * (j + 1) // n, budget // n) for j in range(n)]


def plan_bonus_and_refund(plan: Plan, r, pays: Payments, close: int, bad: bool) -> None:
    """Sometimes a bonus after the close (appended to `pays`), sometimes a refund of some paid."""
    if pays and r() < 0.1:
        t = close + HOUR + int(r() * 12 * DAY)
        cents = max(500, int(sum(p[1] for p in pays) * (0.05 + 0.15 * r())))
        pays.append((t, cents))
        plan.add(t, PAY, money(cents))
    if pays and r() < (0.06 if bad else 0.025):
        first = pays[0][0]
        t = first + HOUR + int(r() * (close + 30 * DAY - first))
        paid = sum(p[1] for p in pays if p[0] < t)
        if paid > 0:
            cents = paid if r() < 0.3 else max(1, int(paid * (0.1 + 0.6 * r())))
            plan.add(t, REFUND, money(cents))
