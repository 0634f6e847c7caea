"""`consume`: ingests events from the Kafka topic `contract-events`.

Each polled batch of messages is validated and appended with exactly the code of
`reputation ingest --skip-invalid` (`reputation.ingest.ingest_lines(store, lines,
skip_invalid=True)`). Then:

1. every rejected message (bad JSON, bad event, broken rule, empty message) goes to
   `contract-events.rejected`: key = the original key, value = JSON
   `{"original": <text>, "error": <reason>, "offset": N, "partition": P, "topic": T,
   "event_id": ...}` (`original_b64` instead of `original` when the bytes are not UTF-8);
2. only after the store has the batch's events and the broker acknowledged the rejects, the
   Kafka offsets are committed.

A crash between 1 and 2 redelivers the batch: the events are idempotent (same id, same
content: a no-op), so the store gains nothing; the rejects may be sent again (same
partition and offset: a reader can drop them). Without `follow` the consumer stops when it
has caught up with the end of every assigned partition.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from typing import Callable, NamedTuple

from reputation.config import Settings
from reputation.ingest import Reject, ingest_lines
from reputation.store import Conflict, EventStore

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

DEFAULT_GROUP = "reputation-consume"
MAX_RECORDS = 2000  # messages per polled batch (one ingest call, one store transaction)
POLL_MS = 1000
ASSIGN_TIMEOUT = 60.0  # seconds to wait for a partition assignment without --follow
CONFLICT_RETRIES = 5


class ConsumeStats(NamedTuple):
    messages: int
    accepted: int
    duplicates: int
    rejected: int
    batches: int
    seconds: float


class Rejected(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    reject: Reject

    def message(self) -> str:
        ident = f" (event {self.reject.event_id})" if self.reject.event_id else ""
        return f"partition {self.partition} offset {self.offset}{ident}: {self.reject.reason}"


def dead_letter_value(topic: str, partition: int, offset: int, reject: Reject) -> bytes:
    """The JSON value of a dead-letter message."""
    value: dict = {}
    try:
        value["original"] = reject.raw.decode("utf-8")
    except UnicodeDecodeError:
        value["original_b64"] = base64.b64encode(reject.raw).decode("ascii")
    value.update({
        "error": reject.reason,
        "offset": offset,
        "partition": partition,
        "topic": topic,
        "event_id": reject.event_id,
    })
    return json.dumps(value, ensure_ascii=False).encode()


class Consumer:
    """Reads `contract-events` into the event store, dead-lettering the rejects."""

    def __init__(
        self,
        settings: Settings,
        store: EventStore,
        *,
        group: str = DEFAULT_GROUP,
        partitions: int = DEFAULT_PARTITIONS,
        max_records: int = MAX_RECORDS,
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
        self.consumer_config = consumer_config or {}
        self.producer_config = producer_config or {}
        self.on_reject = on_reject
        self.commit_offsets = commit  # False only in tests: "killed before committing"
        self.topic = settings.topic(CONTRACT_EVENTS)
        self.rejected_topic = settings.topic(REJECTED)
        self._consumer = None
        self._producer = None
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

    def handle(self, messages: list) -> list[Rejected]:
        """Validate and append one batch of ConsumerRecords; dead-letter the rejects.

        Returns the rejects. Does not commit offsets (the caller does, after this returns).
        """
        lines: list[bytes] = []
        where: list = []  # line number - 1 -> message
        rejected: list[Rejected] = []
        for m in messages:
            if m.value is None or not m.value.strip():
                rejected.append(Rejected(m.partition, m.offset, m.key, Reject(m.offset, None, "empty message (no event)", m.value or b"")))
                continue
            lines.append(m.value)
            where.append(m)
        if lines:
            for attempt in range(CONFLICT_RETRIES):
                try:
                    result = ingest_lines(self.store, lines, skip_invalid=True)
                    break
                except Conflict:  # another writer appended meanwhile: check again
                    if attempt == CONFLICT_RETRIES - 1:
                        raise
                    time.sleep(0.05 * (attempt + 1))
            self.accepted += result.accepted
            self.duplicates += result.duplicates
            for r in result.rejects:
                m = where[r.line - 1]
                rejected.append(Rejected(m.partition, m.offset, m.key, r._replace(line=m.offset)))
        rejected.sort(key=lambda x: (x.partition, x.offset))
        if rejected:
            self._dead_letter(rejected)
        self.messages += len(messages)
        self.rejected += len(rejected)
        self.batches += 1
        return rejected

    def _dead_letter(self, rejected: list[Rejected]) -> None:
        producer = self.producer
        try:
            futures = [
                producer.send(
                    self.rejected_topic,
                    key=r.key,
                    value=dead_letter_value(self.topic, r.partition, r.offset, r.reject),
                )
                for r in rejected
            ]
            producer.flush(timeout=30)
            for f in futures:
                f.get(timeout=0)
        except Exception as exc:  # noqa: BLE001 - not acknowledged: do not commit
            raise unavailable(self.settings, exc, "writing rejected messages to") from None
        for r in rejected:
            if self.on_reject is not None:
                self.on_reject(r)

    def _commit(self, consumer, messages: list) -> None:
        if not self.commit_offsets:
            return
        from kafka import TopicPartition
        from kafka.errors import CommitFailedError, KafkaError
        from kafka.structs import OffsetAndMetadata

        last: dict = {}
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            last[tp] = max(last.get(tp, -1), m.offset)
        try:
            consumer.commit({tp: OffsetAndMetadata(o + 1, "", -1) for tp, o in last.items()})
        except CommitFailedError as exc:  # rebalanced meanwhile: redelivery is harmless
            print(f"warning: offset commit failed ({exc}); the batch will be redelivered (idempotent)", file=sys.stderr)
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

    def run(self, follow: bool = False, stop: StopSignal | None = None,
            report: Callable[[Rejected], None] | None = None) -> ConsumeStats:
        from kafka.errors import KafkaError

        start = time.perf_counter()
        stop = stop or StopSignal()
        consumer = self._open()
        deadline = time.monotonic() + ASSIGN_TIMEOUT
        try:
            while not stop.is_set():
                try:
                    records = consumer.poll(timeout_ms=POLL_MS, max_records=self.max_records)
                except KafkaError as exc:
                    raise unavailable(self.settings, exc, "reading from") from None
                messages = [m for tp in sorted(records, key=lambda t: t.partition) for m in records[tp]]
                if messages:
                    for r in self.handle(messages):
                        if report is not None:
                            report(r)
                    self._commit(consumer, messages)
                    continue
                if follow:
                    continue
                try:
                    if self.caught_up(consumer):
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
        return ConsumeStats(self.messages, self.accepted, self.duplicates, self.rejected,
                            self.batches, time.perf_counter() - start)
