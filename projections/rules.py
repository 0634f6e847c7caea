"""The scoring rule sets of rules.md as pure functions (no I/O, no clock, no globals).

Read this next to rules.md: each rule is in one place below.

Everything is evaluated at a *cut*: valid time `at` (microseconds) and, for several facts
at the same instant, the last position included at that instant (`pos`), seen with what
was recorded up to position `known`. Deadlines at an instant (feedback window end, window
exit, rule switch) take effect at the instant itself, before any event at that instant.
Weights are kept in quarters and scores as Fractions, so every value is exact.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import timedelta
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from reputation import events as ev
from reputation.contract import FEEDBACK_WINDOW, Contract, RuleBroken
from reputation.events import DAY

INF = 1 << 62
LONG_TERM = 90 * DAY
WINDOWS = (6, 12, 24)

# -- rule sets -------------------------------------------------------------------


class RuleSet(NamedTuple):
    name: str
    starts: int  # in force from (valid time, inclusive)
    windows: tuple[int, ...]  # best of these windows (months)
    neutral_reasons: bool  # False: every non-success client reason is negative
    weighted: bool  # by earnings and length; else every contract weighs 1
    zero_only_if_negative: bool  # a $0 contract counts only when negative
    needs_signal_or_long_term: bool  # a contract needs a client signal or to be long-term
    ignores_flagged_clients: bool
    min_contracts: int  # visibility: counted contracts in the 24-month window
    min_clients: int  # ... from at least this many clients


JSS_2016 = RuleSet("jss-2016", -INF, (6, 12, 24), False, False, False, False, False, 4, 2)
JSS_2020 = RuleSet(
    "jss-2020", ev.parse_time("2020-03-01T00:00:00Z"), (6, 12, 24), True, True, True, False, False, 4, 2
)
JSS_2024 = RuleSet(
    "jss-2024", ev.parse_time("2024-09-03T00:00:00Z"), (24,), True, True, True, True, True, 2, 2
)
RULE_SETS: dict[str, RuleSet] = {r.name: r for r in (JSS_2016, JSS_2020, JSS_2024)}
SWITCHES: tuple[int, ...] = (JSS_2020.starts, JSS_2024.starts)


def in_force(at: int) -> RuleSet:
    if at >= JSS_2024.starts:
        return JSS_2024
    if at >= JSS_2020.starts:
        return JSS_2020
    return JSS_2016


NEGATIVE_REASONS = frozenset(
    {"freelancer_unresponsive", "freelancer_lacked_skills", "completed_unsuccessfully"}
)


def reason_is_negative(reason: str | None, rules: RuleSet) -> bool:
    if reason is None:
        return False
    if reason in NEGATIVE_REASONS:
        return True
    # jss-2016: the old form had no neutral choice
    return not rules.neutral_reasons and reason != "completed_successfully"


# -- calendar --------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def window_exit(closed_at: int, months: int) -> int:
    """add_months(closed_at, N) + 1 day: the first instant the contract is out of the window."""
    dt = ev.EPOCH + timedelta(microseconds=closed_at)
    m = dt.month - 1 + months
    year, month = dt.year + m // 12, m % 12 + 1
    day = min(dt.day, monthrange(year, month)[1])
    shifted = dt.replace(year=year, month=month, day=day)
    return closed_at + (shifted - dt) // timedelta(microseconds=1) + DAY


# -- one contract at a cut -------------------------------------------------------


class Cut(NamedTuple):
    at: int
    pos: int = INF
    known: int = INF

    def sees(self, at: int, pos: int) -> bool:
        return pos <= self.known and (at < self.at or (at == self.at and pos <= self.pos))


class View(NamedTuple):
    """The facts of one contract visible at a cut (latest values)."""

    contract: Contract
    closed_at: int | None
    closed_by: str | None
    close_reason: str | None
    settled_at: int | None  # when it settles (may be after the cut)
    earnings: int  # cents: payments - refunds
    first_paid: int | None
    last_paid: int | None
    client_stars: float | None  # latest revision
    client_recommend: int | None
    client_end_reason: str | None
    client_removed: tuple[str, str] | None  # (basis, scope) of a removal of the client's feedback
    freelancer_stars: float | None
    freelancer_removed: tuple[str, str] | None
    both_public: bool  # both sides' public feedback exists: revealed (double-blind)

    def revealed(self, side: str, at: int) -> bool:
        """Is `side`'s public feedback revealed at `at`? (both given, or the window ended)"""
        stars = self.client_stars if side == "client" else self.freelancer_stars
        if stars is None:
            return False
        return self.both_public or at >= self.closed_at + FEEDBACK_WINDOW  # type: ignore[operator]


