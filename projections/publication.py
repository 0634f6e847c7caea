"""The publication schedule of the freelancer-facing score.

The trust view keeps every instant; what the freelancer (and the public) see is the score as
it stood at the latest *publication instant*: 00:00 UTC on given days of each month (the 1st
and the 15th by default). A single settlement then cannot be timed against a score change:
everything that settled in one period appears at once. Configurable with
REPUTATION_PUBLISH_DAYS (comma-separated days of the month, 1-28) and REPUTATION_GROUP_MIN
(the k of the grouped private line, default 3).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Iterator, NamedTuple

from reputation.clock import INF, to_datetime, to_micros
from reputation.errors import BadRequest

ENV_DAYS = "REPUTATION_PUBLISH_DAYS"
ENV_K = "REPUTATION_GROUP_MIN"


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
        if t >= INF or t <= -INF:
            return t
        dt = to_datetime(t)
        y, m = dt.year, dt.month
        while True:
            for d in reversed(self.days):
                p = datetime(y, m, d, tzinfo=UTC)
                if p <= dt:
                    return to_micros(p)
            y, m = (y, m - 1) if m > 1 else (y - 1, 12)

    def instants(self, lo: int, hi: int) -> Iterator[int]:
        """The publication instants p with lo < p <= hi, in order."""
        p = self.published_at(hi)
        out = []
        while p > lo:
            out.append(p)
            p = self.published_at(p - 1)
        return reversed(out)
