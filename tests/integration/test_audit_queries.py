"""Queries over the audit database: the worked example through the SQL JSS, month-end window
arithmetic, and every example query of the README and docs/audit.md, each run as written and
its rows compared with an independent computation (the Python rule sets and projection
service, or the event lines themselves)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict

import duckdb
import pytest

from projections import audit
from projections.replay import fold
from projections.rules.fair import ClientFacts
from projections.rules.score import evaluate
from reputation import events as ev
from reputation.clock import INF
from reputation.config import Settings, open_store
from reputation.outcome import Cut
from reputation.rulesets import RULE_SETS
from tests.integration.audit_support import ROOT, ingest, market, projections_for
from tests.scenarios import worked_example

DOCS = ROOT / "docs" / "audit.md"


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """A home with the worked example ingested and the audit database synced."""
    home = tmp_path_factory.mktemp("populated") / "home"
    settings = Settings(home=str(home))
    store = open_store(settings)
    ingest(store, worked_example.lines())
    proj = projections_for(settings, store)
    audit.sync(store, proj, settings.audit_path)
    proj.close()
    store.close()
    return None, home


# -- the worked example through the SQL JSS ----------------------------------------


def test_worked_example_through_the_sql_jss(populated):
    _tmp, home = populated
    con = audit.open_readonly(str(home / "audit.duckdb"))
    try:

        def score(rules):
            return con.execute(
                "SELECT jss, jss_exact, jss_window_months, jss_hidden_reason, feedback_score, "
                "counted_contracts, positive, neutral, negative "
                "FROM jss_sql('2019-03-01T00:00:00Z', rules := $r) WHERE freelancer_id = 'f-cathy'",
                {"r": rules},
            ).fetchone()

        jss, exact, window, hidden, fb, counted, pos, neu, neg = score("jss-2016")
        assert (jss, exact, window, hidden, float(fb)) == (75, 75.0, 6, None, 4.88)
        assert (counted, pos, neu, neg) == (8, 7, 0, 1)
        jss, exact, window, hidden, fb, counted, pos, neu, neg = score("jss-2020")
        assert (jss, exact, float(fb), counted, pos, neg) == (100, 100.0, 4.88, 8, 8, 0)
        assert score(None)[0] == 75  # 2019: jss-2016 is in force

        x1 = dict(
            con.execute(
                "SELECT rules, outcome FROM contract_assessments('2019-03-01', rules := 'all') WHERE contract_id = 'X1'"
            ).fetchall()
        )
        # fair-2026: X1 and X2 are one engagement, not settled while X2 is open
        assert x1 == {"jss-2016": "negative", "jss-2020": "positive", "jss-2024": "positive", "fair-2026": None}
        (x2_counted,) = con.execute(
            "SELECT counted FROM contract_assessments('2019-03-01') WHERE contract_id = 'X2'"
        ).fetchone()
        assert x2_counted is False
        # X1 closed 2019-01-04 leaves the 6-month window on 2019-07-05; the others (closed
        # 2019-01-03) a day earlier: in between, the 6-month window holds X1 alone (0), and the
        # 12- and 24-month windows tie at 75: the shortest is named
        (leaves,) = con.execute("SELECT leaves_window_6 FROM contracts WHERE contract_id = 'X1'").fetchone()
        assert leaves.isoformat() == "2019-07-05T00:00:00+00:00"
        assert con.execute(
            "SELECT jss, score_6, score_12, score_24, jss_window_months "
            "FROM jss_sql('2019-07-04T12:00:00Z', rules := 'jss-2016')"
        ).fetchone() == (75, 0.0, 75.0, 75.0, 12)
        # and the ledger agrees
        assert con.execute("SELECT jss, feedback_score FROM jss_as_of('2019-03-01')").fetchone()[0] == 75
    finally:
        con.close()


def test_month_end_windows_clamp_like_add_months(tmp_path):
    """`closed_at + INTERVAL N MONTH` clamps the 31st to the month's last day, like rules.md."""
    from projections.rules.windows import window_exit
    from reputation import events as ev

    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")  # the macros do not depend on it
    for closed in (
        "2019-08-31T23:30:00Z",
        "2020-01-31T00:00:00Z",
        "2020-02-29T12:00:00Z",
        "2019-03-31T06:00:00Z",
        "2021-12-31T23:59:59.999999Z",
    ):
        for months in (6, 12, 24):
            (got,) = con.execute(
                "SELECT epoch_us(timezone('UTC', timezone('UTC', $c::TIMESTAMPTZ) "
                "+ INTERVAL (CAST($m AS INTEGER)) MONTH + INTERVAL 1 DAY))",
                {"c": closed, "m": months},
            ).fetchone()
            assert got == window_exit(ev.parse_time(closed), months), (closed, months)


