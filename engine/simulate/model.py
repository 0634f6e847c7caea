"""What the simulation carries: freelancers, contracts and the planned schedule of a contract."""

from __future__ import annotations

import random

# The kinds of a planned contract event (the payload layout of each is noted).
OPEN = 0  # None
SCOPE = 1  # summary
PAY = 2  # Decimal amount
REFUND = 3  # Decimal amount
CLOSE = 4  # (closed_by, reason)
PUB = 5  # (by, stars, attributes, comment)
PRIV = 6  # (by, recommend, end_reason)
ALLOW = 7  # by
REVISE = 8  # (by, stars, attributes, comment)
REMOVE = 9  # (of, basis, scope)
PERK = 10  # scope; decided when due
SPAWN = 11  # None: open the continuation contract (no event of its own)


class Freelancer:
    """One freelancer's traits, its own random stream and its top-rated perk state."""

    __slots__ = (
        "fid",
        "rng",
        "quality",
        "rate",
        "hourly_rate",
        "leave_at",
        "top_rated",
        "recent",
        "last_perk",
        "closes_since_perk",
    )
    fid: str
    rng: random.Random
    quality: float
    rate: float  # contracts per day
    hourly_rate: int  # cents per hour
    leave_at: int
    top_rated: bool
    recent: list[int]  # clients of the last contracts (a client often hires again)
    last_perk: int | None
    closes_since_perk: int


class Contract:
    """A contract and its schedule `plan`: (arrival, occurred, kind, payload), `pos` the next."""

    __slots__ = ("cid", "fl", "client", "kid", "pricing", "continues", "plan", "pos")
    cid: str | None  # numbered when its ContractOpened is emitted
    fl: Freelancer
    client: int
    kid: str
    pricing: str
    continues: str | None
    plan: list[tuple[int, int, int, object]]
    pos: int


class Plan:
    """A contract's schedule while it is planned: (occurred, order, kind, payload) entries.

    `order` is the insertion number, so sorting keeps same-time events in planning order.
    """

    __slots__ = ("entries",)

    def __init__(self, t0: int) -> None:
        self.entries: list[tuple[int, int, int, object]] = [(t0, 0, OPEN, None)]

    def add(self, t: int, kind: int, payload: object = None) -> None:
        self.entries.append((t, len(self.entries), kind, payload))
