"""A deterministic, streaming generator of a realistic synthetic marketplace (`reputation simulate`).

`simulate(freelancers, months, seed)` yields event lines (canonical JSON bytes, no newline) in the
order a platform would send them: merged by time, with a small share (~1-2 %) of deliberately
late-arriving events (a bonus payment or a feedback delivered a few weeks after it occurred). Every
line is built from the structs of `reputation.events` and encoded with `encode_event`, and respects
the rules of events.md and of the top-rated perk (rules.md).

How it works
------------
* Freelancers are simulated in cohorts (`cohort_size`, default 65536). Inside a cohort one heap
  holds, per freelancer, the time it opens its next contract and, per open contract, the next
  event of its planned schedule; popping the heap yields the cohort's events in time order.
  Memory is bounded by the cohort size (pending events of open contracts only), never by months
  or by the number of events. Up to `cohort_size` freelancers the whole output is time-ordered
  except for the deliberate late events; beyond it every cohort restarts at `start` (each cohort
  is one time-ordered run, so later cohorts look like a late backfill).
* Each freelancer draws from its own `random.Random` derived from the seed; contract, client and
  event ids are numbered in emission order, so the same arguments give the same bytes.
* Clients are a shared pool (`k-...`, about 0.6 per freelancer, popularity skewed so a client
  hires several freelancers). A client's persona (e.g. "always rates low") and its
  `ClientFlagged` / `ClientUnflagged` times are pure functions of (seed, client), so no
  per-client state is kept; client events are merged into the first cohort's stream.
* A contract's schedule is planned when it opens (scope change, payments, refunds, close,
  bonuses, both sides' public/private feedback, edit allowances and revisions, removals) and
  cut at the simulated end (`start + months`): a time-cut prefix of a valid history is valid.
  Events are built from validated templates of the `reputation.events` structs (see `_emit`).
  Two things are decided when they come due instead: the reopening of a contract closed after a
  scope change (`ContractOpened(continues=...)`) and the top-rated perk removal, which needs the
  freelancer's previous perk and the count of contracts it closed since (always in time order,
  since `ContractClosed` is never late).
"""

from __future__ import annotations

import heapq
import math
import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterator

import click

from reputation.events import (
    MICROS,
    Attributes,
    ClientFlagged,
    ClientUnflagged,
    ContractClosed,
    ContractOpened,
    FeedbackEditAllowed,
    FeedbackRemoved,
    PaymentMade,
    PaymentRefunded,
    PrivateFeedbackSubmitted,
    PublicFeedbackRevised,
    PublicFeedbackSubmitted,
    ScopeChanged,
    encode_event,
    parse_time,
)

__all__ = ["simulate", "simulate_command", "Simulation", "add_months"]

MINUTE = 60
HOUR = 3600
DAY = 86_400
WINDOW = 14 * DAY  # feedback window, edit window, bonus window
PERK_END = 1_725_321_600  # 2024-09-03T00:00:00Z: the top-rated perk is gone from then on
DEFAULT_COHORT = 65536  # beyond this many freelancers, later cohorts arrive as a backfill

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_DATE = date(1970, 1, 1)
_M64 = (1 << 64) - 1
_HHMM = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(24 * 60))
_SSZ = tuple(f"{s:02d}Z" for s in range(60))

# plan kinds (the payload layout of each is noted)
_OPEN = 0  # None
_SCOPE = 1  # summary
_PAY = 2  # Decimal amount
_REFUND = 3  # Decimal amount
_CLOSE = 4  # (closed_by, reason)
_PUB = 5  # (by, stars, attributes, comment)
_PRIV = 6  # (by, recommend, end_reason)
_ALLOW = 7  # by
_REVISE = 8  # (by, stars, attributes, comment)
_REMOVE = 9  # (of, basis, scope)
_PERK = 10  # scope; decided when due
_SPAWN = 11  # None: open the continuation contract (no event of its own)

