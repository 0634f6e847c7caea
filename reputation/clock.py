"""Instants as integer microseconds since the epoch (UTC), and calendar-month arithmetic.

Every time in the engine is such an integer; text is RFC 3339. The event catalogue
(`events.py`) decides which texts are valid timestamps; this module only converts.
"""

from __future__ import annotations

import time as _time
from calendar import monthrange
from datetime import UTC, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS = 1_000_000
DAY = 86_400 * MICROS
INF = 1 << 62  # later than any instant, beyond any log position (-INF: before any)
_US = timedelta(microseconds=1)


@lru_cache(maxsize=1 << 16)  # an event's time is read several times on its way in
def parse_time(text: str) -> int:
    """RFC 3339 text -> integer microseconds since the epoch (UTC)."""
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T", 1))
    except ValueError as exc:  # name what was given, not the case-folded text parsed
        raise ValueError(str(exc).replace(repr(text.replace("z", "Z").replace("t", "T", 1)), repr(text))) from None
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no offset")
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


def format_time(micros: int) -> str:
    """Integer microseconds since the epoch -> canonical UTC RFC 3339 text."""
    seconds, us = divmod(micros, MICROS)
    if 0 <= seconds < 253402300800:  # years 1970..9999: the fast path
        text = "%04d-%02d-%02dT%02d:%02d:%02d" % _time.gmtime(seconds)[:6]
    else:  # (%Y would not pad years below 1000)
        dt = EPOCH + timedelta(seconds=seconds)
        text = "%04d-%02d-%02dT%02d:%02d:%02d" % (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
    return text + (".%06dZ" % us if us else "Z")


def to_datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def to_micros(dt: datetime) -> int:
    return (dt - EPOCH) // _US


def add_months(dt: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months later (earlier if negative), the day
    clamped to the month's end: Jan 31 + 1 month = Feb 28 (29 in a leap year)."""
    m = dt.month - 1 + months
    year, month = dt.year + m // 12, m % 12 + 1
    return dt.replace(year=year, month=month, day=min(dt.day, monthrange(year, month)[1]))