# -- the documented example queries ------------------------------------------------


def doc_queries() -> list[str]:
    text = DOCS.read_text() + (ROOT / "README.md").read_text()  # the README's examples run too
    return re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)


SEED = (40, 30, 2, "2018-06-01T00:00:00Z")  # freelancers, months, seed, start of the market


class Market:
    """A simulated market synced into an audit file, with the projection service kept open
    and the raw event lines at hand for independent computations."""

    def __init__(self, tmp_path):
        self.lines = market(*SEED)
        self.events = [json.loads(line) for line in self.lines]
        settings = Settings(home=str(tmp_path / "home"))
        self.store = open_store(settings)
        ingest(self.store, self.lines)
        self.proj = projections_for(settings, self.store)
        audit.sync(self.store, self.proj, settings.audit_path)
        self.con = audit.open_readonly(settings.audit_path)
        self.ledger = self.proj.ledger_after(0, 10**9)
        self.clock = self.proj.clock

    def close(self):
        self.con.close()
        self.proj.close()
        self.store.close()

    def contracts(self) -> dict[str, dict]:
        """Per contract, from the event lines: parties, the client's latest public stars,
        the client's private recommend."""
        out: dict[str, dict] = {}
        for e in self.events:  # line order is log order
            if e["type"] == "ContractOpened":
                out[e["contract_id"]] = {
                    "freelancer": e["freelancer_id"],
                    "client": e["client_id"],
                    "stars": None,
                    "recommend": None,
                }
            elif e.get("by") == "client" and e["type"] in ("PublicFeedbackSubmitted", "PublicFeedbackRevised"):
                out[e["contract_id"]]["stars"] = e["stars"]
            elif e.get("by") == "client" and e["type"] == "PrivateFeedbackSubmitted":
                out[e["contract_id"]]["recommend"] = e["recommend"]
        return out


@pytest.fixture(scope="module")
def mkt(tmp_path_factory):
    m = Market(tmp_path_factory.mktemp("market"))
    yield m
    m.close()


def utc(value: dt.datetime | str) -> str:
    """A TIMESTAMPTZ from DuckDB or an engine time string, as the engine writes times."""
    if isinstance(value, str):
        return ev.format_time(ev.parse_time(value))
    return ev.format_time(ev.parse_time(value.isoformat()))


def month_start(micros: int, months_later: int) -> dt.datetime:
    t = dt.datetime.fromtimestamp(micros / 1e6, dt.UTC)
    index = t.year * 12 + t.month - 1 + months_later
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC)


def micros(t: dt.datetime) -> int:
    return ev.parse_time(t.isoformat())


