"""Feedback of a contract: both sides' public and private answers, revisions, removals, the perk.

Clients are generous in public (mostly 5 stars) and more candid in private; harsh clients rate
low everywhere. Everything is submitted inside the 14-day feedback window after the close.
"""

from __future__ import annotations

import random

from engine.simulate.clock import DAY, HOUR, MINUTE, PERK_END, WINDOW
from engine.simulate.model import ALLOW, PERK, PRIV, PUB, REMOVE, REVISE, Freelancer, Plan
from engine.simulate.money import Payments
from reputation.events import Attributes

_ATTRS = ("skills", "quality", "availability", "deadlines", "communication", "cooperation")
_GOOD = (
    "Great work, delivered on time.",
    "Excellent communication and quality. Will hire again!",
    "A pleasure to work with.",
    "Very professional, highly recommended.",
    "Did exactly what was needed.",
)
_MEH = (
    "Good work overall, a few delays.",
    "Got the job done.",
    "OK, needed some back and forth.",
)
_BAD = (
    "Missed deadlines and the result needed rework.",
    "Communication was difficult.",
    "Not what we asked for.",
    "Disappointing.",
)
_ABOUT_CLIENT = (
    "Clear requirements and fast payments.",
    "Great client, responsive and fair.",
    "Scope kept changing.",
    "Would work with again.",
)


class Feedback:
    """What was planned to be submitted (the later steps depend on it)."""

    __slots__ = ("c_pub", "f_pub", "c_priv", "f_priv", "recommend", "c_stars", "reveal", "last")
    c_pub: bool
    f_pub: bool
    c_priv: bool
    f_priv: bool
    recommend: int  # the client's private answer, when given
    c_stars: float | None  # the client's public stars
    reveal: int  # when the public feedback is revealed
    last: int  # the latest submission of either side (or the close)


def plan_feedback(
    plan: Plan, rng: random.Random, cls: int, harsh: bool, zero: bool, close: int, client_reason: str
) -> Feedback:
    """Which sides answer, in public and in private, and when (outcome class `cls`: 0 good, 2 bad)."""
    r = rng.random
    fb = Feedback()
    x = r()
    if zero:
        x = x * 0.6 + 0.4  # $0 contracts get less feedback
    if x < 0.70:
        fb.c_pub, fb.f_pub = True, True
    elif x < 0.80:
        fb.c_pub, fb.f_pub = True, False
    elif x < 0.89:
        fb.c_pub, fb.f_pub = False, True
    else:
        fb.c_pub, fb.f_pub = False, False
    fb.c_priv = r() < (0.9 if fb.c_pub else 0.45)
    fb.f_priv = r() < 0.5
    if cls == 0:
        fb.recommend = 10 if r() < 0.7 else 9
    elif cls == 1:
        fb.recommend = 7 if r() < 0.5 else 8
    else:
        fb.recommend = int(r() * (6 if harsh else 7))
    public = _client_stars(cls, harsh, r) if fb.c_pub else None
    fb.c_stars = public[0] if public is not None else None
    fb.last = close
    t_client = t_freelancer = None
    if fb.c_pub or fb.c_priv:
        t_client = _client_side(plan, rng, fb, close, public, client_reason)
    if fb.f_pub or fb.f_priv:
        t_freelancer = _freelancer_side(plan, rng, fb, close, harsh)
    # revealed at the later submission when both sides gave public feedback, else at day 14
    fb.reveal = (
        max(t_client, t_freelancer)
        if t_client is not None and t_freelancer is not None and fb.c_pub and fb.f_pub
        else close + WINDOW
    )
    return fb


def _submitted_at(rng: random.Random, close: int, mean_days: float) -> int:
    """A side's submission time: a few days after the close, strictly inside the window."""
    return min(close + WINDOW - HOUR - 10 * MINUTE, close + HOUR + int(rng.expovariate(1 / mean_days) * DAY))


def _client_side(plan: Plan, rng: random.Random, fb: Feedback, close: int, public, client_reason: str) -> int:
    r = rng.random
    t = _submitted_at(rng, close, 2.5)
    if fb.c_pub:
        plan.add(t, PUB, ("client", *public))
    if fb.c_priv:
        end_reason = client_reason if r() < 0.4 else None
        tp = t + 1 + int(r() * 5 * MINUTE)
        plan.add(tp, PRIV, ("client", fb.recommend, end_reason))
        fb.last = max(fb.last, tp)
    fb.last = max(fb.last, t)
    return t


def _freelancer_side(plan: Plan, rng: random.Random, fb: Feedback, close: int, harsh: bool) -> int:
    r = rng.random
    t = _submitted_at(rng, close, 3.0)
    if fb.f_pub:
        stars = 5.0 if r() < 0.75 else round(3.0 + 2.0 * r(), 1)
        if harsh:
            stars = round(1.0 + 2.5 * r(), 1)
        comment = _ABOUT_CLIENT[int(r() * len(_ABOUT_CLIENT))] if r() < 0.4 else None
        plan.add(t, PUB, ("freelancer", stars, None, comment))
    if fb.f_priv:
        rec = int(r() * 5) if harsh else 6 + int(r() * 5)
        tp = t + 1 + int(r() * 5 * MINUTE)
        plan.add(tp, PRIV, ("freelancer", rec, None))
        fb.last = max(fb.last, tp)
    fb.last = max(fb.last, t)
    return t


