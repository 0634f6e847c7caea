"""The Kafka edge's logic without a broker: the relay cursor, dead-letter values, one-liners."""

from __future__ import annotations

import base64
import json

import pytest

from projections.service import memory_projections
from reputation.commands import ingest_lines
from reputation.config import Settings
from reputation.ingest import Reject
from reputation.store import MemoryStore
from tests.scenarios.worked_example import lines as worked_example

from consumers.consume import dead_letter_value
from consumers.kafka import KafkaUnavailable, bootstrap
from consumers.relay import Relay
from consumers.subscribe import Seen, one_line


class Future:
    def __init__(self, ok: bool | None):
        self.is_done = ok is not None
        self.ok = ok
        self.exception = None if ok else RuntimeError("broker gone")

    def succeeded(self) -> bool:
        return bool(self.ok)


class FakeProducer:
    """Acknowledges the messages whose index is in `acks` (None: never answered)."""

    def __init__(self, acks=lambda i: True):
        self.acks = acks
        self.sent = []

    def send(self, topic, key, value, headers):
        self.sent.append((topic, key, value, dict(headers)))
        return Future(self.acks(len(self.sent) - 1))

    def flush(self, timeout=None):
        pass

    def close(self, timeout=None):
        pass


@pytest.fixture
def history():
    store = MemoryStore()
    assert not ingest_lines(store, worked_example()).rejects
    proj = memory_projections()
    proj.catch_up(store)
    assert proj.max_seq() == 4
    return store, proj


def test_relay_publishes_keyed_messages_and_commits_the_cursor(history):
    store, proj = history
    producer = FakeProducer()
    relay = Relay(Settings(kafka="x:1", topic_prefix="p."), store, proj, batch=3, producer=producer)
    stats = relay.run()
    assert stats.published == 4 and stats.cursor == 4 and stats.batches == 2
    assert proj.get_cursor("relay:p.score-changes") == 4
    topic, key, value, headers = producer.sent[0]
    assert topic == "p.score-changes" and key == b"f-cathy"
    assert json.loads(value)["change_id"] == headers["change_id"].decode()
    assert Relay(Settings(kafka="x:1", topic_prefix="p."), store, proj, producer=producer).run().published == 0


@pytest.mark.parametrize("acks, cursor", [
    (lambda i: i != 2, 2),  # the third failed: the fourth's ack does not move the cursor past it
    (lambda i: None if i >= 1 else True, 1),  # no answer in time
    (lambda i: False, 0),
])
def test_relay_cursor_stops_before_the_first_unacknowledged_change(history, acks, cursor):
    store, proj = history
    relay = Relay(Settings(kafka="x:1"), store, proj, producer=FakeProducer(acks))
    with pytest.raises(KafkaUnavailable) as failure:
        relay.run()
    assert failure.value.exit_code == 5 and f"cursor is at {cursor}" in failure.value.message
    assert relay.cursor == cursor
    again = FakeProducer()
    assert Relay(Settings(kafka="x:1"), store, proj, producer=again).run().cursor == 4
    assert [json.loads(v)["seq"] for _, _, v, _ in again.sent] == list(range(cursor + 1, 5))


def test_relay_reset_republishes_from_a_seq(history):
    store, proj = history
    Relay(Settings(kafka="x:1"), store, proj, producer=FakeProducer()).run()
    relay = Relay(Settings(kafka="x:1"), store, proj, producer=(p := FakeProducer()))
    relay.reset(2)
    assert relay.run().published == 3 and [h["change_id"] for *_, h in p.sent] == [b"24.0", b"42.0", b"50.0"]
    with pytest.raises(ValueError):
        relay.reset(0)


def test_dead_letter_value_keeps_the_original_bytes():
    text = json.loads(dead_letter_value("t", 1, 7, Reject(7, "e-1", "bad", "é{".encode())))
    assert text == {"original": "é{", "error": "bad", "offset": 7, "partition": 1, "topic": "t", "event_id": "e-1"}
    binary = json.loads(dead_letter_value("t", 0, 3, Reject(3, None, "bad", b"\xff\x00")))
    assert "original" not in binary and base64.b64decode(binary["original_b64"]) == b"\xff\x00"


def test_bootstrap_needs_configuration():
    assert bootstrap(Settings(kafka="a:1, b:2")) == ["a:1", "b:2"]
    with pytest.raises(KafkaUnavailable) as failure:
        bootstrap(Settings())
    assert failure.value.exit_code == 5 and "REPUTATION_KAFKA" in failure.value.message


def test_seen_is_bounded_and_one_line_reads_well(history):
    seen = Seen(capacity=2)
    assert seen.add("a") and not seen.add("a") and seen.add("b") and seen.add("c")
    assert seen.add("a")  # forgotten (oldest)
    _, proj = history
    last = proj.ledger_after(3, 1)[0]
    line = one_line(last)
    assert "f-cathy" in line and "JSS 100 -> 75 (-25)" in line and "change 50.0" in line


def test_relay_continues_when_another_projector_got_ahead(tmp_path):
    from projections.service import open_projections
    from reputation.config import open_store
    from tests.integration.test_kafka import marketplace

    cfg = Settings(home=str(tmp_path), kafka="x:1")
    store = open_store(cfg)
    history = marketplace(3)
    ingest_lines(store, history[:50])
    opened = []

    def reopen():
        opened.append(open_projections(cfg, store))
        return opened[-1]

    producer = FakeProducer()
    relay = Relay(cfg, store, open_projections(cfg, store), producer=producer, reopen=reopen)
    assert relay.run_once() == 4
    ingest_lines(store, history[50:])
    other = open_projections(cfg, store)  # `reputation project --follow` in another process
    assert other.catch_up(store) == 100
    ingest_lines(store, marketplace(4)[150:])
    # the relay's projector was stale: the catch-up notices it under the catch-up lock and
    # continues from what is committed (no conflict, so nothing to reopen)
    assert relay.run_once() == 12 and opened == []
    assert [json.loads(v)["seq"] for *_, v, _ in producer.sent] == list(range(1, 17))
    other.close()
    relay.proj.close()
    store.close()
