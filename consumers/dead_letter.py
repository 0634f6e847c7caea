"""The value of a dead-letter message of `consume` (topic contract-events.rejected)."""

from __future__ import annotations

import base64
import json

from reputation.ingest import Reject

# A dead letter must fit in a Kafka message (message.max.bytes and the producer's
# max_request_size are 1 MiB by default): above this size the original is cut.
DEAD_LETTER_MAX = 1_000_000
TRUNCATED_TO = 64 * 1024


def dead_letter_value(topic: str, partition: int, offset: int, reject: Reject, limit: int = DEAD_LETTER_MAX) -> bytes:
    """The JSON value of a dead-letter message (at most about `limit` bytes)."""

    def value(raw: bytes, **extra) -> bytes:
        v: dict = {}
        try:
            v["original"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            v["original_b64"] = base64.b64encode(raw).decode("ascii")
        v.update(
            {
                "error": reject.reason,
                "offset": offset,
                "partition": partition,
                "topic": topic,
                "event_id": reject.event_id,
                **extra,
            }
        )
        if reject.waiting_for:
            v["waiting_for"] = reject.waiting_for
        return json.dumps(v, ensure_ascii=False).encode()

    whole = value(reject.raw)
    if len(whole) <= limit:
        return whole
    cut = reject.raw[: min(TRUNCATED_TO, limit // 8)]  # JSON may escape a byte into 6
    return value(cut, truncated=True, original_size=len(reject.raw))
