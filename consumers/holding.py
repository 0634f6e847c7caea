"""The hold-not-drop policy of `consume`, apart from Kafka: which held events may wait on and
which are given up (dead-lettered), with the later events of their contracts."""

from __future__ import annotations

from typing import Any, NamedTuple

from reputation.ingest import Reject

HOLD_SECONDS = 300.0  # how long an event may wait for what it depends on
HOLD_MAX = 10_000  # events held at most (the oldest go to the dead-letter topic first)
BLOCKED_MAX = 100_000  # contracts remembered as blocked by a rejected event (oldest forgotten)


class Rejected(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    reject: Reject

    def message(self) -> str:
        ident = f" (event {self.reject.event_id})" if self.reject.event_id else ""
        return f"partition {self.partition} offset {self.offset}{ident}: {self.reject.reason}"


class Held(NamedTuple):
    message: Any  # the ConsumerRecord
    since: float  # time.monotonic() when first held
    reject: Reject  # why it waits (the latest try)


def give_up(
    held: list[Held],
    now: float,
    final: bool,
    rejected: list[Rejected],
    blocked: dict[str, str],
    hold_seconds: float,
    hold_max: int,
) -> list[Held]:
    """The held messages that may wait on; the others join `rejected`, with the later held
    events of their contracts (which wait for them). `blocked` (contract id -> its given-up
    event) is updated and kept to `BLOCKED_MAX` contracts."""
    over = len(held) - hold_max
    keep: list[Held] = []
    for i, h in enumerate(held):
        r = h.reject
        cid = r.contract_id
        if cid is not None and cid in blocked:  # an earlier event of its contract was given up
            why = f"waiting for rejected {blocked[cid]} of contract {cid}"
        elif final or now - h.since >= hold_seconds or i < over:
            cause = (
                "the topic has no more events"
                if final
                else f"held {hold_seconds:g} s"
                if now - h.since >= hold_seconds
                else f"more than {hold_max} events held"
            )
            why = f"{r.reason} (waited for {r.waiting_for}; given up: {cause})"
            if cid is not None:
                blocked[cid] = f"event {r.event_id}"
        else:
            keep.append(h)
            continue
        rejected.append(Rejected(h.message.partition, h.message.offset, h.message.key, r._replace(reason=why)))
    while len(blocked) > BLOCKED_MAX:
        del blocked[next(iter(blocked))]
    return keep
