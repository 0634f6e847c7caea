"""A contract's life, planned when it opens: duration, scope change, money, close, feedback.

The whole schedule is planned at once and cut at the simulated end (a time-cut prefix of a
valid history is valid). Two things are decided only when they come due: the reopening of a
contract closed after a scope change (`SPAWN`) and the top-rated perk removal (`PERK`).
Every draw comes from the freelancer's own random stream, in a fixed order.
"""

from __future__ import annotations

import math
import random

from engine.simulate.clients import Clients
from engine.simulate.clock import DAY, HOUR, MINUTE
from engine.simulate.feedback import plan_aftermath, plan_feedback
from engine.simulate.model import CLOSE, PAY, PRIV, PUB, SCOPE, SPAWN, Contract, Freelancer, Plan
from engine.simulate.money import plan_bonus_and_refund, plan_payments

_SCOPES = (
    "Added a second milestone for the mobile layout",
    "Client asked for extra integrations",
    "Deadline moved and deliverables reduced",
    "New requirements after the first review",
    "Budget increased for additional pages",
    "Switched the database from MySQL to PostgreSQL",
)


def plan_contract(fl: Freelancer, t0: int, prev: Contract | None, clients: Clients, end: int) -> Contract:
    """A contract of `fl` opened at `t0` (continuing `prev`, when given) with its whole schedule."""
    rng = fl.rng
    r = rng.random
    c = Contract()
    c.fl = fl
    c.pos = 0
    c.cid = None
    c.continues = prev.cid if prev is not None else None  # opened (and numbered) already
    if prev is not None:
        c.client = prev.client
        c.pricing = prev.pricing
    else:
        c.client = clients.pick(fl)
        c.pricing = "hourly" if r() < 0.3 else "fixed"
    c.kid = clients.kid(c.client)
    harsh = clients.is_harsh(c.client)
    hourly = c.pricing == "hourly"
    cls = _outcome_class(r, fl.quality, harsh)
    close = t0 + int(_duration_days(rng, hourly) * DAY)

    plan = Plan(t0)
    scoped_at = _scope_change(plan, r, t0, close)
    reopen = scoped_at is not None and r() < 0.4
    if reopen and scoped_at is not None:  # closed as no longer needed soon after, continued by a new contract
        close = scoped_at + HOUR + int(r() * 3 * DAY)
        if cls == 2 and not harsh:
            cls = 0 if r() < 0.6 else 1
    pays, zero = plan_payments(plan, rng, hourly, t0, close, reopen, fl.hourly_rate)
    client_reason = _plan_close(plan, r, close, cls, reopen)
    plan_bonus_and_refund(plan, r, pays, close, bad=cls == 2)
    fb = plan_feedback(plan, rng, cls, harsh, zero, close, client_reason)
    busy = plan_aftermath(plan, r, fb, close, fl.top_rated, pays)
    if reopen:
        plan.add(close + 5 * MINUTE + int(r() * 2 * DAY), SPAWN)
    c.plan = _arrivals(plan.entries, r, end, close, late_ok=not busy and not reopen)
    return c


def _outcome_class(r, quality: float, harsh: bool) -> int:
    """0 good, 1 meh, 2 bad: better freelancers have fewer bad contracts, harsh clients only bad."""
    if harsh:
        return 2
    x = r()
    p_bad = 0.03 + 0.22 * (1 - quality)
    p_meh = 0.06 + 0.2 * (1 - quality)
    return 2 if x < p_bad else 1 if x < p_bad + p_meh else 0


def _duration_days(rng: random.Random, hourly: bool) -> float:
    """Fixed-price contracts last days to weeks (at most 90 days); hourly ones up to a year."""
    r = rng.random
    if not hourly:
        return min(90.0, 2 + math.exp(rng.gauss(math.log(14), 0.8)))
    x = r()
    if x < 0.45:
        return 10 + r() * 50
    if x < 0.68:
        return 60 + r() * 35
    if x < 0.9:
        return 95 + r() * 90
    return 185 + r() * 240


def _scope_change(plan: Plan, r, t0: int, close: int) -> int | None:
    """Sometimes a scope change while the contract runs; its time, or None."""
    if not (r() < 0.12 and close - t0 > 2 * DAY):
        return None
    ts = t0 + int((0.2 + 0.6 * r()) * (close - t0))
    plan.add(ts, SCOPE, _SCOPES[int(r() * len(_SCOPES))] if r() < 0.8 else None)
    return ts


def _plan_close(plan: Plan, r, close: int, cls: int, reopen: bool) -> str:
    """Who closes and why; returns the client's own reason (given as end_reason, or implied)."""
    if reopen:
        closed_by, reason = "client", "no_longer_needed"
    else:
        x = r()
        if x < 0.83:
            closed_by = "client"
            reason = _client_reason(cls, r)
        elif x < 0.95:
            closed_by = "freelancer"
            y = r()
            reason = "completed_successfully" if y < 0.6 else "client_unresponsive" if y < 0.85 else "other"
        else:
            closed_by = "platform"
            y = r()
            reason = "client_unresponsive" if y < 0.4 else "freelancer_unresponsive" if y < 0.7 else "other"
    plan.add(close, CLOSE, (closed_by, reason))
    if closed_by == "client":
        return reason
    return _client_reason(cls, r)


def _client_reason(cls: int, r) -> str:
    x = r()
    if cls == 0:
        return (
            "completed_successfully"
            if x < 0.9
            else "no_longer_needed"
            if x < 0.95
            else "hired_someone_else"
            if x < 0.97
            else "other"
        )
    if cls == 1:
        return (
            "completed_successfully"
            if x < 0.7
            else "no_longer_needed"
            if x < 0.85
            else "other"
            if x < 0.95
            else "completed_unsuccessfully"
        )
    return (
        "freelancer_unresponsive"
        if x < 0.22
        else "freelancer_lacked_skills"
        if x < 0.44
        else "completed_unsuccessfully"
        if x < 0.64
        else "completed_successfully"
        if x < 0.82
        else "no_longer_needed"
        if x < 0.94
        else "other"
    )


def _arrivals(entries: list, r, end: int, close: int, late_ok: bool) -> list:
    """Sorted, cut at the end, with arrival keys: (arrival, occurred, kind, payload).

    Arrival follows occurrence, except that sometimes one payment or feedback after the close
    arrives 1-5 weeks late (and the contract's later events after it).
    """
    entries.sort()
    if entries[-1][0] >= end:
        entries = [e for e in entries if e[0] < end]
    late_at = -1
    if late_ok and r() < 0.08:
        cands = [j for j, e in enumerate(entries) if e[0] > close and e[2] in (PAY, PUB, PRIV)]
        if cands:
            late_at = cands[int(r() * len(cands))]
    out = []
    key = 0
    for j, (t, _order, kind, payload) in enumerate(entries):
        if j == late_at:
            key = max(key, t + int((7 + r() * 28) * DAY))
        elif t > key:
            key = t
        out.append((key, t, kind, payload))
    return out
