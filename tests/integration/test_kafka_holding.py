"""`consume` against a real broker: events whose dependency is in another partition are held,
not dead-lettered; oversized rejects are dead-lettered cut; a lost broker is noticed.

The marketplace is `engine.simulate.simulate(40, 48, SEED)` (~3,000 events) spread over 4
partitions, keyed as docs/kafka.md prescribes (freelancer id) and as it used to (contract id).
"""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest

from engine.simulate import simulate
from reputation.config import Settings, open_store
from reputation.ingest import ingest_lines
from reputation.store import MemoryStore
from tests.integration.kafka_broker import TEST_CONSUMER, Broker
from tests.integration.test_kafka import cli, read_topic

from consumers.consume import TRUNCATED_TO, Consumer
from consumers.kafka import CONTRACT_EVENTS, REJECTED, KafkaUnavailable, StopSignal, ensure_topics, make_producer

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.filterwarnings("ignore:read_text is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
]

SEED = 20261201
PARTITIONS = 4


def market() -> list[bytes]:
    return list(simulate(40, 48, SEED))


def keyed(lines: list[bytes], by: str) -> list[tuple[bytes, bytes]]:
    """(key, line): contract events keyed by `by` ("contract" or "freelancer"), client events by client."""
    freelancer_of: dict[str, str] = {}
    out = []
    for line in lines:
        e = json.loads(line)
        if e["type"] == "ContractOpened":
            freelancer_of[e["contract_id"]] = e["freelancer_id"]
        if "contract_id" not in e:
            key = e.get("client_id", "")
        elif by == "freelancer":
            key = freelancer_of.get(e["contract_id"], e["contract_id"])
        else:
            key = e["contract_id"]
        out.append((key.encode(), line))
    return out


def produce(cfg: Settings, messages: list[tuple[bytes | None, bytes]], partitions: int = PARTITIONS, **config) -> None:
    ensure_topics(cfg, [CONTRACT_EVENTS, REJECTED], partitions)
    producer = make_producer(cfg, **config)
    try:
        for key, value in messages:
            producer.send(cfg.topic(CONTRACT_EVENTS), key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def invalid() -> list[tuple[bytes, bytes]]:
    """Lines that are wrong whatever the order: none belongs to a contract of the market."""
    pay = {"type": "PaymentMade", "event_id": "bad-pay", "occurred_at": "2019-01-02T00:00:00Z",
           "contract_id": "c-nope", "amount": "5.00"}  # its contract never comes
    return [
        (b"x", b"{not json"),
        (b"x", json.dumps({"type": "ContractExploded", "event_id": "bad-type", "occurred_at": "2019-01-01T00:00:00Z"}).encode()),
        (b"c-nope", json.dumps(pay).encode()),
        (b"bin", b"\xff\xfe garbage"),
    ]


@pytest.mark.parametrize("by", ["contract", "freelancer"])
def test_consume_stores_every_valid_event_whatever_the_keys(kafka_settings, by):
    cfg = kafka_settings
    good = market()
    bad = invalid()
    messages = keyed(good, by)
    # the bad lines in the middle of the stream
    messages = messages[:1000] + bad + messages[1000:]
    produce(cfg, messages)

    store = open_store(cfg)
    try:
        rejected = []
        stats = Consumer(cfg, store, max_records=300, consumer_config=TEST_CONSUMER,
                         on_reject=rejected.append).run()
        ids = [json.loads(x)["event_id"] for x in good]
        digests = store.load_digests(ids)
        assert store.max_position() == len(good)
    finally:
        store.close()
    assert stats.messages == len(messages)
    assert stats.held == 0
    assert sorted(r.reject.raw for r in rejected) == sorted(v for _, v in bad), \
        [r.message() for r in rejected if r.reject.raw not in {v for _, v in bad}][:5]
    dead = read_topic(cfg, REJECTED)
    assert len(dead) == len(bad)
    reasons = {json.loads(m.value)["event_id"]: json.loads(m.value)["error"] for m in dead}
    assert "c-nope" in reasons["bad-pay"] and "waited for contract c-nope" in reasons["bad-pay"]

    # the same events (same ids, same content) as a plain ingest of the clean file
    clean = MemoryStore()
    assert ingest_lines(clean, good).accepted == len(good)
    assert digests == clean.ids
