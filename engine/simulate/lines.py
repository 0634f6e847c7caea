"""Planned events -> event lines, numbering event and contract ids in emission order.

Events are copies of validated templates of the `reputation.events` structs with the fields
set to values that are already canonical (UTC `...Z` times without fraction, two-decimal
`Decimal` money, ids of the id alphabet): the same struct and bytes the constructor would give,
at a fraction of its cost (the constructor re-parses and re-formats the timestamp). The tests
decode every line and check that it re-encodes to the identical bytes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.simulate.clock import Timestamps
from engine.simulate.feedback import note_close, take_perk
from engine.simulate.model import (
    ALLOW,
    CLOSE,
    OPEN,
    PAY,
    PRIV,
    PUB,
    REFUND,
    REMOVE,
    REVISE,
    SCOPE,
    Contract,
)
from reputation.events import (
    ClientFlagged,
    ClientUnflagged,
    ContractClosed,
    ContractOpened,
    FeedbackEditAllowed,
    FeedbackRemoved,
    PaymentMade,
    PaymentRefunded,
    PrivateFeedbackSubmitted,
    PublicFeedbackRevised,
    PublicFeedbackSubmitted,
    ScopeChanged,
    encode_event,
)


def _templates() -> dict:
    """One validated instance per planned kind, built with the real constructors."""
    common: dict[str, Any] = {"event_id": "e-0", "occurred_at": "1970-01-01T00:00:00Z", "contract_id": "c-0"}
    return {
        OPEN: ContractOpened(**common, freelancer_id="f-0", client_id="k-0", pricing="fixed"),
        SCOPE: ScopeChanged(**common),
        PAY: PaymentMade(**common, amount=Decimal("1.00")),  # type: ignore[arg-type]  # a Decimal after decoding
        REFUND: PaymentRefunded(**common, amount=Decimal("1.00")),  # type: ignore[arg-type]  # a Decimal after decoding
        CLOSE: ContractClosed(**common, closed_by="client", reason="completed_successfully"),
        PUB: PublicFeedbackSubmitted(**common, by="client", stars=5.0),  # type: ignore[arg-type]  # a float after decoding
        PRIV: PrivateFeedbackSubmitted(**common, by="client", recommend=10),
        ALLOW: FeedbackEditAllowed(**common, by="client"),
        REVISE: PublicFeedbackRevised(**common, by="client", stars=5.0),  # type: ignore[arg-type]  # a float after decoding
        REMOVE: FeedbackRemoved(**common, of="client", basis="policy_violation"),
    }


class Lines:
    """Builds the lines of one run; `count` lines so far (event `e-<count>` was the last)."""

    def __init__(self) -> None:
        self.count = 0
        self.contracts = 0
        self._tpl = _templates()
        self._ts = Timestamps()

    def reset(self) -> None:
        self.count = 0
        self.contracts = 0

    def client(self, t: int, kid: str, flagged: bool, harsh: bool) -> bytes:
        """A ClientFlagged (noting why) or ClientUnflagged line."""
        self.count += 1
        eid, at = f"e-{self.count:08d}", self._ts(t)
        if not flagged:
            return encode_event(ClientUnflagged(event_id=eid, occurred_at=at, client_id=kid))
        note = "many poor reviews from freelancers" if harsh else "account suspended during a payment review"
        return encode_event(ClientFlagged(event_id=eid, occurred_at=at, client_id=kid, note=note))

    def contract(self, c: Contract, entry: tuple) -> bytes | None:
        """The line of one planned contract event (None when a perk turns out not allowed)."""
        _key, t, kind, p = entry
        tpl = self._tpl
        if kind == PAY or kind == REFUND:
            ev = tpl[kind].__copy__()
            ev.amount = p
        elif kind == PUB or kind == REVISE:
            ev = tpl[kind].__copy__()
            ev.by, ev.stars, ev.attributes, ev.comment = p
        elif kind == PRIV:
            ev = tpl[PRIV].__copy__()
            ev.by, ev.recommend, ev.end_reason = p
        elif kind == OPEN:
            self.contracts += 1
            c.cid = f"c-{self.contracts:06d}"
            ev = tpl[OPEN].__copy__()
            ev.freelancer_id = c.fl.fid
            ev.client_id = c.kid
            ev.pricing = c.pricing
            if c.continues is not None:
                ev.continues = c.continues
        elif kind == CLOSE:
            note_close(c.fl, t)
            ev = tpl[CLOSE].__copy__()
            ev.closed_by, ev.reason = p
        elif kind == SCOPE:
            ev = tpl[SCOPE].__copy__()
            ev.summary = p
        elif kind == ALLOW:
            ev = tpl[ALLOW].__copy__()
            ev.by = p
        elif kind == REMOVE:
            ev = tpl[REMOVE].__copy__()
            ev.of, ev.basis, ev.scope = p
        else:  # PERK: decided now, in time order of the freelancer's closes
            if not take_perk(c.fl, t):
                return None
            ev = tpl[REMOVE].__copy__()
            ev.of, ev.basis, ev.scope = "client", "top_rated_perk", p
        self.count += 1
        ev.event_id = f"e-{self.count:08d}"
        ev.occurred_at = self._ts(t)
        ev.contract_id = c.cid
        return encode_event(ev)
