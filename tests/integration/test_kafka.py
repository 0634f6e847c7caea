"""The Kafka edge against a real broker process (tansu; or REPUTATION_TEST_KAFKA).

relay -> score-changes.trust -> subscribe (the ledger; the published changes on score-changes
are in test_kafka_audiences.py); consume from contract-events with a dead-letter topic;
faults (broker killed mid-batch, consumer killed before committing); exit code 5.
"""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict

import pytest
from click.testing import CliRunner

from consumers import subscribe
from consumers.consume import Consumer
from consumers.kafka import (
    CONTRACT_EVENTS,
    REJECTED,
    SCORE_CHANGES_TRUST,
    KafkaUnavailable,
    ensure_topics,
    make_producer,
)
from consumers.relay import Relay, cursor_name
from engine.cli import main_group
from projections.ledger import from_json
from projections.service import open_projections
from reputation.config import Settings, open_store
from reputation.ingest import ingest_lines
from tests.integration.kafka_broker import TEST_CONSUMER, Broker, free_port
from tests.scenarios.worked_example import copies
from tests.scenarios.worked_example import lines as worked_example

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.filterwarnings("ignore:read_text is deprecated:DeprecationWarning"),  # kafka-python 3
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
]


# -- helpers -----------------------------------------------------------------------------


def marketplace(freelancers: int) -> list[bytes]:
    """`freelancers` copies of the worked example, each with its own ids (several partitions)."""
    return copies(freelancers)


def ingest(cfg: Settings, lines: list[bytes]) -> None:
    store = open_store(cfg)
    try:
        result = ingest_lines(store, lines)
        assert not result.rejects, result.rejects[:3]
    finally:
        store.close()


def ledger(cfg: Settings):
    store = open_store(cfg)
    proj = open_projections(cfg, store)
    try:
        proj.catch_up(store)
        return proj.ledger_after(0, 1_000_000), proj.get_cursor(cursor_name(cfg.topic(SCORE_CHANGES_TRUST)))
    finally:
        proj.close()
        store.close()


