"""A freelancer's scores at a cut (rules.md): the JSS (best window, visibility) and the
feedback score, as pure functions (no I/O, no clock, no globals). Scores are Fractions,
tallied in integers, so every value is exact.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from projections.rules.fair import assess_all
from projections.rules.windows import WINDOWS, Assessment, assess
from reputation.contract import Contract
from reputation.outcome import Cut, View, flagged_at, view
from reputation.rulesets import RuleSet, in_force

if TYPE_CHECKING:
    from projections.cache import Archive, Cache


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


def feedback_score(views: list[View], at: int, side: str = "client", base: Archive | None = None, raw: bool = False):
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
    fair = rules.engagements or rules.lenient_raters  # assessed together (projections.rules.fair)
    skip = archive.ids if archive is not None and not overrides and not fair and archive.applies(cut) else ()
    for c in contracts:
        if c.id in skip:
            continue
        v, memo = cache.view(c, cut) if cache is not None else (view(c, cut), None)
        if v is None:
            continue
        views.append(v)
        if fair:
            continue
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
    if fair:
        assessments = assess_all(views, flags, cut, rules, overrides)
    shown, exact, window, hidden, windows = jss(assessments, cut.at, rules)
    fb = feedback_score(views, cut.at, base=archive if skip else None)
    return Score(rules.name, cut.at, shown, exact, window, hidden, fb, windows, assessments)


def client_score(contracts: list[Contract], cut: Cut) -> Fraction | None:
    """The client score: freelancers' public stars about the client, weighted by what the client paid."""
    views = [v for v in (view(c, cut) for c in contracts) if v is not None]
    return feedback_score(views, cut.at, side="freelancer")
