"""Small read-side history builder: a few contracts of one or more freelancers as event lines
(events.md shapes, plain JSON), stored with `ingest(MemoryStore(), ...)` and evaluated on the
stored contract states with `projections.rules.score.evaluate`, or projected with
`memory_projections()`.

Times are plain `datetime`s (UTC) and are converted here, by hand, so expected values never
come from the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Iterable

import msgspec

from projections.rules.score import client_score as rules_client_score
from projections.rules.score import evaluate
from projections.service import memory_projections
from reputation import contract as ct
from reputation.ingest import ingest
from reputation.outcome import Cut
from reputation.rulesets import RULE_SETS
from reputation.store import MemoryStore

UTC = UTC
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SEC = timedelta(seconds=1)
US = timedelta(microseconds=1)

_contract = msgspec.msgpack.Decoder(ct.Contract)
_client = msgspec.msgpack.Decoder(ct.Client)


def d(text: str) -> datetime:
    """'2019-01-15T10:00:00Z' (or a date '2019-01-15') -> aware UTC datetime."""
    if "T" not in text:
        text += "T00:00:00Z"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def iso(when: datetime) -> str:
    when = when.astimezone(UTC)
    text = f"{when.year:04d}-{when:%m-%dT%H:%M:%S}"
    if when.microsecond:
        text += f".{when.microsecond:06d}"
    return text + "Z"


def micros(when: datetime) -> int:
    return (when - EPOCH) // US


class Market:
    """Event lines of a small marketplace; contract events are kept in time order."""

    def __init__(self, prefix: str = "e", lines: Iterable[bytes] = ()):
        self.prefix = prefix
        self.n = 0
        self.lines: list[bytes] = list(lines)
        self._store: MemoryStore | None = None

    def add(self, type_: str, at: datetime, **fields) -> bytes:
        self.n += 1
        fields = {k: v for k, v in fields.items() if v is not None}
        raw = json.dumps(
            {"type": type_, "event_id": f"{self.prefix}-{self.n}", "occurred_at": iso(at), **fields}
        ).encode()
        self.lines.append(raw)
        self._store = None
        return raw

    def contract(
        self,
        cid: str,
        *,
        closed: datetime | None,
        client: str = "k-1",
        freelancer: str = "f-1",
        opened: datetime | None = None,
        pay: Iterable = ("500",),
        by: str = "client",
        reason: str = "completed_successfully",
        client_stars: float | None = None,
        client_stars_at: datetime | None = None,
        freelancer_stars: float | None = None,
        freelancer_stars_at: datetime | None = None,
        recommend: int | None = None,
        end_reason: str | None = None,
        private_at: datetime | None = None,
        after: Iterable[tuple] = (),
    ) -> Market:
        """One contract. `pay`: amounts (paid one minute apart, an hour after opening) or
        (datetime, amount) pairs. Feedback defaults: client public at closed + 1 day, client
        private one hour later, freelancer public at closed + 2 days. `after`: extra
        (datetime, type, fields) contract events (refunds, bonuses, revisions, removals)."""
        anchor = closed if closed is not None else d("2019-01-01")
        opened = opened or anchor - 30 * DAY
        items: list[tuple[datetime, str, dict]] = [
            (opened, "ContractOpened", dict(freelancer_id=freelancer, client_id=client, pricing="fixed"))
        ]
        for i, p in enumerate(pay):
            at, amount = p if isinstance(p, tuple) else (opened + HOUR + i * timedelta(minutes=1), p)
            items.append((at, "PaymentMade", dict(amount=str(amount))))
        if closed is not None:
            items.append((closed, "ContractClosed", dict(closed_by=by, reason=reason)))
            if client_stars is not None:
                items.append(
                    (client_stars_at or closed + DAY, "PublicFeedbackSubmitted", dict(by="client", stars=client_stars))
                )
            if recommend is not None:
                items.append(
                    (
                        private_at or closed + DAY + HOUR,
                        "PrivateFeedbackSubmitted",
                        dict(by="client", recommend=recommend, end_reason=end_reason),
                    )
                )
            if freelancer_stars is not None:
                items.append(
                    (
                        freelancer_stars_at or closed + 2 * DAY,
                        "PublicFeedbackSubmitted",
                        dict(by="freelancer", stars=freelancer_stars),
                    )
                )
        for at, type_, fields in after:
            items.append((at, type_, dict(fields)))
        items.sort(key=lambda x: x[0])  # stable: equal times keep the order given
        for at, type_, fields in items:
            self.add(type_, at, contract_id=cid, **fields)
        return self

    def flag(self, client: str, at: datetime) -> Market:
        self.add("ClientFlagged", at, client_id=client)
        return self

    def unflag(self, client: str, at: datetime) -> Market:
        self.add("ClientUnflagged", at, client_id=client)
        return self

    def tick(self, to: datetime) -> bytes:
        return self.add("ClockAdvanced", to, to=iso(to))

    # -- running it -----------------------------------------------------------------

    def log_lines(self) -> list[bytes]:
        """The lines as sent: in occurred_at order (stable, so one contract's order is kept),
        so no event arrives late unless a test sends it later on purpose."""
        return sorted(self.lines, key=lambda raw: micros(d(json.loads(raw)["occurred_at"])))

    def store(self) -> MemoryStore:
        if self._store is None:
            store = MemoryStore()
            result = ingest(store, self.log_lines(), recorded_at="2030-01-01T00:00:00Z")
            assert result.rejects == [], [r.message() for r in result.rejects]
            self._store = store
        return self._store

    def stored(self):
        """The stored contract states and client flags (write side)."""
        store = self.store()
        opened = [e for e in map(json.loads, self.lines) if e["type"] == "ContractOpened"]
        states = store.load_states([f"contract:{e['contract_id']}" for e in opened])
        contracts = [_contract.decode(states[f"contract:{e['contract_id']}"][1]) for e in opened]
        clients = store.load_states({f"client:{e['client_id']}" for e in opened})
        flags = {k: _client.decode(blob).flags for key, (_, blob) in clients.items() for k in [key.split(":", 1)[1]]}
        return contracts, flags

    def score(self, at: datetime, rules: str | None = None, freelancer: str = "f-1"):
        contracts, flags = self.stored()
        mine = [c for c in contracts if c.freelancer == freelancer]
        return evaluate(mine, flags, Cut(micros(at)), RULE_SETS[rules] if rules else None)

    def client_score(self, client: str, at: datetime) -> Fraction | None:
        contracts, _ = self.stored()
        return rules_client_score([c for c in contracts if c.client == client], Cut(micros(at)))

    def projections(self):
        proj = memory_projections()
        proj.catch_up(self.store())
        return proj


def assessment(score, contract_id: str):
    for a in score.assessments:
        if a.contract_id == contract_id:
            return a
    raise AssertionError(f"no assessment for {contract_id}")
