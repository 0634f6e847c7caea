"""The SQL JSS of the audit database (`jss_sql`) against the Python rule sets, and the
ledger macro `jss_as_of` against the projection service.

`jss_sql(ts, rules, known)` is an independent implementation of rules.md in SQL over the
`events` table; here it must give, for every freelancer, exactly what
`projections.rules.score.evaluate` gives on a batch replay of the same log: displayed JSS, exact
value, window, visibility and feedback score, under each rule set, at instants chosen to be
hard (rule switches, settle times and window exits to the microsecond, equal instants).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.simulate import simulate
from projections import audit
from projections.replay import fold  # the Python side: a batch fold of the log
from projections.rules.fair import ClientFacts
from projections.rules.score import evaluate, round_half_up
from reputation import events as ev
from reputation.clock import INF
from reputation.ingest import ingest_lines
from reputation.outcome import Cut
from reputation.rulesets import RULE_SETS, in_force
from reputation.store import MemoryStore
from tests.property.histories import histories

RULES = [None, *RULE_SETS]  # None: the rule set in force at ts
US = 1


_TEMPLATE: dict[str, str] = {}


def _empty_audit_file(tmp: str) -> str:
    """A copy of an empty audit database (creating the schema once per session)."""
    if "path" not in _TEMPLATE:
        folder = tempfile.mkdtemp(prefix="audit-template-")
        path = os.path.join(folder, "audit.duckdb")
        con = duckdb.connect(path)
        audit.ensure_schema(con)
        con.close()
        _TEMPLATE["path"] = path
    target = os.path.join(tmp, "audit.duckdb")
    shutil.copyfile(_TEMPLATE["path"], target)
    return target


@contextmanager
def audit_db(lines, proj=None):
    """Ingest `lines` into a fresh in-memory store, sync a fresh audit file, yield
    (store, log rows, read-only connection)."""
    store = MemoryStore()
    result = ingest_lines(store, lines, skip_invalid=True, recorded_at="2026-01-01T00:00:00Z")
    assert result.accepted > 0
    with tempfile.TemporaryDirectory() as tmp:
        path = _empty_audit_file(tmp)
        audit.sync(store, proj, path)
        con = audit.open_readonly(path)
        try:
            yield store, store.read(0, 10**9), con
        finally:
            con.close()


def python_scores(by_freelancer, flags, at: int, known: int, rules: str | None):
    rule_set = RULE_SETS[rules] if rules else in_force(at)
    out = {}
    for f, contracts in by_freelancer.items():
        s = evaluate(contracts, flags, Cut(at, INF, known), rule_set)
        fb = round_half_up(s.feedback, 2)
        out[f] = (
            rule_set.name,
            s.jss,
            None if s.exact is None else float(s.exact),
            s.window,
            s.hidden_reason,
            None if fb is None else float(fb),
        )
    return out


def sql_scores(con, instants: list[int], known: int | None, rules: str | None):
    """jss_sql at many instants in one query (LATERAL): {(at, rules): {freelancer: row}}."""
    rows = con.execute(
        """
        SELECT epoch_us(i.ts), j.freelancer_id, j.rules, j.jss, j.jss_exact, j.jss_window_months,
               j.jss_hidden_reason, j.feedback_score
        FROM unnest($instants::TIMESTAMPTZ[]) AS i(ts),
             LATERAL (SELECT * FROM jss_sql(i.ts, rules := $rules, known := $known)) AS j
        """,
        {"instants": [ev.format_time(t) for t in instants], "rules": rules, "known": known},
    ).fetchall()
    out: dict = {}
    for at, f, name, jss, exact, window, hidden, fb in rows:
        group = out.setdefault((at, name if rules is not None else None), {})
        assert f not in group, "one row per freelancer and rule set"
        group[f] = (name, jss, exact, window, hidden, None if fb is None else float(fb))
    return out


def same(py, sq) -> bool:
    (r1, j1, e1, w1, h1, f1), (r2, j2, e2, w2, h2, f2) = py, sq
    exact_ok = (e1 is None and e2 is None) or (
        e1 is not None and e2 is not None and abs(e1 - e2) <= 1e-9 * max(1.0, abs(e1))
    )
    return (r1, j1, w1, h1, f1) == (r2, j2, w2, h2, f2) and exact_ok


def check(con, rows, instants, knowns=(None,)) -> int:
    """Every freelancer, every instant, every rule set (and the one in force), every known."""
    compared = 0
    everyone = list(fold(rows)[0])
    for known in knowns:
        by_freelancer, flags = fold(rows, INF if known is None else known)
        # fair-2026 reads each client's ratings with every freelancer
        flags = ClientFacts.of(flags, [c for cs in by_freelancer.values() for c in cs])
        for f in everyone:  # known only later: no contract seen, nothing to score
            by_freelancer.setdefault(f, [])
        sql = sql_scores(con, instants, known, "all") | sql_scores(con, instants, known, None)
        for at in instants:
            for rules in RULES:
                py = python_scores(by_freelancer, flags, at, INF if known is None else known, rules)
                name = rules or in_force(at).name
                got = sql.get((at, rules), {})
                # freelancers without any contract opened by ts have no row: nothing to score
                empty = (name, None, None, None, "insufficient_history", None)
                assert set(got) <= set(py)
                bad = {f: (py[f], got.get(f, empty)) for f in py if not same(py[f], got.get(f, empty))}
                assert not bad, (
                    f"SQL JSS differs from the Python rule sets at {ev.format_time(at)} "
                    f"rules={rules} known={known}: " + repr(sorted(bad.items())[:5])
                )
                compared += len(py)
    return compared


def hard_instants(con, limit: int = 8) -> list[int]:
    """Settle times and window exits (and one microsecond before them) of some contracts."""
    rows = con.execute(
        """
        SELECT t FROM (
            SELECT unnest([settled_at, leaves_window_6, leaves_window_12, leaves_window_24]) AS t
            FROM contracts WHERE closed_at IS NOT NULL
        ) WHERE t <= (SELECT clock FROM engine_clock)
        ORDER BY hash(t) LIMIT $n
        """,
        {"n": limit},
    ).fetchall()
    out = []
    for (t,) in rows:
        at = ev.parse_time(t.isoformat())
        out += [at - US, at]
    return out


SWITCH_2020 = ev.parse_time("2020-03-01T00:00:00Z")
SWITCH_2024 = ev.parse_time("2024-09-03T00:00:00Z")


@pytest.mark.parametrize(
    "start,months,switch",
    [("2018-06-01T00:00:00Z", 27, SWITCH_2020), ("2022-11-01T00:00:00Z", 25, SWITCH_2024)],
    ids=["across-2020-03-01", "across-2024-09-03"],
)
def test_sql_jss_equals_python_rule_sets_on_a_simulated_marketplace(start, months, switch):
    lines = list(simulate(70, months, 3, start))
    with audit_db(lines) as (store, rows, con):
        t0 = ev.parse_time(start)
        instants = [
            t0 + 200 * ev.DAY,
            switch - 1,
            switch,
            switch + 45 * ev.DAY + 12 * 3600 * ev.MICROS,
            *hard_instants(con),
        ]
        known = [None, store.max_position() * 2 // 3]
        assert check(con, rows, instants, known) > 1000


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.data())
def test_sql_jss_equals_python_rule_sets_on_adversarial_histories(lines, data):
    with audit_db(lines) as (_store, rows, con):
        times = sorted(
            {ev.decode_recorded(d).event.at for _, d in rows}
            | {
                ev.parse_time(t.isoformat())
                for (t,) in con.execute(
                    "SELECT DISTINCT unnest([settled_at, feedback_window_ends, leaves_window_6, "
                    "leaves_window_12, leaves_window_24]) FROM contracts"
                ).fetchall()
                if t is not None
            }
            | {SWITCH_2020, SWITCH_2024}
        )
        picked = data.draw(st.lists(st.sampled_from(times), min_size=1, max_size=6, unique=True))
        instants = sorted({t + d for t in picked for d in (-US, 0)})
        knowns = [None]
        if len(rows) > 2:
            knowns.append(data.draw(st.integers(1, len(rows) - 1)))
        check(con, rows, instants, knowns)


def test_jss_as_of_equals_the_projection_service():
    """`jss_as_of(ts)` (from the ledger) gives every freelancer's displayed JSS and feedback
    score as the service computes them, at instants up to the engine clock."""
    from projections.service import memory_projections

    lines = list(simulate(60, 30, 9, "2018-06-01T00:00:00Z"))
    proj = memory_projections()
    with audit_db(lines, proj) as (_store, _rows, con):
        clock = proj.clock
        (n,) = con.execute("SELECT count(*) FROM score_changes").fetchone()
        assert n == proj.max_seq() > 0
        t0 = ev.parse_time("2018-06-01T00:00:00Z")
        instants = [t0 + 100 * ev.DAY, SWITCH_2020 - 1, SWITCH_2020, clock - 40 * ev.DAY, clock]
        instants += [t for t in hard_instants(con, 6) if t <= clock]
        freelancers = proj.freelancers()
        bad = []
        for at in instants:
            got = {
                r[0]: (r[1], None if r[2] is None else float(r[2]))
                for r in con.execute(
                    "SELECT freelancer_id, jss, feedback_score FROM jss_as_of($ts::TIMESTAMPTZ)",
                    {"ts": ev.format_time(at)},
                ).fetchall()
            }
            for f in freelancers:
                s = proj.score(f, as_of=at)
                want = (s["jss"], s["feedback_score"])
                if got.get(f, (None, None)) != want:
                    bad.append((ev.format_time(at), f, want, got.get(f)))
        assert not bad, f"{len(bad)} differences (at, freelancer, service, ledger): {bad[:5]}"


def test_weights_of_long_contracts_are_capped_at_8():
    """Weights in quarters: $1,000+ is 1.5, plus 1 per full 90 days of payments, at most 8."""
    import json

    lines = []

    def add(**e):
        e["event_id"] = f"w{len(lines)}"
        lines.append(json.dumps(e).encode())

    t0 = ev.parse_time("2021-01-04T00:00:00Z")
    day = ev.DAY
    spans = {"long": 800, "mid": 200, "short": 10}  # 8 full 90-day periods: capped; 2; 0
    for i, (cid, span) in enumerate(spans.items()):
        add(
            type="ContractOpened",
            occurred_at=ev.format_time(t0),
            contract_id=cid,
            freelancer_id="f",
            client_id=f"k{i}",
            pricing="hourly",
        )
        for d in range(0, span + 1, 10):
            add(type="PaymentMade", occurred_at=ev.format_time(t0 + d * day), contract_id=cid, amount=600)
        closed = t0 + (span + 1) * day
        add(
            type="ContractClosed",
            occurred_at=ev.format_time(closed),
            contract_id=cid,
            closed_by="client",
            reason="completed_unsuccessfully" if cid == "long" else "completed_successfully",
        )
        add(
            type="PublicFeedbackSubmitted",
            occurred_at=ev.format_time(closed + day),
            contract_id=cid,
            by="client",
            stars=4.0,
        )
    with audit_db(lines) as (_store, rows, con):
        at = t0 + 900 * day
        weights = dict(
            con.execute(
                "SELECT contract_id, weight4 FROM contract_assessments($ts::TIMESTAMPTZ, rules := 'jss-2020')",
                {"ts": ev.format_time(at)},
            ).fetchall()
        )
        assert weights == {"long": 32, "mid": 6 + 8, "short": 6}
        check(con, rows, [at, t0 + 300 * day, t0 + 805 * day])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.data())
def test_jss_as_of_equals_the_projection_service_on_adversarial_histories(lines, data):
    """Late events, ticks, equal instants: the ledger read as "the latest entry at or before
    ts" still gives the service's score at ts (restatements included)."""
    from projections.service import memory_projections

    proj = memory_projections()
    with audit_db(lines, proj) as (_store, rows, con):
        clock = proj.clock
        times = sorted(
            {ev.decode_recorded(d).event.at for _, d in rows}
            | {
                ev.parse_time(t.isoformat())
                for (t,) in con.execute(
                    "SELECT DISTINCT unnest([settled_at, feedback_window_ends, leaves_window_6, "
                    "leaves_window_12, leaves_window_24]) FROM contracts"
                ).fetchall()
                if t is not None
            }
        )
        times = [t for t in times if t <= clock]
        if not times:
            return
        picked = data.draw(st.lists(st.sampled_from(times), min_size=1, max_size=5, unique=True))
        for at in sorted({t + d for t in picked for d in (-US, 0)}):
            got = {
                r[0]: (r[1], None if r[2] is None else float(r[2]))
                for r in con.execute(
                    "SELECT freelancer_id, jss, feedback_score FROM jss_as_of($ts::TIMESTAMPTZ)",
                    {"ts": ev.format_time(at)},
                ).fetchall()
            }
            for f in proj.freelancers():
                s = proj.score(f, as_of=at)
                assert got.get(f, (None, None)) == (s["jss"], s["feedback_score"]), (ev.format_time(at), f)
