"""Contract, client and freelancer state, and the rules of events.md.

A `Contract` is a summary that remembers both times of every fact it holds: valid time
(`at`, microseconds) and transaction time (`pos`, log position; 0 while not yet written).
The write side checks new events against the latest state; the read side folds the very
same summaries and looks at them as of any (valid time, position). One fold, two uses.
"""

from __future__ import annotations

import msgspec

from reputation import events as ev
from reputation.clock import DAY

FEEDBACK_WINDOW = 14 * DAY
EDIT_WINDOW = 14 * DAY
BONUS_WINDOW = 14 * DAY
PERK_END = ev.parse_time("2024-09-03T00:00:00Z")


class RuleBroken(ValueError):
    """An event that breaks a rule of events.md (or rules.md); the message is one sentence."""


class Missing(RuleBroken):
    """A rule broken only because something the event depends on is not stored (yet): another
    contract, or enough closed contracts. A stream consumer may hold the event and retry it once
    more events arrived; `waiting_for` names what it waits for (e.g. "contract c-1")."""

    def __init__(self, message: str, waiting_for: str):
        super().__init__(message)
        self.waiting_for = waiting_for


def other(side: str) -> str:
    return "freelancer" if side == "client" else "client"


class Stars(msgspec.Struct, array_like=True):
    at: int
    pos: int
    stars: float
    event_id: str


class Private(msgspec.Struct, array_like=True):
    at: int
    pos: int
    recommend: int
    end_reason: str | None
    event_id: str


class Money(msgspec.Struct, array_like=True):
    at: int
    pos: int
    cents: int
    event_id: str


class Mark(msgspec.Struct, array_like=True):
    """A dated fact without a value (edit allowance, scope change)."""

    at: int
    pos: int
    event_id: str


class Closed(msgspec.Struct, array_like=True):
    at: int
    pos: int
    by: str
    reason: str
    event_id: str


class Removal(msgspec.Struct, array_like=True):
    at: int
    pos: int
    of: str
    basis: str
    scope: str
    event_id: str


class Contract(msgspec.Struct, array_like=True):
    id: str
    freelancer: str
    client: str
    pricing: str
    continues: str | None
    opened_at: int
    opened_pos: int
    opened_event: str
    last_at: int
    closed: Closed | None = None
    payments: list[Money] = []
    refunds: list[Money] = []
    # public feedback per side: the first submission, then revisions, in order
    client_public: list[Stars] = []
    freelancer_public: list[Stars] = []
    client_private: Private | None = None
    freelancer_private: Private | None = None
    edit_allowed: dict[str, Mark] = {}  # key: the side that allowed (the receiver)
    removals: list[Removal] = []
    scope_changes: list[Mark] = []

    # -- derived, latest-state helpers (the write side's view) --------------------

    def public(self, side: str) -> list[Stars]:
        return self.client_public if side == "client" else self.freelancer_public

    def private(self, side: str) -> Private | None:
        return self.client_private if side == "client" else self.freelancer_private

    def window_end(self) -> int | None:
        return None if self.closed is None else self.closed.at + FEEDBACK_WINDOW

    def revealed_at(self, side: str) -> int | None:
        """When `side`'s public feedback is revealed (double-blind), if it exists."""
        mine = self.public(side)
        if not mine or self.closed is None:
            return None
        theirs = self.public(other(side))
        end = self.closed.at + FEEDBACK_WINDOW
        if theirs:
            return min(max(mine[0].at, theirs[0].at), end)
        return end

    def paid_cents(self) -> int:
        return sum(m.cents for m in self.payments)

    def refunded_cents(self) -> int:
        return sum(m.cents for m in self.refunds)


class Client(msgspec.Struct, array_like=True):
    """A client's flag history: (at, pos, flagged) in order."""

    id: str
    flags: list[tuple[int, int, bool]] = []
    last_at: int = 0

    def flagged(self) -> bool:
        return bool(self.flags) and self.flags[-1][2]


class Freelancer(msgspec.Struct, array_like=True):
    """What the perk-removal rule needs: closing times and earlier perk removals."""

    id: str
    closed_at: list[int] = []
    perk_removals: list[int] = []


def cents(amount) -> int:
    return int(amount * 100)


# -- the fold --------------------------------------------------------------------


def open_contract(e: ev.ContractOpened, pos: int = 0) -> Contract:
    return Contract(
        id=e.contract_id,
        freelancer=e.freelancer_id,
        client=e.client_id,
        pricing=e.pricing,
        continues=e.continues,
        opened_at=e.at,
        opened_pos=pos,
        opened_event=e.event_id,
        last_at=e.at,
    )