class Cache:
    """Per-contract views and assessments, valid while the contract does not change.

    The projector owns one and calls `forget` when it folds an event into a contract;
    most evaluations look at a contract with all its facts visible, which this serves.
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, int, "View", dict]] = {}

    def forget(self, contract_id: str) -> None:
        self.entries.pop(contract_id, None)

    def view(self, c: Contract, cut: Cut) -> tuple["View | None", dict | None]:
        entry = self.entries.get(c.id)
        if entry is None:
            full = _view(c, Cut(INF))
            entry = self.entries[c.id] = (_max_pos(c), c.last_at, full, {})  # type: ignore[arg-type]
        max_pos, last_at, full, memo = entry
        if cut.known >= max_pos and (cut.at > last_at or (cut.at == last_at and cut.pos >= max_pos)):
            return full, memo
        return _view(c, cut), None


def _max_pos(c: Contract) -> int:
    pos = c.opened_pos
    for facts in (c.payments, c.refunds, c.client_public, c.freelancer_public, c.removals, c.scope_changes):
        for f in facts:
            pos = max(pos, f.pos)
    for f in (c.closed, c.client_private, c.freelancer_private, *c.edit_allowed.values()):
        if f is not None:
            pos = max(pos, f.pos)
    return pos


def _view(c: Contract, cut: Cut) -> View | None:
    sees = cut.sees
    if not sees(c.opened_at, c.opened_pos):
        return None
    closed = c.closed if c.closed is not None and sees(c.closed.at, c.closed.pos) else None
    paid = [m for m in c.payments if sees(m.at, m.pos)]
    refunded = sum(m.cents for m in c.refunds if sees(m.at, m.pos))
    cpub = [s for s in c.client_public if sees(s.at, s.pos)]
    fpub = [s for s in c.freelancer_public if sees(s.at, s.pos)]
    cpriv = c.client_private if c.client_private and sees(c.client_private.at, c.client_private.pos) else None
    removed = {r.of: (r.basis, r.scope) for r in c.removals if sees(r.at, r.pos)}
    settled_at = None
    if closed is not None:
        end = closed.at + FEEDBACK_WINDOW
        settled_at = min(max(cpub[0].at, fpub[0].at), end) if cpub and fpub else end
    return View(
        contract=c,
        closed_at=closed.at if closed else None,
        closed_by=closed.by if closed else None,
        close_reason=closed.reason if closed else None,
        settled_at=settled_at,
        earnings=sum(m.cents for m in paid) - refunded,
        first_paid=paid[0].at if paid else None,
        last_paid=paid[-1].at if paid else None,
        client_stars=cpub[-1].stars if cpub else None,
        client_recommend=cpriv.recommend if cpriv else None,
        client_end_reason=cpriv.end_reason if cpriv else None,
        client_removed=removed.get("client"),
        freelancer_stars=fpub[-1].stars if fpub else None,
        freelancer_removed=removed.get("freelancer"),
        both_public=bool(cpub and fpub),
    )


def client_reason(v: View) -> str | None:
    """The client's reason: the private end_reason, else the close reason when the client
    or the platform closed, else none."""
    if v.client_end_reason is not None:
        return v.client_end_reason
    if v.closed_by in ("client", "platform"):
        return v.close_reason
    return None


def is_long_term(v: View) -> bool:
    return v.first_paid is not None and v.last_paid - v.first_paid >= LONG_TERM  # type: ignore[operator]


class Signals(NamedTuple):
    reason: str | None
    private_reason: bool  # the reason is the private end_reason (never shown to the freelancer)
    recommend: int | None
    stars: float | None
    stripped: str | None  # why the client's signals do not count, if they don't

    @property
    def any(self) -> bool:
        return self.reason is not None or self.recommend is not None or self.stars is not None


def signals(v: View, rules: RuleSet, flagged: bool) -> Signals:
    if v.client_removed is not None:
        return Signals(None, False, None, None, f"client feedback removed ({v.client_removed[0]})")
    if flagged and rules.ignores_flagged_clients:
        return Signals(None, False, None, None, f"client is flagged; its feedback does not count under {rules.name}")
    return Signals(client_reason(v), v.client_end_reason is not None, v.client_recommend, v.client_stars, None)


def outcome(v: View, s: Signals, rules: RuleSet) -> tuple[str, list[str]]:
    """negative / positive / neutral, with the reasons (private values included: callers
    redact them for freelancer-facing output)."""
    why: list[str] = []
    if reason_is_negative(s.reason, rules):
        source = "private end reason" if s.private_reason else "client reason"
        why.append(f"{source} {s.reason} is negative under {rules.name}")
    if s.recommend is not None and s.recommend <= 6:
        why.append(f"private recommend {s.recommend} <= 6")
    if s.stars is not None and s.stars < 3.0:
        why.append(f"public stars {s.stars:g} < 3.0")
    if why:
        return "negative", why
    if s.recommend is not None and s.recommend >= 9:
        why.append(f"private recommend {s.recommend} >= 9")
    if s.stars is not None and s.stars >= 4.5 and s.recommend is None:
        why.append(f"public stars {s.stars:g} >= 4.5 with no private feedback")
    if is_long_term(v):
        why.append("long-term: payments span 90 days or more")
    if why:
        return "positive", why
    if s.recommend is not None:
        why.append(f"private recommend {s.recommend} is neither <= 6 nor >= 9")
    elif s.any:
        why.append("client signals are neither negative nor positive")
    else:
        why.append("no client feedback")
    return "neutral", why


def weight4(v: View, rules: RuleSet) -> int:
    """The contract's weight in quarters (4 = 1.0)."""
    if not rules.weighted:
        return 4
    e = max(v.earnings, 0)
    base = 4 if e <= 250_00 else 5 if e <= 1000_00 else 6
    if v.first_paid is not None:
        base += 4 * ((v.last_paid - v.first_paid) // LONG_TERM)  # type: ignore[operator]
    return min(base, 32)


class Assessment(NamedTuple):
    contract_id: str
    client_id: str
    counted: bool
    outcome: str | None  # None when not settled
    weight4: int
    why: list[str]
    closed_at: int | None
    settled_at: int | None
    earnings: int
    exits: tuple[int, ...] = ()  # window_exit for 6, 12, 24 months (counted contracts)

    def in_window(self, at: int, months: int) -> bool:
        return at < self.exits[WINDOWS.index(months)]


def assess(v: View, cut: Cut, rules: RuleSet, flagged: bool, override: str | None = None) -> Assessment:
    c = v.contract
    if v.settled_at is None or cut.at < v.settled_at:
        why = ["open"] if v.closed_at is None else ["not settled yet (feedback window open)"]
        return Assessment(c.id, c.client, False, None, 0, why, v.closed_at, v.settled_at, v.earnings)
    s = signals(v, rules, flagged)
    result, why = outcome(v, s, rules)
    if s.stripped:
        why.insert(0, s.stripped)
    if override in ("neutral", "positive", "negative"):
        result, why = override, [f"what-if: treated as {override}"]
    counted = True
    if v.client_removed is not None and v.client_removed[0] == "top_rated_perk":
        counted, why = False, ["excluded: client feedback removed by the top-rated perk"]
    elif override == "exclude":
        counted, why = False, ["what-if: left out"]
    elif rules.needs_signal_or_long_term and not (s.any or is_long_term(v)):
        counted, why = False, why + [f"excluded under {rules.name}: no client signal and not long-term"]
    elif not rules.needs_signal_or_long_term and not (v.earnings > 0 or s.any):
        counted, why = False, why + ["excluded: $0 and no client signal"]
    if counted and rules.zero_only_if_negative and v.earnings <= 0 and result != "negative":
        counted, why = False, why + [f"excluded under {rules.name}: $0 contracts count only when negative"]
    exits = tuple(window_exit(v.closed_at, m) for m in WINDOWS) if counted else ()  # type: ignore[arg-type]
    return Assessment(
        c.id, c.client, counted, result, weight4(v, rules) if counted else 0, why,
        v.closed_at, v.settled_at, v.earnings, exits,
    )


# -- the freelancer's scores -----------------------------------------------------


def flagged_at(flags: list[tuple[int, int, bool]] | None, cut: Cut) -> bool:
    state = False
    for at, pos, value in flags or ():
        if cut.sees(at, pos):
            state = value
    return state


class WindowScore(NamedTuple):
    months: int
    contracts: int
    num: int  # the exact score is num / den (den > 0 when the window holds contracts)
    den: int

    @property
    def exact(self) -> Fraction | None:
        return Fraction(self.num, self.den) if self.contracts else None


class Score(NamedTuple):
    rules: str
    at: int
    jss: int | None
    exact: Fraction | None  # the best window's exact score (kept even when hidden)
    window: int | None
    hidden_reason: str | None
    feedback: Fraction | None  # exact; displayed rounded half up to 2 decimals
    windows: list[WindowScore]
    assessments: list[Assessment]

    @property
    def shown(self) -> tuple[int | None, Fraction | None]:
        """What the ledger compares: displayed JSS (None when hidden) and displayed feedback."""
        return self.jss, round_half_up(self.feedback, 2)


def half_up(num: int, den: int) -> int:
    """num / den rounded half up to an integer, in integers (den > 0)."""
    return (2 * num + den) // (2 * den)


def round_half_up(x: Fraction | None, digits: int = 0) -> Fraction | None:
    if x is None:
        return None
    scale = 10**digits
    return Fraction(half_up(x.numerator * scale, x.denominator), scale)


def _window_scores(counted: list[Assessment], at: int, windows: tuple[int, ...]) -> list[WindowScore]:
    """All windows in one pass; integers until the end (weights are in quarters)."""
    index = [WINDOWS.index(m) for m in windows]
    tallies = [[0, 0, 0] for _ in windows]  # contracts, positive - negative, total
    for a in counted:
        w = a.weight4
        signed = w if a.outcome == "positive" else -w if a.outcome == "negative" else 0
        exits = a.exits
        for t, i in zip(tallies, index):
            if at < exits[i]:
                t[0] += 1
                t[1] += signed
                t[2] += w
    return [WindowScore(m, n, 100 * max(net, 0), total) for m, (n, net, total) in zip(windows, tallies)]


def jss(assessments: list[Assessment], at: int, rules: RuleSet):
    counted = [a for a in assessments if a.counted]
    wanted = rules.windows if 24 in rules.windows else rules.windows + (24,)
    scores = _window_scores(counted, at, wanted)
    windows = [w for w in scores if w.months in rules.windows]
    long = next(w for w in scores if w.months == 24)
    best: WindowScore | None = None
    for w in windows:  # shortest first: a tie keeps the shortest; compare num/den exactly
        if w.contracts and (best is None or w.num * best.den > best.num * w.den):
            best = w
    visible = long.contracts >= rules.min_contracts
    if visible:
        clients = {a.client_id for a in counted if at < a.exits[2]}
        visible = len(clients) >= rules.min_clients
    exact = best.exact if best else None
    shown = half_up(best.num, best.den) if visible and best else None
    hidden = None if shown is not None else "insufficient_history"
    return shown, exact, best.months if best else None, hidden, windows


def feedback_score(views: list[View], at: int, side: str = "client", base: Archive | None = None,
                   raw: bool = False):
    """Earnings-weighted mean of `side`'s revealed, not profile-removed public stars on
    contracts with earnings >= $1 (side=client: the freelancer's feedback score)."""
    num = base.fb_num if base else 0  # in units of 1/STAR_SCALE stars x cents, exact for up to 6 decimals
    den = base.fb_den if base else 0
    exact: Fraction | None = base.fb_exact if base else None
    for v in views:
        stars = v.client_stars if side == "client" else v.freelancer_stars
        removed = v.client_removed if side == "client" else v.freelancer_removed
        if stars is None or v.earnings < 100 or not v.revealed(side, at):
            continue
        if removed is not None and removed[1] == "jss_and_profile":
            continue
        scaled = _scaled_stars(stars)
        if scaled is None:  # more than 6 decimals: fall back to fractions
            exact = (exact or Fraction(0)) + Fraction(repr(stars)) * v.earnings
        else:
            num += scaled * v.earnings
        den += v.earnings
    if raw:
        return (num, den, exact) if den else None
    if not den:
        return None
    if exact is None:
        return Fraction(num, STAR_SCALE * den)
    return (Fraction(num, STAR_SCALE) + exact) / den


STAR_SCALE = 10**6


@lru_cache(maxsize=4096)
def _scaled_stars(stars: float) -> int | None:
    """Stars as the exact decimal that was sent (not the binary float), times 10^6."""
    x = Fraction(repr(stars)) * STAR_SCALE
    return int(x) if x.denominator == 1 else None


class Archive(NamedTuple):
    """Contracts out of every window for good (the projector's shortcut): from `since` on,
    and seen with everything up to `known`, they only add a constant to the feedback score."""

    since: int
    known: int
    ids: frozenset[str]
    fb_num: int  # as in feedback_score: stars x 10^6 x cents
    fb_den: int
    fb_exact: Fraction | None

    def applies(self, cut: Cut) -> bool:
        return cut.at >= self.since and cut.known >= self.known


def archive_of(contracts: list[Contract], cache: Cache, at: int, known: int) -> Archive | None:
    """The contracts that left the 24-month window (and whose last fact is) before `at`."""
    ids, num, den, exact, since, top = [], 0, 0, None, -INF, -INF
    for c in contracts:
        entry = cache.entries.get(c.id)
        if entry is None:
            cache.view(c, Cut(INF))
            entry = cache.entries[c.id]
        max_pos, last_at, v, _ = entry
        if v.closed_at is None or max_pos > known:
            continue
        done = max(window_exit(v.closed_at, 24), last_at, v.closed_at + FEEDBACK_WINDOW)
        if done > at:
            continue
        ids.append(c.id)
        since, top = max(since, done), max(top, max_pos)
        part = feedback_score([v], INF, raw=True)
        if part is not None:
            num, den = num + part[0], den + part[1]
            exact = part[2] if exact is None else (exact + part[2] if part[2] is not None else exact)
    if not ids:
        return None
    return Archive(since, top, frozenset(ids), num, den, exact)


def evaluate(
    contracts: list[Contract],
    flags: dict[str, list[tuple[int, int, bool]]],
    cut: Cut,
    rules: RuleSet | None = None,
    overrides: dict[str, str] | None = None,
    cache: Cache | None = None,
    archive: Archive | None = None,
) -> Score:
    """A freelancer's JSS and feedback score at a cut (rules default: in force at the cut).

    With an `archive` that applies to the cut, its contracts are left out of the
    assessments (they are in no window) and enter the feedback score as its constant."""
    rules = rules or in_force(cut.at)
    overrides = overrides or {}
    views: list[View] = []
    assessments: list[Assessment] = []
    skip = archive.ids if archive is not None and not overrides and archive.applies(cut) else ()
    for c in contracts:
        if c.id in skip:
            continue
        v, memo = cache.view(c, cut) if cache is not None else (_view(c, cut), None)
        if v is None:
            continue
        views.append(v)
        flagged = flagged_at(flags.get(c.client), cut) if rules.ignores_flagged_clients else False
        override = overrides.get(c.id)
        if memo is None:
            assessments.append(assess(v, cut, rules, flagged, override))
            continue
        key = (rules.name, flagged, v.settled_at is not None and cut.at >= v.settled_at, override)
        a = memo.get(key)
        if a is None:
            a = memo[key] = assess(v, cut, rules, flagged, override)
        assessments.append(a)
    shown, exact, window, hidden, windows = jss(assessments, cut.at, rules)
    fb = feedback_score(views, cut.at, base=archive if skip else None)
    return Score(rules.name, cut.at, shown, exact, window, hidden, fb, windows, assessments)


def client_score(contracts: list[Contract], cut: Cut) -> Fraction | None:
    """The client score: freelancers' public stars about the client, weighted by what the client paid."""
    views = [v for v in (_view(c, cut) for c in contracts) if v is not None]
    return feedback_score(views, cut.at, side="freelancer")


# -- the perk rule that needs outcomes ------------------------------------------


def perk_outcome_guard(c: Contract, at: int) -> None:
    """A top-rated perk removal is rejected when the contract's outcome at that moment is
    positive (a removal never lowers the JSS)."""
    rules = in_force(at)
    cut = Cut(at)
    v = _view(c, cut)
    if v is None:
        return
    result, _ = outcome(v, signals(v, rules, False), rules)
    if result == "positive":
        raise RuleBroken(
            f"the top-rated perk cannot remove feedback on contract {c.id}: its outcome is "
            f"positive under {rules.name}, and a removal never lowers the JSS"
        )
