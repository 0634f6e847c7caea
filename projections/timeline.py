"""Where a freelancer's score can change, and what happened there.

A freelancer's scores are piecewise constant in valid time: they can only change at a
fact's time (an event of one of their contracts or clients) or at a deadline (the end of
a feedback window, a contract leaving a window, a rule-set switch). The ledger and
`explain` both walk these points; this module lists them and names their causes.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

from projections.audiences import reasons_text
from projections.rules.score import Score
from projections.rules.windows import WINDOWS, Assessment, window_exit
from reputation.clock import INF
from reputation.contract import FEEDBACK_WINDOW, Contract
from reputation.rulesets import SWITCHES


class Happening(NamedTuple):
    """Something at a valid time: an event (pos > 0) or a deadline (pos = -1)."""

    at: int
    pos: int  # log position of the event; -1 for a deadline
    kind: str
    contract_id: str | None
    client_id: str | None
    event_id: str | None
    detail: str = ""


def contract_happenings(c: Contract, known: int = INF) -> Iterable[Happening]:
    """Every dated fact of a contract (visible at `known`) and its deadlines."""
    if c.opened_pos <= known:
        yield Happening(c.opened_at, c.opened_pos, "contract_opened", c.id, c.client, c.opened_event)
    for m in c.payments:
        if m.pos <= known:
            yield Happening(m.at, m.pos, "payment", c.id, c.client, m.event_id, f"{m.cents / 100:.2f}")
    for m in c.refunds:
        if m.pos <= known:
            yield Happening(m.at, m.pos, "refund", c.id, c.client, m.event_id, f"{m.cents / 100:.2f}")
    for side, versions in (("client", c.client_public), ("freelancer", c.freelancer_public)):
        for i, s in enumerate(versions):
            if s.pos <= known:
                kind = "feedback_submitted" if i == 0 else "feedback_revised"
                yield Happening(s.at, s.pos, kind, c.id, c.client, s.event_id, side)
    for p, side in ((c.client_private, "client"), (c.freelancer_private, "freelancer")):
        if p is not None and p.pos <= known:
            yield Happening(p.at, p.pos, "private_feedback", c.id, c.client, p.event_id, side)
    for r in c.removals:
        if r.pos <= known:
            yield Happening(r.at, r.pos, "feedback_removed", c.id, c.client, r.event_id, f"{r.of}:{r.basis}:{r.scope}")
    for mark in c.scope_changes:
        if mark.pos <= known:
            yield Happening(mark.at, mark.pos, "scope_changed", c.id, c.client, mark.event_id)
    for side, mark in c.edit_allowed.items():
        if mark.pos <= known:
            yield Happening(mark.at, mark.pos, "edit_allowed", c.id, c.client, mark.event_id, side)
    if c.closed is not None and c.closed.pos <= known:
        closed = c.closed
        yield Happening(closed.at, closed.pos, "contract_closed", c.id, c.client, closed.event_id, closed.reason)
        end = closed.at + FEEDBACK_WINDOW
        sides = [
            side
            for side, v in (("client", c.client_public), ("freelancer", c.freelancer_public))
            if v and v[0].pos <= known and v[0].at < end
        ]
        yield Happening(end, -1, "window_end", c.id, c.client, None, sides[0] if len(sides) == 1 else "")
        for months in WINDOWS:
            yield Happening(window_exit(closed.at, months), -1, "window_exit", c.id, c.client, None, str(months))


def flag_happenings(client_id: str, flags: list[tuple[int, int, bool]], known: int = INF) -> Iterable[Happening]:
    for at, pos, flagged in flags:
        if pos <= known:
            yield Happening(at, pos, "client_flagged" if flagged else "client_unflagged", None, client_id, None)


def deadlines_at(contracts: list[Contract], at: int, known: int = INF) -> list[Happening]:
    """The deadlines at exactly `at` (cheaper than listing every happening)."""
    out = [h for h in switch_happenings() if h.at == at]
    for c in contracts:
        closed = c.closed
        if closed is None or closed.pos > known or closed.at >= at:
            continue
        if closed.at + FEEDBACK_WINDOW == at:
            out.extend(h for h in contract_happenings(c, known) if h.kind == "window_end")
        for months in WINDOWS:
            if window_exit(closed.at, months) == at:
                out.append(Happening(at, -1, "window_exit", c.id, c.client, None, str(months)))
    return out


def any_deadline_at(contracts: list[Contract], at: int, known: int = INF) -> bool:
    """Whether deadlines_at(contracts, at, known) has any (without building them)."""
    return at in SWITCHES or any(
        c.closed is not None
        and c.closed.pos <= known
        and c.closed.at < at
        and (c.closed.at + FEEDBACK_WINDOW == at or any(window_exit(c.closed.at, m) == at for m in WINDOWS))
        for c in contracts
    )


def switch_happenings() -> Iterable[Happening]:
    for at in SWITCHES:
        yield Happening(at, -1, "rules_changed", None, None, None)


# Kinds that can never move a score by themselves (the ledger skips them).
INERT = frozenset({"contract_opened", "scope_changed", "edit_allowed", "contract_closed"})


def happenings(
    contracts: list[Contract],
    flags: dict[str, list[tuple[int, int, bool]]],
    known: int = INF,
    lo: int = -INF,
    hi: int = INF,
) -> list[Happening]:
    """All happenings with lo <= at <= hi, in (at, pos) order (deadlines first at an instant)."""
    out: list[Happening] = []
    for c in contracts:
        out.extend(h for h in contract_happenings(c, known) if lo <= h.at <= hi)
    for client_id in {c.client for c in contracts}:
        out.extend(h for h in flag_happenings(client_id, flags.get(client_id, []), known) if lo <= h.at <= hi)
    out.extend(h for h in switch_happenings() if lo <= h.at <= hi)
    out.sort(key=lambda h: (h.at, h.pos, h.kind, h.contract_id or ""))
    return out


# -- words -------------------------------------------------------------------------


def _assessment(score: Score, contract_id: str | None) -> Assessment | None:
    for a in score.assessments:
        if a.contract_id == contract_id:
            return a
    return None


def describe(h: Happening, before: Score, after: Score) -> tuple[str, str, bool]:
    """(kind, text, private) of a happening, given the scores just before and after it: the
    trust words (the ledger's; the freelancer reads projections.freelancer_view instead), and
    whether they rest on a private answer (a private reason in the words, or the happening is a
    private answer's arrival)."""
    a_after = _assessment(after, h.contract_id)
    private = [h.kind == "private_feedback"]

    def outcome_words() -> str:  # only called where the words go into the text
        if a_after is None or (not a_after.counted and a_after.outcome is None):
            return ""
        private[0] = private[0] or any(r.private for r in a_after.why)
        head = f"counted as {a_after.outcome}: " if a_after.counted else "not counted: "
        return head + "; ".join(reasons_text(a_after.why))

    kind, text = _describe(h, before, after, a_after, outcome_words)
    return kind, text, private[0]


def _describe(h: Happening, before: Score, after: Score, a_after: Assessment | None, outcome_words) -> tuple[str, str]:
    a_before = _assessment(before, h.contract_id)
    who = f"contract {h.contract_id} (client {h.client_id})" if h.contract_id else f"client {h.client_id}"

    def tail() -> str:
        words = outcome_words()
        return f"; {words}" if words else ""

    newly_settled = (
        a_after is not None and a_after.outcome is not None and (a_before is None or a_before.outcome is None)
    )
    if h.kind == "rules_changed":
        return "rules_changed", f"rule set changed from {before.rules} to {after.rules}"
    if h.kind == "window_exit":
        return "window_exit", f"{who} left the {h.detail}-month window"
    if h.kind == "window_end":
        one_sided = h.detail  # the side whose lone public feedback the window end reveals
        if one_sided:  # the day-14 reveal of one side's public feedback (and the settlement)
            settled = " and the contract settled" if newly_settled else ""
            # named after its effect: a JSS move is the settlement, a feedback-only move the reveal
            kind = "contract_settled" if newly_settled and before.exact != after.exact else "feedback_revealed"
            return (
                kind,
                f"feedback window of {who} ended: the {one_sided}'s public feedback is revealed{settled}{tail()}",
            )
        if newly_settled:
            return (
                "contract_settled",
                f"feedback window of {who} ended with no public feedback; settled and {outcome_words()}",
            )
        return "window_end", f"feedback window of {who} ended (both sides' feedback was already revealed)"
    if newly_settled:
        return "contract_settled", f"{who} settled and {outcome_words()}"
    if h.kind in ("client_flagged", "client_unflagged"):
        state = "flagged" if h.kind == "client_flagged" else "no longer flagged"
        return h.kind, f"client {h.client_id} is {state}"
    if h.kind == "feedback_submitted":
        kind = "feedback_revealed" if (a_after is not None and a_after.outcome is not None) else h.kind
        return kind, f"{h.detail} public feedback on {who}{tail()}"
    if h.kind == "private_feedback":
        return "feedback_submitted", f"{h.detail} private feedback on {who}{tail()}"
    if h.kind == "feedback_revised":
        return "feedback_revised", f"{h.detail} revised public feedback on {who}{tail()}"
    if h.kind == "feedback_removed":
        of, basis, scope = h.detail.split(":")
        return "feedback_removed", f"{of} feedback on {who} removed ({basis}, {scope}){tail()}"
    if h.kind in ("payment", "refund"):
        return h.kind, f"{h.kind} of ${h.detail} on {who}{tail()}"
    return h.kind, f"{h.kind.replace('_', ' ')} on {who}"
