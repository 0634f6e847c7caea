"""`consume`'s holding without a broker: what waits, for how long, how many, what is committed,
what is logged. Messages are plain records; the dead-letter producer is replaced by a list."""

from __future__ import annotations

import json
import logging
import zlib
from typing import NamedTuple

import pytest

from consumers.consume import Consumer
from engine.simulate import simulate
from reputation.config import Settings
from reputation.ingest import ingest_lines
from reputation.retrying import ATTEMPTS
from reputation.store import Conflict, MemoryStore
from tests.scenarios.worked_example import lines as worked_example

PARTS = 4


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class Local(Consumer):
    """A Consumer whose dead letters go to a list and whose commits are recorded."""

    def __init__(self, **kwargs):
        super().__init__(Settings(kafka="unused:9092", topic_prefix="t."), MemoryStore(), **kwargs)
        self.dead: list = []
        self.commits: list[dict] = []

    def _dead_letter(self, rejected):
        self.dead.extend(rejected)

    def commit(self) -> dict:
        outer = self

        class Fake:
            def commit(self, offsets, timeout_ms=None):
                outer.commits.append({tp.partition: o.offset for tp, o in offsets.items()})

        self._commit(Fake())
        return self.commits[-1] if self.commits else {}


def records(lines: list[bytes], partition: int, first: int = 0) -> list[Record]:
    return [Record("t.contract-events", partition, first + i, b"k", x) for i, x in enumerate(lines)]


def payment(contract: str, event_id: str, at: str = "2019-01-02T00:00:00Z") -> bytes:
    return json.dumps(
        {"type": "PaymentMade", "event_id": event_id, "occurred_at": at, "contract_id": contract, "amount": "5.00"}
    ).encode()


def opened(contract: str, event_id: str = "o-1", at: str = "2019-01-01T00:00:00Z") -> bytes:
    return json.dumps(
        {
            "type": "ContractOpened",
            "event_id": event_id,
            "occurred_at": at,
            "contract_id": contract,
            "freelancer_id": "f-1",
            "client_id": "k-1",
            "pricing": "fixed",
        }
    ).encode()


def test_an_event_waits_for_its_contract_from_a_later_batch_and_offsets_stop_before_it():
    c = Local()
    c.handle(records([payment("c-9", "p-1"), payment("c-9", "p-2", "2019-01-03T00:00:00Z")], 1))
    assert [h.reject.waiting_for for h in c.held] == ["contract c-9", "event p-1"] and not c.dead
    assert c.commit() == {1: 0}  # nothing of partition 1 is stored yet
    c.handle(records([opened("c-9")], 0))
    assert not c.held and not c.dead and c.store.max_position() == 3
    assert c.commit() == {0: 1, 1: 2}


def test_a_held_event_is_dead_lettered_after_hold_seconds_with_its_contracts_later_events():
    c = Local(hold_seconds=0)
    c.handle(records([payment("c-9", "p-1"), payment("c-9", "p-2", "2019-01-03T00:00:00Z")], 0))
    assert not c.held
    assert [r.reject.event_id for r in c.dead] == ["p-1", "p-2"]
    assert "waited for contract c-9" in c.dead[0].reject.reason and "held 0 s" in c.dead[0].reject.reason
    assert "waiting for rejected event p-1" in c.dead[1].reject.reason
    assert c.commit() == {0: 2}
    c.handle(records([opened("c-9"), payment("c-9", "p-1")], 1))  # the contract, and p-1 sent again
    assert c.store.max_position() == 2  # p-1 is taken again; p-2 waits to be re-sent after it


def test_at_most_hold_max_events_are_held_the_oldest_go_first():
    c = Local(hold_max=2)
    c.handle(records([payment(f"c-{i}", f"p-{i}") for i in range(5)], 0))
    assert [h.reject.event_id for h in c.held] == ["p-3", "p-4"]
    assert [r.reject.event_id for r in c.dead] == ["p-0", "p-1", "p-2"]
    assert all("more than 2 events held" in r.reject.reason for r in c.dead)


def test_the_end_of_the_topic_dead_letters_what_still_waits():
    c = Local()
    c.handle(records([payment("c-9", "p-1")], 0))
    c.handle([], final=True)
    assert not c.held and "the topic has no more events" in c.dead[0].reject.reason


def test_logging_names_counts_and_ids_never_a_payload(caplog):
    secret = "SECRET-END-REASON-TEXT"
    lines = worked_example()
    private = next(x for x in lines if b"PrivateFeedbackSubmitted" in x)
    leaked = json.loads(private)
    leaked.update(event_id="p-leak", end_reason=secret, recommend=11)  # invalid: dead-lettered
    c = Local()
    with caplog.at_level(logging.DEBUG, logger="consumers"):
        c.handle(records(lines + [json.dumps(leaked).encode(), b'{"oops": "' + secret.encode() + b'"'], 0))
    assert len(c.dead) == 2
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("consumers")]
    assert any("dead-lettered" in m and "p-leak" in m for m in messages)
    assert not any(secret in m for m in messages)


@pytest.mark.parametrize("seed", [3, 20261201])
def test_partitions_read_one_after_the_other_in_reverse_lose_no_valid_event(seed):
    """Contract-id keys over 4 partitions, the last partition read first, 100 messages a batch:
    continuations and perk removals meet their dependencies late; all of them are stored."""
    lines = list(simulate(40, 48, seed))
    parts: dict[int, list[bytes]] = {p: [] for p in range(PARTS)}
    for x in lines:
        e = json.loads(x)
        parts[zlib.crc32(e.get("contract_id", e.get("client_id", "")).encode()) % PARTS].append(x)
    c, most_held = Local(), 0
    for p in reversed(range(PARTS)):
        for i in range(0, len(parts[p]), 100):
            c.handle(records(parts[p][i : i + 100], p, i))
            most_held = max(most_held, len(c.held))
    c.handle([], final=True)
    assert most_held > 0  # the order did break dependencies
    assert [r.message() for r in c.dead] == []
    assert c.store.max_position() == len(lines)


class Contended(MemoryStore):
    """A store whose first `fails` appends find that another writer came first."""

    def __init__(self, fails: int):
        super().__init__()
        self.fails, self.appends = fails, 0

    def append(self, batch):
        self.appends += 1
        if self.appends <= self.fails:
            raise Conflict("stream moved on")
        return super().append(batch)


def test_one_layer_retries_a_conflict_ingest_and_consume_do_not_nest():
    store = Contended(fails=2)
    assert ingest_lines(store, worked_example()).accepted == len(worked_example())
    assert store.appends == 3  # checked again and retried after each conflict

    c = Local()
    c.store = Contended(fails=1000)
    with pytest.raises(Conflict):
        c.handle(records(worked_example(), 0))
    assert c.store.appends == ATTEMPTS  # ingest's tries only, not wrapped in more
