"""One scenario per kind of cause, in `explain` and in the score-change ledger
(interfaces.md): a contract settling (both public feedbacks, and at day 14), one-sided
feedback revealed at day 14, feedback revised, feedback removed, a payment and a refund
changing weights, a client flagged and unflagged under jss-2024, a window exit, the 2020
rule switch, and a late event.

Histories go through `ingest(MemoryStore(), ...)` and `memory_projections()`. Expected values
are worked by hand from rules.md (the arithmetic is in the comments).
"""

from __future__ import annotations

import json
from datetime import datetime
from fractions import Fraction
from typing import Callable, NamedTuple

import pytest

from projections.service import memory_projections
from reputation.ingest import ingest
from tests.scenarios import worked_example
from tests.scenarios.builder import HOUR, US, Market, d, micros

F = "f-1"


def base(m: Market, closed: datetime = d("2019-01-10"), n: int = 4, pay=("500",), p0_after=()) -> Market:
    """n positive contracts P0.. (public 5.0 both ways, recommend 10), clients k-1/k-2 in turn,
    closed an hour apart; each settles at closed + 2 days (both public feedbacks)."""
    for i in range(n):
        m.contract(
            f"P{i}",
            closed=closed + i * HOUR,
            client=("k-1", "k-2")[i % 2],
            client_stars=5.0,
            freelancer_stars=5.0,
            recommend=10,
            pay=pay,
            after=p0_after if i == 0 else (),
        )
    return m


