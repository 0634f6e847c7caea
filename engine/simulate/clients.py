"""The shared client pool: who hires, who always rates low, and who is flagged when.

About 0.6 clients per freelancer (`k-...`), popularity skewed so a client hires several
freelancers. A client's persona and its `ClientFlagged` / `ClientUnflagged` times are pure
functions of (seed, client), so no per-client state is kept.
"""

from __future__ import annotations

from typing import Iterator

from engine.simulate.clock import DAY
from engine.simulate.model import Freelancer

M64 = (1 << 64) - 1
FLAG = 0
UNFLAG = 1


def mix(x: int) -> int:
    """splitmix64 finaliser: a fast, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class Clients:
    """Clients 1..n of one run over [start, end) (epoch seconds)."""

    def __init__(self, seed: int, freelancers: int, start: int, end: int) -> None:
        self.n = max(3, (freelancers * 3 + 4) // 5) if freelancers else 0
        self.start = start
        self.end = end
        self._seed64 = mix(seed & M64)
        self._ids: dict[int, str] = {}
        # A few clients with a fixed persona, so that even a small marketplace has them.
        self._forced_harsh = max(1, (self.n + 2) // 3) if self.n else 0
        self._forced_unflag = max(1, (self.n + 1) // 2) if self.n else 0

    def _u(self, i: int, salt: int) -> float:
        """A uniform [0, 1) draw that depends on the seed, the client and the salt only."""
        return mix(self._seed64 ^ (i * 0x100000001B3) ^ (salt << 56)) / 18446744073709551616.0

    def kid(self, i: int) -> str:
        k = self._ids.get(i)
        if k is None:
            if len(self._ids) > 65536:
                self._ids.clear()
            k = self._ids[i] = f"k-{i:06d}"
        return k

    def is_harsh(self, i: int) -> bool:
        """A client who always rates low (public 1-3 stars, private 0-5)."""
        return i == self._forced_harsh or self._u(i, 1) < 0.04

    def flag_times(self, i: int) -> tuple[int | None, int | None]:
        """(flagged_at, unflagged_at) of client i, each None when it does not happen."""
        span = self.end - self.start
        if span <= 2 * DAY:
            return None, None
        harsh = self.is_harsh(i)
        forced = i == self._forced_harsh or i == self._forced_unflag
        if not forced and self._u(i, 2) >= (0.6 if harsh else 0.008):
            return None, None
        lo = 0.25 if forced else 0.05
        flagged = self.start + int((lo + self._u(i, 3) * (0.95 - lo)) * span)
        unflagged = None
        if i == self._forced_unflag or self._u(i, 4) < 0.4:
            unflagged = flagged + 30 * DAY + int(self._u(i, 5) * 300 * DAY)
            if unflagged >= self.end:
                unflagged = None
        return flagged, unflagged

    def flag_events(self) -> Iterator[tuple[int, int, int]]:
        """(time, client, FLAG/UNFLAG) in time order, scanning half-year slices."""
        step = 182 * DAY
        a = self.start
        while a < self.end:
            b = a + step
            found = []
            for i in range(1, self.n + 1):
                flagged, unflagged = self.flag_times(i)
                if flagged is None:
                    continue
                if a <= flagged < b:
                    found.append((flagged, i, FLAG))
                if unflagged is not None and a <= unflagged < b:
                    found.append((unflagged, i, UNFLAG))
            found.sort()
            yield from found
            a = b

    def pick(self, fl: Freelancer) -> int:
        """The client of a freelancer's new contract: often a recent one, popular ones more."""
        rng = fl.rng
        if fl.recent and rng.random() < 0.3:
            return fl.recent[int(rng.random() * len(fl.recent))]
        i = 1 + int(self.n * rng.random() ** 1.6)
        if self.is_harsh(i) and rng.random() < 0.5:  # harsh clients hire less often
            i = 1 + int(self.n * rng.random() ** 1.6)
        fl.recent.append(i)
        if len(fl.recent) > 6:
            del fl.recent[0]
        return i