def apply(c: Contract, e: ev.ContractEvent, at: int, pos: int = 0) -> None:
    """Fold one (already checked) contract event into its summary."""
    c.last_at = max(c.last_at, at)
    if isinstance(e, ev.PaymentMade):
        c.payments.append(Money(at, pos, cents(e.amount), e.event_id))
    elif isinstance(e, ev.PaymentRefunded):
        c.refunds.append(Money(at, pos, cents(e.amount), e.event_id))
    elif isinstance(e, ev.ContractClosed):
        c.closed = Closed(at, pos, e.closed_by, e.reason, e.event_id)
    elif isinstance(e, (ev.PublicFeedbackSubmitted, ev.PublicFeedbackRevised)):
        c.public(e.by).append(Stars(at, pos, e.stars, e.event_id))  # type: ignore[arg-type]  # a float after decoding
    elif isinstance(e, ev.PrivateFeedbackSubmitted):
        p = Private(at, pos, e.recommend, e.end_reason, e.event_id)
        if e.by == "client":
            c.client_private = p
        else:
            c.freelancer_private = p
    elif isinstance(e, ev.FeedbackEditAllowed):
        c.edit_allowed[e.by] = Mark(at, pos, e.event_id)
    elif isinstance(e, ev.FeedbackRemoved):
        c.removals.append(Removal(at, pos, e.of, e.basis, e.scope, e.event_id))
    elif isinstance(e, ev.ScopeChanged):
        c.scope_changes.append(Mark(at, pos, e.event_id))


def apply_client(k: Client, e: ev.ClientEvent, at: int, pos: int = 0) -> None:
    k.flags.append((at, pos, isinstance(e, ev.ClientFlagged)))
    k.last_at = max(k.last_at, at)


# -- the rules of events.md ------------------------------------------------------


def check_opened(e: ev.ContractOpened, existing: Contract | None, continued: Contract | None) -> None:
    if existing is not None:
        raise RuleBroken(f"contract {e.contract_id} already exists")
    if e.freelancer_id == e.client_id:
        raise RuleBroken(f"contract {e.contract_id}: the freelancer and the client must differ")
    if e.continues is not None:
        if e.continues == e.contract_id:
            raise RuleBroken(f"contract {e.contract_id} cannot continue itself")
        if continued is None:
            raise Missing(
                f"contract {e.contract_id} continues {e.continues}, which does not exist", f"contract {e.continues}"
            )
        if continued.client != e.client_id or continued.freelancer != e.freelancer_id:
            raise RuleBroken(
                f"contract {e.contract_id} continues {e.continues}, which is between another client and freelancer"
            )
        if continued.opened_at > e.at:
            raise RuleBroken(f"contract {e.contract_id} continues {e.continues}, which opened later")


