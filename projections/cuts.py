"""Where a question is asked: valid time (`--as-of`) and transaction time (`--known-at`, a log
position or a time) from their text, and the engine clock as the log stood at a position."""

from __future__ import annotations

import msgspec

from projections.store import ReadRepo
from reputation import events as ev
from reputation.clock import INF
from reputation.errors import BadRequest
from reputation.store import EventStore


def as_time(text: str | None, name: str) -> int | None:
    """An RFC 3339 option value -> microseconds (None stays None)."""
    if text is None:
        return None
    try:
        return ev.parse_time(ev.canonical_time(text, name))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def known_position(text: str | None, store: EventStore) -> int | None:
    """`@N` is a log position; a timestamp means the last position recorded by then."""
    if text is None:
        return None
    if text.startswith("@"):
        try:
            return int(text[1:])
        except ValueError:
            raise BadRequest("write a log position as @N") from None
    try:
        when = ev.canonical_time(text, "--known-at")
    except ValueError as exc:
        raise BadRequest(f"{exc}; or a log position written @N") from None
    lo, hi = 0, store.max_position()
    while lo < hi:  # recorded_at grows with the position
        mid = (lo + hi + 1) // 2
        ((_, data),) = store.read(mid - 1, 1)
        if ev.decode_recorded(data).recorded_at <= when:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _Moves(msgspec.Struct):
    """What of a stored event moves the engine clock (the rest is skipped when decoding)."""

    type: str
    occurred_at: str
    to: str | None = None


_moves = msgspec.json.Decoder(tuple[_Moves, str])  # a stored row: [event, recorded_at]


def clock_known_at(store: EventStore, known: int, repo: ReadRepo) -> int:
    """The engine clock as the log stood at position `known`: what the engine showed then,
    the latest occurred_at or ClockAdvanced.to of the log prefix. The projections record the
    clock at each commit (`repo.clock_at`): the log is read from the last one at or before
    `known`, so from the start only for projections that predate those records."""
    from reputation.export import read_log

    start, clock = repo.clock_at(known) or (0, -INF)
    for _, data in read_log(store, start, known, page=5000):
        e, _ = _moves.decode(data)
        clock = max(clock, ev.clock_reach(ev.parse_time(e.occurred_at), e.to if e.type == "ClockAdvanced" else None))
    return clock


def default_as_of(as_of: int | None, known: int | None, store: EventStore, repo: ReadRepo) -> int | None:
    """No --as-of: the engine clock, as known at K when K is given."""
    if as_of is not None or known is None:
        return as_of
    return clock_known_at(store, known, repo)


def clock_as_known(known: int | None, store: EventStore, clock: int, repo: ReadRepo) -> int:
    """The default end of a span (`explain --to`): the engine `clock`, or the clock as the
    log stood at `known` when one is given."""
    return clock if known is None else clock_known_at(store, known, repo)
