"""Subscribing to score changes: the `subscribe` function and the `reputation subscribe` command.

```python
from consumers import subscribe

def on_change(change):            # a projections.ledger.ScoreChange
    print(change.freelancer_id, change.jss_before, "->", change.jss_after)

subscribe(on_change, group="my-app", from_beginning=True)
```

Delivery is at least once, in ledger order per freelancer. With `dedupe=True` (default) a
change whose `change_id` was already handled by this call is dropped (duplicates appear when
the relay re-sends after a crash or is re-run with `--from-seq`). With a `group`, the offsets
are committed after the handler returned for the messages of each polled batch (a handler
that raises gets its message again next time); without a group, no offsets are kept and the
subscriber starts at the end of the topic (or its beginning with `from_beginning=True`).
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from typing import Any, Callable, NamedTuple

import msgspec

from consumers.kafka import (
    DEFAULT_PARTITIONS,
    SCORE_CHANGES,
    SCORE_CHANGES_TRUST,
    StopSignal,
    ensure_topics,
    make_consumer,
    partitions_of,
    unavailable,
)
from projections import published
from projections.audiences import audience_named
from projections.ledger import ScoreChange, from_json
from reputation.config import Settings

POLL_MS = 500
FETCH_MAX_WAIT_MS = 50  # a subscriber wants changes soon (some brokers answer a fetch only then)
DEDUPE_CAPACITY = 1_000_000  # change ids remembered for dropping duplicates


class SubscribeStats(NamedTuple):
    handled: int  # changes passed to the handler
    duplicates: int  # changes dropped because their change_id was seen already
    invalid: int  # messages that are not a score change (skipped, reported on stderr)


class Seen:
    """A bounded set of change ids (the oldest are forgotten first)."""

    def __init__(self, capacity: int = DEDUPE_CAPACITY):
        self.capacity = capacity
        self.ids: OrderedDict[str, None] = OrderedDict()

    def add(self, change_id: str) -> bool:
        """True when new."""
        if change_id in self.ids:
            return False
        self.ids[change_id] = None
        if len(self.ids) > self.capacity:
            self.ids.popitem(last=False)
        return True


def _decoder(audience: str) -> Callable[[bytes], Any]:
    if audience == "trust":
        return from_json
    if audience == "freelancer":
        return published.from_json

    def public(data: bytes) -> published.PublishedChange:
        change = published.from_json(data)
        change.audience, change.causes = "public", None
        return change

    return public


def _change_id(message, change) -> str:
    for name, value in message.headers or ():
        if name == "change_id" and value is not None:
            return value.decode("utf-8", "replace")
    return change.change_id


def subscribe(
    handler: Callable[[ScoreChange], object],
    *,
    settings: Settings | None = None,
    group: str | None = None,
    from_beginning: bool = False,
    max_messages: int | None = None,
    timeout: float | None = None,
    dedupe: bool = True,
    stop: StopSignal | None = None,
    consumer_config: dict | None = None,
    audience: str = "trust",
) -> SubscribeStats:
    """Call `handler(change)` for every score change of an audience.

    audience: "trust" (default): every ledger entry (a projections.ledger.ScoreChange, with
        private values) from `score-changes.trust`; "freelancer": the published changes (a
        projections.published.PublishedChange) from `score-changes`; "public": the same
        without their causes.

    settings: where Kafka is (default: `Settings.from_env()`, i.e. REPUTATION_KAFKA and
        REPUTATION_TOPIC_PREFIX).
    group: a Kafka consumer group; its offsets are committed after the handler returned, so
        a restarted subscriber continues where it stopped. None: no group, no commits.
    from_beginning: start at the beginning of the topic (with a group: only when the group has
        no committed offsets yet); otherwise at its end (only new changes).
    max_messages: return after handling this many changes.
    timeout: return after this many seconds without a new message.
    dedupe: drop changes whose `change_id` this call has already handled.
    stop: a `consumers.kafka.StopSignal` (or anything with `is_set()`) to stop from elsewhere.
    consumer_config: extra kafka-python KafkaConsumer settings.

    Returns SubscribeStats(handled, duplicates, invalid). Raises KafkaUnavailable (exit
    code 5 in the CLI) when Kafka is not configured or unreachable.
    """
    from kafka.errors import KafkaError
    from kafka.structs import OffsetAndMetadata

    settings = settings or Settings.from_env()
    name = SCORE_CHANGES_TRUST if audience_named(audience) == "trust" else SCORE_CHANGES
    decode = _decoder(audience)
    topic = settings.topic(name)
    ensure_topics(settings, [name], DEFAULT_PARTITIONS)
    config = {
        "auto_offset_reset": "earliest" if from_beginning else "latest",
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
        **(consumer_config or {}),
    }
    consumer = make_consumer(settings, group, **config)
    seen = Seen() if dedupe else None
    handled = duplicates = invalid = 0
    pending: dict = {}  # TopicPartition -> next offset to commit

    def commit() -> None:
        if group is not None and pending:
            try:
                consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in pending.items()})
            except KafkaError as exc:
                print(f"warning: offset commit failed ({exc}); some changes may be delivered again", file=sys.stderr)
            pending.clear()

    try:
        try:
            _start(consumer, topic, group, from_beginning)
        except KafkaError as exc:
            raise unavailable(settings, exc, "reading from") from None
        last = time.monotonic()
        while stop is None or not stop.is_set():
            if max_messages is not None and handled >= max_messages:
                break
            wait = POLL_MS
            if timeout is not None:
                left = timeout - (time.monotonic() - last)
                if left <= 0:
                    break
                wait = max(1, min(POLL_MS, int(left * 1000)))
            try:
                records = consumer.poll(timeout_ms=wait)
            except KafkaError as exc:
                raise unavailable(settings, exc, "reading from") from None
            if not records:
                continue
            last = time.monotonic()
            try:
                for tp in sorted(records, key=lambda t: t.partition):
                    for m in records[tp]:
                        if max_messages is not None and handled >= max_messages:
                            break
                        try:
                            change = decode(m.value)
                        except (msgspec.DecodeError, msgspec.ValidationError, TypeError) as exc:
                            invalid += 1
                            print(
                                f"warning: {topic} partition {m.partition} offset {m.offset} "
                                f"is not a score change ({exc}); skipped",
                                file=sys.stderr,
                            )
                            pending[tp] = m.offset + 1
                            continue
                        if seen is not None and not seen.add(_change_id(m, change)):
                            duplicates += 1
                            pending[tp] = m.offset + 1
                            continue
                        handler(change)
                        handled += 1
                        pending[tp] = m.offset + 1
            finally:
                commit()  # what the handler finished, even if it raised
    except KeyboardInterrupt:
        pass
    finally:
        try:
            consumer.close(autocommit=False)
        except Exception:  # noqa: BLE001
            pass
    return SubscribeStats(handled, duplicates, invalid)


def _start(consumer, topic: str, group: str | None, from_beginning: bool) -> None:
    if group is not None:
        consumer.subscribe([topic])
        return
    parts = partitions_of(consumer, topic)
    consumer.assign(parts)
    if from_beginning:
        consumer.seek_to_beginning(*parts)
    else:
        consumer.seek_to_end(*parts)
        for tp in parts:  # resolve the end now: changes published from here on count
            consumer.position(tp)


def _num(x, none: str = "hidden") -> str:
    return none if x is None else (f"{x:g}" if isinstance(x, float) else str(x))


def one_line(change) -> str:
    """A human one-liner for a score change (a ledger entry or a published change)."""
    if isinstance(change, published.PublishedChange):
        return _published_line(change)
    parts = [change.effective_at, change.freelancer_id]
    if change.jss_before != change.jss_after:
        delta = ""
        if change.jss_before is not None and change.jss_after is not None:
            delta = f" ({change.jss_after - change.jss_before:+d})"
        parts.append(f"JSS {_num(change.jss_before)} -> {_num(change.jss_after)}{delta}")
    else:
        parts.append(f"JSS {_num(change.jss_after)}")
    if change.feedback_before != change.feedback_after:
        parts.append(f"feedback {_num(change.feedback_before, 'none')} -> {_num(change.feedback_after, 'none')}")
    if change.top_rated_before != change.top_rated_after:
        parts.append("Top Rated gained" if change.top_rated_after else "Top Rated lost")
    text = "; ".join(c.text for c in change.causes[:2])
    if len(change.causes) > 2:
        text += f"; and {len(change.causes) - 2} more"
    return "  ".join(parts) + f"  [{change.rules}, change {change.change_id}]" + (f"  {text}" if text else "")


def _published_line(change: published.PublishedChange) -> str:
    parts = [
        change.published_at,
        change.freelancer_id,
        f"JSS {_num(change.jss_before)} -> {_num(change.jss_after)}",
        f"feedback {_num(change.feedback_before, 'none')} -> {_num(change.feedback_after, 'none')}",
    ]
    text = "; ".join(c.text for c in (change.causes or [])[:2])
    return "  ".join(parts) + f"  [{change.rules}, published]" + (f"  {text}" if text else "")
