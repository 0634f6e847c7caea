"""Measurements of the Kafka edge (used by `reputation bench`; not timed assertions in tests).

* `measure_latency(kafka)`: end-to-end latency from ingesting an event into the store to a
  subscriber receiving the score change it caused, at a steady ingest rate (~1k events/s by
  default): p50 / p99 / max in milliseconds. The pipeline is the production one, in threads
  of this process: paced `ingest_lines` -> relay `--follow` (catch up the projections,
  publish, wait for the acknowledgement, commit the cursor) -> broker -> `subscribe`.
* `measure_relay(kafka)`: relay throughput (score changes published per second) of a
  simulated marketplace's ledger, after the projections have caught up.

Both work in a fresh temporary home with a unique topic prefix: they never touch the user's
stores or topics.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import threading
import time
import uuid
from typing import Iterable, NamedTuple

from projections.ledger import ScoreChange
from reputation.config import Settings, open_store
from reputation.ingest import ingest_lines


class LatencyReport(NamedTuple):
    events: int  # events ingested
    seconds: float  # ingest duration
    rate: float  # achieved ingest rate (events/s)
    changes: int  # score changes caused by those events
    received: int  # score changes the subscriber received in time
    p50_ms: float  # ingest -> subscriber received the change
    p99_ms: float
    max_ms: float
    ack_p50_ms: float  # ingest -> the broker acknowledged the relay's message (relay's share)
    ack_p99_ms: float

    def as_dict(self) -> dict:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in self._asdict().items()}


class RelayReport(NamedTuple):
    changes: int
    seconds: float
    per_second: float
    catch_up_seconds: float


def _events(freelancers: int, months: int, seed: int) -> Iterable[bytes]:
    from engine.simulate import simulate

    return simulate(freelancers, months, seed)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _settings(kafka: str, home: str, topic_prefix: str | None) -> Settings:
    prefix = topic_prefix if topic_prefix is not None else f"bench-{uuid.uuid4().hex[:8]}."
    return Settings(home=home, kafka=kafka, topic_prefix=prefix)


def measure_latency(
    kafka: str,
    *,
    events: int = 5000,
    rate: float = 1000.0,
    freelancers: int = 300,
    months: int = 24,
    seed: int = 7,
    tick: float = 0.01,
    interval: float = 0.005,
    settle: float = 15.0,
    topic_prefix: str | None = None,
    consumer_config: dict | None = None,
) -> LatencyReport:
    """Ingest `events` simulated events at `rate` per second; measure ingest -> subscriber."""
    from consumers.kafka import SCORE_CHANGES_TRUST, StopSignal, ensure_topics
    from consumers.relay import Relay
    from consumers.subscribe import subscribe
    from projections.service import open_projections

    lines = list(itertools.islice(_events(freelancers, months, seed), events))
    with tempfile.TemporaryDirectory(prefix="reputation-latency-") as home:
        cfg = _settings(kafka, home, topic_prefix)
        ensure_topics(cfg, [SCORE_CHANGES_TRUST])
        stop = StopSignal()
        received: dict[str, tuple[int, float]] = {}  # change_id -> (position, time)
        acked: dict[str, tuple[int, float]] = {}
        errors: list[BaseException] = []

        def on_change(change) -> None:
            received.setdefault(change.change_id, (change.position, time.perf_counter()))

        def run_subscriber() -> None:
            try:
                subscribe(
                    on_change,
                    settings=cfg,
                    from_beginning=True,
                    dedupe=False,
                    stop=stop,
                    consumer_config=consumer_config,
                )
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        def run_relay() -> None:
            store = open_store(cfg)
            proj = open_projections(cfg, store)
            try:

                def on_ack(c: ScoreChange) -> None:
                    acked.setdefault(c.change_id, (c.position, time.perf_counter()))

                relay = Relay(cfg, store, proj, batch=1000, on_ack=on_ack)
                relay.run(follow=True, stop=stop, interval=interval)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                proj.close()
                store.close()

        store = open_store(cfg)
        threads = [
            threading.Thread(target=run_subscriber, daemon=True),
            threading.Thread(target=run_relay, daemon=True),
        ]
        for t in threads:
            t.start()
        time.sleep(1.0)  # subscriber assigned, relay producer connected
        submitted: dict[int, float] = {}  # log position -> time its ingest call started
        done = 0
        start = time.perf_counter()
        try:
            while done < len(lines) and not errors:
                due = min(len(lines), int((time.perf_counter() - start) * rate) + 1)
                if due > done:
                    t0 = time.perf_counter()
                    result = ingest_lines(store, lines[done:due], skip_invalid=True)
                    if result.positions:
                        for p in range(result.positions[0], result.positions[1] + 1):
                            submitted[p] = t0
                    done = due
                next_at = start + done / rate
                time.sleep(max(0.0, min(tick, next_at - time.perf_counter())))
            seconds = time.perf_counter() - start
            # wait for every change the ingested events caused
            proj = open_projections(cfg, store)
            try:
                deadline = time.perf_counter() + settle
                total = None
                while time.perf_counter() < deadline and not errors:
                    total = proj.max_seq()
                    if total and len(received) >= total and proj.position >= store.max_position():
                        break
                    time.sleep(0.05)
                total = proj.max_seq()
            finally:
                proj.close()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
            store.close()
        if errors:
            raise errors[0]
        lat = sorted((at - submitted[pos]) * 1000 for pos, at in received.values() if pos in submitted)
        ack = sorted((at - submitted[pos]) * 1000 for pos, at in acked.values() if pos in submitted)
        return LatencyReport(
            events=done,
            seconds=seconds,
            rate=done / seconds if seconds else 0.0,
            changes=total or 0,
            received=len(lat),
            p50_ms=_percentile(lat, 50),
            p99_ms=_percentile(lat, 99),
            max_ms=lat[-1] if lat else float("nan"),
            ack_p50_ms=_percentile(ack, 50),
            ack_p99_ms=_percentile(ack, 99),
        )


def measure_relay(
    kafka: str,
    *,
    freelancers: int = 300,
    months: int = 36,
    seed: int = 7,
    batch: int = 1000,
    topic_prefix: str | None = None,
    producer_config: dict | None = None,
) -> RelayReport:
    """Relay throughput: publish a simulated marketplace's whole ledger once."""
    from consumers.relay import Relay
    from projections.service import open_projections

    with tempfile.TemporaryDirectory(prefix="reputation-relay-") as home:
        cfg = _settings(kafka, home, topic_prefix)
        store = open_store(cfg)
        proj = open_projections(cfg, store)
        try:
            ingest_lines(store, _events(freelancers, months, seed), skip_invalid=True)
            t0 = time.perf_counter()
            proj.catch_up(store)
            catch_up = time.perf_counter() - t0
            # the ledger stream alone: the published changes are a few per freelancer and month
            relay = Relay(cfg, store, proj, batch=batch, producer_config=producer_config, publications=False)
            _ = relay.producer  # connect and create the topic outside the measurement
            stats = relay.run()
        finally:
            proj.close()
            store.close()
        return RelayReport(
            stats.published, stats.seconds, stats.published / stats.seconds if stats.seconds else 0.0, catch_up
        )