def _client_stars(cls: int, harsh: bool, r) -> tuple[float, Attributes | None, str | None]:
    """Public stars of the client about the freelancer (generous, unlike the private answer)."""
    if harsh:
        stars = round(1.0 + 2.0 * r(), 1)
        lo, hi = 1, 3
    elif cls == 0:
        stars = 5.0 if r() < 0.9 else round(4.5 + 0.45 * r(), 2)
        lo, hi = 4, 5
    elif cls == 1:
        stars = 5.0 if r() < 0.45 else round(4.0 + 0.9 * r(), 2)
        lo, hi = 3, 5
    elif r() < 0.4:  # dissatisfied, but polite in public
        stars = 5.0 if r() < 0.4 else round(4.0 + 0.95 * r(), 2)
        lo, hi = 3, 5
    else:
        stars = round(1.0 + 2.5 * r(), 2)
        lo, hi = 1, 4
    attrs = None
    if r() < 0.6:
        if stars == 5.0:
            vals = [5] * 6
        else:
            vals = [max(lo, min(hi, int(stars + r() * 1.2 - 0.4))) for _ in range(6)]
        attrs = Attributes(**dict(zip(_ATTRS, vals)))
    pool = _GOOD if stars >= 4.5 else _MEH if stars >= 3.5 else _BAD
    comment = pool[int(r() * len(pool))] if r() < 0.7 else None
    return stars, attrs, comment


def plan_aftermath(plan: Plan, r, fb: Feedback, close: int, top_rated: bool, pays: Payments) -> bool:
    """At most one of a revision, a removal or a top-rated perk removal; True when one is planned."""
    if fb.c_pub and fb.c_stars is not None and r() < 0.04:
        # the freelancer lets the client revise (usually after sorting out a dispute)
        a, t = _allow_revision(plan, r, fb.reveal, "freelancer")
        stars = max(fb.c_stars, 5.0 if r() < 0.6 else min(5.0, round(fb.c_stars + 1.0, 2)))
        plan.add(t, REVISE, ("client", stars, None, "Updated after we resolved the issues."))
        if r() < 0.15:
            t2 = t + int((0.1 + r() * 2) * DAY)
            if t2 < a + WINDOW:
                plan.add(t2, REVISE, ("client", 5.0, None, "Updated again: very happy."))
        return True
    if fb.f_pub and r() < 0.012:
        _, t = _allow_revision(plan, r, fb.reveal, "client")
        plan.add(t, REVISE, ("freelancer", 5.0, None, None))
        return True
    if r() < 0.012 and _removal(plan, r, fb):
        return True
    if (
        top_rated
        and fb.c_priv
        and fb.recommend <= 8
        and (not pays or pays[-1][0] - pays[0][0] < 90 * DAY)
        and r() < 0.6
    ):
        # the top-rated perk: only ever on a contract whose outcome is negative or neutral
        # (private feedback given, recommend <= 8, not long-term); decided when due
        t = close + WINDOW + int((1 + r() * 45) * DAY)
        if t < PERK_END:
            plan.add(t, PERK, "jss_and_profile" if r() < 0.5 else "jss_only")
        return True
    return False


def _allow_revision(plan: Plan, r, reveal: int, by: str) -> tuple[int, int]:
    """`by` allows the other side to revise after the reveal: (allowed at, revised at)."""
    a = reveal + int((0.05 + r() * 10) * DAY)
    plan.add(a, ALLOW, by)
    return a, a + int((0.01 + r() * 8) * DAY)


def _removal(plan: Plan, r, fb: Feedback) -> bool:
    """A removal by policy or dispute, after every submission; the side must have given feedback."""
    if (fb.c_pub or fb.c_priv) and (r() < 0.75 or not (fb.f_pub or fb.f_priv)):
        of = "client"
    elif fb.f_pub or fb.f_priv:
        of = "freelancer"
    else:
        return False
    t = fb.last + int((1 + r() * 40) * DAY)
    basis = "policy_violation" if r() < 0.6 else "dispute_upheld"
    scope = "jss_and_profile" if r() < 0.7 else "jss_only"
    plan.add(t, REMOVE, (of, basis, scope))
    return True


def note_close(fl: Freelancer, t: int) -> None:
    """Count a close towards the next perk removal (the perk needs 10 since the last one)."""
    if fl.last_perk is None or t > fl.last_perk:
        fl.closes_since_perk += 1


def take_perk(fl: Freelancer, t: int) -> bool:
    """Whether a due perk removal is allowed: first, or >= 90 days and >= 10 closes after the last."""
    if t >= PERK_END:
        return False
    if fl.last_perk is not None and (t - fl.last_perk < 90 * DAY or fl.closes_since_perk < 10):
        return False
    fl.last_perk = t
    fl.closes_since_perk = 0
    return True
