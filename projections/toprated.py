"""Top Rated over time (rules.md "Top Rated"): a weekly evaluation, Mondays 00:00 UTC.

The badge at a Monday M is a function of the displayed JSS at the last `of` Mondays and of the
freelancer's earnings (payments minus refunds by occurred time) in the `months` before M. The
JSS of a Monday is the one *published* then (what the ledger says at the latest publication
instant at or before it, projections.publication; None counts as short): the badge is public,
so it may move only with what the freelancer and the public see, never with the instant a
private answer arrived.
It holds from M until the next Monday. The projector recomputes it after a freelancer's scores
change and keeps one deadline per freelancer: the next Monday at which it would flip if nothing
new happened. The native core (native/src/toprated.rs) mirrors this module word for word.
"""

from __future__ import annotations

import bisect
from functools import lru_cache
from typing import Callable, Iterable, NamedTuple

from reputation import clock
from reputation.clock import DAY, INF
from reputation.rulesets import TopRated, in_force

WEEK = 7 * DAY
MONDAY = clock.parse_time("1970-01-05T00:00:00Z")  # a Monday, 00:00 UTC

Money = list[tuple[int, int]]  # (occurred at, cents: + payment, - refund), sorted
Published = Callable[[int], int]  # the latest publication instant at or before t (Policy.published_at)


def monday_at_or_before(t: int) -> int:
    return t - (t - MONDAY) % WEEK


def monday_at_or_after(t: int) -> int:
    return t + (MONDAY - t) % WEEK


@lru_cache(maxsize=1 << 16)
def add_months(t: int, months: int) -> int:
    return clock.to_micros(clock.add_months(clock.to_datetime(t), months))


def money_of(contracts: Iterable, known: int = INF) -> Money:
    """Payments and refunds recorded at log position `known` or before."""
    out: Money = []
    for c in contracts:
        out.extend((m.at, m.cents) for m in c.payments if m.pos <= known)
        out.extend((m.at, -m.cents) for m in c.refunds if m.pos <= known)
    out.sort()
    return out


def earnings(money: Money, at: int, months: int) -> int:
    """Cents moved at t with t <= at < add_months(t, months) (add_months never goes back, so
    these are a run of the latest movements up to `at`)."""
    i = bisect.bisect_right(money, at, key=lambda m: m[0])
    total = 0
    while i > 0 and add_months(money[i - 1][0], months) > at:
        i -= 1
        total += money[i][1]
    return total


class Week(NamedTuple):
    at: int  # the Monday
    jss: int | None  # displayed JSS at it (None: not shown)
    counted: bool  # jss >= the rule's jss


class Evaluation(NamedTuple):
    at: int  # the Monday
    rule: TopRated
    weeks: tuple[Week, ...]  # oldest first, this Monday last
    earnings: int  # cents in the `months` before
    top: bool

    @property
    def counted(self) -> int:
        return sum(w.counted for w in self.weeks)


def weekly_jss(timeline: list, start: int, n: int, published: Published) -> list[int | None]:
    """The JSS a timeline (entries sorted by time: the ledger) published at n Mondays from
    `start` (the value at each one's publication instant, which never goes back), in one walk."""
    out: list[int | None] = []
    i = bisect.bisect_right(timeline, published(start), key=lambda e: e.at)
    for k in range(n):
        t = published(start + k * WEEK)
        while i < len(timeline) and timeline[i].at <= t:
            i += 1
        out.append(timeline[i - 1].jss if i else None)
    return out


def evaluate(timeline: list, money: Money, at: int, published: Published) -> Evaluation:
    """The badge at Monday `at` from a timeline (the ledger's entries sorted by time)."""
    rule = in_force(at).top_rated
    start = at - (rule.of - 1) * WEEK
    shown = weekly_jss(timeline, start, rule.of, published)
    weeks = [Week(start + k * WEEK, j, j is not None and j >= rule.jss) for k, j in enumerate(shown)]
    cents = earnings(money, at, rule.months)
    n = sum(w.counted for w in weeks)
    return Evaluation(at, rule, tuple(weeks), cents, n >= rule.weeks and cents >= rule.earnings)