def event_id(m: Market, type_: str, contract_id: str | None = None, **match) -> str:
    """The id of the only line of `type_` (on `contract_id`, with the given fields)."""
    found = [
        e["event_id"]
        for e in map(json.loads, m.lines)
        if e["type"] == type_ and e.get("contract_id") == contract_id and all(e.get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, found
    return found[0]


def position(m: Market, eid: str) -> int:
    """Log position of a line: all lines are accepted, in log order, by one ingest call."""
    return [json.loads(x)["event_id"] for x in m.log_lines()].index(eid) + 1


# -- the scenarios --------------------------------------------------------------------


def settled_both_public(m: Market):
    # S: client public 2.0 on 02-02, the freelancer's on 02-03 12:00 -> settles then, negative.
    # JSS 4/4 = 100 -> (4 - 1) / 5 = 60; feedback 5.0 -> (4 * 5 + 2) / 5 = 4.4
    base(m).contract(
        "S",
        closed=d("2019-02-01"),
        client="k-1",
        client_stars=2.0,
        freelancer_stars=5.0,
        freelancer_stars_at=d("2019-02-03T12:00:00Z"),
    )


def settled_day_14(m: Market):
    # S: only the client's public 2.0: settles at closed + 14 days = 2019-02-15T06:00Z
    base(m).contract("S", closed=d("2019-02-01T06:00:00Z"), client="k-2", client_stars=2.0)
    m.tick(d("2019-03-01"))


def revealed_day_14(m: Market):
    # S: the client's one-sided public 4.0 with recommend 10 -> positive; JSS stays 100, and
    # at the end of the feedback window the 4.0 is revealed: feedback (4 * 5 + 4) / 5 = 4.8
    base(m).contract("S", closed=d("2019-02-01T06:00:00Z"), client="k-2", client_stars=4.0, recommend=10)
    m.tick(d("2019-03-01"))


def revised(m: Market):
    # P0 (revealed 2019-01-12): edit allowed 01-20, client revises 5.0 -> 2.0 on 01-25:
    # negative: (3 - 1) / 4 = 50; feedback (3 * 5 + 2) / 4 = 4.25
    base(
        m,
        p0_after=[
            (d("2019-01-20"), "FeedbackEditAllowed", {"by": "freelancer"}),
            (d("2019-01-25"), "PublicFeedbackRevised", {"by": "client", "stars": 2.0}),
        ],
    )


def removed(m: Market):
    # as settled_both_public (JSS 60, feedback 4.4), then S's client feedback is removed
    # (policy_violation, default scope jss_and_profile) on 03-01: S is a paid contract with no
    # client signal -> neutral under jss-2016: (4 - 0) / 5 = 80; feedback back to 5.0
    base(m).contract(
        "S",
        closed=d("2019-02-01"),
        client="k-1",
        client_stars=2.0,
        freelancer_stars=5.0,
        after=[(d("2019-03-01"), "FeedbackRemoved", {"of": "client", "basis": "policy_violation"})],
    )


def paid_and_refunded(m: Market):
    # jss-2020: P0..P2 positive at $100 (weight 1), N negative at $100 (weight 1): (3 - 1) / 4 = 50.
    # A $400 bonus on N (01-20): $500 -> 1.25: 100 * (3 - 1.25) / 4.25 = 700/17 = 41.18 -> 41.
    # Refund of $400 (02-10): back to 50.
    base(m, closed=d("2021-01-10"), n=3, pay=("100",))
    m.contract(
        "N",
        closed=d("2021-01-10T05:00:00Z"),
        client="k-2",
        pay=("100",),
        client_stars=1.0,
        freelancer_stars=5.0,
        after=[
            (d("2021-01-20"), "PaymentMade", {"amount": "400"}),
            (d("2021-02-10"), "PaymentRefunded", {"amount": "400"}),
        ],
    )


def flagged(m: Market):
    # jss-2024: P0 (k-1), P1 (k-2) positive, N (k-bad) public 1.0: (2 - 1) / 3 = 33.33 -> 33.
    # k-bad flagged 02-01: N has no signal, is not long-term -> not counted: 2/2 = 100.
    # Unflagged 03-01: 33 again. The feedback score ignores flags: (5 + 5 + 1) / 3 = 3.67.
    base(m, closed=d("2025-01-10"), n=2)
    m.contract("N", closed=d("2025-01-10T05:00:00Z"), client="k-bad", client_stars=1.0, freelancer_stars=5.0)
    m.flag("k-bad", d("2025-02-01")).unflag("k-bad", d("2025-03-01"))


def window_exit(m: Market):
    # N negative (recommend 2) closed 2019-01-15T10:00Z; three positives closed 2019-02-15:
    # (3 - 1) / 4 = 50 in every window until N leaves the 6-month window at
    # 2019-07-15T10:00Z + 1 day = 2019-07-16T10:00Z: then 3/3 = 100 (6-month window)
    m.contract("N", closed=d("2019-01-15T10:00:00Z"), client="k-1", recommend=2)
    for i, k in enumerate(("k-1", "k-2", "k-2")):
        m.contract(f"P{i}", closed=d("2019-02-15") + i * HOUR, client=k, recommend=10)
    m.tick(d("2019-08-01"))


def rules_switch(m: Market):
    # the worked example (jss-2016: 75 in the 24-month window only by then); on 2020-03-01
    # jss-2020 takes over: no_longer_needed is neutral, recommend 9 -> positive: 100
    m.lines.extend(worked_example.lines())
    m.prefix = "t"  # the worked example's ids are e-1..
    m.tick(d("2020-03-02"))


def rules_switch_2024(m: Market):
    # jss-2020 until 2024-09-03: P0..P2 positive, NF paid with no feedback (freelancer closed)
    # -> neutral: 3/4 = 75. From 2024-09-03 (jss-2024) NF has no client signal and is not
    # long-term: not counted: 3/3 = 100.
    base(m, closed=d("2024-06-01"), n=3)
    m.contract("NF", closed=d("2024-06-02"), client="k-2", by="freelancer")
    m.tick(d("2024-09-04"))


class Case(NamedTuple):
    name: str
    build: Callable
    freelancer: str
    # the ledger change: effective_at, (jss before, after), (feedback before, after), cause kinds,
    # the contract or client it names, and whether the change is time-driven (recorded at the tick)
    effective_at: str
    jss: tuple
    feedback: tuple | None
    kinds: set
    names: str | None
    trigger: tuple | None  # (type, contract_id, fields) of the causing event; None: time-driven
    explain: tuple  # (from, to, [(kind set, at, exact delta)])


CASES = [
    Case(
        "settled: both public feedbacks",
        settled_both_public,
        F,
        "2019-02-03T12:00:00Z",
        (100, 60),
        (5.0, 4.4),
        {"contract_settled"},
        "S",
        ("PublicFeedbackSubmitted", "S", {"by": "freelancer"}),
        ("2019-02-01", "2019-03-01", [({"contract_settled"}, "2019-02-03T12:00:00Z", Fraction(-40))]),
    ),
    Case(
        "settled: day 14",
        settled_day_14,
        F,
        "2019-02-15T06:00:00Z",
        (100, 60),
        (5.0, 4.4),
        {"contract_settled"},
        "S",
        None,
        ("2019-02-01", "2019-03-01", [({"contract_settled"}, "2019-02-15T06:00:00Z", Fraction(-40))]),
    ),
    Case(
        "one-sided feedback revealed at day 14",
        revealed_day_14,
        F,
        "2019-02-15T06:00:00Z",
        (100, 100),
        (5.0, 4.8),
        {"feedback_revealed", "contract_settled"},
        "S",
        None,
        (
            "2019-02-01",
            "2019-03-01",
            [({"feedback_revealed", "contract_settled"}, "2019-02-15T06:00:00Z", Fraction(0))],
        ),
    ),
    Case(
        "feedback revised",
        revised,
        F,
        "2019-01-25T00:00:00Z",
        (100, 50),
        (5.0, 4.25),
        {"feedback_revised"},
        "P0",
        ("PublicFeedbackRevised", "P0", {}),
        ("2019-01-20", "2019-02-01", [({"feedback_revised"}, "2019-01-25T00:00:00Z", Fraction(-50))]),
    ),
    Case(
        "feedback removed",
        removed,
        F,
        "2019-03-01T00:00:00Z",
        (60, 80),
        (4.4, 5.0),
        {"feedback_removed"},
        "S",
        ("FeedbackRemoved", "S", {}),
        ("2019-02-15", "2019-03-15", [({"feedback_removed"}, "2019-03-01T00:00:00Z", Fraction(20))]),
    ),
    Case(
        "payment changes a weight",
        paid_and_refunded,
        F,
        "2021-01-20T00:00:00Z",
        (50, 41),
        None,
        {"payment"},
        "N",
        ("PaymentMade", "N", {"amount": "400"}),
        (
            "2021-01-15",
            "2021-03-01",
            [
                ({"payment"}, "2021-01-20T00:00:00Z", Fraction(700, 17) - 50),
                ({"refund"}, "2021-02-10T00:00:00Z", 50 - Fraction(700, 17)),
            ],
        ),
    ),
    Case(
        "refund changes a weight",
        paid_and_refunded,
        F,
        "2021-02-10T00:00:00Z",
        (41, 50),
        None,
        {"refund"},
        "N",
        ("PaymentRefunded", "N", {}),
        (
            "2021-01-15",
            "2021-03-01",
            [
                ({"payment"}, "2021-01-20T00:00:00Z", Fraction(700, 17) - 50),
                ({"refund"}, "2021-02-10T00:00:00Z", 50 - Fraction(700, 17)),
            ],
        ),
    ),
    Case(
        "client flagged",
        flagged,
        F,
        "2025-02-01T00:00:00Z",
        (33, 100),
        (3.67, 3.67),
        {"client_flagged"},
        "k-bad",
        ("ClientFlagged", None, {}),
        (
            "2025-01-20",
            "2025-03-15",
            [
                ({"client_flagged"}, "2025-02-01T00:00:00Z", Fraction(200, 3)),
                ({"client_unflagged"}, "2025-03-01T00:00:00Z", Fraction(-200, 3)),
            ],
        ),
    ),
    Case(
        "client unflagged",
        flagged,
        F,
        "2025-03-01T00:00:00Z",
        (100, 33),
        (3.67, 3.67),
        {"client_unflagged"},
        "k-bad",
        ("ClientUnflagged", None, {}),
        (
            "2025-01-20",
            "2025-03-15",
            [
                ({"client_flagged"}, "2025-02-01T00:00:00Z", Fraction(200, 3)),
                ({"client_unflagged"}, "2025-03-01T00:00:00Z", Fraction(-200, 3)),
            ],
        ),
    ),
    Case(
        "window exit",
        window_exit,
        F,
        "2019-07-16T10:00:00Z",
        (50, 100),
        None,
        {"window_exit"},
        "N",
        None,
        ("2019-07-01", "2019-08-01", [({"window_exit"}, "2019-07-16T10:00:00Z", Fraction(50))]),
    ),
    Case(
        "rule switch 2024",
        rules_switch_2024,
        F,
        "2024-09-03T00:00:00Z",
        (75, 100),
        None,
        {"rules_changed"},
        None,
        None,
        ("2024-09-01", "2024-09-04", [({"rules_changed"}, "2024-09-03T00:00:00Z", Fraction(25))]),
    ),
    Case(
        "rule switch 2020",
        rules_switch,
        worked_example.FREELANCER,
        "2020-03-01T00:00:00Z",
        (75, 100),
        None,
        {"rules_changed"},
        None,
        None,
        ("2020-02-01", "2020-03-02", [({"rules_changed"}, "2020-03-01T00:00:00Z", Fraction(25))]),
    ),
]
IDS = [c.name for c in CASES]


def project(m: Market):
    return m.projections()


def named(cause, name):
    return name is None or cause.contract_id == name or cause.client_id == name


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_ledger_records_the_change_with_its_cause(case: Case):
    m = Market()
    case.build(m)
    proj = project(m)
    history = proj.history(case.freelancer)
    at = [ch for ch in history if ch.effective_at == case.effective_at]
    assert len(at) == 1, [(ch.effective_at, ch.jss_before, ch.jss_after) for ch in history]
    ch = at[0]
    assert (ch.jss_before, ch.jss_after) == case.jss
    if case.feedback:
        assert (ch.feedback_before, ch.feedback_after) == case.feedback
    mine = [c for c in ch.causes if c.kind in case.kinds and named(c, case.names)]
    assert mine, [(c.kind, c.contract_id, c.client_id) for c in ch.causes]
    if case.kinds == {"rules_changed"}:
        assert ch.rules == ("jss-2020" if case.effective_at.startswith("2020") else "jss-2024")
    if case.trigger is None:
        # time-driven: recorded when the clock passed it (the tick), effective at its own time
        assert json.loads(m.log_lines()[-1])["type"] == "ClockAdvanced"
        assert ch.position == len(m.lines)
        assert all(c.event_id is None for c in mine)
    else:
        type_, contract_id, fields = case.trigger
        eid = event_id(m, type_, contract_id, **fields)
        assert ch.position == position(m, eid)
        if contract_id is not None:
            assert mine[0].event_id == eid


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_explain_causes_sum_exactly(case: Case):
    m = Market()
    case.build(m)
    proj = project(m)
    t1, t2, expected = case.explain
    out = proj.explain(case.freelancer, micros(d(t1)), micros(d(t2)))
    total = Fraction(out["jss_delta_exact"])
    assert sum(Fraction(c["jss_delta_exact"]) for c in out["causes"]) == total
    assert total == sum(e[2] for e in expected)
    got = [
        (c["kind"], c["at"], Fraction(c["jss_delta_exact"]), c["contract_id"] or c["client_id"]) for c in out["causes"]
    ]
    assert len(got) == len(expected), got
    for (kind, at, delta, name), (kinds, e_at, e_delta) in zip(got, expected):
        assert kind in kinds and at == e_at and delta == e_delta, got
        if case.names is not None:
            assert name == case.names


def test_one_sided_reveal_changes_only_the_feedback_score_in_explain():
    m = Market()
    revealed_day_14(m)
    out = project(m).explain(F, micros(d("2019-02-01")), micros(d("2019-03-01")))
    (cause,) = out["causes"]
    assert (cause["at"], cause["kind"], cause["contract_id"]) == ("2019-02-15T06:00:00Z", "feedback_revealed", "S")
    assert (cause["feedback_before"], cause["feedback_after"]) == (5.0, 4.8)
    # the JSS did not move: exact, displayed, and over the whole explained span
    assert (cause["jss_before"], cause["jss_after"], cause["jss_delta_exact"]) == (100.0, 100.0, "0")
    assert (cause["jss_shown_before"], cause["jss_shown_after"]) == (100, 100)
    assert (out["from"]["jss"], out["to"]["jss"], out["jss_delta_exact"]) == (100, 100, "0")


def test_one_sided_reveal_is_named_as_a_reveal():
    m = Market()
    revealed_day_14(m)
    proj = project(m)
    (ch,) = [ch for ch in proj.history(F) if ch.effective_at == "2019-02-15T06:00:00Z"]
    assert [(c.kind, c.contract_id) for c in ch.causes] == [("feedback_revealed", "S")]
    assert (ch.jss_before, ch.jss_after, ch.feedback_before, ch.feedback_after) == (100, 100, 5.0, 4.8)
    out = proj.explain(F, micros(d("2019-02-01")), micros(d("2019-03-01")))
    assert [(c["kind"], c["contract_id"]) for c in out["causes"]] == [("feedback_revealed", "S")]


def test_freelancer_audience_explain_hides_private_end_reason_and_recommend():
    # S: client-closed completed_successfully, private end_reason freelancer_lacked_skills and
    # recommend 8 -> negative through the private end reason; Q: private recommend 3 -> negative
    m = base(Market())
    m.contract(
        "S",
        closed=d("2019-02-01"),
        client="k-1",
        client_stars=4.0,
        recommend=8,
        end_reason="freelancer_lacked_skills",
        freelancer_stars=5.0,
    )
    m.contract("Q", closed=d("2019-02-01"), client="k-2", client_stars=5.0, recommend=3, freelancer_stars=5.0)
    proj = project(m)
    t1, t2 = micros(d("2019-01-01")), micros(d("2019-03-01"))
    trust = json.dumps(proj.explain(F, t1, t2)) + json.dumps(proj.score(F))
    assert "freelancer_lacked_skills" in trust and "recommend 3" in trust and "recommend 10" in trust
    mine = json.dumps(proj.explain(F, t1, t2, audience="freelancer")) + json.dumps(proj.score(F, audience="freelancer"))
    for private in ("freelancer_lacked_skills", "recommend 3", "recommend 8", "recommend 10"):
        assert private not in mine
    # S and Q rest on private answers: their outcomes are not shown one by one
    outcomes = {c["contract_id"]: c["outcome"] for c in proj.score(F, audience="freelancer")["contracts"]}
    assert outcomes["S"] is None and outcomes["Q"] is None


def test_freelancer_audience_shows_a_publicly_decided_contract():
    # P: public stars 2 -> negative whatever the private answer (here recommend 9): shown with
    # its public reason; the private answer is not mentioned
    m = base(Market())
    m.contract("P", closed=d("2019-02-01"), client="k-1", client_stars=2.0, recommend=9, freelancer_stars=5.0)
    m.tick(d("2019-03-02"))
    proj = project(m)
    at = micros(d("2019-03-01"))  # a publication instant after P settled
    (p,) = [c for c in proj.score(F, as_of=at, audience="freelancer")["contracts"] if c["contract_id"] == "P"]
    assert (p["outcome"], p["counted"], p["private_feedback"]) == ("negative", True, False)
    assert p["why"] == ["public stars 2 < 3.0"]
    out = proj.explain(F, micros(d("2019-01-01")), at, audience="freelancer")
    (line,) = [c for c in out["causes"] if c.get("contract_id") == "P"]
    assert Fraction(line["jss_delta_exact"]) < 0 and "recommend" not in json.dumps(out)
    assert sum(Fraction(c["jss_delta_exact"]) for c in out["causes"]) == Fraction(out["jss_delta_exact"])
    assert [c["contract_id"] for c in out["counterfactuals"]] == ["P"]


def test_flags_change_nothing_under_jss_2020():
    m = Market()
    flagged(m)
    out = project(m).explain(F, micros(d("2025-01-20")), micros(d("2025-03-15")), rules="jss-2020")
    assert out["causes"] == [] and Fraction(out["jss_delta_exact"]) == 0
    # 3 contracts: hidden under jss-2020 (4 needed), exact (2 - 1) / 3
    assert (out["to"]["jss"], out["to"]["jss_exact"]) == (None, float(Fraction(100, 3)))


def test_rule_switch_under_a_fixed_rule_set_is_no_cause():
    m = Market()
    rules_switch(m)
    out = project(m).explain(
        worked_example.FREELANCER, micros(d("2020-02-01")), micros(d("2020-03-02")), rules="jss-2016"
    )
    assert out["causes"] == [] and out["to"]["jss"] == 75


# -- time-driven changes are recorded when the clock passes them ------------------------


def test_window_exit_is_recorded_when_tick_passes_it():
    m = Market()
    window_exit(m)
    tick = m.lines.pop()  # the tick, sent on its own later
    store = m.store()
    proj = memory_projections_of(store)
    exit_at = "2019-07-16T10:00:00Z"
    assert not [ch for ch in proj.history(F) if ch.effective_at == exit_at]
    assert ingest(store, [tick]).accepted == 1
    proj.catch_up(store)
    (ch,) = [ch for ch in proj.history(F) if ch.effective_at == exit_at]
    assert (ch.jss_before, ch.jss_after, ch.position) == (50, 100, store.max_position())
    assert proj.score(F, micros(d(exit_at) - US))["jss"] == 50
    assert proj.score(F, micros(d(exit_at)))["jss"] == 100


def test_rule_switch_is_recorded_with_no_event():
    m = Market()
    rules_switch(m)
    proj = project(m)
    (ch,) = [ch for ch in proj.history(worked_example.FREELANCER) if ch.effective_at == "2020-03-01T00:00:00Z"]
    assert (ch.rules, ch.jss_before, ch.jss_after) == ("jss-2020", 75, 100)
    assert [c.kind for c in ch.causes] == ["rules_changed"]
    assert proj.score(worked_example.FREELANCER, micros(d("2020-03-01") - US))["jss"] == 75
    assert proj.score(worked_example.FREELANCER, micros(d("2020-03-01")))["jss"] == 100


def test_deadline_is_recorded_when_another_freelancers_event_moves_the_clock():
    m = Market()
    window_exit(m)
    m.lines.pop()  # no tick: an event of f-2 on 2019-08-01 moves the clock instead
    other = m.add(
        "ContractOpened", d("2019-08-01"), contract_id="O", freelancer_id="f-2", client_id="k-9", pricing="fixed"
    )
    proj = project(m)
    (ch,) = [ch for ch in proj.history(F) if ch.effective_at == "2019-07-16T10:00:00Z"]
    assert (ch.jss_before, ch.jss_after) == (50, 100)
    assert ch.position == position(m, json.loads(other)["event_id"])


# -- a late event -------------------------------------------------------------------------


def test_late_event_is_recorded_when_it_arrives_effective_at_its_occurred_at():
    # P0..P3 and L positive (L: public 5.0 both ways, no private feedback) -> 100; the clock
    # goes to 2019-06-01. Then the client's private recommend 3 on L, which occurred
    # 2019-02-05, arrives: L is negative from 02-05 on: (4 - 1) / 5 = 60.
    m = base(Market())
    m.contract(
        "L",
        closed=d("2019-02-01"),
        client="k-2",
        client_stars=5.0,
        client_stars_at=d("2019-02-02"),
        freelancer_stars=5.0,
        freelancer_stars_at=d("2019-02-02T12:00:00Z"),
    )
    m.tick(d("2019-06-01"))
    store = m.store()
    proj = memory_projections_of(store)
    assert proj.score(F, micros(d("2019-03-01")))["jss"] == 100
    known_before = store.max_position()
    late = json.dumps(
        {
            "type": "PrivateFeedbackSubmitted",
            "event_id": "late-1",
            "occurred_at": "2019-02-05T00:00:00Z",
            "contract_id": "L",
            "by": "client",
            "recommend": 3,
        }
    ).encode()
    assert ingest(store, [late]).accepted == 1
    proj.catch_up(store)
    changes = [ch for ch in proj.history(F) if ch.position == store.max_position()]
    changes, badge = without_badge_changes(changes)
    assert [(ch.effective_at, ch.jss_before, ch.jss_after) for ch in changes] == [("2019-02-05T00:00:00Z", 100, 60)]
    assert badge == [("2019-04-15T00:00:00Z", False)]
    assert any(c.event_id == "late-1" and c.contract_id == "L" for c in changes[0].causes)
    # as of a time between the late event's occurred_at and the clock: the corrected value
    assert proj.score(F, micros(d("2019-03-01")))["jss"] == 60
    assert proj.score(F, micros(d("2019-02-05") - US))["jss"] == 100
    # ... and as known before it arrived, the old one
    assert proj.score(F, micros(d("2019-03-01")), known_at=known_before)["jss"] == 100
    # the ledger read as "the latest entry at or before ts" gives the corrected value too
    entries = sorted((ch.effective_at, ch.seq, ch.jss_after) for ch in proj.history(F))
    assert [e for e in entries if e[0] <= "2019-03-01T00:00:00Z"][-1][2] == 60


def without_badge_changes(changes):
    """The base's four positive contracts (JSS 100 from 2019-01-12, published 01-15, so the first
    Monday that counts is 01-21) earn Top Rated at the 13th, 2019-04-15 (rules.md); a late
    negative before then takes it away in an entry of its own at that Monday. -> (the other
    changes, [(effective_at, top_rated_after)] of those)."""
    badge = [ch for ch in changes if ch.top_rated_before != ch.top_rated_after]
    return [ch for ch in changes if ch not in badge], [(ch.effective_at, ch.top_rated_after) for ch in badge]


def memory_projections_of(store):
    proj = memory_projections()
    proj.catch_up(store)
    return proj


def test_late_contract_settling_before_the_clock_is_recorded_at_its_deadline():
    # the clock is at 2019-06-01 when a whole contract N arrives: opened 02-01, $500, closed by
    # the client 03-01 as freelancer_unresponsive, no feedback: it settled at 03-15 (day 14),
    # negative: (4 - 1) / 5 = 60 from 2019-03-15.
    m = base(Market())
    m.tick(d("2019-06-01"))
    store = m.store()
    proj = memory_projections_of(store)
    late = Market(prefix="late").contract(
        "N", closed=d("2019-03-01"), opened=d("2019-02-01"), client="k-2", reason="freelancer_unresponsive"
    )
    assert ingest(store, late.log_lines()).accepted == 3
    proj.catch_up(store)
    new, badge = without_badge_changes([ch for ch in proj.history(F) if ch.position > len(m.lines)])
    assert [(ch.effective_at, ch.jss_before, ch.jss_after) for ch in new] == [("2019-03-15T00:00:00Z", 100, 60)]
    assert badge == [("2019-04-15T00:00:00Z", False)]
    assert new[0].position == store.max_position()  # the close made it count
    assert proj.score(F, micros(d("2019-03-15") - US))["jss"] == 100
    assert proj.score(F, micros(d("2019-03-15")))["jss"] == 60


def test_ledger_causes_say_which_words_rest_on_a_private_answer():
    # S settles negative through its private end reason; P0.. positive through recommend 10; the
    # public-stars contract N is negative by its public stars alone (and has no private answer)
    m = base(Market())
    m.contract(
        "S",
        closed=d("2019-02-01"),
        client="k-1",
        client_stars=4.0,
        recommend=8,
        end_reason="freelancer_lacked_skills",
        freelancer_stars=5.0,
    )
    m.contract("N", closed=d("2019-03-01"), client="k-2", client_stars=1.0, freelancer_stars=5.0)
    proj = project(m)
    causes = {c.contract_id: c for ch in proj.history(F) for c in ch.causes if c.kind == "contract_settled"}
    assert causes["S"].private and causes["P0"].private and not causes["N"].private
    assert '"private":true' in to_json_text(proj, "S") and '"private"' not in to_json_text(proj, "N")


def to_json_text(proj, contract_id: str) -> str:
    from projections.ledger import to_json

    (ch,) = [
        ch
        for ch in proj.history(F)
        if any(c.contract_id == contract_id and c.kind == "contract_settled" for c in ch.causes)
    ]
    return to_json(ch).decode()