def check(c: Contract, e: ev.ContractEvent, at: int) -> None:
    """Raise RuleBroken if `e` may not be appended to contract `c` (latest state)."""
    cid = c.id
    if at < c.last_at:
        raise RuleBroken(
            f"event is older than contract {cid}'s latest accepted event "
            f"({ev.format_time(c.last_at)}); events of one contract must arrive in time order"
        )
    closed = c.closed
    if isinstance(e, ev.ScopeChanged):
        if closed is not None:
            raise RuleBroken(f"scope of contract {cid} cannot change: the contract is closed")
    elif isinstance(e, ev.PaymentMade):
        if closed is not None and at >= closed.at + BONUS_WINDOW:
            raise RuleBroken(
                f"payment on contract {cid} comes 14 days or more after it closed ({ev.format_time(closed.at)})"
            )
    elif isinstance(e, ev.PaymentRefunded):
        if c.refunded_cents() + cents(e.amount) > c.paid_cents():
            raise RuleBroken(
                f"refunds on contract {cid} would exceed its payments "
                f"({c.paid_cents() / 100:.2f} paid, {c.refunded_cents() / 100:.2f} refunded so far)"
            )
    elif isinstance(e, ev.ContractClosed):
        if closed is not None:
            raise RuleBroken(f"contract {cid} is already closed")
    elif isinstance(e, (ev.PublicFeedbackSubmitted, ev.PrivateFeedbackSubmitted)):
        kind = "public" if isinstance(e, ev.PublicFeedbackSubmitted) else "private"
        if closed is None:
            raise RuleBroken(f"{kind} feedback on contract {cid} before it closed")
        if at >= closed.at + FEEDBACK_WINDOW:
            raise RuleBroken(
                f"{kind} feedback on contract {cid} after its feedback window ended "
                f"({ev.format_time(closed.at + FEEDBACK_WINDOW)})"
            )
        if kind == "public" and c.public(e.by):
            raise RuleBroken(
                f"public feedback from the {e.by} on contract {cid} was already given "
                "(a change needs FeedbackEditAllowed and PublicFeedbackRevised)"
            )
        if kind == "private" and c.private(e.by) is not None:
            raise RuleBroken(f"private feedback from the {e.by} on contract {cid} was already given and is immutable")
    elif isinstance(e, ev.FeedbackEditAllowed):
        author = other(e.by)
        revealed = c.revealed_at(author)
        if revealed is None or at < revealed:
            raise RuleBroken(
                f"the {e.by} cannot allow an edit on contract {cid}: the {author}'s public feedback is not revealed"
            )
        if at >= revealed + EDIT_WINDOW:
            raise RuleBroken(
                f"the {e.by} cannot allow an edit on contract {cid}: the {author}'s public "
                f"feedback was revealed 14 days or more ago ({ev.format_time(revealed)})"
            )
        if e.by in c.edit_allowed:
            raise RuleBroken(f"the {e.by} already allowed an edit on contract {cid}")
    elif isinstance(e, ev.PublicFeedbackRevised):
        allowed = c.edit_allowed.get(other(e.by))
        if allowed is None:
            raise RuleBroken(
                f"public feedback of the {e.by} on contract {cid} cannot be revised: the "
                f"{other(e.by)} did not allow an edit"
            )
        if at >= allowed.at + EDIT_WINDOW:
            raise RuleBroken(
                f"public feedback of the {e.by} on contract {cid} cannot be revised 14 days "
                f"or more after the edit was allowed ({ev.format_time(allowed.at)})"
            )
        if not c.public(e.by):
            raise RuleBroken(f"the {e.by} gave no public feedback on contract {cid} to revise")
    elif isinstance(e, ev.FeedbackRemoved):
        if not c.public(e.of) and c.private(e.of) is None:
            raise RuleBroken(f"the {e.of} gave no feedback on contract {cid} to remove")
        if any(r.of == e.of for r in c.removals):
            raise RuleBroken(f"feedback of the {e.of} on contract {cid} was already removed")
        if e.basis == "top_rated_perk" and e.of != "client":
            raise RuleBroken("the top-rated perk removes only the client's feedback on the freelancer")


def check_perk_frequency(f: Freelancer, e: ev.FeedbackRemoved, at: int) -> None:
    """The date and frequency limits of the top-rated perk (rules.md)."""
    if at >= PERK_END:
        raise RuleBroken(
            f"the top-rated removal perk ended on 2024-09-03; removal on contract {e.contract_id} rejected"
        )
    if f.perk_removals:
        previous = f.perk_removals[-1]
        if at < previous:  # a late arrival: it would become the previous removal of `previous`
            closed = sum(1 for t in f.closed_at if at < t <= previous)
            why = (
                "it comes less than 90 days before it"
                if previous < at + 90 * DAY
                else f"only {closed} contracts closed between them (10 needed)"
                if closed < 10
                else None
            )
            raise RuleBroken(
                f"freelancer {f.id} already used the top-rated perk later, on {ev.format_time(previous)}; "
                + (
                    f"this earlier removal would invalidate that one ({why})"
                    if why
                    else "perk removals must arrive in time order (each is checked against the one before)"
                )
            )
        if at < previous + 90 * DAY:
            raise RuleBroken(
                f"freelancer {f.id} used the top-rated perk less than 90 days ago ({ev.format_time(previous)})"
            )
        since = sum(1 for t in f.closed_at if previous < t <= at)
        if since < 10:  # the closes in between may still be on their way (another partition)
            raise Missing(
                f"freelancer {f.id} closed only {since} contracts since the last perk removal (10 needed)",
                f"closed contracts of freelancer {f.id}",
            )


def check_client(k: Client | None, e: ev.ClientEvent, at: int, client_id: str) -> None:
    if k is not None and at < k.last_at:
        raise RuleBroken(
            f"event is older than client {client_id}'s latest accepted event "
            f"({ev.format_time(k.last_at)}); events of one client must arrive in time order"
        )
    flagged = k is not None and k.flagged()
    if isinstance(e, ev.ClientFlagged) and flagged:
        raise RuleBroken(f"client {client_id} is already flagged")
    if isinstance(e, ev.ClientUnflagged) and not flagged:
        raise RuleBroken(f"client {client_id} is not flagged")