def check_scores_on_a_date(m: Market, names, rows) -> None:
    at = ev.parse_time("2020-06-01T00:00:00Z")
    latest: dict[str, str] = {}
    for c in m.ledger:
        if ev.parse_time(c.effective_at) <= at:
            latest[c.freelancer_id] = max(
                latest.get(c.freelancer_id, c.effective_at), c.effective_at, key=ev.parse_time
            )
    want = []
    for f in latest:
        s = m.proj.score(f, as_of=at)
        want.append((f, s["rules"], s["jss"], s["feedback_score"], utc(latest[f])))
    want.sort(key=lambda r: (r[2] is None, -(r[2] or 0), r[0]))
    assert names == ["freelancer_id", "rules", "jss", "feedback_score", "changed_at"]
    got = [(f, r, j, None if fb is None else float(fb), utc(t)) for f, r, j, fb, t in rows]
    assert len(want) >= 20 and got == want[:20]


def check_largest_drops(m: Market, names, rows) -> None:
    start, end = month_start(m.clock, -1), month_start(m.clock, 0)
    want = []
    for c in m.ledger:
        t = ev.parse_time(c.effective_at)
        if (
            micros(start) <= t < micros(end)
            and c.jss_before is not None
            and c.jss_after is not None
            and c.jss_after < c.jss_before
        ):
            for cause in c.causes:
                want.append(
                    (
                        c.jss_after - c.jss_before,
                        c.seq,
                        c.freelancer_id,
                        utc(c.effective_at),
                        c.jss_before,
                        c.jss_after,
                        cause.kind,
                        cause.text,
                    )
                )
    want.sort(key=lambda r: (r[0], r[1]))  # ORDER BY change, seq (causes of one change: any order)
    assert names[:5] == ["freelancer_id", "effective_at", "jss_before", "jss_after", "change"]
    got = [(f, utc(t), b, a, ch, k, w) for f, t, b, a, ch, k, w in rows]
    assert want, "the market has drops in the month before its clock (else the check is empty)"
    head = want[:20]
    assert [(g[4], g[0], g[1]) for g in got] == [(w[0], w[2], w[3]) for w in head]
    seqs = {w[1] for w in head}
    full = Counter((w[2], w[3], w[4], w[5], w[0], w[6], w[7]) for w in want if w[1] in seqs)
    assert not Counter(got) - full, "every row is one cause of one of those changes"


