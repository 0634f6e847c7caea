"""One contract at a cut, and its outcome (positive / neutral / negative) under a rule set.

Everything is seen at a *cut*: valid time `at` (microseconds) and, for several facts at
the same instant, the last position included at that instant (`pos`), seen with what was
recorded up to position `known`. The write side asks for the outcome at the latest state
(the perk-removal rule of events.md); the read side scores with it at any cut.
"""

from __future__ import annotations

from typing import NamedTuple

from reputation.clock import DAY, INF
from reputation.contract import FEEDBACK_WINDOW, Contract, RuleBroken
from reputation.rulesets import NEUTRAL_CLOSES, RuleSet, in_force, reason_is_negative

LONG_TERM = 90 * DAY


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


def view(c: Contract, cut: Cut) -> View | None:
    """The contract as seen at `cut`; None if it was not opened yet (or not known)."""
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


def flagged_at(flags: list[tuple[int, int, bool]] | None, cut: Cut) -> bool:
    """Is the client flagged at `cut`, given its flag history (at, pos, flagged)?"""
    state = False
    for at, pos, value in flags or ():
        if cut.sees(at, pos):
            state = value
    return state


class Reason(NamedTuple):
    """One fact behind an outcome, as data: a `code`, its values, and whether it rests on a
    private answer (its value, or its absence). Sentences are made per audience by
    projections.audiences; nothing downstream parses them."""

    code: str
    args: tuple = ()
    private: bool = False


class Signals(NamedTuple):
    reason: str | None
    private_reason: bool  # the reason is the private end_reason (never shown to the freelancer)
    recommend: int | None
    stars: float | None
    stripped: Reason | None  # why the client's signals do not count, if they don't
    note: Reason | None = None  # fair-2026: the reason was a neutral close, so no signal

    def neutral_close(self, rules: RuleSet) -> Signals:
        """Under a rule set with neutral closes, a reason of NEUTRAL_CLOSES is no signal."""
        if not rules.neutral_closes or self.reason not in NEUTRAL_CLOSES:
            return self
        note = Reason("reason_neutral_close", (self.reason, rules.name, self.private_reason), self.private_reason)
        return self._replace(reason=None, private_reason=False, note=note)

    @property
    def any(self) -> bool:
        return self.reason is not None or self.recommend is not None or self.stars is not None


def signals(v: View, rules: RuleSet, flagged: bool) -> Signals:
    if v.client_removed is not None:
        return Signals(None, False, None, None, Reason("client_feedback_removed", (v.client_removed[0],)))
    if flagged and rules.ignores_flagged_clients:
        return Signals(None, False, None, None, Reason("client_flagged", (rules.name,)))
    s = Signals(client_reason(v), v.client_end_reason is not None, v.client_recommend, v.client_stars, None)
    return s.neutral_close(rules)


class Usual(NamedTuple):
    """fair-2026: a harsh client's usual answer (rules.md), None where the client is not harsh."""

    recommend: int | None = None
    stars: float | None = None


def outcome(v: View, s: Signals, rules: RuleSet, usual: Usual | None = None) -> tuple[str, list[Reason]]:
    """negative / positive / neutral, with the reasons (private ones marked: the audiences
    module decides who reads them). `usual` only under a rule set with lenient raters."""
    why: list[Reason] = []
    mild: list[Reason] = []  # low answers that are a harsh client's usual: they move nothing
    if reason_is_negative(s.reason, rules):
        why.append(Reason("reason_negative", (s.reason, rules.name, s.private_reason), s.private_reason))
    if s.recommend is not None and s.recommend <= 6:
        if usual is not None and usual.recommend is not None and s.recommend >= usual.recommend:
            mild.append(Reason("recommend_usual", (s.recommend, usual.recommend), True))
        else:
            why.append(Reason("recommend_low", (s.recommend,), True))
    if s.stars is not None and s.stars < 3.0:
        if usual is not None and usual.stars is not None and s.stars >= usual.stars:
            mild.append(Reason("stars_usual", (s.stars, usual.stars)))
        else:
            why.append(Reason("stars_low", (s.stars,)))
    if why:
        return "negative", why
    if s.recommend is not None and s.recommend >= 9:
        why.append(Reason("recommend_high", (s.recommend,), True))
    if s.stars is not None and s.stars >= 4.5 and s.recommend is None:
        why.append(Reason("stars_high_no_private", (s.stars,), True))  # the absence decides
    if is_long_term(v):
        why.append(Reason("long_term"))
    if why:
        return "positive", why
    if mild:  # a harsh client's usual low answer reads like a middle one
        why += mild
    elif s.recommend is not None:
        why.append(Reason("recommend_middle", (s.recommend,), True))
    elif s.any:
        why.append(Reason("signals_neither"))
    else:
        why.append(Reason("no_feedback"))
    return "neutral", why


def check_perk_outcome(c: Contract, at: int) -> None:
    """A top-rated perk removal is rejected when the contract's outcome at that moment is
    positive (a removal never lowers the JSS). `c` is the latest state, before the removal."""
    rules = in_force(at)
    v = view(c, Cut(at))
    if v is None:
        return
    result, _ = outcome(v, signals(v, rules, False), rules)
    if result == "positive":
        raise RuleBroken(
            f"the top-rated perk cannot remove feedback on contract {c.id}: its outcome is "
            f"positive under {rules.name}, and a removal never lowers the JSS"
        )
