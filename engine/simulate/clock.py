"""Simulated time: whole epoch seconds, calendar months and canonical timestamp text."""

from __future__ import annotations

from datetime import timedelta

from reputation.clock import EPOCH, MICROS, add_months, format_time

MINUTE = 60
HOUR = 3600
DAY = 86_400
WINDOW = 14 * DAY  # feedback window, edit window, bonus window
PERK_END = 1_725_321_600  # 2024-09-03T00:00:00Z: the top-rated perk is gone from then on

_HHMM = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(24 * 60))
_SSZ = tuple(f"{s:02d}Z" for s in range(60))


def months_after(t: int, months: int) -> int:
    """Epoch seconds `months` calendar months after epoch seconds `t`."""
    return (add_months(EPOCH + timedelta(seconds=t), months) - EPOCH) // timedelta(seconds=1)


class Timestamps:
    """Epoch seconds -> the text `events.format_time` writes, with the date part cached per day.

    Formatting every event's time through `format_time` costs about a tenth of the run; the
    hour/minute/second tail is a table look-up instead.
    """

    __slots__ = ("_days",)

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, t: int) -> str:
        d, s = divmod(t, DAY)
        day = self._days.get(d)
        if day is None:
            if len(self._days) > 8192:
                self._days.clear()
            day = self._days[d] = format_time(d * DAY * MICROS)[:11]  # "YYYY-MM-DDT"
        m, s = divmod(s, MINUTE)
        return day + _HHMM[m] + _SSZ[s]
