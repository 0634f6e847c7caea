"""The log read back: `export` lines (position, recorded_at, the event as accepted), which
`ingest` accepts again, so export -> ingest into a fresh store reproduces the log."""

from __future__ import annotations

from typing import Iterator

import msgspec

from reputation import events as ev
from reputation.store import EventStore


class Exported(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One line of `reputation export`; `ingest` reads it back."""

    position: int
    recorded_at: str
    event: ev.Event
    chain: str | None = None  # the hash chain's head at this position (hex; docs/verify.md)


_exported = msgspec.json.Decoder(Exported)


def unwrap(raw: bytes) -> bytes:
    """An export line -> its event line; other lines unchanged."""
    if raw.startswith(b'{"position"'):
        try:
            return ev.encode_event(_exported.decode(raw).event)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return raw
    return raw


def read_log(
    store: EventStore, after: int = 0, upto: int | None = None, page: int = 1000
) -> Iterator[tuple[int, bytes]]:
    """Stored rows (position, state) after `after` up to `upto`, a page at a time."""
    while True:
        rows = store.read(after, page, upto)
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def export_lines(store: EventStore, first: int = 1, last: int | None = None, page: int = 1000) -> Iterator[bytes]:
    """The export lines of positions first..last (inclusive), each ending in a newline."""
    after = first - 1
    while rows := store.read_chained(after, page, last):
        for position, state, chain in rows:
            rec = ev.decode_recorded(state)
            yield (
                msgspec.json.encode(
                    Exported(position, rec.recorded_at, rec.event, None if chain is None else chain.hex())
                )
                + b"\n"
            )
        after = rows[-1][0]
