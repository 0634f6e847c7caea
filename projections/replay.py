"""Batch replay: fold the log (prefix) from scratch, no summaries, caches or archives kept.

It uses the same fold (`reputation.contract.apply`) and the same rules (`evaluate`) as the
projector, so comparing the two proves that the incremental path (stored summaries, late
events, deadlines, caches, archives) equals the batch one, not that the rules are right.
The independent references for the rules are the hand-worked tables (tests/unit/test_rules.py,
tests/scenarios) and the SQL implementation of the audit database (`jss_sql`).
"""

from __future__ import annotations

from typing import Iterable

from projections.rules.fair import ClientFacts
from projections.rules.score import Score, evaluate
from reputation import contract as ct
from reputation import events as ev
from reputation.clock import INF
from reputation.outcome import Cut
from reputation.rulesets import RuleSet


def fold(rows: Iterable[tuple[int, bytes]], known: int = INF, until: int = INF):
    """Contracts per freelancer and client flags from log rows with position <= known and
    valid time <= until."""
    contracts: dict[str, ct.Contract] = {}
    flags: dict[str, list[tuple[int, int, bool]]] = {}
    for pos, data in rows:
        if pos > known:
            break
        e = ev.decode_recorded(data).event
        at = e.at
        if at > until:
            continue
        if isinstance(e, ev.ContractOpened):
            contracts[e.contract_id] = ct.open_contract(e, pos)
        elif isinstance(e, (ev.ClientFlagged, ev.ClientUnflagged)):
            flags.setdefault(e.client_id, []).append((at, pos, isinstance(e, ev.ClientFlagged)))
        elif not isinstance(e, ev.ClockAdvanced):
            ct.apply(contracts[e.contract_id], e, at, pos)
    by_freelancer: dict[str, list[ct.Contract]] = {}
    for c in contracts.values():
        by_freelancer.setdefault(c.freelancer, []).append(c)
    return by_freelancer, flags


def batch_score(
    rows: list[tuple[int, bytes]], freelancer_id: str, at: int, known: int = INF, rules: RuleSet | None = None
) -> Score | None:
    by_freelancer, flags = fold(rows, known, at)
    if freelancer_id not in by_freelancer:
        return None
    facts = ClientFacts.of(flags, [c for cs in by_freelancer.values() for c in cs])  # fair-2026 reads them
    return evaluate(by_freelancer[freelancer_id], facts, Cut(at), rules)


def clock_at(rows: Iterable[tuple[int, bytes]], known: int = INF) -> int:
    clock = -INF
    for pos, data in rows:
        if pos > known:
            break
        e = ev.decode_recorded(data).event
        clock = max(clock, e.clock_to)
    return clock
