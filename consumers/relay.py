"""The relay: publishes the score-change ledger to the Kafka topic `score-changes.trust`, and
the published (freelancer-audience) changes to `score-changes` (consumers.publications).

Each ledger entry becomes one message on `score-changes.trust`: key = freelancer id (same freelancer -> same
partition -> ledger order), value = the entry as JSON (`projections.ledger.to_json`), header
`change_id` (stable: a subscriber drops duplicates with it).

The tracked position is a cursor in the projection store, `relay:<topic>`, holding the last
published `seq`. It is committed only after the broker acknowledged every message up to it
(the contiguous acknowledged prefix of a batch), so:

* re-running never re-sends an acknowledged change;
* a crash (or a broker lost mid-batch) re-sends at most the unacknowledged ones, with the
  same `change_id`.

`--from-seq N` resets the cursor to N-1: the ledger is re-published from entry N on.
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

from consumers.kafka import (
    DEFAULT_PARTITIONS,
    SCORE_CHANGES,
    SCORE_CHANGES_TRUST,
    KafkaUnavailable,
    StopSignal,
    ensure_topics,
    make_producer,
)
from consumers.publications import Publications
from projections.ledger import ScoreChange, to_json
from reputation.config import Settings
from reputation.retrying import retrying
from reputation.store import EventStore

DEFAULT_BATCH = 1000
DEFAULT_ACK_TIMEOUT = 30.0  # seconds to wait for the broker to acknowledge one batch
DEFAULT_INTERVAL = 0.2  # seconds between polls of the store with --follow


def cursor_name(topic: str) -> str:
    return f"relay:{topic}"


class RelayStats(NamedTuple):
    published: int  # messages acknowledged by the broker in this run
    cursor: int  # the committed cursor (last published seq)
    batches: int
    seconds: float
    publications: int = 0  # published changes acknowledged on score-changes (freelancer audience)


class Relay:
    """Publishes pending ledger entries; `projections` is the service of projections.service."""

    def __init__(
        self,
        settings: Settings,
        store: EventStore,
        projections,
        *,
        batch: int = DEFAULT_BATCH,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        partitions: int = DEFAULT_PARTITIONS,
        producer=None,
        producer_config: dict | None = None,
        on_ack: Callable[[ScoreChange], None] | None = None,
        on_batch_sent: Callable[[int, list[ScoreChange]], None] | None = None,
        reopen: Callable[[], object] | None = None,
        publications: bool = True,
    ):
        if batch < 1:
            raise ValueError("batch must be >= 1")
        self.settings = settings
        self.store = store
        self.proj = projections
        self.batch = batch
        self.ack_timeout = ack_timeout
        self.partitions = partitions
        self.topic = settings.topic(SCORE_CHANGES_TRUST)
        self.cursor_name = cursor_name(self.topic)
        self.publications = Publications(settings.topic(SCORE_CHANGES), projections, self._send_published)
        self.with_publications = publications  # False: the ledger only (the relay benchmark)
        self._producer = producer
        self._producer_config = producer_config or {}
        self.on_ack = on_ack  # called for every acknowledged change (tests, metrics)
        self.on_batch_sent = on_batch_sent  # called after a batch is handed to the producer
        self.reopen = reopen  # opens the projections again (after another projector got ahead)
        self.published = 0
        self.batches = 0

    # -- the producer ------------------------------------------------------------------

    @property
    def producer(self):
        if self._producer is None:
            ensure_topics(self.settings, [SCORE_CHANGES_TRUST, SCORE_CHANGES], self.partitions)
            self._producer = make_producer(self.settings, **self._producer_config)
        return self._producer

    def close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=2)
            except Exception:  # noqa: BLE001 - closing a producer of a dead broker
                pass
            self._producer = None

    # -- the cursor --------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        return self.proj.get_cursor(self.cursor_name)

    def reset(self, from_seq: int) -> None:
        """Re-publish from ledger entry `from_seq` on (the cursor becomes from_seq - 1)."""
        if from_seq < 1:
            raise ValueError("--from-seq must be >= 1")
        self.proj.set_cursor(self.cursor_name, from_seq - 1)

    # -- publishing --------------------------------------------------------------------

    def publish(self, changes: list[ScoreChange]) -> int:
        """Send one batch, wait for the acknowledgements, advance the cursor; return how many.

        The cursor moves to the last seq of the contiguous acknowledged prefix. If any message
        was not acknowledged, the cursor stays before it and KafkaUnavailable is raised.
        """
        if not changes:
            return 0
        producer = self.producer
        sent = []
        error: BaseException | None = None
        for change in changes:
            try:
                future = producer.send(
                    self.topic,
                    key=change.freelancer_id.encode(),
                    value=to_json(change),
                    headers=[("change_id", change.change_id.encode())],
                )
            except Exception as exc:  # noqa: BLE001 - metadata/buffer timeouts, closed producer
                error = exc
                break
            sent.append((change, future))
        if self.on_batch_sent is not None:
            self.on_batch_sent(self.batches, changes)
        try:
            producer.flush(timeout=self.ack_timeout)
        except Exception as exc:  # noqa: BLE001 - KafkaTimeoutError: not all acknowledged in time
            error = error or exc
        cursor = None
        acked = 0
        for change, future in sent:
            if future.is_done and future.succeeded():
                cursor = change.seq
                acked += 1
                if self.on_ack is not None:
                    self.on_ack(change)
            else:
                if error is None or future.is_done:
                    error = (
                        future.exception
                        if future.is_done
                        else TimeoutError(f"not acknowledged within {self.ack_timeout}s")
                    )
                break
        if cursor is not None:
            self.proj.set_cursor(self.cursor_name, cursor)
        self.published += acked
        self.batches += 1
        if acked < len(changes):
            raise KafkaUnavailable(
                f"Kafka at {self.settings.kafka} did not acknowledge score change "
                f"seq {changes[acked].seq} ({type(error).__name__}: {error}); the relay cursor is at "
                f"{self.cursor} and the unacknowledged changes are re-sent on the next run. "
                "Check the broker (REPUTATION_KAFKA / --kafka, deploy/RUNBOOK.md)"
            )
        return acked

    def _send_published(self, messages: list[tuple[str, str, bytes]]) -> int:
        """Send one publication instant's messages (key, change_id, value); all acknowledged or
        KafkaUnavailable (the publication cursors then stay where they are)."""
        producer = self.producer
        futures = []
        try:
            for key, change_id, value in messages:
                futures.append(
                    producer.send(
                        self.publications.topic,
                        key=key.encode(),
                        value=value,
                        headers=[("change_id", change_id.encode())],
                    )
                )
            producer.flush(timeout=self.ack_timeout)
        except Exception as exc:  # noqa: BLE001 - as in publish(): timeouts, a closed producer
            raise KafkaUnavailable(
                f"Kafka at {self.settings.kafka} did not take the published changes "
                f"({type(exc).__name__}: {exc}); they are re-sent on the next run"
            ) from None
        failed = [f for f in futures if not (f.is_done and f.succeeded())]
        if failed:
            raise KafkaUnavailable(
                f"Kafka at {self.settings.kafka} did not acknowledge {len(failed)} of {len(futures)} published "
                f"changes on {self.publications.topic}; they are re-sent on the next run with the same change_id. "
                "Check the broker (REPUTATION_KAFKA / --kafka, deploy/RUNBOOK.md)"
            )
        return len(futures)

    def pending(self) -> list[ScoreChange]:
        return self.proj.ledger_after(self.cursor, self.batch)

    def catch_up(self) -> int:
        """Bring the projections up to date with the log.

        Another projector (`reputation project --follow`) may commit the same log positions
        first; the projection store then refuses ours (a record conflict) and this handle's
        projector is stale: open the projections again and continue from what is committed.
        """
        from eventsourcing.persistence import IntegrityError

        if self.reopen is None:
            return self.proj.catch_up(self.store)
        for attempt in retrying(IntegrityError, first_wait=0):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    # the stale handle is dropped, not closed: on PostgreSQL it shares the event
                    # store's connection pool
                    self.proj = self.reopen()
                return self.proj.catch_up(self.store)
        return 0

    def run_once(self, stop: StopSignal | None = None) -> int:
        """Catch the projections up, then publish everything pending; return how many."""
        self.catch_up()
        done = 0
        while stop is None or not stop.is_set():
            changes = self.pending()
            if not changes:
                break
            done += self.publish(changes)
        if self.with_publications and (stop is None or not stop.is_set()):
            self.publications.proj = self.proj  # a reopened handle after a conflict
            done += self.publications.run_once()
        return done

    def follow(self, stop: StopSignal, interval: float = DEFAULT_INTERVAL) -> None:
        """Keep publishing new changes until `stop` is set (SIGINT/SIGTERM)."""
        while not stop.is_set():
            if self.run_once(stop) == 0:
                stop.wait(interval)

    def run(
        self, follow: bool = False, stop: StopSignal | None = None, interval: float = DEFAULT_INTERVAL
    ) -> RelayStats:
        start = time.perf_counter()
        try:
            if follow:
                self.follow(stop or StopSignal(), interval)
            else:
                self.run_once(stop)
            if self._producer is not None:
                self._producer.flush(timeout=self.ack_timeout)
        finally:
            self.close()
        return RelayStats(
            self.published, self.cursor, self.batches, time.perf_counter() - start, self.publications.published
        )
