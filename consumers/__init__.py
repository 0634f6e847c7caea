"""The Kafka edge: relay the score-change ledger, consume contract events, subscribe.

Python API: `consumers.subscribe(handler, *, settings=None, group=None, from_beginning=False,
max_messages=None, timeout=None, dedupe=True)` calls `handler(ScoreChange)` for every score
change published on the `score-changes` topic (see `consumers.subscribe` and docs/kafka.md).
"""

from consumers.subscribe import SubscribeStats, subscribe

__all__ = ["subscribe", "SubscribeStats"]
