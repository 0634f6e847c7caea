"""The Kafka edge's logic without a broker: the relay cursor, dead-letter values, one-liners."""

from __future__ import annotations

import base64
import json

import pytest

from consumers.consume import dead_letter_value
from consumers.kafka import KafkaUnavailable, bootstrap
from consumers.relay import Relay
from consumers.subscribe import Seen, one_line
from engine.cli import exit_code
from projections.service import memory_projections
from reputation.config import Settings
from reputation.ingest import Reject, ingest_lines
from reputation.store import MemoryStore
from tests.scenarios.worked_example import lines as worked_example


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
    assert proj.get_cursor("relay:p.score-changes.trust") == 4
    topic, key, value, headers = producer.sent[0]
    assert topic == "p.score-changes.trust" and key == b"f-cathy"
    assert json.loads(value)["change_id"] == headers["change_id"].decode()
    assert Relay(Settings(kafka="x:1", topic_prefix="p."), store, proj, producer=producer).run().published == 0


@pytest.mark.parametrize(
    "acks, cursor",
    [
        (lambda i: i != 2, 2),  # the third failed: the fourth's ack does not move the cursor past it
        (lambda i: None if i >= 1 else True, 1),  # no answer in time
        (lambda i: False, 0),
    ],
)
def test_relay_cursor_stops_before_the_first_unacknowledged_change(history, acks, cursor):
    store, proj = history
    relay = Relay(Settings(kafka="x:1"), store, proj, producer=FakeProducer(acks))
    with pytest.raises(KafkaUnavailable) as failure:
        relay.run()
    assert exit_code(failure.value) == 5 and f"cursor is at {cursor}" in str(failure.value)
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
    assert exit_code(failure.value) == 5 and "REPUTATION_KAFKA" in str(failure.value)


def test_seen_is_bounded_and_one_line_reads_well(history):
    seen = Seen(capacity=2)
    assert seen.add("a") and not seen.add("a") and seen.add("b") and seen.add("c")
    assert seen.add("a")  # forgotten (oldest)
    _, proj = history
    last = proj.ledger_after(3, 1)[0]
    line = one_line(last)
    assert "f-cathy" in line and "JSS 100 -> 75 (-25)" in line and "change 50.0" in line


@pytest.mark.parametrize("raw", ["é{".encode(), b"\xff\x00 binary", b'{"type": "PaymentMade"}'])
def test_a_dead_letter_reads_back_as_its_original_unless_cut(raw):
    from reputation.ingest import dead_letter_original

    whole = dead_letter_value("t", 0, 3, Reject(3, None, "bad", raw))
    assert dead_letter_original(whole) == raw
    cut = dead_letter_value("t", 0, 3, Reject(3, None, "bad", raw * 100), limit=50)
    assert json.loads(cut)["truncated"] is True and json.loads(cut)["original_size"] == len(raw) * 100
    assert dead_letter_original(cut) == cut  # no event: refused as it is
    assert dead_letter_original(raw) == raw  # an ordinary line is left alone


def test_published_changes_go_to_score_changes_on_the_schedule_with_stable_ids(history):
    store, proj = history
    # the worked example's changes are on 2019-01-05/06: nothing is published before the 15th
    producer = FakeProducer()
    assert Relay(Settings(kafka="x:1"), store, proj, producer=producer).run().publications == 0
    assert {topic for topic, *_ in producer.sent} == {"score-changes.trust"}
    tick = json.dumps(
        {
            "type": "ClockAdvanced",
            "event_id": "clock-1",
            "occurred_at": "2019-01-20T00:00:00Z",
            "to": "2019-01-20T00:00:00Z",
        }
    )
    assert not ingest_lines(store, [tick.encode()]).rejects
    failing = FakeProducer(lambda i: False)
    with pytest.raises(KafkaUnavailable, match="re-sent on the next run"):
        Relay(Settings(kafka="x:1"), store, proj, producer=failing).run()
    producer = FakeProducer()
    assert Relay(Settings(kafka="x:1"), store, proj, producer=producer).run().publications == 1
    ((topic, key, value, headers),) = [m for m in producer.sent if m[0] == "score-changes"]
    change = json.loads(value)
    assert key == b"f-cathy" and headers["change_id"] == b"f-cathy@2019-01-15T00:00:00Z" == change["change_id"].encode()
    assert [m[3]["change_id"] for m in failing.sent if m[0] == "score-changes"] == [headers["change_id"]]
    assert (change["jss_before"], change["jss_after"], change["published_at"]) == (None, 75, "2019-01-15T00:00:00Z")
    assert "recommend" not in value.decode() and change["causes"]
    again = FakeProducer()
    assert Relay(Settings(kafka="x:1"), store, proj, producer=again).run().publications == 0
