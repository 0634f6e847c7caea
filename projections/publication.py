"""The publication schedule of the freelancer-facing score.

The trust view keeps every instant; what the freelancer (and the public) see is the score as
it stood at the latest *publication instant*: 00:00 UTC on given days of each month (the 1st
and the 15th by default). A single settlement then cannot be timed against a score change:
everything that settled in one period appears at once. Configurable with
REPUTATION_PUBLISH_DAYS (comma-separated days of the month, 1-28) and REPUTATION_GROUP_MIN
(the k of the grouped private line, default 3).

The projector uses the days too (the Top Rated weeks read the published JSS), so the days a
projection store was built with are recorded in it at its first projection (or rebuild), and a
reader configured with other days is refused (check_days), never served a silent mix.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import lru_cache
from typing import Iterator, NamedTuple

from reputation.clock import INF, to_datetime, to_micros
from reputation.errors import BadRequest, Misconfigured

ENV_DAYS = "REPUTATION_PUBLISH_DAYS"
ENV_K = "REPUTATION_GROUP_MIN"
# the days the projections were built with, a bit per day, in the projection store's meta (a
# plain key beside the relay cursors: kept by a reset, so rebuild writes it again)
DAYS_KEY = "projections:publish_days"


@lru_cache(maxsize=1 << 16)  # the projector asks for the same Mondays again and again
def _published_at(days: tuple[int, ...], t: int) -> int:
    if t >= INF or t <= -INF:
        return t
    dt = to_datetime(t)
    y, m = dt.year, dt.month
    while True:
        for d in reversed(days):
            p = datetime(y, m, d, tzinfo=UTC)
            if p <= dt:
                return to_micros(p)
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)


def days_mask(days: tuple[int, ...]) -> int:
    return sum(1 << d for d in set(days))


def days_of(mask: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, 29) if mask >> d & 1)


def days_text(days: tuple[int, ...]) -> str:
    return ",".join(map(str, days))


def record_days(repo, policy: Policy) -> None:
    """A projector starting an empty projection store records the days it builds it with."""
    if repo.meta().position == 0:
        repo.set_cursor(DAYS_KEY, days_mask(policy.days))


def check_days(days: tuple[int, ...], recorded: int) -> None:
    """Refuse to read (or extend) projections built with other publication days than `days`
    (recorded: their days_mask; 0 when they were written before the days were recorded)."""
    if recorded == days_mask(days):
        return
    built = f"with the days {days_text(days_of(recorded))}" if recorded else "before the days were recorded"
    raise Misconfigured(
        f"{ENV_DAYS}={days_text(days)} but the projections were built {built}: the Top Rated badge "
        f"reads the JSS as published on those days; run `reputation project --rebuild` to rebuild "
        f"them with {days_text(days)}, or set {ENV_DAYS}"
        + (f"={days_text(days_of(recorded))}" if recorded else " to the days they were built with")
    )


class Policy(NamedTuple):
    days: tuple[int, ...] = (1, 15)  # days of the month, published at 00:00 UTC
    k: int = 3  # a group of private-driven contracts is shown only when it holds >= k of them

    @classmethod
    def from_env(cls) -> Policy:
        days, k = cls().days, cls().k
        text = os.environ.get(ENV_DAYS)
        if text:
            try:
                days = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
            except ValueError:
                raise BadRequest(f"{ENV_DAYS}={text!r}: write days of the month, e.g. 1,15") from None
        if not days or not all(1 <= d <= 28 for d in days):
            raise BadRequest(f"{ENV_DAYS}={text!r}: days must be between 1 and 28 (every month has them)")
        text = os.environ.get(ENV_K)
        if text:
            try:
                k = int(text)
            except ValueError:
                k = 0
            if k < 1:
                raise BadRequest(f"{ENV_K}={text!r}: the group minimum must be a whole number >= 1")
        return cls(days, k)

    def published_at(self, t: int) -> int:
        """The latest publication instant at or before `t` (the freelancer's view of time t)."""
        return _published_at(self.days, t)

    def instants(self, lo: int, hi: int) -> Iterator[int]:
        """The publication instants p with lo < p <= hi, in order."""
        p = self.published_at(hi)
        out = []
        while p > lo:
            out.append(p)
            p = self.published_at(p - 1)
        return reversed(out)