def check_contradicting_clients(m: Market, names, rows) -> None:
    by_client: dict[str, list] = defaultdict(list)
    for cid, c in m.contracts().items():
        if c["recommend"] is not None and c["stars"] is not None and c["recommend"] <= 6 and c["stars"] >= 4.5:
            by_client[c["client"]].append((cid, c["stars"], c["recommend"]))
    want = sorted(by_client.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    assert want, "the market has such clients (else the check is empty)"
    assert names == ["client_id", "contracts", "avg_public_stars", "avg_private_recommend", "which"]
    assert [(r[0], r[1], r[4]) for r in rows] == [(k, len(v), sorted(x[0] for x in v)) for k, v in want]
    for r, (_k, v) in zip(rows, want):
        assert abs(float(r[2]) - sum(x[1] for x in v) / len(v)) <= 0.005 + 1e-9
        assert abs(float(r[3]) - sum(x[2] for x in v) / len(v)) <= 0.05 + 1e-9


def check_window_exits(m: Market, names, rows) -> None:
    lo, hi = micros(month_start(m.clock, 1)), micros(month_start(m.clock, 2))
    want = set()
    for f in m.proj.freelancers():
        s = m.proj.score(f, as_of=m.clock)
        for c in s["contracts"]:
            if not c["counted"]:
                continue
            for months in RULE_SETS[s["rules"]].windows:
                leaves = ev.parse_time(c["leaves_windows"][str(months)])
                if lo <= leaves < hi:
                    want.add((f, c["contract_id"], c["outcome"], months, ev.format_time(leaves)))
    assert want, "contracts leave a window the month after next (else the check is empty)"
    assert names == ["freelancer_id", "contract_id", "outcome", "months", "leaves_at"]
    got = [(f, cid, o, mo, utc(t)) for f, cid, o, mo, t in rows]
    assert sorted(got, key=lambda r: r[4]) == got, "ORDER BY leaves_at"
    assert len(got) == len(set(got)) and set(got) == want


def check_what_if(m: Market, names, rows) -> None:
    at = ev.parse_time("2020-06-01T00:00:00Z")
    by_freelancer, flags = fold(m.store.read(0, 10**9))
    flags = ClientFacts.of(flags, [c for cs in by_freelancer.values() for c in cs])  # fair-2026 reads them
    assert names == ["freelancer_id", "rules", "jss", "jss_exact", "jss_window_months", "jss_hidden_reason"]
    opened = {
        e["freelancer_id"] for e in m.events if e["type"] == "ContractOpened" and ev.parse_time(e["occurred_at"]) <= at
    }
    assert len(rows) == len(opened) * len(RULE_SETS) > 0
    for f, rules, jss, exact, window, hidden in rows:
        s = evaluate(by_freelancer[f], flags, Cut(at, INF, INF), RULE_SETS[rules])
        assert (jss, window, hidden) == (s.jss, s.window, s.hidden_reason), (f, rules)
        assert (exact is None) == (s.exact is None)
        assert exact is None or abs(exact - float(s.exact)) <= 1e-9 * max(1.0, abs(exact))


def check_ledger_equals_sql(m: Market, names, rows) -> None:
    assert names == ["freelancer_id", "sql_jss", "ledger_jss"]
    assert rows == [], "the ledger and the SQL JSS agree at the engine clock"
    (shown,) = m.con.execute("SELECT count(jss) FROM jss_sql((SELECT clock FROM engine_clock))").fetchone()
    assert shown > 0, "some JSS is shown: the comparison is not vacuous"


def check_low_ratings(m: Market, names, rows) -> None:
    freelancer = {e["contract_id"]: e["freelancer_id"] for e in m.events if e["type"] == "ContractOpened"}
    low = [
        e
        for e in m.events
        if e["type"] in ("PublicFeedbackSubmitted", "PublicFeedbackRevised") and e["by"] == "client" and e["stars"] < 3
    ]
    low.sort(key=lambda e: ev.parse_time(e["occurred_at"]), reverse=True)
    want = [
        (
            e["contract_id"],
            freelancer[e["contract_id"]],
            e["stars"],
            e.get("comment"),
            (e.get("attributes") or {}).get("quality"),
            utc(e["occurred_at"]),
        )
        for e in low
    ]
    assert want, "the market has low ratings (else the check is empty)"
    assert names == ["contract_id", "freelancer_id", "stars", "comment", "quality"]
    cut = {w[5] for w in want[:20]}
    at_cut = Counter(w[:5] for w in want if w[5] in cut)
    assert len(rows) == len(want[:20]) and not Counter(rows) - at_cut


CHECKS = {
    "FROM jss_as_of(TIMESTAMPTZ '2020-06-01 00:00:00+00')": check_scores_on_a_date,
    "unnest(c.causes::JSON[])": check_largest_drops,
    "WHERE client_recommend <= 6 AND client_stars >= 4.5": check_contradicting_clients,
    "FROM contract_outcomes": check_window_exits,
    "rules := 'all'": check_what_if,
    "WHERE s.jss IS DISTINCT FROM l.jss": check_ledger_equals_sql,
    "payload->>'comment'": check_low_ratings,
}


def test_every_documented_query_has_a_check():
    queries = doc_queries()
    assert len(queries) >= 7
    for sql in queries:
        assert sum(key in sql for key in CHECKS) == 1, f"no (or more than one) check for:\n{sql}"
    assert {key for key in CHECKS if any(key in sql for sql in queries)} == set(CHECKS)


@pytest.mark.parametrize("sql", doc_queries(), ids=lambda sql: sql.split("\n")[0][:40])
def test_documented_query_gives_what_an_independent_computation_gives(mkt, sql):
    names, _types, rows = audit.query(mkt.con, sql)
    [check] = [c for key, c in CHECKS.items() if key in sql]
    check(mkt, names, rows)
