"""The freelancer's and the public's view: scores as published, and why they moved, without
betraying one client's private answer.

Everything is seen at publication instants (projections.publication). Between two of them the
change of the exact JSS is split without looking at when inside the period anything happened,
so that two private answers swapped between contracts of equal weight that settle in the same
period give the same words and the same numbers:

1. a rule switch in the period: the score at the period's start re-evaluated under the new
   rules, minus the old one;
2. each contract decided by public facts alone (projections.audiences.public_outcome) whose
   state changed (settled, counted, outcome, weight, window membership), in contract order:
   the JSS with its new state minus the JSS before it, every other contract still as it stood
   at the period's start;
3. the private-driven contracts together: the rest, so the causes sum exactly.

Over a span the private-driven shares are one line, shown only when they concern at least
`k` contracts; below that they are an "other changes" line with no count.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from projections.audiences import public_outcome, trust_text
from projections.cache import Cache
from projections.publication import Policy
from projections.rules.score import Score, evaluate, jss, round_half_up
from projections.rules.windows import WINDOWS, Assessment, window_exit
from projections.uncertainty import interval
from reputation import events as ev
from reputation.clock import INF
from reputation.contract import Contract
from reputation.outcome import Cut, flagged_at, view
from reputation.rulesets import RuleSet, rule_set

Flags = dict[str, list[tuple[int, int, bool]]]


def _zero(x: Fraction | None) -> Fraction:
    return x if x is not None else Fraction(0)


def _f(x: Fraction | None) -> float | None:
    return None if x is None else float(x)


def _two(x: Fraction | None) -> float | None:
    r = round_half_up(x, 2)
    return None if r is None else float(r)


def _time(at: int) -> str:
    return ev.format_time(at)


class Seen(NamedTuple):
    """One contract as the freelancer may see it at a cut."""

    assessment: Assessment
    public: bool  # decided by public facts alone
    words: list[str]  # the public reasons (empty for a private-driven contract)


def seen(contracts: list[Contract], flags: Flags, score: Score, known: int) -> dict[str, Seen]:
    by_id = {c.id: c for c in contracts}
    rules = _named(score.rules)
    cut = Cut(score.at, INF, known)
    out: dict[str, Seen] = {}
    for a in score.assessments:
        if a.outcome is None:  # not settled: nothing to infer yet
            out[a.contract_id] = Seen(a, True, [trust_text(r) for r in a.why])
            continue
        if rules.engagements or rules.lenient_raters:  # fair-2026 reads other contracts: never public
            out[a.contract_id] = Seen(a, False, [])
            continue
        v = view(by_id[a.contract_id], cut)
        flagged = flagged_at(flags.get(a.client_id), cut) if rules.ignores_flagged_clients else False
        decided = public_outcome(v, rules, flagged)  # type: ignore[arg-type]
        if decided is None:
            out[a.contract_id] = Seen(a, False, [])
            continue
        _, why = decided
        # the exclusions are the same for every private answer of a publicly decided contract
        why = why + [r for r in a.why if r.code.startswith("excluded") and r not in why]
        out[a.contract_id] = Seen(a, True, [trust_text(r) for r in why])
    return out


def _named(name: str) -> RuleSet:
    return rule_set(name)


# -- score ------------------------------------------------------------------------------


def public_json(freelancer_id: str, s: Score, as_of: int) -> dict:
    return {
        "freelancer_id": freelancer_id,
        "audience": "public",
        "as_of": _time(as_of),
        "published_at": _time(s.at),
        "jss": s.jss,
        "jss_hidden_reason": s.hidden_reason,
        "feedback_score": _two(s.feedback),
    }


def freelancer_json(freelancer_id: str, s: Score, as_of: int, known_at: int | None, looks: dict[str, Seen]) -> dict:
    months = s.window or 24
    counted = [a for a in s.assessments if a.counted and a.in_window(s.at, months)]
    public = [a for a in counted if looks[a.contract_id].public]
    return {
        **public_json(freelancer_id, s, as_of),
        "audience": "freelancer",
        "known_at": "all" if known_at is None else f"@{known_at}",
        "rules": s.rules,
        "jss_exact": _f(s.exact),
        "jss_window_months": s.window,
        "interval": interval(s, _named(s.rules)),  # reads only the exact score and the total weight
        "counted": {
            "window_months": months,
            "contracts": len(counted),
            "weight": sum(a.weight4 for a in counted) / 4,
            "private_feedback": len(counted) - len(public),
            "positive": sum(a.outcome == "positive" for a in public),
            "neutral": sum(a.outcome == "neutral" for a in public),
            "negative": sum(a.outcome == "negative" for a in public),
        },
        "contracts": [_contract(looks[a.contract_id], s.at) for a in s.assessments],
    }


def _contract(look: Seen, at: int) -> dict:
    a = look.assessment
    shown = look.public
    return {
        "contract_id": a.contract_id,
        "private_feedback": not shown,  # its outcome rests on private feedback: only in the group
        "outcome": a.outcome if shown else None,
        "counted": a.counted if shown else None,
        "weight": a.weight4 / 4 if shown else None,
        "in_windows": [m for m in WINDOWS if a.counted and a.in_window(at, m)] if shown else None,
        "closed_at": _time(a.closed_at) if a.closed_at is not None else None,
        "settled_at": _time(a.settled_at) if a.settled_at is not None else None,
        "earnings": a.earnings / 100,
        "why": look.words,
        "leaves_windows": (
            {str(m): _time(window_exit(a.closed_at, m)) for m in WINDOWS} if a.closed_at is not None else None
        ),
    }


# -- why the published score moved ------------------------------------------------------


class Period(NamedTuple):
    start: Score
    end: Score
    rules_delta: Fraction | None  # a rule switch inside the period
    shares: list[tuple[str, Fraction, str]]  # public contracts: (id, share, what happened)
    private: Fraction
    private_ids: set[str]


def _frozen(a: Assessment, at: int) -> Assessment:
    """`a` with its window membership at `at` kept for good (a stand-in for 'as it was')."""
    if not a.counted:
        return a
    return a._replace(exits=tuple(INF if a.in_window(at, m) else -INF for m in WINDOWS))


def _state(a: Assessment | None, at: int) -> tuple:
    if a is None or not a.counted:
        return (a is not None and a.outcome is not None, False)
    return (True, True, a.outcome, a.weight4, tuple(a.in_window(at, m) for m in WINDOWS))


def _what(old: Assessment | None, new: Assessment, p0: int, p1: int) -> str:
    parts = []
    if (old is None or old.outcome is None) and new.outcome is not None:
        parts.append("settled")
    left = [
        m
        for m in WINDOWS
        if old is not None and old.counted and old.in_window(p0, m) and new.counted and not new.in_window(p1, m)
    ]
    parts += [f"left the {m}-month window" for m in left]
    if old is not None and old.counted and new.counted and old.weight4 != new.weight4:
        parts.append(f"weight {old.weight4 / 4:g} -> {new.weight4 / 4:g}")
    return ", ".join(parts) or "changed"


def period(
    contracts: list[Contract],
    flags: Flags,
    p0: int,
    p1: int,
    known: int,
    rules: RuleSet | None,
    cache: Cache,
    start: Score | None = None,
) -> Period:
    start = start or evaluate(contracts, flags, Cut(p0, INF, known), rules, cache=cache)
    end = evaluate(contracts, flags, Cut(p1, INF, known), rules, cache=cache)
    ruled = _named(end.rules)
    base = start
    rules_delta = None
    if start.rules != end.rules:
        base = evaluate(contracts, flags, Cut(p0, INF, known), ruled, cache=cache)
        rules_delta = _zero(base.exact) - _zero(start.exact)
    old = {a.contract_id: a for a in base.assessments}
    new = {a.contract_id: a for a in end.assessments}
    looks_old = seen(contracts, flags, base, known)
    looks_new = seen(contracts, flags, end, known)
    current = {cid: _frozen(a, p0) for cid, a in old.items()}
    changed = sorted(cid for cid, a in new.items() if _state(old.get(cid), p0) != _state(a, p1))
    public = [cid for cid in changed if looks_new[cid].public and (cid not in looks_old or looks_old[cid].public)]
    level = _zero(jss(list(current.values()), p1, ruled)[1])
    shares = []
    for cid in public:
        current[cid] = new[cid]
        after = _zero(jss(list(current.values()), p1, ruled)[1])
        shares.append((cid, after - level, _what(old.get(cid), new[cid], p0, p1)))
        level = after
    private_ids = set(changed) - set(public)
    return Period(start, end, rules_delta, shares, _zero(end.exact) - level, private_ids)


def explain(
    contracts: list[Contract],
    flags: Flags,
    t1: int,
    t2: int,
    known: int,
    rules: RuleSet | None,
    policy: Policy,
    freelancer_id: str,
    known_at: int | None,
) -> dict:
    p1, p2 = policy.published_at(t1), policy.published_at(t2)
    cache = Cache()
    first = evaluate(contracts, flags, Cut(p1, INF, known), rules, cache=cache)
    causes: list[dict] = []
    per_contract: dict[str, list] = {}
    private, private_ids = Fraction(0), set()
    last, score = p1, first
    for p in policy.instants(p1, p2):
        part = period(contracts, flags, last, p, known, rules, cache, score)
        if part.rules_delta is not None:
            causes.append(
                _cause(
                    "rules_changed",
                    p,
                    part.rules_delta,
                    f"rule set changed from {part.start.rules} to {part.end.rules}",
                )
            )
        for cid, share, what in part.shares:
            entry = per_contract.setdefault(cid, [p, Fraction(0), []])
            entry[1] += share
            entry[2].append(f"{what} (published {_time(p)[:10]})")
        private += part.private
        private_ids |= part.private_ids
        last, score = p, part.end
    looks = seen(contracts, flags, score, known)
    for cid, (p, share, whats) in sorted(per_contract.items(), key=lambda kv: (kv[1][0], kv[0])):
        look = looks[cid]
        a = look.assessment
        state = (f"counted as {a.outcome}" if a.counted else "not counted") + (
            f": {'; '.join(look.words)}" if look.words else ""
        )
        causes.append(
            {**_cause("contract", p, share, f"contract {cid}: {'; '.join(whats)}; {state}"), "contract_id": cid}
        )
    if len(private_ids) >= policy.k:
        causes.append(
            {
                **_cause(
                    "private_feedback",
                    p2,
                    private,
                    f"private feedback on {len(private_ids)} contracts that settled, changed or left "
                    f"a window in this span: {float(private):+.2f} points",
                ),
                "contracts": len(private_ids),
            }
        )
    elif private:
        causes.append(_cause("other", p2, private, f"other changes: {float(private):+.2f} points"))
    delta = _zero(score.exact) - _zero(first.exact)
    return {
        "freelancer_id": freelancer_id,
        "audience": "freelancer",
        "from": freelancer_json(freelancer_id, first, t1, known_at, seen(contracts, flags, first, known)),
        "to": freelancer_json(freelancer_id, score, t2, known_at, looks),
        "jss_delta": float(delta),
        "jss_delta_exact": str(delta),
        "causes": causes,
        "counterfactuals": counterfactuals(contracts, flags, score, known, rules, looks, cache),
    }


def _cause(kind: str, published_at: int, delta: Fraction, text: str) -> dict:
    return {
        "kind": kind,
        "published_at": _time(published_at),
        "jss_delta": float(delta),
        "jss_delta_exact": str(delta),
        "text": text,
    }


def counterfactuals(contracts, flags, score: Score, known: int, rules, looks: dict[str, Seen], cache) -> list[dict]:
    """What-ifs for the publicly decided counted contracts that are not positive."""
    cut = Cut(score.at, INF, known)
    out = []
    for a in score.assessments:
        if not a.counted or a.outcome == "positive" or not looks[a.contract_id].public or not a.in_window(score.at, 24):
            continue
        alt = {
            name: _f(evaluate(contracts, flags, cut, rules, {a.contract_id: o}, cache).exact)
            for name, o in (("without", "exclude"), ("if_neutral", "neutral"), ("if_positive", "positive"))
        }
        out.append(
            {
                "contract_id": a.contract_id,
                "outcome": a.outcome,
                "jss_without": alt["without"],
                "jss_if_neutral": alt["if_neutral"],
                "jss_if_positive": alt["if_positive"],
            }
        )
    return out


# -- history: the published changes ------------------------------------------------------


def change_entry(
    contracts: list[Contract],
    flags: Flags,
    p0: int,
    p1: int,
    before: tuple[int | None, float | None],
    end: Score,
    known: int,
    policy: Policy,
    freelancer_id: str,
    audience: str,
) -> dict:
    """The published change at p1 (from the value published at p0): a history entry, and the
    value of a message on the Kafka topic score-changes. Its id names the freelancer and the
    publication instant, never a log position (which would tell which event moved the score)."""
    entry = {
        "change_id": f"{freelancer_id}@{_time(p1)}",
        "freelancer_id": freelancer_id,
        "audience": audience,
        "published_at": _time(p1),
        "rules": end.rules,
        "jss_before": before[0],
        "jss_after": end.jss,
        "jss_hidden_reason": end.hidden_reason,
        "feedback_before": before[1],
        "feedback_after": _two(end.feedback),
    }
    if audience == "freelancer":
        entry["causes"] = explain(contracts, flags, p0, p1, known, None, policy, freelancer_id, None)["causes"]
    return entry
