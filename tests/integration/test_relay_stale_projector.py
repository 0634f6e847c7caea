"""The relay over a SQLite store when another process's projector moved the ledger ahead of
the relay's own (stale) projector: it continues and publishes every change once, in seq order."""

from __future__ import annotations

import json

from consumers.relay import Relay
from projections.service import memory_projections, open_projections
from reputation.config import Settings, open_store
from reputation.ingest import ingest_lines
from reputation.store import MemoryStore
from tests.scenarios.worked_example import copies
from tests.unit.test_kafka_edge import FakeProducer

EVENTS_PER_COPY = 50  # lines of the worked example


def ledger_size(lines: list[bytes]) -> int:
    """How many score changes these lines make, by an independent projection in memory."""
    store, proj = MemoryStore(), memory_projections()
    assert not ingest_lines(store, lines).rejects
    proj.catch_up(store)
    return proj.max_seq()


def test_relay_continues_when_another_projector_got_ahead(tmp_path):
    cfg = Settings(home=str(tmp_path), kafka="x:1")
    store = open_store(cfg)
    history = copies(4)
    first, second, third = history[:50], history[50:150], history[150:]
    ingest_lines(store, first)
    opened = []

    def reopen():
        opened.append(open_projections(cfg, store))
        return opened[-1]

    producer = FakeProducer()
    relay = Relay(cfg, store, open_projections(cfg, store), producer=producer, reopen=reopen)
    assert relay.run_once() == ledger_size(first)
    ingest_lines(store, second)
    other = open_projections(cfg, store)  # `reputation project --follow` in another process
    assert other.catch_up(store) == len(second)
    ingest_lines(store, third)
    # the relay's projector is stale (the other one committed past it): the catch-up notices it
    # under the catch-up lock and continues from what is committed (no conflict, nothing to
    # reopen), then publishes what the other projector wrote and what the last lines add
    assert relay.run_once() == ledger_size(history) - ledger_size(first) and opened == []
    assert [json.loads(v)["seq"] for *_, v, _ in producer.sent] == list(range(1, ledger_size(history) + 1))
    other.close()
    relay.proj.close()
    store.close()
