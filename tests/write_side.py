"""Small builders of event lines for the write-side tests (events.md shapes, plain JSON).

Everything here is written by hand from the spec, independent of `reputation.events`, so the
tests never take their expected values from the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

UTC = UTC
BASE = datetime(2023, 1, 2, tzinfo=UTC)  # before the perk's end (2024-09-03) and after jss-2020
DAY = timedelta(days=1)
US = timedelta(microseconds=1)


def iso(when: datetime) -> str:
    """RFC 3339 UTC text with microseconds when there are any."""
    when = when.astimezone(UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}"
    return text + "Z"


def t(days: float = 0, us: int = 0, base: datetime = BASE) -> str:
    """`base` + days + microseconds, as RFC 3339 text."""
    return iso(base + timedelta(days=days, microseconds=us))


def line(type_: str, event_id: str, at: str, **fields) -> bytes:
    return json.dumps({"type": type_, "event_id": event_id, "occurred_at": at, **fields}).encode()


class History:
    """Builds the lines of a small marketplace history with automatic event ids."""

    def __init__(self, prefix: str = "e"):
        self.prefix = prefix
        self.n = 0
        self.lines: list[bytes] = []

    def next_id(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n}"

    def add(self, type_: str, at: str, event_id: str | None = None, **fields) -> bytes:
        raw = line(type_, event_id or self.next_id(), at, **fields)
        self.lines.append(raw)
        return raw

    # -- shortcuts, one per event type -------------------------------------------------

    def open(self, at, cid="c-1", freelancer="f-1", client="k-1", pricing="fixed", **kw):
        return self.add(
            "ContractOpened", at, contract_id=cid, freelancer_id=freelancer, client_id=client, pricing=pricing, **kw
        )

    def scope(self, at, cid="c-1", **kw):
        return self.add("ScopeChanged", at, contract_id=cid, **kw)

    def pay(self, at, amount="100.00", cid="c-1", **kw):
        return self.add("PaymentMade", at, contract_id=cid, amount=amount, **kw)

    def refund(self, at, amount, cid="c-1", **kw):
        return self.add("PaymentRefunded", at, contract_id=cid, amount=amount, **kw)

    def close(self, at, cid="c-1", by="client", reason="completed_successfully", **kw):
        return self.add("ContractClosed", at, contract_id=cid, closed_by=by, reason=reason, **kw)

    def public(self, at, by="client", stars=5.0, cid="c-1", **kw):
        return self.add("PublicFeedbackSubmitted", at, contract_id=cid, by=by, stars=stars, **kw)

    def private(self, at, by="client", recommend=10, cid="c-1", **kw):
        return self.add("PrivateFeedbackSubmitted", at, contract_id=cid, by=by, recommend=recommend, **kw)

    def allow(self, at, by="freelancer", cid="c-1", **kw):
        return self.add("FeedbackEditAllowed", at, contract_id=cid, by=by, **kw)

    def revise(self, at, by="client", stars=4.0, cid="c-1", **kw):
        return self.add("PublicFeedbackRevised", at, contract_id=cid, by=by, stars=stars, **kw)

    def remove(self, at, of="client", basis="policy_violation", cid="c-1", **kw):
        return self.add("FeedbackRemoved", at, contract_id=cid, of=of, basis=basis, **kw)

    def flag(self, at, client="k-1", **kw):
        return self.add("ClientFlagged", at, client_id=client, **kw)

    def unflag(self, at, client="k-1", **kw):
        return self.add("ClientUnflagged", at, client_id=client, **kw)

    def clock(self, at, to=None, **kw):
        return self.add("ClockAdvanced", at, to=to or at, **kw)


def every_type(prefix: str = "all") -> list[bytes]:
    """One valid history that uses every event type (13 lines, in file order)."""
    h = History(prefix)
    c = f"{prefix}-c1"
    h.open(t(0), cid=c, freelancer=f"{prefix}-f", client=f"{prefix}-k")
    h.scope(t(1), cid=c, summary="more pages, ünïcode ✓")
    h.pay(t(2), "250.5", cid=c)
    h.refund(t(3), 0.5, cid=c)
    h.close(t(4), cid=c)
    h.public(t(5), cid=c, stars=4, attributes={"skills": 5, "quality": 4}, comment='good "work"')
    h.public(t(5, 1), cid=c, by="freelancer", stars=5.0)
    h.private(t(6), cid=c, recommend=9, end_reason="completed_successfully")
    h.allow(t(7), cid=c, by="freelancer")
    h.revise(t(8), cid=c, stars=4.5, comment="even better")
    h.remove(t(9), cid=c, of="freelancer", basis="dispute_upheld", scope="jss_only")
    h.flag(t(10), client=f"{prefix}-k", note="suspended")
    h.unflag(t(11), client=f"{prefix}-k")
    h.clock(t(12), to=t(13))
    return h.lines


def big_file_lines(contracts: int, tag: str = "x") -> list[bytes]:
    """A large valid file, quickly: six events per contract, many freelancers and clients."""
    out: list[bytes] = []
    for i in range(contracts):
        c = f"{tag}c{i}"
        day = f"2023-03-{1 + i % 27:02d}"
        common = f'"contract_id":"{c}","occurred_at":"{day}T0'
        out.append(
            f'{{"type":"ContractOpened","event_id":"{c}-o",{common}0:00:00Z",'
            f'"freelancer_id":"{tag}f{i % 500}","client_id":"{tag}k{i % 300}","pricing":"fixed"}}'.encode()
        )
        out.append(f'{{"type":"PaymentMade","event_id":"{c}-p",{common}1:00:00Z","amount":"125.50"}}'.encode())
        out.append(
            f'{{"type":"ContractClosed","event_id":"{c}-c",{common}2:00:00Z","closed_by":"client",'
            f'"reason":"completed_successfully"}}'.encode()
        )
        out.append(
            f'{{"type":"PublicFeedbackSubmitted","event_id":"{c}-pc",{common}3:00:00Z","by":"client","stars":4.5}}'.encode()
        )
        out.append(
            f'{{"type":"PrivateFeedbackSubmitted","event_id":"{c}-vc",{common}4:00:00Z","by":"client","recommend":9}}'.encode()
        )
        out.append(
            f'{{"type":"PublicFeedbackSubmitted","event_id":"{c}-pf",{common}5:00:00Z","by":"freelancer","stars":5}}'.encode()
        )
    return out


def store_snapshot(store, lines: list[bytes]) -> tuple:
    """What `store` holds for the streams and event ids that `lines` name, read through the
    EventStore interface only (so it means the same on every store): the log, the
    write-side states, the known event ids. Unparsable lines name nothing."""
    keys, ids = {"engine:clock"}, set()
    for raw in lines:
        try:
            body = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(body, dict):
            continue
        for field, prefix in (("contract_id", "contract:"), ("client_id", "client:"), ("freelancer_id", "freelancer:")):
            if isinstance(body.get(field), str):
                keys.add(prefix + body[field])
        if isinstance(body.get("event_id"), str):
            ids.add(body["event_id"])
    return (
        store.max_position(),
        store.read(0, 10**9),
        store.load_states(sorted(keys)),
        store.load_digests(sorted(ids)),
    )