def next_flip(timeline: list, money: Money, after: int, top: bool, published: Published) -> int | None:
    """The first Monday after `after` at which the badge would not be `top` if nothing new
    happened: the JSS stays what the ledger says at `after`, payments age out of the window.
    The first `of` Mondays read a sliding run of weekly published JSS; past them every week
    reads the JSS at `after` (a publication instant at most a month before a Monday more than
    15 weeks after `after` is after it), so only an age-out can still flip it, and only when
    that JSS counts."""
    first = monday_at_or_after(after + 1)
    rule = in_force(first).top_rated
    shown = weekly_jss(timeline, first - (rule.of - 1) * WEEK, 2 * rule.of - 1, published)
    ok = [j is not None and j >= rule.jss for j in shown]
    n = sum(ok[: rule.of - 1])
    for i in range(rule.of):
        n += ok[i + rule.of - 1]
        m = first + i * WEEK
        if (n >= rule.weeks and earnings(money, m, rule.months) >= rule.earnings) != top:
            return m
        n -= ok[i]
    if not ok[-1]:
        return None  # no week counts any more: the badge stays off (it is off at the last one)
    # every week counts from here on: the badge is the earnings, which move only when a movement
    # (all made by `after`) stops counting, from the Monday at or after its 12 months (in order
    # like the movements). The thresholds are the same in every rule set, so a switch moves nothing.
    last = first + (rule.of - 1) * WEEK
    gone = [monday_at_or_after(add_months(t, rule.months)) for t, _ in money]
    j = bisect.bisect_right(gone, last)
    left = sum(c for _, c in money[j:])
    while j < len(money):
        m = gone[j]
        while j < len(money) and gone[j] <= m:
            left -= money[j][1]
            j += 1
        if (left >= rule.earnings) != top:
            return m
    return None


# -- words (the ledger's causes) ---------------------------------------------------


def dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def day(t: int) -> str:
    return clock.format_time(t)[:10]


def causes(e: Evaluation) -> list[tuple[str, str]]:
    """(kind, text) of a gain or a loss at evaluation `e`: the weeks that fell short and why,
    and the earnings; a loss names each condition that failed, a gain both that held."""
    r = e.rule
    short = [w for w in e.weeks if not w.counted]
    below = "; below {}: {}".format(
        r.jss, ", ".join(f"{day(w.at)} ({'not shown' if w.jss is None else w.jss})" for w in short)
    )
    weeks = f"JSS {r.jss} or more in {e.counted} of the last {r.of} weekly evaluations ({r.weeks} needed)" + (
        below if short else ""
    )
    money = f"earnings {dollars(e.earnings)} in the {r.months} months to {day(e.at)}"
    if e.top:
        head = f"Top Rated gained at the evaluation of {day(e.at)}: "
        return [("top_rated_gained", f"{head}{weeks}; {money} (at least {dollars(r.earnings)})")]
    head = f"Top Rated lost at the evaluation of {day(e.at)}: "
    out = []
    if e.counted < r.weeks:
        out.append(("top_rated_lost", head + weeks))
    if e.earnings < r.earnings:
        out.append(("top_rated_lost", f"{head}{money} < {dollars(r.earnings)}"))
    return out


def status(e: Evaluation, audience: str = "trust") -> dict:
    """The badge at the last evaluation, as `score --json` shows it. Its weeks are published
    JSS, so the freelancer sees them too (with the earnings: their own payments); the public
    sees the badge."""
    r = e.rule
    out: dict = {"top_rated": e.top, "evaluated_at": clock.format_time(e.at)}
    if audience == "public":
        return out
    return {
        **out,
        "weeks_counted": e.counted,
        "weeks": [{"week": day(w.at), "jss": w.jss, "counted": w.counted} for w in e.weeks],
        "earnings_last_months": e.earnings / 100,
        "rule": {"jss": r.jss, "weeks": r.weeks, "of": r.of, "earnings": r.earnings / 100, "months": r.months},
    }
