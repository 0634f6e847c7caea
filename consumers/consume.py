"""`consume`: ingests events from the Kafka topic `contract-events`.

Each polled batch of messages is validated and appended with exactly the code of
`reputation ingest --skip-invalid` (`reputation.ingest.ingest_lines(store, lines,
skip_invalid=True, hold=True)`). Then:

1. an event refused only because something it depends on has not arrived yet (its contract,
   the contract it continues, the closes a perk removal counts: `reputation.contract.Missing`)
   is *held*, with the later events of its contract, and tried again with every later batch
   (Kafka orders only within a partition). A held event goes to the dead-letter topic when it
   has waited `hold_seconds`, when more than `hold_max` events are held, or, without `follow`,
   when the topic has no more events;
2. every rejected message (bad JSON, bad event, broken rule, empty message, a later event of a
   contract whose earlier event was rejected) goes to `contract-events.rejected`: key = the
   original key, value = JSON `{"original": <text>, "error": <reason>, "offset": N,
   "partition": P, "topic": T, "event_id": ...}` (`original_b64` instead of `original` when the
   bytes are not UTF-8; a message too big to be dead-lettered whole is cut to its first
   `TRUNCATED_TO` bytes, with `"truncated": true` and `"original_size"`);
3. only after the store has the batch's events and the broker acknowledged the rejects, the
   Kafka offsets are committed - never past a held message.

A crash between 2 and 3 redelivers the batch: the events are idempotent (same id, same
content: a no-op), so the store gains nothing; the rejects may be sent again (same
partition and offset: a reader can drop them). Without `follow` the consumer stops when it
has caught up with the end of every assigned partition. Logging (logger "consumers") tells
counts and ids only, never a payload.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, NamedTuple

from consumers.dead_letter import DEAD_LETTER_MAX, TRUNCATED_TO, dead_letter_value
from consumers.holding import HOLD_MAX, HOLD_SECONDS, Held, Rejected, give_up
from consumers.kafka import (
    CONTRACT_EVENTS,
    DEFAULT_PARTITIONS,
    REJECTED,
    KafkaUnavailable,
    StopSignal,
    ensure_topics,
    make_consumer,
    make_producer,
    unavailable,
)
from reputation.config import Settings
from reputation.ingest import Reject, ingest_lines, one_line
from reputation.store import EventStore

log = logging.getLogger("consumers")

DEFAULT_GROUP = "reputation-consume"
MAX_RECORDS = 2000  # messages per polled batch (one ingest call, one store transaction)
POLL_MS = 1000
ASSIGN_TIMEOUT = 60.0  # seconds to wait for a partition assignment without --follow
STALL_SECONDS = 60.0  # --follow: exit 5 when the broker has not answered for this long
PROBE_SECONDS = 5.0  # --follow: how often an idle consumer checks the broker
COMMIT_TIMEOUT_MS = 10_000


class ConsumeStats(NamedTuple):
    messages: int
    accepted: int
    duplicates: int
    rejected: int
    batches: int
    seconds: float
    held: int = 0  # still held when the run stopped (not committed: delivered again)


class Consumer:
    """Reads `contract-events` into the event store, holding what waits, dead-lettering the rejects."""

    def __init__(
        self,
        settings: Settings,
        store: EventStore,
        *,
        group: str = DEFAULT_GROUP,
        partitions: int = DEFAULT_PARTITIONS,
        max_records: int = MAX_RECORDS,
        hold_seconds: float = HOLD_SECONDS,
        hold_max: int = HOLD_MAX,
        stall_seconds: float = STALL_SECONDS,
        consumer_config: dict | None = None,
        producer_config: dict | None = None,
        on_reject: Callable[[Rejected], None] | None = None,
        commit: bool = True,
    ):
        self.settings = settings
        self.store = store
        self.group = group
        self.partitions = partitions
        self.max_records = max_records
        self.hold_seconds = hold_seconds
        self.hold_max = hold_max
        self.stall_seconds = stall_seconds
        self.consumer_config = consumer_config or {}
        self.producer_config = producer_config or {}
        self.dead_letter_limit = min(DEAD_LETTER_MAX, self.producer_config.get("max_request_size", DEAD_LETTER_MAX))
        self.on_reject = on_reject
        self.commit_offsets = commit  # False only in tests: "killed before committing"
        self.topic = settings.topic(CONTRACT_EVENTS)
        self.rejected_topic = settings.topic(REJECTED)
        self._consumer = None
        self._producer = None
        self.held: list[Held] = []
        self.blocked: dict[str, str] = {}  # contract id -> its rejected event (later ones wait for it)
        self._next: dict = {}  # TopicPartition -> next offset to read
        self._committed: dict = {}
        self.messages = self.accepted = self.duplicates = self.rejected = self.batches = 0

    # -- clients -----------------------------------------------------------------------

    def _open(self):
        if self._consumer is None:
            ensure_topics(self.settings, [CONTRACT_EVENTS, REJECTED], self.partitions)
            self._consumer = make_consumer(
                self.settings, self.group, auto_offset_reset="earliest", **self.consumer_config
            )
            self._consumer.subscribe([self.topic])
        return self._consumer

    @property
    def producer(self):
        if self._producer is None:
            self._producer = make_producer(self.settings, **self.producer_config)
        return self._producer

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close(autocommit=False)
            except Exception:  # noqa: BLE001
                pass
            self._consumer = None
        if self._producer is not None:
            try:
                self._producer.close(timeout=2)
            except Exception:  # noqa: BLE001
                pass
            self._producer = None

    # -- one batch ---------------------------------------------------------------------

    def handle(self, messages: list, final: bool = False) -> list[Rejected]:
        """Validate and append the held messages, then `messages` (ConsumerRecords); hold what
        waits, dead-letter the rejects (with `final`, every held message too).

        Returns the rejects. Does not commit offsets (the caller does, after this returns).
        """
        from kafka import TopicPartition

        now = time.monotonic()
        rejected: list[Rejected] = []
        todo: list[tuple[Any, float]] = [(h.message, h.since) for h in self.held]
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            self._next[tp] = max(self._next.get(tp, 0), m.offset + 1)
            if m.value is None or not m.value.strip():
                rejected.append(
                    Rejected(
                        m.partition, m.offset, m.key, Reject(m.offset, None, "empty message (no event)", m.value or b"")
                    )
                )
            else:
                todo.append((m, now))
        stored = 0
        held: list[Held] = []
        while todo:  # again while something was stored: it may be what a held event waits for
            result = ingest_lines(
                self.store, [m.value for m, _ in todo], skip_invalid=True, hold=True, blocked=self.blocked
            )
            stored += result.accepted
            self.accepted += result.accepted
            self.duplicates += result.duplicates
            held = []
            for r in result.rejects:
                m, since = todo[r.line - 1]
                r = r._replace(line=m.offset)
                if r.waiting_for is None:
                    rejected.append(Rejected(m.partition, m.offset, m.key, r))
                else:
                    held.append(Held(m, since, r))
            if not (held and result.accepted):
                break
            todo = [(h.message, h.since) for h in held]
        self.held = give_up(held, now, final, rejected, self.blocked, self.hold_seconds, self.hold_max)
        rejected.sort(key=lambda x: (x.partition, x.offset))
        if rejected:
            self._dead_letter(rejected)
            for d in rejected:
                log.info(
                    "dead-lettered partition %d offset %d event %s",
                    d.partition,
                    d.offset,
                    one_line(d.reject.event_id or "-"),
                )
        self.messages += len(messages)
        self.rejected += len(rejected)
        self.batches += bool(messages)
        log.log(
            logging.INFO if messages or stored or rejected else logging.DEBUG,
            "batch of %d messages: %d events stored, %d held, %d dead-lettered",
            len(messages),
            stored,
            len(self.held),
            len(rejected),
        )
        return rejected

    def _dead_letter(self, rejected: list[Rejected]) -> None:
        from kafka.errors import MessageSizeTooLargeError, RecordListTooLargeError

        producer = self.producer

        def send(r: Rejected, limit: int):
            return producer.send(
                self.rejected_topic,
                key=r.key,
                value=dead_letter_value(self.topic, r.partition, r.offset, r.reject, limit),
            )

        try:
            futures = [send(r, self.dead_letter_limit) for r in rejected]
            producer.flush(timeout=30)
            for r, f in zip(rejected, futures):
                try:
                    f.get(timeout=0)
                except (MessageSizeTooLargeError, RecordListTooLargeError):  # the broker's limit is lower
                    send(r, TRUNCATED_TO).get(timeout=30)
        except Exception as exc:  # noqa: BLE001 - not acknowledged: do not commit
            raise unavailable(self.settings, exc, "writing rejected messages to") from None
        for r in rejected:
            if self.on_reject is not None:
                self.on_reject(r)

    def _commit(self, consumer) -> None:
        """Commit, per partition, up to the first held message (or all that was read)."""
        if not self.commit_offsets:
            return
        from kafka import TopicPartition
        from kafka.errors import CommitFailedError, KafkaError
        from kafka.structs import OffsetAndMetadata

        offsets = dict(self._next)
        for h in self.held:
            tp = TopicPartition(h.message.topic, h.message.partition)
            offsets[tp] = min(offsets.get(tp, h.message.offset), h.message.offset)
        todo = {tp: o for tp, o in offsets.items() if self._committed.get(tp) != o}
        if not todo:
            return
        try:
            consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in todo.items()}, timeout_ms=COMMIT_TIMEOUT_MS)
            self._committed.update(todo)
        except CommitFailedError as exc:  # rebalanced meanwhile: redelivery is harmless
            log.warning("offset commit failed (%s); the batch will be redelivered (idempotent)", type(exc).__name__)
        except KafkaError as exc:  # the events are stored; the batch will be redelivered (idempotent)
            raise unavailable(self.settings, exc, "committing offsets to") from None

    # -- the loop ----------------------------------------------------------------------

    def caught_up(self, consumer) -> bool:
        """Every assigned partition's position is at its end.

        The end is the larger of the listed end offset and the high watermark of the last
        fetch (some Kafka-protocol brokers under-report the listed end offset).
        """
        assigned = consumer.assignment()
        if not assigned:
            return False
        ends = consumer.end_offsets(list(assigned))
        for tp in assigned:
            end = max(ends.get(tp) or 0, consumer.highwater(tp) or 0)
            if consumer.position(tp) < end:
                return False
        return True

    def run(
        self, follow: bool = False, stop: StopSignal | None = None, report: Callable[[Rejected], None] | None = None
    ) -> ConsumeStats:
        from kafka.errors import KafkaError

        start = time.perf_counter()
        self.messages = self.accepted = self.duplicates = self.rejected = self.batches = 0  # this run's
        stop = stop or StopSignal()
        consumer = self._open()
        deadline = time.monotonic() + ASSIGN_TIMEOUT
        self._healthy = self._probed = time.monotonic()

        def handle(messages: list, final: bool = False) -> None:
            for r in self.handle(messages, final):
                if report is not None:
                    report(r)
            self._commit(consumer)

        try:
            while not stop.is_set():
                try:
                    records = consumer.poll(timeout_ms=POLL_MS, max_records=self.max_records)
                except KafkaError as exc:
                    if not follow:
                        raise unavailable(self.settings, exc, "reading from") from None
                    # a broker restart: keep trying until it has been silent for stall_seconds
                    self._stalled(_problem(exc))
                    stop.wait(min(1.0, POLL_MS / 1000))
                    continue
                messages = [m for tp in sorted(records, key=lambda t: t.partition) for m in records[tp]]
                if messages:
                    self._healthy = time.monotonic()
                    handle(messages)
                    continue
                if self.held:  # retry (their dependency may be stored by now) and expire
                    handle([])
                if follow:
                    self._check_health(consumer)
                    continue
                try:
                    if self.caught_up(consumer):
                        if self.held:
                            handle([], final=True)
                        break
                except KafkaError as exc:
                    raise unavailable(self.settings, exc, "reading offsets from") from None
                if not consumer.assignment() and time.monotonic() > deadline:
                    raise KafkaUnavailable(
                        f"no partition of {self.topic} was assigned to group {self.group} within "
                        f"{ASSIGN_TIMEOUT:.0f}s (are other members of the group holding them all?)"
                    )
        finally:
            self.close()
        return ConsumeStats(
            self.messages,
            self.accepted,
            self.duplicates,
            self.rejected,
            self.batches,
            time.perf_counter() - start,
            len(self.held),
        )

    def _check_health(self, consumer) -> None:
        """With --follow and nothing to read: every PROBE_SECONDS ask the broker for the end
        offsets of the topic; when it has not answered for `stall_seconds`, stop with exit 5
        (a supervisor restarts the consumer, which resumes from the committed offsets)."""
        from kafka.errors import KafkaError

        now = time.monotonic()
        if now - self._probed < PROBE_SECONDS:
            return
        self._probed = now
        try:
            parts = consumer.assignment() or _partitions(consumer, self.topic)
            if parts:
                consumer.end_offsets(list(parts), timeout_ms=int(PROBE_SECONDS * 1000))
                self._healthy = time.monotonic()
                return
            problem = f"topic {self.topic} is missing on the broker"
        except KafkaError as exc:
            problem = _problem(exc)
        self._stalled(problem)

    def _stalled(self, problem: str) -> None:
        """Kafka did not answer: stop with exit 5 once it has been silent for stall_seconds."""
        stalled = time.monotonic() - self._healthy
        log.warning("Kafka did not answer for %.0f s (%s)", stalled, problem)
        if stalled >= self.stall_seconds:
            raise KafkaUnavailable(
                f"consume lost Kafka at {self.settings.kafka}: no answer for {stalled:.0f} s ({problem}); "
                "it stops so that it can be restarted (it resumes from the committed offsets, nothing "
                "is lost); check the broker (deploy/RUNBOOK.md)"
            )


def _partitions(consumer, topic: str) -> list:
    from kafka import TopicPartition

    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


def _problem(exc: BaseException) -> str:
    return str(exc) if type(exc).__name__ in str(exc) else f"{type(exc).__name__}: {exc}"