def read_topic(cfg: Settings, name: str, wait: float = 10.0) -> list:
    """Every message of a topic (partitions by partition, in offset order)."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    topic = cfg.topic(name)
    c = KafkaConsumer(bootstrap_servers=cfg.kafka, enable_auto_commit=False, fetch_max_wait_ms=100)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        assert parts, f"no topic {topic}"
        c.assign(parts)
        c.seek_to_beginning(*parts)
        out = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            records = c.poll(timeout_ms=500)
            for tp in records:
                out.extend(records[tp])
            if not records and all(c.highwater(tp) is not None and c.position(tp) >= c.highwater(tp) for tp in parts):
                break
        return sorted(out, key=lambda m: (m.partition, m.offset))
    finally:
        c.close()


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(main_group, list(args), env=env, catch_exceptions=False)


# -- relay -> subscribe ------------------------------------------------------------------


def test_relay_and_subscribe_deliver_the_ledger_in_order_and_dedupe_resends(kafka_settings):
    cfg = kafka_settings
    ingest(cfg, marketplace(6))
    result = cli("relay", "--batch", "7")
    assert result.exit_code == 0, result.output
    entries, cursor = ledger(cfg)
    assert len(entries) >= 6 * 4 and cursor == entries[-1].seq

    got = []
    stats = subscribe(got.append, settings=cfg, from_beginning=True, timeout=2)
    assert [c.change_id for c in sorted(got, key=lambda c: c.seq)] == [e.change_id for e in entries]
    assert stats.handled == len(entries) and stats.duplicates == 0
    per_freelancer = defaultdict(list)
    for c in got:  # arrival order
        per_freelancer[c.freelancer_id].append(c.seq)
    assert len(per_freelancer) == 6
    assert all(seqs == sorted(seqs) for seqs in per_freelancer.values())
    assert got[0] == entries[got[0].seq - 1]  # the whole record survives the trip

    messages = read_topic(cfg, SCORE_CHANGES_TRUST)
    assert len(messages) == len(entries)
    for m in messages:
        change = from_json(m.value)
        assert m.key == change.freelancer_id.encode()
        assert dict(m.headers)["change_id"] == change.change_id.encode()
    by_freelancer = defaultdict(set)
    for m in messages:
        by_freelancer[m.key].add(m.partition)
    assert all(len(p) == 1 for p in by_freelancer.values())  # same freelancer -> same partition

    # re-running sends nothing new
    assert "published 0 score changes" in cli("relay").output
    assert len(read_topic(cfg, SCORE_CHANGES_TRUST)) == len(entries)

    # a forced re-send (cursor reset) duplicates with the same change_id ...
    result = cli("relay", "--from-seq", "3")
    assert result.exit_code == 0, result.output
    assert f"published {len(entries) - 2} score changes" in result.output
    messages = read_topic(cfg, SCORE_CHANGES_TRUST)
    ids = [dict(m.headers)["change_id"] for m in messages]
    assert len(ids) == 2 * len(entries) - 2 and set(ids) == {e.change_id.encode() for e in entries}
    # ... that --dedupe drops, and --no-dedupe shows
    deduped = cli("subscribe", "--from-beginning", "--timeout", "2", "--json")
    lines = [json.loads(x) for x in deduped.stdout.splitlines()]
    assert deduped.exit_code == 0 and len(lines) == len(entries)
    assert sorted(x["change_id"] for x in lines) == sorted(e.change_id for e in entries)
    everything = cli("subscribe", "--from-beginning", "--timeout", "2", "--json", "--no-dedupe")
    assert len(everything.stdout.splitlines()) == 2 * len(entries) - 2
    human = cli("subscribe", "--from-beginning", "--timeout", "1", "--max-messages", "3")
    assert len(human.stdout.splitlines()) == 3 and "JSS" in human.stdout


def test_subscribe_with_a_group_commits_after_the_handler(kafka_settings):
    cfg = kafka_settings
    ingest(cfg, marketplace(2))
    assert cli("relay").exit_code == 0
    entries, _ = ledger(cfg)
    first, rest = [], []
    subscribe(
        first.append, settings=cfg, group="g1", from_beginning=True, max_messages=3, consumer_config=TEST_CONSUMER
    )

    def failing(change):
        raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):  # not committed: delivered again
        subscribe(failing, settings=cfg, group="g1", from_beginning=True, consumer_config=TEST_CONSUMER)
    subscribe(rest.append, settings=cfg, group="g1", from_beginning=True, timeout=2, consumer_config=TEST_CONSUMER)
    assert len(first) == 3
    assert sorted(c.change_id for c in first + rest) == sorted(e.change_id for e in entries)


# -- consume -----------------------------------------------------------------------------


def produce(cfg: Settings, messages: list[tuple[bytes | None, bytes | None, int]]) -> None:
    ensure_topics(cfg, [CONTRACT_EVENTS, REJECTED])
    producer = make_producer(cfg)
    try:
        for key, value, partition in messages:
            producer.send(cfg.topic(CONTRACT_EVENTS), key=key, value=value, partition=partition)
        producer.flush()
    finally:
        producer.close()


def test_consume_stores_the_good_and_dead_letters_the_bad(kafka_settings):
    cfg = kafka_settings
    good = worked_example()
    by_id = {json.loads(x)["event_id"]: x for x in good}
    second_private = json.dumps(
        {  # broken rule: private feedback is immutable
            "type": "PrivateFeedbackSubmitted",
            "event_id": "e-bad-private",
            "occurred_at": "2019-01-05T02:00:00Z",
            "contract_id": "c-1",
            "by": "client",
            "recommend": 3,
        }
    ).encode()
    conflict = by_id["e-2"].replace(b'"amount": 500', b'"amount": 501')  # same id, other content
    bad = [
        (b"c-x", b"{not json", 1),
        (
            b"c-x",
            json.dumps({"type": "ContractExploded", "event_id": "e-x", "occurred_at": "2019-01-01T00:00:00Z"}).encode(),
            2,
        ),
        (
            b"c-1",
            json.dumps(
                {
                    "type": "PaymentMade",
                    "event_id": "e-y",
                    "occurred_at": "2019-01-01T00:00:00",
                    "contract_id": "c-1",
                    "amount": 5,
                }
            ).encode(),
            1,
        ),  # no offset
        (
            b"c-nope",
            json.dumps(
                {
                    "type": "PaymentMade",
                    "event_id": "e-z",
                    "occurred_at": "2019-01-02T00:00:00Z",
                    "contract_id": "c-nope",
                    "amount": 5,
                }
            ).encode(),
            2,
        ),  # unknown contract
        (b"bin", b"\xff\xfe garbage \x00", 1),
        (None, b"", 2),
    ]
    messages = [(json.loads(x).get("contract_id", "").encode(), x, 0) for x in good]
    messages += bad + [(b"c-1", second_private, 0), (b"c-1", conflict, 0), (b"c-1", good[0], 0)]  # + a re-send
    produce(cfg, messages)

    result = cli("consume")
    assert result.exit_code == 0, result.output
    assert "accepted 50 events, 1 already known, 8 rejected" in result.output
    assert "offset" in result.stderr and "immutable" in result.stderr

    store = open_store(cfg)
    try:
        assert store.max_position() == len(good)
        assert set(store.load_digests(list(by_id) + ["e-x", "e-y", "e-z", "e-bad-private"])) == set(by_id)
    finally:
        store.close()

    dead = read_topic(cfg, REJECTED)
    assert len(dead) == 8
    values = [json.loads(m.value) for m in dead]
    assert all(v["error"] and isinstance(v["offset"], int) and isinstance(v["partition"], int) for v in values)
    originals = {base64.b64decode(v["original_b64"]) if "original_b64" in v else v["original"].encode() for v in values}
    assert originals == {v for _, v, _ in bad} | {second_private, conflict}
    keys = {m.key for m in dead}
    assert keys == {b"c-x", b"c-1", b"c-nope", b"bin", None}
    by_original = {(v.get("original") or v.get("original_b64")): v for v in values}
    assert "immutable" in by_original[second_private.decode()]["error"]
    assert "conflict" in by_original[conflict.decode()]["error"]
    assert by_original[second_private.decode()]["offset"] == len(good)  # the source offset, partition 0
    assert by_original[second_private.decode()]["partition"] == 0

    again = cli("consume", "--json")  # a second run changes nothing
    assert json.loads(again.stdout)["messages"] == 0
    assert len(read_topic(cfg, REJECTED)) == 8
    store = open_store(cfg)
    try:
        assert store.max_position() == len(good)
    finally:
        store.close()


def test_consumer_killed_after_writing_before_committing_adds_nothing_on_redelivery(kafka_settings):
    cfg = kafka_settings
    good = marketplace(3)
    produce(cfg, [(b"k", x, 0) for x in good])
    store = open_store(cfg)
    try:
        crashed = Consumer(cfg, store, commit=False, consumer_config=TEST_CONSUMER).run()
        assert crashed.accepted == len(good) and store.max_position() == len(good)
        redelivered = Consumer(cfg, store, consumer_config=TEST_CONSUMER).run()
        assert redelivered.messages == len(good)  # offsets were never committed
        assert redelivered.accepted == 0 and redelivered.duplicates == len(good) and redelivered.rejected == 0
        assert store.max_position() == len(good)
        assert Consumer(cfg, store, consumer_config=TEST_CONSUMER).run().messages == 0
    finally:
        store.close()


# -- faults ------------------------------------------------------------------------------


def test_relay_broker_killed_mid_batch_resumes_on_a_new_broker(kafka_settings, tmp_path):
    old = Broker().start()
    new = Broker()
    try:
        cfg = Settings(home=kafka_settings.home, kafka=old.bootstrap, topic_prefix=kafka_settings.topic_prefix)
        ingest(cfg, marketplace(30))
        acked: list[int] = []

        def kill_during_batch(n, changes):
            if n == 3:
                old.stop()

        store = open_store(cfg)
        proj = open_projections(cfg, store)
        try:
            relay = Relay(
                cfg,
                store,
                proj,
                batch=20,
                ack_timeout=3,
                producer_config={"delivery_timeout_ms": 3000, "request_timeout_ms": 1000, "max_block_ms": 2000},
                on_ack=lambda c: acked.append(c.seq),
                on_batch_sent=kill_during_batch,
            )
            with pytest.raises(KafkaUnavailable):
                relay.run()
            total = proj.max_seq()
            cursor = relay.cursor
            assert 60 <= cursor < total  # three batches acknowledged, the fourth was not
            assert set(range(1, cursor + 1)) <= set(acked)  # never past an unacknowledged change
            assert cursor not in acked or cursor + 1 not in acked

            new.start()  # empty: the relay creates its topic again
            cfg2 = Settings(home=cfg.home, kafka=new.bootstrap, topic_prefix=cfg.topic_prefix)
            stats = Relay(cfg2, store, proj, batch=20).run()
            assert stats.cursor == total and stats.published == total - cursor
        finally:
            proj.close()
            store.close()
        seqs = sorted(from_json(m.value).seq for m in read_topic(cfg2, SCORE_CHANGES_TRUST))
        assert seqs == list(range(cursor + 1, total + 1))  # the rest, nothing acknowledged twice
    finally:
        old.stop()
        new.stop()


@pytest.mark.parametrize("command", ["relay", "consume", "subscribe"])
def test_exit_5_when_kafka_is_unset_or_unreachable(command, tmp_path, monkeypatch):
    monkeypatch.delenv("REPUTATION_KAFKA", raising=False)
    monkeypatch.setenv("REPUTATION_HOME", str(tmp_path))
    unset = CliRunner().invoke(main_group, [command])
    assert unset.exit_code == 5
    assert "REPUTATION_KAFKA" in unset.stderr and "--kafka" in unset.stderr
    assert "Traceback" not in unset.output

    port = free_port()  # nothing listens there
    started = time.monotonic()
    closed = CliRunner().invoke(main_group, [command], env={"REPUTATION_KAFKA": f"127.0.0.1:{port}"})
    assert closed.exit_code == 5
    assert f"127.0.0.1:{port}" in closed.stderr and "REPUTATION_KAFKA" in closed.stderr
    assert time.monotonic() - started < 10


# -- measurement (not a timed assertion) ----------------------------------------------------


def test_latency_helper_measures_ingest_to_subscriber(kafka_broker, monkeypatch):
    from consumers import kafka as k
    from engine.latency import measure_latency

    monkeypatch.setitem(k.CONSUMER_DEFAULTS, "session_timeout_ms", 2000)
    report = measure_latency(kafka_broker, events=800, rate=1000, freelancers=100, months=12)
    assert report.events == 800 and report.changes > 0
    assert report.received == report.changes
    assert 0 < report.p50_ms <= report.p99_ms <= report.max_ms


# -- the long-running processes ------------------------------------------------------------


def test_consume_and_relay_follow_feed_subscribers_and_stop_on_sigterm(kafka_settings):
    import os
    import signal
    import subprocess
    import sys

    cfg = kafka_settings
    ensure_topics(cfg, [CONTRACT_EVENTS, REJECTED, SCORE_CHANGES_TRUST])
    env = {**os.environ}  # REPUTATION_* of this test (kafka_settings)
    run = [sys.executable, "-c", "from engine.cli import main; main()"]
    procs = [
        subprocess.Popen(run + [cmd, "--follow"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for cmd in ("consume", "relay")
    ]
    try:
        history = marketplace(3)
        produce(cfg, [(b"k", x, 0) for x in history[:50]])  # the first freelancer
        got = []
        subscribe(got.append, settings=cfg, from_beginning=True, max_messages=4, timeout=20)
        assert [c.freelancer_id for c in got] == ["f-0"] * 4
        produce(cfg, [(b"k", x, 0) for x in history[50:]])  # more while they run
        subscribe(got.append, settings=cfg, from_beginning=True, max_messages=12, timeout=20)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=20) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert len({c.change_id for c in got}) == 12
    entries, cursor = ledger(cfg)
    assert len(entries) == 12 and cursor == 12
    assert b"published" in outputs[1][0]
