"""What-if over the population: every freelancer's displayed JSS at T under the rule set in
force and under another rule set R, computed in one query of the DuckDB audit (`jss_sql`, the
SQL implementation of every rule set), never one call per freelancer.

`whatif(store, proj, audit_path, rules, at)` syncs the audit file with the log (without
catching the projections up: the caller decides), then answers a `WhatIf`.
"""

from __future__ import annotations

import math
import threading

import msgspec

from reputation import events as ev
from reputation.errors import NotFound
from reputation.rulesets import rule_set
from reputation.store import EventStore

MOVERS = 20
MAX_BINS = 40

# one row per freelancer known at T under either rule set (FULL JOIN: a freelancer may have
# contracts that count under one rule set only)
SQL = """
WITH now AS (SELECT freelancer_id, rules, jss FROM jss_sql($at::TIMESTAMPTZ)),
alt AS (SELECT freelancer_id, jss FROM jss_sql($at::TIMESTAMPTZ, rules := $rules))
SELECT freelancer_id, now.rules, now.jss, alt.jss
FROM now FULL JOIN alt USING (freelancer_id)
ORDER BY freelancer_id
"""

# why: every contract whose state (not counted, or its outcome) differs between the two rule sets
WHY_SQL = """
WITH now AS (SELECT freelancer_id, contract_id,
                    CASE WHEN counted THEN outcome ELSE 'not counted' END AS state
             FROM contract_assessments($at::TIMESTAMPTZ)),
alt AS (SELECT contract_id, CASE WHEN counted THEN outcome ELSE 'not counted' END AS state
        FROM contract_assessments($at::TIMESTAMPTZ, rules := $rules))
SELECT now.freelancer_id, contract_id, now.state, alt.state
FROM now JOIN alt USING (contract_id)
WHERE now.state <> alt.state
ORDER BY now.freelancer_id, contract_id
"""
WHY_PER_MOVER = 5

# DuckDB allows one writer handle per file in a process: syncs and queries take turns
_lock = threading.Lock()


class Bin(msgspec.Struct):
    lo: int  # the differences d with lo <= d < hi (JSS points, R minus in force)
    hi: int
    count: int


class Mover(msgspec.Struct):
    freelancer_id: str
    jss_in_force: int | None
    jss_whatif: int | None
    delta: int | None  # None when the JSS is shown under one rule set only
    # contracts whose state differs: "X1: negative -> not counted" (a change of window or weight
    # alone has no line)
    why: list[str] = []


class Transition(msgspec.Struct):
    """Contracts whose state (an outcome, or not counted) is `before` in force and `after` under R."""

    before: str
    after: str
    contracts: int
    freelancers: int


class WhatIf(msgspec.Struct):
    at: str
    rules_in_force: str | None  # None when no freelancer has a contract by T
    rules: str
    freelancers: int
    gain: int
    lose: int
    same: int
    appear: int  # hidden under the rule set in force, shown under R
    disappear: int  # shown under the rule set in force, hidden under R
    hidden_both: int
    histogram: list[Bin]
    movers: list[Mover]  # the largest |delta| first, then those who appear or disappear
    transitions: list[Transition] = []  # why, over everyone: the most contracts first


def histogram(deltas: list[int], max_bins: int = MAX_BINS) -> list[Bin]:
    """Equal-width integer bins covering every delta, 0 at a bin edge, at most `max_bins`."""
    if not deltas:
        return []
    lo, hi = min(deltas), max(deltas)
    width = max(1, math.ceil((hi - lo + 1) / max_bins))
    while True:
        start = (lo // width) * width  # a multiple of the width: 0 is an edge
        n = (hi - start) // width + 1
        if n <= max_bins:  # aligning the start may cost one more bin
            break
        width += 1
    counts = [0] * n
    for d in deltas:
        counts[(d - start) // width] += 1
    return [Bin(start + i * width, start + (i + 1) * width, c) for i, c in enumerate(counts)]


def explained(out: WhatIf, changes: list[tuple[str, str, str, str]]) -> WhatIf:
    """`out` with the contract changes (freelancer, contract, state in force, state under R):
    each mover's, and the transitions over everyone."""
    per: dict[str, list[str]] = {}
    kinds: dict[tuple[str, str], tuple[int, set]] = {}
    for f, cid, before, after in changes:
        per.setdefault(f, []).append(f"{cid}: {before} -> {after}")
        n, who = kinds.get((before, after), (0, set()))
        who.add(f)
        kinds[(before, after)] = (n + 1, who)
    for m in out.movers:
        m.why = per.get(m.freelancer_id, [])[:WHY_PER_MOVER]
    out.transitions = sorted(
        (Transition(b, a, n, len(who)) for (b, a), (n, who) in kinds.items()),
        key=lambda t: (-t.contracts, t.before, t.after),
    )
    return out


def summarize(
    at: str, rules: str, rows: list[tuple[str, str | None, int | None, int | None]], movers: int = MOVERS
) -> WhatIf:
    """The counts, the histogram and the movers of (freelancer, rules in force, JSS, JSS under R) rows."""
    both = [(f, a, b) for f, _, a, b in rows if a is not None and b is not None]
    deltas = [b - a for _, a, b in both]
    appear = [Mover(f, a, b, None) for f, _, a, b in rows if a is None and b is not None]
    disappear = [Mover(f, a, b, None) for f, _, a, b in rows if a is not None and b is None]
    ranked = sorted(
        (Mover(f, a, b, b - a) for f, a, b in both if a != b), key=lambda m: (-abs(m.delta or 0), m.freelancer_id)
    )
    in_force = next((r for _, r, _, _ in rows if r is not None), None)
    return WhatIf(
        at=at,
        rules_in_force=in_force,
        rules=rules,
        freelancers=len(rows),
        gain=sum(d > 0 for d in deltas),
        lose=sum(d < 0 for d in deltas),
        same=sum(d == 0 for d in deltas),
        appear=len(appear),
        disappear=len(disappear),
        hidden_both=sum(1 for _, _, a, b in rows if a is None and b is None),
        histogram=histogram(deltas),
        movers=(ranked + appear + disappear)[:movers],
    )


def whatif(store: EventStore, proj, audit_path: str, rules: str, at: int | None = None, movers: int = MOVERS) -> WhatIf:
    """The population under `rules` next to the rule set in force at `at` (default: the
    engine clock). Raises BadRequest for an unknown rule set, NotFound for an empty store, and
    the audit's AuditError (an InvalidInput) when the audit file cannot be synced."""
    from projections import audit

    rule_set(rules)  # UnknownRules (a BadRequest) names the known ones
    if store.max_position() == 0:
        raise NotFound("the event store is empty: ingest events first")
    when = ev.format_time(proj.clock if at is None else at)
    with _lock:
        audit.sync(store, proj, audit_path, progress=False, catch_up=False)
        con = audit.open_readonly(audit_path)
        try:
            _, _, rows = audit.query(con, SQL, {"at": when, "rules": rules})
            _, _, changes = audit.query(con, WHY_SQL, {"at": when, "rules": rules})
        finally:
            con.close()
    out = summarize(when, rules, [tuple(r) for r in rows], movers)
    return explained(out, [tuple(r) for r in changes])
