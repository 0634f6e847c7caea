"""fair-2026 at its boundaries (rules.md, "fair-2026"), table-driven: each case is a small
history of event lines; the outcome of the contract under test must be the expected one in
the Python rule sets, in the audit SQL *and* in the native core, and every freelancer's JSS
must agree between the three (test_audit_sql_jss.check; the core's whole Score equals Python's). The histories run in 2025 (jss-2024 in force): fair-2026 is
never in force, so the in-force score is the control."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from projections.core_judge import CoreJudge
from projections.replay import fold
from projections.rules.fair import ClientFacts
from projections.rules.score import evaluate
from reputation import events as ev
from reputation.clock import DAY, INF
from reputation.outcome import Cut
from reputation.rulesets import RULE_SETS, in_force
from tests.property.test_audit_sql_jss import audit_db, check

T0 = ev.parse_time("2025-01-06T00:00:00Z")
AT = T0 + 200 * DAY
FAIR = RULE_SETS["fair-2026"]


class History:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def add(self, day: float, **e) -> None:
        e["event_id"] = f"e{len(self.lines)}"
        e["occurred_at"] = ev.format_time(T0 + int(day * DAY))
        self.lines.append(json.dumps(e).encode())

    def contract(
        self,
        cid: str,
        day: float,
        *,
        freelancer: str = "f",
        client: str = "k",
        amount: int = 100,
        reason: str = "completed_successfully",
        recommend: int | None = None,
        stars: float | None = None,
        continues: str | None = None,
        span: int = 0,
        close: bool = True,
    ) -> None:
        opened = {"continues": continues} if continues else {}
        self.add(
            day,
            type="ContractOpened",
            contract_id=cid,
            freelancer_id=freelancer,
            client_id=client,
            pricing="hourly",
            **opened,
        )
        if amount:  # a $0 contract: no payment
            self.add(day + 0.1, type="PaymentMade", contract_id=cid, amount=amount)
        if span:
            self.add(day + 0.1 + span, type="PaymentMade", contract_id=cid, amount=1)
        if not close:
            return
        end = day + span + 1
        self.add(end, type="ContractClosed", contract_id=cid, closed_by="client", reason=reason)
        if stars is not None:
            self.add(end + 0.2, type="PublicFeedbackSubmitted", contract_id=cid, by="client", stars=stars)
        if recommend is not None:
            self.add(end + 0.3, type="PrivateFeedbackSubmitted", contract_id=cid, by="client", recommend=recommend)

    def rater(self, client: str, recommends=(), stars=(), day: float = 0) -> None:
        """`client`'s history with other freelancers (settled by AT)."""
        for i, r in enumerate(recommends):
            self.contract(f"h{client}r{i}", day + i, freelancer=f"g{i}", client=client, recommend=r)
        for i, s in enumerate(stars):
            self.contract(f"h{client}s{i}", day + i, freelancer=f"g{i}", client=client, stars=s)


def core_equals_python(rows, instants, rule_sets=(FAIR,)) -> int:
    """The core's whole Score (assessments and reasons included) is Python's, for every
    freelancer at every instant under each rule set; returns how many compared."""
    by, flags = fold(rows)
    facts = ClientFacts.of(flags, [c for cs in by.values() for c in cs])
    compared = 0
    for f, contracts in by.items():
        core = CoreJudge(contracts, facts)
        for at in instants:
            for rules in rule_sets:
                assert core.score(Cut(at), rules) == evaluate(contracts, facts, Cut(at), rules), (f, at, rules.name)
                compared += 1
    return compared


def assessed(h: History, contract: str, rules=FAIR, at: int = AT):
    """(counted, outcome, weight4) of `contract` in Python, in SQL and in the core (asserted
    equal), after checking every freelancer's JSS in all three at `at`."""
    with audit_db(h.lines) as (_store, rows, con):
        assert check(con, rows, [at]) > 0
        assert core_equals_python(rows, [at], (rules,)) > 0
        by, flags = fold(rows)
        facts = ClientFacts.of(flags, [c for cs in by.values() for c in cs])
        owner = next(f for f, cs in by.items() if any(c.id == contract for c in cs))
        s = evaluate(by[owner], facts, Cut(at), rules)
        a = next(a for a in s.assessments if a.contract_id == contract)
        py = (a.counted, a.outcome if a.counted else None, a.weight4)
        sql = con.execute(
            "SELECT counted, CASE WHEN counted THEN outcome END, weight4 FROM contract_assessments("
            "$ts::TIMESTAMPTZ, rules := $r) WHERE contract_id = $c",
            {"ts": ev.format_time(at), "r": rules.name, "c": contract},
        ).fetchone()
        assert py == tuple(sql), (py, sql)
        return py


