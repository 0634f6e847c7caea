"""The marketplace run: freelancers in cohorts, their contracts and the clients' flags, merged by time.

Inside a cohort one heap holds, per freelancer, the time it opens its next contract and, per
open contract, the next event of its schedule; popping the heap yields the cohort's events in
arrival order. Memory is bounded by the cohort size (pending events of open contracts only),
never by months or by the number of events. Beyond `cohort_size` freelancers every cohort
restarts at `start` (each cohort is one time-ordered run, so later cohorts look like a late
backfill). Client flag events are merged into the first cohort's stream.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from typing import Iterator

from engine.simulate.clients import FLAG, M64, Clients
from engine.simulate.clock import DAY, HOUR, months_after
from engine.simulate.contracts import plan_contract
from engine.simulate.lines import Lines
from engine.simulate.model import SPAWN, Contract, Freelancer
from reputation.events import MICROS, parse_time

DEFAULT_COHORT = 65536  # beyond this many freelancers, later cohorts arrive as a backfill

# heap entry tags: (key, seq, tag, object)
_CONTRACT = 0
_FREELANCER = 1
_CLIENT = 2


class Simulation:
    """One simulation run; iterate it for the lines. `progress` goes from 0.0 to 1.0."""

    def __init__(
        self,
        freelancers: int,
        months: int,
        seed: int,
        start: str = "2018-06-01T00:00:00Z",
        *,
        cohort_size: int = DEFAULT_COHORT,
    ):
        if freelancers < 0:
            raise ValueError("freelancers must be >= 0")
        if months < 0:
            raise ValueError("months must be >= 0")
        if cohort_size < 1:
            raise ValueError("cohort_size must be >= 1")
        self.freelancers = freelancers
        self.months = months
        self.seed = seed
        self.start = -(-parse_time(start) // MICROS)  # whole seconds, rounded up
        self.end = months_after(self.start, months)
        self.cohort_size = cohort_size
        self.clients = Clients(seed, freelancers, self.start, self.end)
        self.progress = 0.0
        self.emitter = Lines()

    @property
    def lines(self) -> int:
        """Lines yielded so far (the number of the last event id)."""
        return self.emitter.count

    def __iter__(self) -> Iterator[bytes]:
        self.emitter.reset()
        self.progress = 0.0
        n_cohorts = max(1, -(-self.freelancers // self.cohort_size))
        for k in range(n_cohorts):
            first = k * self.cohort_size + 1
            last = min(self.freelancers, first + self.cohort_size - 1)
            yield from _Cohort(self, k, n_cohorts, range(first, last + 1), with_clients=(k == 0))
        self.progress = 1.0

    def new_freelancer(self, i: int) -> tuple[Freelancer, int]:
        """Freelancer i (its own random stream) and the time of its first contract."""
        fl = Freelancer()
        fl.fid = f"f-{i:06d}"
        rng = fl.rng = random.Random((self.seed & M64) << 64 | i)
        span = self.end - self.start
        if rng.random() < 0.6:
            join = self.start + int(rng.random() * min(span, 60 * DAY))
        else:
            join = self.start + int(rng.random() * 0.7 * span)
        fl.quality = 0.5 + 0.5 * rng.random() ** 0.6
        # contracts per day: ~2.8 a year on average, busy freelancers far more
        fl.rate = min(0.05, math.exp(rng.gauss(math.log(1 / 150), 0.45)))
        fl.hourly_rate = int(math.exp(rng.gauss(math.log(35), 0.5)) * 100)  # cents/hour
        fl.leave_at = self.end
        if rng.random() < 0.15:
            fl.leave_at = join + int(rng.random() * span)
        fl.top_rated = fl.quality > 0.8 and rng.random() < 0.7
        fl.recent = []
        fl.last_perk = None
        fl.closes_since_perk = 0
        # the first contract comes soon after joining
        return fl, join + int(rng.expovariate(1 / 20) * DAY)


class _Cohort:
    """The time-merged events of one cohort of freelancers (and of the clients, for the first)."""

    def __init__(self, sim: Simulation, k: int, n_cohorts: int, ids: range, with_clients: bool):
        self.sim = sim
        self.heap: list = []
        self.seq = itertools.count()  # ties pop in push order
        for i in ids:
            fl, t = sim.new_freelancer(i)
            if t < min(sim.end, fl.leave_at):
                self.push(t, _FREELANCER, fl)
        self.flags = sim.clients.flag_events() if with_clients else iter(())
        self._next_flag()
        self.count = 0  # contract lines, for the progress every 1024
        self.base = k / n_cohorts
        self.scale = 1 / (n_cohorts * max(1, sim.end - sim.start))

    def push(self, key: int, tag: int, obj: object) -> None:
        heapq.heappush(self.heap, (key, next(self.seq), tag, obj))

    def _next_flag(self) -> None:
        nxt = next(self.flags, None)
        if nxt is not None:
            self.push(nxt[0], _CLIENT, nxt)

    def __iter__(self) -> Iterator[bytes]:
        sim = self.sim
        heap = self.heap
        while heap:
            key, _, tag, obj = heapq.heappop(heap)
            if tag == _CONTRACT:
                yield from self._advance(obj, key)
            elif tag == _FREELANCER:
                self._open(obj, key)
            else:
                t, i, kind = obj
                clients = sim.clients
                yield sim.emitter.client(t, clients.kid(i), kind == FLAG, clients.is_harsh(i))
                self._next_flag()

    def _open(self, fl: Freelancer, t: int) -> None:
        """`fl` opens a contract at `t` and plans when it opens the next one (if still active)."""
        sim = self.sim
        self.push(t, _CONTRACT, plan_contract(fl, t, None, sim.clients, sim.end))
        nxt = t + int(fl.rng.expovariate(fl.rate) * DAY) + HOUR
        if nxt < sim.end and nxt < fl.leave_at:
            self.push(nxt, _FREELANCER, fl)

    def _advance(self, c: Contract, key: int) -> Iterator[bytes]:
        """Emit the contract's due events until the heap holds an earlier one, then re-queue it."""
        sim = self.sim
        heap = self.heap
        lines = sim.emitter
        plan = c.plan
        n = len(plan)
        while True:
            entry = plan[c.pos]
            c.pos += 1
            if entry[2] == SPAWN:
                c2 = plan_contract(c.fl, entry[1], c, sim.clients, sim.end)
                self.push(c2.plan[0][0], _CONTRACT, c2)
            else:
                line = lines.contract(c, entry)
                if line is not None:
                    self.count += 1
                    if not self.count & 1023:
                        sim.progress = self.base + (key - sim.start) * self.scale
                    yield line
            if c.pos >= n:
                return
            key = plan[c.pos][0]
            if heap and key >= heap[0][0]:
                self.push(key, _CONTRACT, c)
                return
            # else: it would be popped right away; emit it without the round trip
