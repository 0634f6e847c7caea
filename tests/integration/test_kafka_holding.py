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

from consumers.consume import TRUNCATED_TO, Consumer
from consumers.kafka import CONTRACT_EVENTS, REJECTED, KafkaUnavailable, StopSignal, ensure_topics, make_producer
from engine.simulate import simulate
from reputation.config import Settings, open_store
from reputation.ingest import ingest_lines
from reputation.store import MemoryStore
from tests.integration.kafka_broker import TEST_CONSUMER, Broker
from tests.integration.test_kafka import cli, read_topic

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
    pay = {
        "type": "PaymentMade",
        "event_id": "bad-pay",
        "occurred_at": "2019-01-02T00:00:00Z",
        "contract_id": "c-nope",
        "amount": "5.00",
    }  # its contract never comes
    return [
        (b"x", b"{not json"),
        (
            b"x",
            json.dumps(
                {"type": "ContractExploded", "event_id": "bad-type", "occurred_at": "2019-01-01T00:00:00Z"}
            ).encode(),
        ),
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
        stats = Consumer(cfg, store, max_records=300, consumer_config=TEST_CONSUMER, on_reject=rejected.append).run()
        ids = [json.loads(x)["event_id"] for x in good]
        digests = store.load_digests(ids)
        assert store.max_position() == len(good)
    finally:
        store.close()
    assert stats.messages == len(messages)
    assert stats.held == 0
    assert sorted(r.reject.raw for r in rejected) == sorted(v for _, v in bad), [
        r.message() for r in rejected if r.reject.raw not in {v for _, v in bad}
    ][:5]
    dead = read_topic(cfg, REJECTED)
    assert len(dead) == len(bad)
    reasons = {json.loads(m.value)["event_id"]: json.loads(m.value)["error"] for m in dead}
    assert "c-nope" in reasons["bad-pay"] and "waited for contract c-nope" in reasons["bad-pay"]

    # the same events (same ids, same content) as a plain ingest of the clean file
    clean = MemoryStore()
    assert ingest_lines(clean, good).accepted == len(good)
    assert digests == clean.ids


def test_a_message_too_big_to_dead_letter_whole_is_dead_lettered_cut(kafka_settings):
    cfg = kafka_settings
    good = market()[:20]
    huge = b"\xff" * 1_000_000  # not UTF-8: base64 in the dead letter, over the 1 MiB limit
    produce(cfg, [(b"k", huge)] + [(b"k", x) for x in good], partitions=1)

    result = cli("consume", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["messages"], out["accepted"], out["rejected"]) == (len(good) + 1, len(good), 1)
    [dead] = read_topic(cfg, REJECTED)
    value = json.loads(dead.value)
    assert value["truncated"] is True and value["original_size"] == len(huge)
    assert (value["partition"], value["offset"]) == (0, 0)
    assert base64.b64decode(value["original_b64"]) == huge[: len(base64.b64decode(value["original_b64"]))]
    assert 0 < len(base64.b64decode(value["original_b64"])) <= TRUNCATED_TO and len(dead.value) < 1_000_000
    assert json.loads(cli("consume", "--json").stdout)["messages"] == 0  # committed: not stuck


def test_consume_dead_letters_the_events_after_a_reject_and_takes_the_correction(kafka_settings):
    cfg = kafka_settings
    good = market()[:400]
    events = [json.loads(x) for x in good]
    pays = [i for i, e in enumerate(events) if e["type"] == "PaymentMade"]
    bad_at = next(i for i in pays if any(e.get("contract_id") == events[i]["contract_id"] for e in events[i + 1 :]))
    cid = events[bad_at]["contract_id"]
    later = [i for i, e in enumerate(events) if i > bad_at and e.get("contract_id") == cid]
    lines = list(good)
    lines[bad_at] = json.dumps(dict(events[bad_at], amount="1.234")).encode()
    produce(cfg, keyed(lines, "freelancer"))

    store = open_store(cfg)
    try:
        consumer = Consumer(cfg, store, consumer_config=TEST_CONSUMER)  # one process, two runs
        first = consumer.run()
        assert (first.accepted, first.rejected) == (len(good) - 1 - len(later), 1 + len(later))
        dead = read_topic(cfg, REJECTED)
        values = [json.loads(m.value) for m in dead]
        assert [v["event_id"] for v in values] == [events[i]["event_id"] for i in [bad_at] + later]
        assert all(f"waiting for rejected event {events[bad_at]['event_id']}" in v["error"] for v in values[1:])
        # the fix: the dead letters, corrected, produced again with their keys and in their order
        values[0]["original"] = good[bad_at].decode()
        produce(cfg, [(m.key, json.dumps(v).encode()) for m, v in zip(dead, values)])
        second = consumer.run()
        assert (second.accepted, second.rejected) == (1 + len(later), 0)
        assert store.max_position() == len(good)
    finally:
        store.close()


def test_consume_follow_recovers_from_a_broker_restart_and_stops_when_it_stays_down(kafka_settings):
    """Two kills of the broker: back within a second (the consumer carries on), then gone for
    good (the consumer stops with KafkaUnavailable - exit 5 - within a bounded time)."""
    broker = Broker().start()
    try:
        cfg = Settings(home=kafka_settings.home, kafka=broker.bootstrap, topic_prefix=kafka_settings.topic_prefix)
        lines = market()[:90]
        produce(cfg, [(b"k", x) for x in lines[:50]], partitions=1)
        store = open_store(cfg)
        stop, outcome = StopSignal(), {}
        consumer = Consumer(cfg, store, stall_seconds=10, consumer_config=TEST_CONSUMER)

        def follow():
            try:
                outcome["stats"] = consumer.run(follow=True, stop=stop)
            except Exception as exc:  # noqa: BLE001 - what the test looks at
                outcome["error"] = exc

        def wait_for(condition, seconds: float = 45.0) -> float:
            start = time.monotonic()
            while not condition() and time.monotonic() - start < seconds:
                time.sleep(0.1)
            return time.monotonic() - start

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        try:
            wait_for(lambda: store.max_position() == 50)
            assert store.max_position() == 50
            broker.stop()  # kill 1: back at once
            time.sleep(1)
            broker.start()
            # memory storage: the broker comes back empty; fewer messages than were read before,
            # so that the consumer's old position is out of range whenever it re-joins
            produce(cfg, [(b"k", x) for x in lines[50:]], partitions=1)
            wait_for(lambda: store.max_position() == len(lines) or not thread.is_alive())
            assert store.max_position() == len(lines), outcome
            assert thread.is_alive()

            broker.stop()  # kill 2: gone for good
            took = wait_for(lambda: not thread.is_alive(), 30.0)
            assert not thread.is_alive(), "consume --follow is stuck after the broker died"
            assert took <= 30  # stall_seconds (10) plus the broker client's own timeouts
            assert isinstance(outcome.get("error"), KafkaUnavailable), outcome
            assert broker.bootstrap in str(outcome["error"])
        finally:
            stop.set()
            thread.join(30)
            store.close()
    finally:
        broker.stop()