# -- neutral closes -----------------------------------------------------------------------

NEUTRAL_CASES = [
    # reason, recommend, stars, payments span (days), fair-2026, jss-2024 (None: not counted)
    ("no_longer_needed", None, None, 0, None, "neutral"),  # the close alone: no signal, not counted
    ("hired_someone_else", None, None, 0, None, "neutral"),
    ("client_unresponsive", None, None, 0, None, "neutral"),
    ("other", None, None, 0, None, "neutral"),
    ("client_unresponsive", None, None, 95, "positive", "positive"),  # long-term counts without a signal
    ("no_longer_needed", 9, None, 0, "positive", "positive"),  # the other signals decide
    ("hired_someone_else", None, 4.5, 0, "positive", "positive"),
    ("other", 8, None, 0, "neutral", "neutral"),
    ("no_longer_needed", 6, None, 0, "negative", "negative"),
    ("other", None, 2.99, 0, "negative", "negative"),
    ("other", None, 3.0, 0, "neutral", "neutral"),
    ("completed_successfully", None, None, 0, "neutral", "neutral"),  # not a neutral close: a signal
    ("freelancer_unresponsive", 10, None, 0, "negative", "negative"),
]


@pytest.mark.parametrize("reason,recommend,stars,span,fair,jss2024", NEUTRAL_CASES)
def test_neutral_closes(reason, recommend, stars, span, fair, jss2024):
    h = History()
    h.contract("c", 1, reason=reason, recommend=recommend, stars=stars, span=span)
    assert assessed(h, "c")[1] == fair
    assert assessed(h, "c", RULE_SETS["jss-2024"])[1] == jss2024


# -- engagements ----------------------------------------------------------------------------


def test_an_open_continuation_holds_the_engagement_unsettled():
    h = History()
    h.contract("x1", 1, reason="no_longer_needed", recommend=9, amount=200)
    h.contract("x2", 3, continues="x1", close=False)
    assert assessed(h, "x1") == (False, None, 0)
    assert assessed(h, "x2") == (False, None, 0)
    assert assessed(h, "x1", RULE_SETS["jss-2024"]) == (True, "positive", 4)


@pytest.mark.parametrize(
    "first_reason,last_reason,outcome",
    [
        ("freelancer_unresponsive", "completed_successfully", "positive"),  # an earlier close is no signal
        ("no_longer_needed", "completed_successfully", "positive"),
        ("completed_successfully", "freelancer_lacked_skills", "negative"),  # the last one is
        ("completed_successfully", "no_longer_needed", "positive"),  # a neutral close: the recommend 10 decides
    ],
)
def test_an_engagement_is_judged_by_its_last_close(first_reason, last_reason, outcome):
    h = History()
    h.contract("x1", 1, reason=first_reason, amount=200)
    h.contract("x2", 3, continues="x1", reason=last_reason, recommend=10, amount=100)
    counted, got, weight = assessed(h, "x1")
    # $200 + $100: one contract of $300 weighs 1.25 (two of $200 and $100 weigh 1 each)
    assert (counted, got, weight) == (True, outcome, 5)
    assert assessed(h, "x2")[0] is False


def test_an_engagement_spans_its_contracts_payments():
    h = History()
    h.contract("x1", 1, amount=50, span=45)
    h.contract("x2", 50, continues="x1", amount=50, span=44)  # 45 + 4 + 44 + 1 days: over 90
    assert assessed(h, "x1") == (True, "positive", 4 + 4)  # long-term: +1 per full 90 days
    assert assessed(h, "x1", RULE_SETS["jss-2024"]) == (True, "neutral", 4)  # alone: not long-term


def test_the_latest_recommend_of_the_engagement_counts():
    h = History()
    h.contract("x1", 1, reason="no_longer_needed", recommend=3)
    h.contract("x2", 5, continues="x1", recommend=9)
    assert assessed(h, "x1")[1] == "positive"
    assert assessed(h, "x1", RULE_SETS["jss-2024"])[1] == "negative"


# -- rater leniency ---------------------------------------------------------------------------

LENIENCY_CASES = [
    # the client's other recommends, this contract's recommend, fair-2026 outcome
    ((3, 4, 5, 6, 6), 5, "neutral"),  # lower median 5: 5 is the client's usual
    ((3, 4, 5, 6, 6), 4, "negative"),  # below it
    ((3, 4, 5, 6, 6, 6), 5, "neutral"),  # six answers: lower median is the 3rd (5)
    ((3, 4, 5, 6), 6, "negative"),  # four rated contracts: no leniency yet
    ((3, 4, 5, 6, 7), 6, "negative"),  # one 7: not a harsh client
    ((6, 6, 6, 6, 6), 6, "neutral"),
    ((0, 0, 0, 0, 6), 0, "neutral"),
]