_ATTRS = ("skills", "quality", "availability", "deadlines", "communication", "cooperation")
_SCOPES = (
    "Added a second milestone for the mobile layout",
    "Client asked for extra integrations",
    "Deadline moved and deliverables reduced",
    "New requirements after the first review",
    "Budget increased for additional pages",
    "Switched the database from MySQL to PostgreSQL",
)
_GOOD = (
    "Great work, delivered on time.",
    "Excellent communication and quality. Will hire again!",
    "A pleasure to work with.",
    "Very professional, highly recommended.",
    "Did exactly what was needed.",
)
_MEH = (
    "Good work overall, a few delays.",
    "Got the job done.",
    "OK, needed some back and forth.",
)
_BAD = (
    "Missed deadlines and the result needed rework.",
    "Communication was difficult.",
    "Not what we asked for.",
    "Disappointing.",
)
_ABOUT_CLIENT = (
    "Clear requirements and fast payments.",
    "Great client, responsive and fair.",
    "Scope kept changing.",
    "Would work with again.",
)


def _mix(x: int) -> int:
    """splitmix64 finaliser: a fast, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def add_months(t: int, months: int) -> int:
    """Epoch seconds plus calendar months (the 31st clamps to the month's last day)."""
    dt = _EPOCH + timedelta(seconds=t)
    y, m = divmod(dt.month - 1 + months, 12)
    y += dt.year
    m += 1
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    last = (nxt - timedelta(days=1)).day
    moved = dt.replace(year=y, month=m, day=min(dt.day, last))
    return int((moved - _EPOCH).total_seconds())


class _Freelancer:
    __slots__ = (
        "fid", "rng", "quality", "rate", "hourly_rate", "leave_at", "top_rated",
        "recent", "last_perk", "closes_since_perk",
    )


class _Contract:
    __slots__ = ("cid", "fl", "client", "kid", "pricing", "continues", "plan", "pos")


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
        self.end = add_months(self.start, months)
        self.cohort_size = cohort_size
        self.n_clients = max(3, (freelancers * 3 + 4) // 5) if freelancers else 0
        self.progress = 0.0
        self.lines = 0
        self._seed64 = _mix(seed & _M64)
        self._next_contract = 0
        self._day_cache: dict[int, str] = {}
        self._id_cache: dict[int, str] = {}
        self._tpl = _templates()
        # A few clients with a fixed persona, so that even a small marketplace has them.
        c = self.n_clients
        self._forced_harsh = max(1, (c + 2) // 3) if c else 0
        self._forced_unflag = max(1, (c + 1) // 2) if c else 0

    # -- deterministic per-client facts -----------------------------------------------

    def _u(self, i: int, salt: int) -> float:
        return _mix(self._seed64 ^ (i * 0x100000001B3) ^ (salt << 56)) / 18446744073709551616.0

    def client_is_harsh(self, i: int) -> bool:
        """A client who always rates low (public 1-3 stars, private 0-5)."""
        return i == self._forced_harsh or self._u(i, 1) < 0.04

    def client_flag_times(self, i: int) -> tuple[int | None, int | None]:
        """(flagged_at, unflagged_at) of client i, each None when it does not happen."""
        span = self.end - self.start
        if span <= 2 * DAY:
            return None, None
        harsh = self.client_is_harsh(i)
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

    # -- formatting --------------------------------------------------------------------

    def _ts(self, t: int) -> str:
        """Epoch seconds -> canonical RFC 3339 UTC text (as `events.format_time` writes it)."""
        d, s = divmod(t, DAY)
        ds = self._day_cache.get(d)
        if ds is None:
            if len(self._day_cache) > 8192:
                self._day_cache.clear()
            ds = self._day_cache[d] = (_EPOCH_DATE + timedelta(days=d)).isoformat() + "T"
        m, s = divmod(s, MINUTE)
        return ds + _HHMM[m] + _SSZ[s]

    def _kid(self, i: int) -> str:
        k = self._id_cache.get(i)
        if k is None:
            if len(self._id_cache) > 65536:
                self._id_cache.clear()
            k = self._id_cache[i] = f"k-{i:06d}"
        return k

    # -- the run -----------------------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        self.lines = 0
        self._next_contract = 0
        self.progress = 0.0
        n_cohorts = max(1, -(-self.freelancers // self.cohort_size))
        for k in range(n_cohorts):
            first = k * self.cohort_size + 1
            last = min(self.freelancers, first + self.cohort_size - 1)
            yield from self._cohort(k, n_cohorts, first, last, with_clients=(k == 0))
        self.progress = 1.0

    def _new_freelancer(self, i: int) -> tuple[_Freelancer, int]:
        fl = _Freelancer()
        fl.fid = f"f-{i:06d}"
        rng = fl.rng = random.Random((self.seed & _M64) << 64 | i)
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

    def _cohort(self, k: int, n_cohorts: int, first: int, last: int, with_clients: bool):
        heap: list = []
        push = heapq.heappush
        pop = heapq.heappop
        seq = 0
        end = self.end
        for i in range(first, last + 1):
            fl, t = self._new_freelancer(i)
            if t < min(end, fl.leave_at):
                push(heap, (t, seq, 1, fl))
                seq += 1
        clients = self._client_events() if with_clients else iter(())
        nxt = next(clients, None)
        if nxt is not None:
            push(heap, (nxt[0], seq, 2, nxt))
            seq += 1
        span = max(1, end - self.start)
        base = k / n_cohorts
        scale = 1 / (n_cohorts * span)
        start = self.start
        emit = self._emit
        count = 0
        while heap:
            key, _, tag, obj = pop(heap)
            if tag == 0:
                c = obj
                plan = c.plan
                n = len(plan)
                while True:
                    entry = plan[c.pos]
                    c.pos += 1
                    if entry[2] == _SPAWN:
                        c2 = self._new_contract(c.fl, entry[1], c)
                        push(heap, (c2.plan[0][0], seq, 0, c2))
                        seq += 1
                    else:
                        line = emit(c, entry)
                        if line is not None:
                            count += 1
                            if not count & 1023:
                                self.progress = base + (key - start) * scale
                            yield line
                    if c.pos >= n:
                        break
                    key = plan[c.pos][0]
                    if heap and key >= heap[0][0]:
                        push(heap, (key, seq, 0, c))
                        seq += 1
                        break
                    # else: it would be popped right away; emit it without the round trip
            elif tag == 1:
                fl = obj
                c = self._new_contract(fl, key, None)
                push(heap, (key, seq, 0, c))
                seq += 1
                t = key + int(fl.rng.expovariate(fl.rate) * DAY) + HOUR
                if t < end and t < fl.leave_at:
                    push(heap, (t, seq, 1, fl))
                    seq += 1
            else:
                t, i, kind = obj
                if kind == 0:
                    ev = ClientFlagged(
                        event_id=self._eid(), occurred_at=self._ts(t), client_id=self._kid(i),
                        note="many poor reviews from freelancers" if self.client_is_harsh(i)
                        else "account suspended during a payment review",
                    )
                else:
                    ev = ClientUnflagged(
                        event_id=self._eid(), occurred_at=self._ts(t), client_id=self._kid(i)
                    )
                self.lines += 1
                yield encode_event(ev)
                nxt = next(clients, None)
                if nxt is not None:
                    push(heap, (nxt[0], seq, 2, nxt))
                    seq += 1

    def _eid(self) -> str:
        return f"e-{self.lines + 1:08d}"

    def _client_events(self) -> Iterator[tuple[int, int, int]]:
        """(time, client, 0=flag/1=unflag) in time order, scanning half-year slices."""
        step = 182 * DAY
        a = self.start
        while a < self.end:
            b = a + step
            found = []
            for i in range(1, self.n_clients + 1):
                flagged, unflagged = self.client_flag_times(i)
                if flagged is None:
                    continue
                if a <= flagged < b:
                    found.append((flagged, i, 0))
                if unflagged is not None and a <= unflagged < b:
                    found.append((unflagged, i, 1))
            found.sort()
            yield from found
            a = b

    # -- planning one contract ---------------------------------------------------------

    def _pick_client(self, fl: _Freelancer) -> int:
        rng = fl.rng
        if fl.recent and rng.random() < 0.3:
            return fl.recent[int(rng.random() * len(fl.recent))]
        i = 1 + int(self.n_clients * rng.random() ** 1.6)
        if self.client_is_harsh(i) and rng.random() < 0.5:  # harsh clients hire less often
            i = 1 + int(self.n_clients * rng.random() ** 1.6)
        fl.recent.append(i)
        if len(fl.recent) > 6:
            del fl.recent[0]
        return i

    def _new_contract(self, fl: _Freelancer, t0: int, prev: _Contract | None) -> _Contract:
        rng = fl.rng
        r = rng.random
        end = self.end
        c = _Contract()
        c.fl = fl
        c.pos = 0
        c.cid = None
        c.continues = prev.cid if prev is not None else None  # opened (and numbered) already
        if prev is not None:
            c.client = prev.client
            c.pricing = prev.pricing
        else:
            c.client = self._pick_client(fl)
            c.pricing = "hourly" if r() < 0.3 else "fixed"
        c.kid = self._kid(c.client)
        harsh = self.client_is_harsh(c.client)
        hourly = c.pricing == "hourly"

        # -- outcome class: 0 good, 1 meh, 2 bad --------------------------------------
        if harsh:
            cls = 2
        else:
            x = r()
            p_bad = 0.03 + 0.22 * (1 - fl.quality)
            p_meh = 0.06 + 0.2 * (1 - fl.quality)
            cls = 2 if x < p_bad else 1 if x < p_bad + p_meh else 0

        # -- duration ----------------------------------------------------------------
        if hourly:
            x = r()
            if x < 0.45:
                days = 10 + r() * 50
            elif x < 0.68:
                days = 60 + r() * 35
            elif x < 0.9:
                days = 95 + r() * 90
            else:
                days = 185 + r() * 240
        else:
            days = min(90.0, 2 + math.exp(rng.gauss(math.log(14), 0.8)))
        close = t0 + int(days * DAY)

        plan: list = [(t0, 0, _OPEN, None)]  # (occurred, order, kind, payload)
        order = 1
        # -- scope change; some are closed as no_longer_needed and reopened ----------
        reopen = False
        if r() < 0.12 and close - t0 > 2 * DAY:
            ts = t0 + int((0.2 + 0.6 * r()) * (close - t0))
            plan.append((ts, order, _SCOPE, _SCOPES[int(r() * len(_SCOPES))] if r() < 0.8 else None))
            order += 1
            if r() < 0.4:
                reopen = True
                close = ts + HOUR + int(r() * 3 * DAY)
                if cls == 2 and not harsh:
                    cls = 0 if r() < 0.6 else 1

        # -- payments -------------------------------------------------------------------
        pays: list[tuple[int, int]] = []  # (time, cents)
        zero = r() < (0.02 if hourly else 0.06)
        if not zero:
            if hourly:
                cadence = 7 * DAY if r() < 0.4 else 14 * DAY
                t = t0 + cadence
                per_week = 5 + r() * 30
                while t < close:
                    if r() < 0.92:
                        hours = per_week * (cadence / (7 * DAY)) * (0.6 + 0.8 * r())
                        pays.append((t, max(100, int(hours * fl.hourly_rate))))
                    t += cadence
                if not pays or r() < 0.5:
                    t = close - int((1 + r() * 20) * HOUR)
                    if t <= t0 or (pays and t <= pays[-1][0]):
                        t = close - 1
                    hours = per_week * (0.2 + 0.8 * r())
                    pays.append((t, max(100, int(hours * fl.hourly_rate))))
            else:
                budget = int(math.exp(rng.gauss(math.log(450), 1.0)) * 100)
                budget = max(500, min(budget, 5_000_000))
                n = 1 if r() < 0.55 else 2 if r() < 0.65 else 3
                if reopen:
                    n = 1
                last = close - int((0.5 + r() * 20) * HOUR)
                if last <= t0:
                    last = t0 + (close - t0) // 2
                for j in range(n):
                    t = t0 + (last - t0) * (j + 1) // n
                    pays.append((t, budget // n))
            for t, cents in pays:
                plan.append((t, order, _PAY, _money(cents)))
                order += 1

        # -- close ----------------------------------------------------------------------
        if reopen:
            closed_by, reason = "client", "no_longer_needed"
        else:
            x = r()
            if x < 0.83:
                closed_by = "client"
                reason = _client_reason(cls, r)
            elif x < 0.95:
                closed_by = "freelancer"
                y = r()
                reason = (
                    "completed_successfully" if y < 0.6
                    else "client_unresponsive" if y < 0.85 else "other"
                )
            else:
                closed_by = "platform"
                y = r()
                reason = (
                    "client_unresponsive" if y < 0.4
                    else "freelancer_unresponsive" if y < 0.7 else "other"
                )
        plan.append((close, order, _CLOSE, (closed_by, reason)))
        order += 1
        # the client's own reason (given as end_reason, or implied by the close)
        if closed_by == "client" or reopen:
            client_reason = reason
        else:
            client_reason = _client_reason(cls, r)

        # -- bonus after close, refund ----------------------------------------------------
        if pays and r() < 0.1:
            t = close + HOUR + int(r() * 12 * DAY)
            cents = max(500, int(sum(p[1] for p in pays) * (0.05 + 0.15 * r())))
            pays.append((t, cents))
            plan.append((t, order, _PAY, _money(cents)))
            order += 1
        if pays and r() < (0.06 if cls == 2 else 0.025):
            first = pays[0][0]
            t = first + HOUR + int(r() * (close + 30 * DAY - first))
            paid = sum(p[1] for p in pays if p[0] < t)
            if paid > 0:
                cents = paid if r() < 0.3 else max(1, int(paid * (0.1 + 0.6 * r())))
                plan.append((t, order, _REFUND, _money(cents)))
                order += 1

        # -- feedback ---------------------------------------------------------------------
        x = r()
        if zero:
            x = x * 0.6 + 0.4  # $0 contracts get less feedback
        if x < 0.70:
            c_pub, f_pub = True, True
        elif x < 0.80:
            c_pub, f_pub = True, False
        elif x < 0.89:
            c_pub, f_pub = False, True
        else:
            c_pub, f_pub = False, False
        c_priv = r() < (0.9 if c_pub else 0.45)
        f_priv = r() < 0.5

        if cls == 0:
            recommend = 10 if r() < 0.7 else 9
        elif cls == 1:
            recommend = 7 if r() < 0.5 else 8
        else:
            recommend = int(r() * (6 if harsh else 7))
        c_stars = c_attrs = c_comment = None
        if c_pub:
            c_stars, c_attrs, c_comment = _client_stars(cls, harsh, r)
        cut = close + WINDOW - HOUR  # strictly inside the feedback window
        t_cpub = t_fpub = None
        last_fb = close  # the latest feedback submission of either side
        if c_pub or c_priv:
            t = min(cut - 10 * MINUTE, close + HOUR + int(rng.expovariate(1 / 2.5) * DAY))
            if c_pub:
                t_cpub = t
                plan.append((t, order, _PUB, ("client", c_stars, c_attrs, c_comment)))
                order += 1
            if c_priv:
                end_reason = client_reason if r() < 0.4 else None
                tp = t + 1 + int(r() * 5 * MINUTE)
                plan.append((tp, order, _PRIV, ("client", recommend, end_reason)))
                order += 1
                last_fb = max(last_fb, tp)
            last_fb = max(last_fb, t)
        if f_pub or f_priv:
            t = min(cut - 10 * MINUTE, close + HOUR + int(rng.expovariate(1 / 3.0) * DAY))
            if f_pub:
                t_fpub = t
                stars = 5.0 if r() < 0.75 else round(3.0 + 2.0 * r(), 1)
                if harsh:
                    stars = round(1.0 + 2.5 * r(), 1)
                comment = _ABOUT_CLIENT[int(r() * len(_ABOUT_CLIENT))] if r() < 0.4 else None
                plan.append((t, order, _PUB, ("freelancer", stars, None, comment)))
                order += 1
            if f_priv:
                rec = int(r() * 5) if harsh else 6 + int(r() * 5)
                tp = t + 1 + int(r() * 5 * MINUTE)
                plan.append((tp, order, _PRIV, ("freelancer", rec, None)))
                order += 1
                last_fb = max(last_fb, tp)
            last_fb = max(last_fb, t)

        # reveal of the public feedback: the later submission when both sides gave it,
        # otherwise the end of the window
        reveal = max(t_cpub, t_fpub) if (c_pub and f_pub) else close + WINDOW
        busy = False  # at most one of revision / removal / perk per contract
        if c_pub and r() < 0.04:
            # the freelancer lets the client revise (usually after sorting out a dispute)
            busy = True
            a = reveal + int((0.05 + r() * 10) * DAY)
            plan.append((a, order, _ALLOW, "freelancer"))
            order += 1
            t = a + int((0.01 + r() * 8) * DAY)
            stars = max(c_stars, 5.0 if r() < 0.6 else min(5.0, round(c_stars + 1.0, 2)))
            plan.append((t, order, _REVISE, ("client", stars, None, "Updated after we resolved the issues.")))
            order += 1
            if r() < 0.15:
                t2 = t + int((0.1 + r() * 2) * DAY)
                if t2 < a + WINDOW:
                    plan.append((t2, order, _REVISE, ("client", 5.0, None, "Updated again: very happy.")))
                    order += 1
        elif f_pub and r() < 0.012:
            busy = True
            a = reveal + int((0.05 + r() * 10) * DAY)
            plan.append((a, order, _ALLOW, "client"))
            order += 1
            t = a + int((0.01 + r() * 8) * DAY)
            plan.append((t, order, _REVISE, ("freelancer", 5.0, None, None)))
            order += 1
        if not busy and r() < 0.012:
            # removal by policy / dispute: the side must have given feedback
            of = None
            if (c_pub or c_priv) and (r() < 0.75 or not (f_pub or f_priv)):
                of = "client"
            elif f_pub or f_priv:
                of = "freelancer"
            if of is not None:
                busy = True
                t = last_fb + int((1 + r() * 40) * DAY)  # after every submission
                basis = "policy_violation" if r() < 0.6 else "dispute_upheld"
                scope = "jss_and_profile" if r() < 0.7 else "jss_only"
                plan.append((t, order, _REMOVE, (of, basis, scope)))
                order += 1
        if (
            not busy
            and fl.top_rated
            and c_priv
            and recommend <= 8
            and (not pays or pays[-1][0] - pays[0][0] < 90 * DAY)
            and r() < 0.6
        ):
            # the top-rated perk: only ever on a contract whose outcome is negative or
            # neutral (private feedback given, recommend <= 8, not long-term)
            busy = True
            t = close + WINDOW + int((1 + r() * 45) * DAY)
            if t < PERK_END:
                plan.append((t, order, _PERK, "jss_and_profile" if r() < 0.5 else "jss_only"))
                order += 1
        if reopen:
            plan.append((close + 5 * MINUTE + int(r() * 2 * DAY), order, _SPAWN, None))
            order += 1

        # -- order, cut at the end, arrival times (late events) ---------------------------
        plan.sort()
        if plan[-1][0] >= end:
            plan = [e for e in plan if e[0] < end]
        late_at = -1
        if not busy and not reopen and r() < 0.08:
            cands = [
                j for j, e in enumerate(plan)
                if e[0] > close and e[2] in (_PAY, _PUB, _PRIV)
            ]
            if cands:
                late_at = cands[int(r() * len(cands))]
        out = []
        key = 0
        for j, (t, _o, kind, payload) in enumerate(plan):
            if j == late_at:
                key = max(key, t + int((7 + r() * 28) * DAY))
            elif t > key:
                key = t
            out.append((key, t, kind, payload))
        c.plan = out
        return c

    # -- building events -----------------------------------------------------------------

    def _emit(self, c: _Contract, entry) -> bytes | None:
        """The line of one planned contract event (None when a perk turns out not allowed).

        Events are copies of validated templates of the `reputation.events` structs with the
        fields set to values that are already canonical (UTC `...Z` times without fraction,
        two-decimal `Decimal` money, ids of the id alphabet): the same struct and bytes the
        constructor would give, at a fraction of its cost (the constructor re-parses and
        re-formats the timestamp). The tests decode every line and check that it re-encodes
        to the identical bytes.
        """
        _key, t, kind, p = entry
        tpl = self._tpl
        if kind == _PAY:
            ev = tpl[_PAY].__copy__()
            ev.amount = p
        elif kind == _PUB or kind == _REVISE:
            ev = tpl[kind].__copy__()
            ev.by, ev.stars, ev.attributes, ev.comment = p
        elif kind == _PRIV:
            ev = tpl[_PRIV].__copy__()
            ev.by, ev.recommend, ev.end_reason = p
        elif kind == _OPEN:
            self._next_contract += 1
            c.cid = f"c-{self._next_contract:06d}"
            ev = tpl[_OPEN].__copy__()
            ev.freelancer_id = c.fl.fid
            ev.client_id = c.kid
            ev.pricing = c.pricing
            if c.continues is not None:
                ev.continues = c.continues
        elif kind == _CLOSE:
            fl = c.fl
            if fl.last_perk is None or t > fl.last_perk:
                fl.closes_since_perk += 1
            ev = tpl[_CLOSE].__copy__()
            ev.closed_by, ev.reason = p
        elif kind == _SCOPE:
            ev = tpl[_SCOPE].__copy__()
            ev.summary = p
        elif kind == _REFUND:
            ev = tpl[_REFUND].__copy__()
            ev.amount = p
        elif kind == _ALLOW:
            ev = tpl[_ALLOW].__copy__()
            ev.by = p
        elif kind == _REMOVE:
            ev = tpl[_REMOVE].__copy__()
            ev.of, ev.basis, ev.scope = p
        else:  # _PERK: allowed when first, or >= 90 days and >= 10 closes after the last one
            fl = c.fl
            if t >= PERK_END:
                return None
            if fl.last_perk is not None and (
                t - fl.last_perk < 90 * DAY or fl.closes_since_perk < 10
            ):
                return None
            fl.last_perk = t
            fl.closes_since_perk = 0
            ev = tpl[_REMOVE].__copy__()
            ev.of, ev.basis, ev.scope = "client", "top_rated_perk", p
        self.lines += 1
        ev.event_id = f"e-{self.lines:08d}"
        ev.occurred_at = self._ts(t)
        ev.contract_id = c.cid
        return encode_event(ev)


def _templates() -> dict:
    """One validated instance per planned kind, built with the real constructors."""
    common = {"event_id": "e-0", "occurred_at": "1970-01-01T00:00:00Z", "contract_id": "c-0"}
    return {
        _OPEN: ContractOpened(**common, freelancer_id="f-0", client_id="k-0", pricing="fixed"),
        _SCOPE: ScopeChanged(**common),
        _PAY: PaymentMade(**common, amount=Decimal("1.00")),
        _REFUND: PaymentRefunded(**common, amount=Decimal("1.00")),
        _CLOSE: ContractClosed(**common, closed_by="client", reason="completed_successfully"),
        _PUB: PublicFeedbackSubmitted(**common, by="client", stars=5.0),
        _PRIV: PrivateFeedbackSubmitted(**common, by="client", recommend=10),
        _ALLOW: FeedbackEditAllowed(**common, by="client"),
        _REVISE: PublicFeedbackRevised(**common, by="client", stars=5.0),
        _REMOVE: FeedbackRemoved(**common, of="client", basis="policy_violation"),
    }


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _client_reason(cls: int, r) -> str:
    x = r()
    if cls == 0:
        return (
            "completed_successfully" if x < 0.9
            else "no_longer_needed" if x < 0.95
            else "hired_someone_else" if x < 0.97 else "other"
        )
    if cls == 1:
        return (
            "completed_successfully" if x < 0.7
            else "no_longer_needed" if x < 0.85
            else "other" if x < 0.95 else "completed_unsuccessfully"
        )
    return (
        "freelancer_unresponsive" if x < 0.22
        else "freelancer_lacked_skills" if x < 0.44
        else "completed_unsuccessfully" if x < 0.64
        else "completed_successfully" if x < 0.82
        else "no_longer_needed" if x < 0.94 else "other"
    )


def _client_stars(cls: int, harsh: bool, r) -> tuple[float, Attributes | None, str | None]:
    """Public stars of the client about the freelancer (generous, unlike the private answer)."""
    if harsh:
        stars = round(1.0 + 2.0 * r(), 1)
        lo, hi = 1, 3
    elif cls == 0:
        stars = 5.0 if r() < 0.9 else round(4.5 + 0.45 * r(), 2)
        lo, hi = 4, 5
    elif cls == 1:
        stars = 5.0 if r() < 0.45 else round(4.0 + 0.9 * r(), 2)
        lo, hi = 3, 5
    elif r() < 0.4:  # dissatisfied, but polite in public
        stars = 5.0 if r() < 0.4 else round(4.0 + 0.95 * r(), 2)
        lo, hi = 3, 5
    else:
        stars = round(1.0 + 2.5 * r(), 2)
        lo, hi = 1, 4
    attrs = None
    if r() < 0.6:
        if stars == 5.0:
            vals = [5] * 6
        else:
            vals = [max(lo, min(hi, int(stars + r() * 1.2 - 0.4))) for _ in range(6)]
        attrs = Attributes(**dict(zip(_ATTRS, vals)))
    pool = _GOOD if stars >= 4.5 else _MEH if stars >= 3.5 else _BAD
    comment = pool[int(r() * len(pool))] if r() < 0.7 else None
    return stars, attrs, comment


def simulate(
    freelancers: int,
    months: int,
    seed: int,
    start: str = "2018-06-01T00:00:00Z",
    *,
    cohort_size: int = DEFAULT_COHORT,
) -> Iterator[bytes]:
    """Yield event lines (bytes, no trailing newline) in the order a platform would send them."""
    return iter(Simulation(freelancers, months, seed, start, cohort_size=cohort_size))


@click.command("simulate")
@click.option("--freelancers", type=int, default=200, show_default=True, help="Number of freelancers.")
@click.option("--months", type=int, default=36, show_default=True, help="Length of the history in months.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same bytes).")
@click.option("--start", default="2018-06-01T00:00:00Z", show_default=True, help="RFC 3339 start time.")
@click.option(
    "--out", type=click.Path(allow_dash=True, dir_okay=False), default="-", show_default=True,
    help="Output JSON Lines file, or - for standard output.",
)
def simulate_command(freelancers: int, months: int, seed: int, start: str, out: str) -> None:
    """Write a realistic synthetic marketplace as event lines (deterministic for a seed)."""
    if freelancers < 0:
        raise click.BadParameter("must be >= 0", param_hint="--freelancers")
    if months < 0:
        raise click.BadParameter("must be >= 0", param_hint="--months")
    try:
        parse_time(start)
    except ValueError as exc:
        raise click.BadParameter(f"not an RFC 3339 time with an offset: {exc}", param_hint="--start") from None
    try:
        sim = Simulation(freelancers, months, seed, start)
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(f"the simulated period is out of range: {exc}", param_hint="--months") from None
    if out == "-":
        with click.open_file("-", "wb") as stream:
            _write(sim, stream)
            stream.flush()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn, Progress, TextColumn, TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    with open(out, "wb") as fh, Progress(
        TextColumn("simulating"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[lines]} events"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, transient=False,
    ) as progress:
        task = progress.add_task("simulate", total=1000, lines=0)

        def tick() -> None:
            progress.update(task, completed=int(sim.progress * 1000), lines=sim.lines)

        _write(sim, fh, tick)
        tick()
    console.print(f"wrote {sim.lines} events to {out}")


def _write(sim: Simulation, fh, tick=None) -> None:
    batch: list[bytes] = []
    for line in sim:
        batch.append(line)
        if len(batch) >= 8192:
            batch.append(b"")
            fh.write(b"\n".join(batch))
            batch.clear()
            if tick is not None:
                tick()
    if batch:
        batch.append(b"")
        fh.write(b"\n".join(batch))
