"""Why a score moved between two times: the change points in (T1, T2], each with the exact
change of the unrounded JSS, so the causes sum exactly to the total; and counterfactuals.

At one instant, deadlines take effect first, then the events at that instant in log order;
each is a step of its own. An undefined JSS (no counted contract) counts as 0 in the sums.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from projections.judge import Judge, Move, PythonJudge
from projections.rules.score import Score
from projections.timeline import INERT, Happening, describe, happenings
from reputation import contract as ct
from reputation.clock import INF
from reputation.outcome import Cut
from reputation.rulesets import RuleSet


class Step(NamedTuple):
    happenings: list[Happening]
    cut: Cut


class Explained(NamedTuple):
    start: Score
    end: Score
    delta: Fraction  # exact JSS change (undefined counts as 0)
    causes: list[dict]
    counterfactuals: list[dict]


def _zero(x: Fraction | None) -> Fraction:
    return x if x is not None else Fraction(0)


def steps(contracts: list[ct.Contract], flags: dict, t1: int, t2: int, known: int) -> list[Step]:
    out: list[Step] = []
    hs = [h for h in happenings(contracts, flags, known, t1 + 1, t2) if h.kind not in INERT]
    i = 0
    while i < len(hs):
        at = hs[i].at
        deadlines = []
        while i < len(hs) and hs[i].at == at and hs[i].pos < 0:
            deadlines.append(hs[i])
            i += 1
        if deadlines:
            out.append(Step(deadlines, Cut(at, -1, known)))
        while i < len(hs) and hs[i].at == at:
            pos = hs[i].pos
            group = []
            while i < len(hs) and hs[i].at == at and hs[i].pos == pos:
                group.append(hs[i])
                i += 1
            out.append(Step(group, Cut(at, pos, known)))
    return out


def moves(judge: Judge, contracts: list[ct.Contract], flags: dict, t1: int, t2: int, known: int, rules) -> list[Move]:
    """The steps of (t1, t2] that move the score (its exact value or what is shown), each
    glanced at by `judge`: the Python walk (the core has its own, CoreJudge.moves)."""
    out = []
    before_cut = Cut(t1, INF, known)
    before = judge.glance(before_cut, rules)
    for step in steps(contracts, flags, t1, t2, known):
        after = judge.glance(step.cut, rules)
        if _zero(after.exact) != _zero(before.exact) or after.shown != before.shown:
            out.append(Move(step.happenings, before_cut, before, step.cut, after))
        before_cut, before = step.cut, after
    return out


def explain(
    contracts: list[ct.Contract],
    flags: dict,
    t1: int,
    t2: int,
    known: int = INF,
    rules: RuleSet | None = None,
    judge: Judge | None = None,
) -> Explained:
    """`judge`: who evaluates (projections.judge; default the Python rule code). Only a step
    that moves the score is evaluated whole, to say why."""
    judge = judge or PythonJudge(contracts, flags)
    start = judge.score(Cut(t1, INF, known), rules)
    end = judge.score(Cut(t2, INF, known), rules)
    causes: list[dict] = []
    for move in judge.moves(t1, t2, known, rules):
        before, after = move.before, move.after
        delta = _zero(after.exact) - _zero(before.exact)
        # the words need the assessments of the step's contracts, before and after
        ids = [h.contract_id for h in move.happenings if h.contract_id is not None]
        whole_before = judge.score(move.before_cut, rules, only=ids)
        whole_after = judge.score(move.after_cut, rules, only=ids)
        for n, h in enumerate(move.happenings):
            kind, text, private = describe(h, whole_before, whole_after)
            causes.append(
                {
                    "at": h.at,
                    "kind": kind,
                    "contract_id": h.contract_id,
                    "client_id": h.client_id,
                    "event_id": h.event_id,
                    # several happenings at one step share its change: the first carries it
                    "jss_before": before.exact if n == 0 else after.exact,
                    "jss_after": after.exact,
                    "jss_delta": delta if n == 0 else Fraction(0),
                    "jss_shown_before": before.jss,
                    "jss_shown_after": after.jss,
                    "feedback_before": before.feedback,
                    "feedback_after": after.feedback,
                    "text": text,
                    "private": private,
                }
            )
    total = _zero(end.exact) - _zero(start.exact)
    return Explained(start, end, total, causes, counterfactuals(t2, known, rules, end, judge))


def counterfactuals(at: int, known: int, rules: RuleSet | None, score: Score, judge: Judge) -> list[dict]:
    """For each counted contract that is not positive: the exact JSS without it, and with it
    neutral or positive."""
    doubted = [a for a in score.assessments if a.counted and a.outcome != "positive"]
    alts = judge.what_ifs(Cut(at, INF, known), rules, [a.contract_id for a in doubted])
    return [
        {
            "contract_id": a.contract_id,
            "client_id": a.client_id,
            "outcome": a.outcome,
            "jss_without": without,
            "jss_if_neutral": if_neutral,
            "jss_if_positive": if_positive,
        }
        for a, (without, if_neutral, if_positive) in zip(doubted, alts)
    ]