@pytest.mark.parametrize("history,recommend,outcome", LENIENCY_CASES)
def test_a_harsh_recommender_moves_the_outcome_only_below_its_usual(history, recommend, outcome):
    h = History()
    h.rater("k", recommends=history)
    h.contract("c", 40, recommend=recommend)
    assert assessed(h, "c")[1] == outcome
    assert assessed(h, "c", RULE_SETS["jss-2024"])[1] == "negative"


STAR_CASES = [
    ((2.5, 2.9, 2.9, 3.0, 3.9), 2.9, "neutral"),
    ((2.5, 2.9, 2.9, 3.0, 3.9), 2.89, "negative"),
    ((2.5, 2.9, 2.9, 3.0, 4.0), 2.9, "negative"),  # a 4.0: not harsh
    ((2.5, 2.9, 2.9, 3.0), 2.9, "negative"),  # four: no leniency
]


@pytest.mark.parametrize("history,stars,outcome", STAR_CASES)
def test_a_harsh_star_giver_moves_the_outcome_only_below_its_usual(history, stars, outcome):
    h = History()
    h.rater("k", stars=history)
    h.contract("c", 40, stars=stars)
    assert assessed(h, "c")[1] == outcome


def test_a_usual_low_answer_is_still_a_private_answer():
    """A harsh client's usual 5 with 5.0 stars: not negative, and not positive either (the
    'stars >= 4.5 with no private feedback' rule does not apply: there was an answer)."""
    h = History()
    h.rater("k", recommends=(5, 5, 5, 5, 5))
    h.contract("c", 40, recommend=5, stars=5.0)
    assert assessed(h, "c")[1] == "neutral"


def test_history_counts_only_settled_contracts_at_the_cut():
    h = History()
    h.rater("k", recommends=(5, 5, 5, 5), day=0)
    h.contract("late", 100, freelancer="g9", client="k", recommend=5)  # settles at day 115
    h.contract("c", 40, recommend=5)
    assert assessed(h, "c", at=T0 + 110 * DAY)[1] == "negative"
    assert assessed(h, "c", at=T0 + 120 * DAY)[1] == "neutral"


def test_fair_2026_is_never_in_force():
    assert all(in_force(t).name != "fair-2026" for t in (-INF, T0, ev.parse_time("2999-01-01T00:00:00Z")))


# -- Python = SQL = core on random harsh raters and chains -----------------------------------

REASONS = [
    "completed_successfully",
    "no_longer_needed",
    "hired_someone_else",
    "other",
    "freelancer_unresponsive",
    "client_unresponsive",
]


@st.composite
def markets(draw):
    """Clients rating low on many contracts (k0 always at most 6 and under 4 stars: a harsh
    rater once it has 5), some contracts continuing earlier ones."""
    h = History()
    n = draw(st.integers(6, 22))
    made: list[tuple[str, str, str]] = []  # (contract, freelancer, client)
    for i in range(n):
        client = draw(st.sampled_from(["k0", "k0", "k0", "k1", "k2"]))
        harsh = client == "k0"
        freelancer = draw(st.sampled_from(["f0", "f1", "f2"]))
        prior = [c for c, f, k in made if f == freelancer and k == client]
        cont = draw(st.sampled_from([None, None, *prior])) if prior else None
        h.contract(
            f"c{i}",
            2 * i + draw(st.integers(0, 1)),
            freelancer=freelancer,
            client=client,
            continues=cont,
            amount=draw(st.sampled_from([0, 100, 300])),
            reason=draw(st.sampled_from(REASONS)),
            recommend=draw(st.one_of(st.none(), st.integers(0, 6 if harsh else 10))),
            stars=draw(st.one_of(st.none(), st.sampled_from([1.0, 2.5, 2.9, 3.0, 3.5] + ([] if harsh else [4.5])))),
            span=draw(st.sampled_from([0, 0, 95])),
            close=draw(st.booleans()) or i < n // 2,
        )
        made.append((f"c{i}", freelancer, client))
    return h


@seed(20261203)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(), st.data())
def test_fair_python_equals_sql_and_core_on_random_raters_and_chains(h, data):
    days = data.draw(st.lists(st.integers(0, 160), min_size=1, max_size=4, unique=True))
    instants = [T0 + d * DAY for d in days]
    with audit_db(h.lines) as (_store, rows, con):
        check(con, rows, instants)
        assert core_equals_python(rows, instants, tuple(RULE_SETS.values())) > 0
