"""Every rule of rules.md at its boundaries, table-driven.

Each row builds one or a few contracts as event lines (tests/scenarios/builder.py), stores
them with `ingest(MemoryStore(), ...)` and evaluates the stored contract states with
`projections.rules.score.evaluate`. Every expected value is worked by hand from rules.md; the
comment of a row shows the arithmetic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

import pytest

from projections.reports import score_json
from projections.rules.windows import window_exit
from reputation.rulesets import in_force
from tests.scenarios import worked_example
from tests.scenarios.builder import DAY, HOUR, SEC, US, Market, assessment, d, micros

R16, R20, R24 = "jss-2016", "jss-2020", "jss-2024"
ALL = (R16, R20, R24)
REASONS = (
    "completed_successfully",
    "no_longer_needed",
    "freelancer_unresponsive",
    "freelancer_lacked_skills",
    "completed_unsuccessfully",
    "hired_someone_else",
    "client_unresponsive",
    "other",
)
RECOMMEND = {"pos": 10, "neu": 8, "neg": 2}  # 10 -> positive, 8 -> neutral, 2 -> negative (<= 6)


def one(rules_or_none=None, at: datetime | None = None, **contract):
    """A single contract c-1 (closed 2019-01-10 unless given); its assessment at `at`."""
    contract.setdefault("closed", d("2019-01-10"))
    m = Market().contract("c-1", **contract)
    at = at or contract["closed"] + 20 * DAY
    return assessment(m.score(at, rules_or_none), "c-1")


def market_of(kinds, closed=d("2019-06-01"), clients=("k-1", "k-2"), pay=("500",)) -> Market:
    """Contracts c-0.. whose outcomes come from the client's recommend only (RECOMMEND),
    closed one hour apart from `closed`, clients taken in turn from `clients`."""
    m = Market()
    for i, kind in enumerate(kinds):
        m.contract(
            f"c-{i}", closed=closed + i * HOUR, client=clients[i % len(clients)], recommend=RECOMMEND[kind], pay=pay
        )
    return m


def display(score, at: datetime) -> dict:
    return score_json("f-1", score, None, micros(at))


# -- windows: T < add_months(closed_at, N) + 1 day --------------------------------------

WINDOW_EXITS = [
    # closed_at, N months, first instant out of the N-month window (hand computed)
    ("2019-01-15T10:00:00Z", 6, "2019-07-16T10:00:00Z"),  # Jul 15 + 1 day
    ("2019-01-15T10:00:00Z", 12, "2020-01-16T10:00:00Z"),
    ("2019-01-15T10:00:00Z", 24, "2021-01-16T10:00:00Z"),
    ("2018-08-31T12:00:00Z", 6, "2019-03-01T12:00:00Z"),  # Aug 31 -> Feb 28 2019 + 1 day
    ("2019-08-31T12:00:00Z", 6, "2020-03-01T12:00:00Z"),  # Aug 31 -> Feb 29 2020 (leap) + 1 day
    ("2019-08-30T12:00:00Z", 6, "2020-03-01T12:00:00Z"),  # Aug 30 -> Feb 29 2020 + 1 day
    ("2018-08-30T12:00:00Z", 6, "2019-03-01T12:00:00Z"),  # Aug 30 -> Feb 28 2019 + 1 day
    ("2019-03-31T00:00:00Z", 6, "2019-10-01T00:00:00Z"),  # Mar 31 -> Sep 30 + 1 day
    ("2019-05-31T23:59:59Z", 6, "2019-12-01T23:59:59Z"),  # May 31 -> Nov 30 + 1 day
    ("2019-07-31T06:30:00.250000Z", 6, "2020-02-01T06:30:00.250000Z"),  # Jan 31 + 1 day
    ("2019-12-31T23:59:59Z", 6, "2020-07-01T23:59:59Z"),  # Jun 30 + 1 day
    ("2019-12-31T23:59:59Z", 12, "2021-01-01T23:59:59Z"),  # Dec 31 + 1 day, over the year end
    ("2020-02-29T08:00:00Z", 6, "2020-08-30T08:00:00Z"),
    ("2020-02-29T08:00:00Z", 12, "2021-03-01T08:00:00Z"),  # Feb 29 -> Feb 28 2021 + 1 day
    ("2020-02-29T08:00:00Z", 24, "2022-03-01T08:00:00Z"),
    ("2019-02-28T00:00:00Z", 12, "2020-02-29T00:00:00Z"),  # the 28th stays the 28th, + 1 day
    ("2018-08-31T00:00:00Z", 24, "2020-09-01T00:00:00Z"),
    ("2019-08-31T00:00:00Z", 12, "2020-09-01T00:00:00Z"),
]


@pytest.mark.parametrize("closed, months, out", WINDOW_EXITS)
def test_window_exit_date(closed, months, out):
    assert window_exit(micros(d(closed)), months) == micros(d(out))


@pytest.mark.parametrize("closed, months, out", WINDOW_EXITS)
@pytest.mark.parametrize("delta, inside", [(-SEC, True), (-US, True), (timedelta(0), False), (SEC, False)])
def test_contract_in_window_until_n_months_and_one_day(closed, months, out, delta, inside):
    m = Market().contract("c-1", closed=d(closed), client_stars=5.0, freelancer_stars=5.0, recommend=10)
    score = m.score(d(out) + delta, R16)
    windows = {w.months: w.contracts for w in score.windows}
    assert windows[months] == (1 if inside else 0)
    assert assessment(score, "c-1").counted  # still counted: only the window moved
    shown = display(score, d(out) + delta)["contracts"][0]["leaves_windows"][str(months)]
    assert shown == out


def test_negative_contract_leaving_the_6_month_window_moves_the_jss():
    # N negative closed 2019-01-15T10:00Z, three positives a month later, two clients.
    # Before 2019-07-16T10:00Z: every window (3 - 1) / 4 = 50; from then the 6-month window
    # holds the three positives only: 100.
    m = Market().contract("N", closed=d("2019-01-15T10:00:00Z"), client="k-1", recommend=2)
    for i, k in enumerate(("k-1", "k-2", "k-2")):
        m.contract(f"P{i}", closed=d("2019-02-15") + i * HOUR, client=k, recommend=10)
    before = m.score(d("2019-07-16T10:00:00Z") - US)
    assert (before.jss, before.exact, before.window) == (50, 50, 6)
    after = m.score(d("2019-07-16T10:00:00Z"))
    assert (after.jss, after.exact, after.window) == (100, 100, 6)


# -- settlement: earlier of both public feedbacks and closed_at + 14 days ---------------

C = d("2019-03-10T09:30:00Z")
SETTLEMENT = [
    # feedback, settles at
    ("no feedback at all", {}, C + 14 * DAY),
    ("client public only", dict(client_stars=5.0), C + 14 * DAY),
    ("freelancer public only", dict(freelancer_stars=5.0), C + 14 * DAY),
    ("client private only", dict(recommend=10), C + 14 * DAY),
    ("client public + private only", dict(client_stars=5.0, recommend=10), C + 14 * DAY),
    (
        "both public, freelancer last",
        dict(client_stars=5.0, client_stars_at=C + DAY, freelancer_stars=5.0, freelancer_stars_at=C + 3 * DAY),
        C + 3 * DAY,
    ),
    (
        "both public, client last",
        dict(client_stars=5.0, client_stars_at=C + 5 * DAY, freelancer_stars=5.0, freelancer_stars_at=C + DAY),
        C + 5 * DAY,
    ),
    (
        "both public at the same instant",
        dict(client_stars=5.0, client_stars_at=C + 2 * DAY, freelancer_stars=5.0, freelancer_stars_at=C + 2 * DAY),
        C + 2 * DAY,
    ),
    (
        "second public 1 us before the window ends",
        dict(client_stars=5.0, freelancer_stars=5.0, freelancer_stars_at=C + 14 * DAY - US),
        C + 14 * DAY - US,
    ),
]


@pytest.mark.parametrize("rules", ALL)
@pytest.mark.parametrize("name, feedback, settles", SETTLEMENT, ids=[r[0] for r in SETTLEMENT])
def test_settlement(name, feedback, settles, rules):
    # paid $500 and client-closed: once settled it counts under every rule set (the reason
    # completed_successfully is a client signal), before it never does.
    m = Market().contract("c-1", closed=C, **feedback)
    early = assessment(m.score(settles - US, rules), "c-1")
    assert (early.counted, early.outcome, early.weight4) == (False, None, 0)
    assert m.score(settles - US, rules).exact is None
    on_time = assessment(m.score(settles, rules), "c-1")
    assert on_time.counted and on_time.outcome is not None
    assert on_time.settled_at == micros(settles)


# -- long-term: payments spanning at least 90 days ------------------------------------

O = d("2019-01-01T08:00:00Z")


@pytest.mark.parametrize(
    "span, long_term",
    [
        (90 * DAY, True),
        (90 * DAY - SEC, False),  # 89 d 23:59:59
        (90 * DAY - US, False),
        (90 * DAY + US, True),
        (200 * DAY, True),
        (timedelta(0), False),
    ],
)
@pytest.mark.parametrize("rules", ALL)
def test_long_term(span, long_term, rules):
    # Freelancer-closed, no client feedback: no client signal at all. Long-term -> positive
    # (counted under every rule set); else neutral: counted under 2016/2020 (paid),
    # excluded under 2024 (no signal, not long-term).
    pay = [(O, "300"), (O + span, "300")] if span else [(O, "300")]
    a = one(rules, closed=O + span + DAY, opened=O - HOUR, pay=pay, by="freelancer")
    assert a.outcome == ("positive" if long_term else "neutral")
    assert a.counted == (long_term or rules != R24)


@pytest.mark.parametrize("rules", ALL)
def test_long_term_is_not_positive_when_a_signal_is_negative(rules):
    a = one(rules, closed=O + 100 * DAY, opened=O - HOUR, pay=[(O, "300"), (O + 99 * DAY, "300")], recommend=6)
    assert (a.counted, a.outcome) == (True, "negative")


# -- weights (quarters): by earnings, + 1 per full 90 days of payments, at most 8 -----------

W0 = d("2021-01-05T00:00:00Z")  # jss-2020 in force
WEIGHTS = [
    # payments (offset from W0, amount), refunds, weight under jss-2020/2024
    ([], [], 1),  # $0 -> 1
    ([(0, "0.01")], [], 1),
    ([(0, "250")], [], 1),  # up to $250 -> 1
    ([(0, "250.01")], [], 1.25),
    ([(0, "100"), (0, "150.01")], [], 1.25),  # $250.01 in two payments
    ([(0, "1000")], [], 1.25),  # up to $1,000 -> 1.25
    ([(0, "1000.01")], [], 1.5),
    ([(0, "5000")], [], 1.5),
    ([(0, "500")], ["249.99"], 1.25),  # earnings $250.01
    ([(0, "500")], ["250"], 1),  # earnings $250
    ([(0, "1000.01")], ["0.01"], 1.25),  # earnings $1,000
    ([(0, "500")], ["500"], 1),  # refunded to $0 -> 1
    ([(0, "100"), (90 * DAY, "100")], [], 2),  # one full 90 days
    ([(0, "100"), (90 * DAY - US, "100")], [], 1),
    ([(0, "100"), (180 * DAY - SEC, "100")], [], 2),
    ([(0, "100"), (180 * DAY, "100")], [], 3),
    ([(0, "2000"), (90 * DAY, "1")], [], 2.5),  # 1.5 + 1
    ([(0, "500"), (270 * DAY, "500")], [], 4.25),  # $1,000: 1.25 + 3
    ([(0, "2000"), (540 * DAY, "1")], [], 7.5),  # 1.5 + 6
    ([(0, "100"), (630 * DAY, "100")], [], 8),  # 1 + 7 = 8
    ([(0, "2000"), (630 * DAY, "1")], [], 8),  # 1.5 + 7 = 8.5 -> at most 8
    ([(0, "100"), (900 * DAY, "100")], [], 8),  # 1 + 10 -> 8
]


@pytest.mark.parametrize("payments, refunds, weight", WEIGHTS)
@pytest.mark.parametrize("rules", ALL)
def test_weight(payments, refunds, weight, rules):
    # recommend 3 makes every row negative, so even a $0 contract counts (rules.md)
    pay = [(W0 + (off if isinstance(off, timedelta) else timedelta(0)), amount) for off, amount in payments]
    last = max([at for at, _ in pay], default=W0)
    closed = last + DAY
    after = [(closed + HOUR, "PaymentRefunded", {"amount": r}) for r in refunds]
    a = one(rules, closed=closed, opened=W0 - HOUR, pay=pay, recommend=3, after=after)
    assert (a.counted, a.outcome) == (True, "negative")
    assert a.weight4 / 4 == (1 if rules == R16 else weight)


def test_bonus_after_close_counts_in_the_weight():
    # $100 while open, a $200 bonus 13 days after close: $300 -> 1.25
    a = one(
        R20,
        closed=W0 + DAY,
        opened=W0,
        pay=[(W0 + HOUR, "100")],
        recommend=3,
        after=[(W0 + 14 * DAY, "PaymentMade", {"amount": "200"})],
    )
    assert a.weight4 / 4 == 1.25


@pytest.mark.parametrize(
    "contracts, exact",
    [
        # (pay, recommend) per contract -> 100 * (pos - neg) / total
        ([("1000.01", 10), ("250", 2)], Fraction(20)),  # (1.5 - 1) / 2.5
        ([("250.01", 10), ("250", 2)], Fraction(100, 9)),  # (1.25 - 1) / 2.25
        ([("250", 10), ("1000.01", 2)], Fraction(0)),  # (1 - 1.5) / 2.5 floored at 0
        ([("5000", 10), ("100", 8), ("100", 2)], Fraction(100, 7)),  # (1.5 - 1) / 3.5
    ],
)
def test_weighted_score(contracts, exact):
    m = Market()
    for i, (amount, rec) in enumerate(contracts):
        m.contract(f"c-{i}", closed=W0 + i * HOUR, pay=(amount,), recommend=rec, client=f"k-{i}")
    assert m.score(W0 + 30 * DAY, R20).exact == exact


# -- outcome: stars and recommend -------------------------------------------------------

STARS_RECOMMEND = [
    # public stars, private recommend, outcome (client closed completed_successfully, $500)
    (3.0, None, "neutral"),
    (2.9, None, "negative"),  # < 3.0
    (2.99, None, "negative"),
    (1.0, None, "negative"),
    (4.5, None, "positive"),  # >= 4.5 with no private feedback
    (4.4, None, "neutral"),
    (4.49, None, "neutral"),
    (5.0, None, "positive"),
    (4.5, 8, "neutral"),  # 4.5 stars do not make it positive when private feedback exists
    (4.5, 7, "neutral"),
    (5.0, 8, "neutral"),
    (4.4, 9, "positive"),  # recommend >= 9
    (3.0, 9, "positive"),
    (3.0, 7, "neutral"),
    (2.9, 10, "negative"),  # negative wins
    (5.0, 6, "negative"),  # recommend <= 6
    (None, 6, "negative"),
    (None, 7, "neutral"),
    (None, 8, "neutral"),
    (None, 9, "positive"),
    (None, 10, "positive"),
    (None, 0, "negative"),
]


@pytest.mark.parametrize("stars, recommend, expected", STARS_RECOMMEND)
@pytest.mark.parametrize("rules", ALL)
def test_outcome_from_stars_and_recommend(stars, recommend, expected, rules):
    a = one(rules, client_stars=stars, recommend=recommend)
    assert (a.counted, a.outcome) == (True, expected)


# -- close reasons ---------------------------------------------------------------------

# the client's reason -> outcome, written out by hand from rules.md
BY_REASON = {
    #                            jss-2016     jss-2020 / jss-2024
    "completed_successfully": ("neutral", "neutral"),
    "no_longer_needed": ("negative", "neutral"),
    "freelancer_unresponsive": ("negative", "negative"),
    "freelancer_lacked_skills": ("negative", "negative"),
    "completed_unsuccessfully": ("negative", "negative"),
    "hired_someone_else": ("negative", "neutral"),
    "client_unresponsive": ("negative", "neutral"),
    "other": ("negative", "neutral"),
}


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("closed_by", ["client", "platform", "freelancer"])
@pytest.mark.parametrize("rules", ALL)
def test_close_reason(reason, closed_by, rules):
    # $500, no feedback at all: the close reason is the only possible signal
    a = one(rules, by=closed_by, reason=reason)
    if closed_by == "freelancer":  # no client reason: neutral, no signal
        assert a.outcome == "neutral"
        assert a.counted == (rules != R24)
    else:
        assert a.outcome == BY_REASON[reason][0 if rules == R16 else 1]
        assert a.counted  # a client reason is a client signal


PRECEDENCE = [
    # closed_by, close reason, recommend, private end_reason, (2016, 2020/2024 outcome)
    ("client", "completed_successfully", 8, "freelancer_unresponsive", ("negative", "negative")),
    ("client", "freelancer_unresponsive", 8, "completed_successfully", ("neutral", "neutral")),
    ("client", "freelancer_lacked_skills", 8, "no_longer_needed", ("negative", "neutral")),
    ("platform", "completed_unsuccessfully", 8, "hired_someone_else", ("negative", "neutral")),
    ("platform", "other", None, None, ("negative", "neutral")),
    ("freelancer", "completed_unsuccessfully", 8, None, ("neutral", "neutral")),
    ("freelancer", "freelancer_unresponsive", 7, None, ("neutral", "neutral")),
    ("freelancer", "completed_successfully", 8, "completed_unsuccessfully", ("negative", "negative")),
    ("freelancer", "client_unresponsive", 8, "other", ("negative", "neutral")),
    ("client", "no_longer_needed", 9, None, ("negative", "positive")),  # the worked example's X1
    ("client", "no_longer_needed", 9, "completed_successfully", ("positive", "positive")),
]


@pytest.mark.parametrize("closed_by, reason, recommend, end_reason, expected", PRECEDENCE)
@pytest.mark.parametrize("rules", ALL)
def test_client_reason_precedence(closed_by, reason, recommend, end_reason, expected, rules):
    a = one(rules, by=closed_by, reason=reason, recommend=recommend, end_reason=end_reason)
    assert a.outcome == expected[0 if rules == R16 else 1]
    assert a.counted


# -- counted or excluded ------------------------------------------------------------------

REFUND_ALL = [(d("2019-01-11"), "PaymentRefunded", {"amount": "500"})]
LONG = dict(opened=d("2018-09-01"), pay=[(d("2018-09-02"), "300"), (d("2018-12-01"), "300")])
COUNTED = [
    # name, contract, {rules: (counted, outcome)}
    (
        "$0, no feedback, freelancer closed",
        dict(pay=(), by="freelancer"),
        {R16: (False, "neutral"), R20: (False, "neutral"), R24: (False, "neutral")},
    ),
    (
        "$0, client reason completed_successfully",
        dict(pay=()),
        {R16: (True, "neutral"), R20: (False, "neutral"), R24: (False, "neutral")},
    ),
    (
        "$0, client reason no_longer_needed",
        dict(pay=(), reason="no_longer_needed"),
        {R16: (True, "negative"), R20: (False, "neutral"), R24: (False, "neutral")},
    ),
    (
        "$0, client reason freelancer_unresponsive",
        dict(pay=(), reason="freelancer_unresponsive"),
        {R16: (True, "negative"), R20: (True, "negative"), R24: (True, "negative")},
    ),
    (
        "$0, recommend 10",
        dict(pay=(), recommend=10),
        {R16: (True, "positive"), R20: (False, "positive"), R24: (False, "positive")},
    ),
    (
        "$0, stars 2.0",
        dict(pay=(), by="freelancer", client_stars=2.0),
        {R16: (True, "negative"), R20: (True, "negative"), R24: (True, "negative")},
    ),
    (
        "$500, no feedback, freelancer closed",
        dict(by="freelancer"),
        {R16: (True, "neutral"), R20: (True, "neutral"), R24: (False, "neutral")},
    ),
    (
        "$500, only the freelancer's public feedback",
        dict(by="freelancer", freelancer_stars=5.0),
        {R16: (True, "neutral"), R20: (True, "neutral"), R24: (False, "neutral")},
    ),
    (
        "$500, no feedback, client reason completed_successfully",
        dict(),
        {R16: (True, "neutral"), R20: (True, "neutral"), R24: (True, "neutral")},
    ),
    (
        "$600 long-term, no feedback, freelancer closed",
        dict(by="freelancer", **LONG),
        {R16: (True, "positive"), R20: (True, "positive"), R24: (True, "positive")},
    ),
    (
        "$500 refunded to $0, recommend 10",
        dict(recommend=10, after=REFUND_ALL),
        {R16: (True, "positive"), R20: (False, "positive"), R24: (False, "positive")},
    ),
    (
        "$500 refunded to $0, recommend 3",
        dict(recommend=3, after=REFUND_ALL),
        {R16: (True, "negative"), R20: (True, "negative"), R24: (True, "negative")},
    ),
    ("$500, recommend 8", dict(recommend=8), {R16: (True, "neutral"), R20: (True, "neutral"), R24: (True, "neutral")}),
    ("open contract", dict(closed=None), {R16: (False, None), R20: (False, None), R24: (False, None)}),
]


@pytest.mark.parametrize("rules", ALL)
@pytest.mark.parametrize("name, contract, expected", COUNTED, ids=[r[0] for r in COUNTED])
def test_counted_or_excluded(name, contract, expected, rules):
    a = one(rules, at=d("2019-02-01"), **contract)
    assert (a.counted, a.outcome) == expected[rules]
    assert (a.weight4 > 0) == a.counted


# -- visibility ---------------------------------------------------------------------------

VISIBILITY = [
    # rules, clients of the counted positive contracts (all in the window), shown?
    (R16, ["k-1", "k-1", "k-2", "k-2"], True),  # 4 contracts, 2 clients
    (R16, ["k-1", "k-2", "k-2"], False),  # 3 contracts
    (R16, ["k-1", "k-1", "k-1", "k-1"], False),  # 4 contracts, 1 client
    (R16, ["k-1", "k-2", "k-3", "k-4", "k-5"], True),
    (R20, ["k-1", "k-1", "k-2", "k-2"], True),
    (R20, ["k-1", "k-2", "k-2"], False),
    (R20, ["k-1", "k-1", "k-1", "k-1"], False),
    (R24, ["k-1", "k-2"], True),  # 2 contracts, 2 clients
    (R24, ["k-1", "k-1"], False),  # 2 contracts, 1 client
    (R24, ["k-1"], False),
    (R24, ["k-1", "k-1", "k-1"], False),
]


@pytest.mark.parametrize("rules, clients, shown", VISIBILITY)
def test_visibility(rules, clients, shown):
    m = Market()
    for i, k in enumerate(clients):
        m.contract(f"c-{i}", closed=d("2019-06-01") + i * HOUR, client=k, recommend=10)
    s = m.score(d("2019-08-01"), rules)
    assert s.exact == 100  # the exact value is always given to auditors
    if shown:
        assert (s.jss, s.hidden_reason) == (100, None)
    else:
        assert (s.jss, s.hidden_reason) == (None, "insufficient_history")
    assert display(s, d("2019-08-01"))["jss"] == (100 if shown else None)


@pytest.mark.parametrize("rules", (R16, R20))
def test_visibility_counts_only_the_24_month_window(rules):
    # four contracts from two clients, but one closed 2017-06-01: it leaves the 24-month
    # window on 2019-06-02 (Jun 1 + 24 months + 1 day)
    m = Market().contract("old", closed=d("2017-06-01"), client="k-2", recommend=10)
    for i, k in enumerate(("k-1", "k-1", "k-2")):
        m.contract(f"c-{i}", closed=d("2019-05-01") + i * HOUR, client=k, recommend=10)
    assert m.score(d("2019-06-02") - US, rules).jss == 100
    s = m.score(d("2019-06-02"), rules)
    assert (s.jss, s.exact, s.hidden_reason) == (None, 100, "insufficient_history")


@pytest.mark.parametrize("rules", ALL)
def test_visibility_counts_only_counted_contracts(rules):
    # four contracts k-1 + a $0 freelancer-closed one from k-2 that no rule set counts
    m = market_of(["pos"] * 4, clients=("k-1",))
    m.contract("zero", closed=d("2019-06-02"), client="k-2", pay=(), by="freelancer")
    s = m.score(d("2019-08-01"), rules)
    assert (s.jss, s.hidden_reason) == (None, "insufficient_history")


def test_no_counted_contract_is_hidden_without_exact_value():
    m = Market().contract("c-1", closed=None)
    s = m.score(d("2019-08-01"), R16)
    assert (s.jss, s.exact, s.window, s.hidden_reason) == (None, None, None, "insufficient_history")


# -- the best of the 6, 12 and 24-month windows ---------------------------------------

T = d("2020-01-01")
BEST = [
    # name, rules, [(closed, kind)], (jss, window)
    ("6 best", R16, [("2019-03-01", "neg")] + [("2019-10-01", "pos")] * 3, (100, 6)),  # 6: 3/3; 12, 24: 2/4
    ("12 and 24 tie -> 12", R16, [("2019-11-01", "neg")] + [("2019-04-01", "pos")] * 3, (50, 12)),  # 6: 0
    ("all tie -> 6", R16, [("2019-11-01", "neg")] + [("2019-10-01", "pos")] * 3, (50, 6)),
    ("24 best", R16, [("2019-03-01", "neg")] + [("2018-06-01", "pos")] * 3, (50, 24)),  # 6 empty, 12: 0
    ("empty 6 is skipped", R16, [("2019-03-10", "neg")] + [("2019-05-10", "pos")] * 3, (50, 12)),
    ("neutral only in 6", R16, [("2019-10-01", "neu")] + [("2019-03-15", "pos")] * 3, (75, 12)),  # 6: 0/1
    ("6 best, jss-2020", R20, [("2019-03-01", "neg")] + [("2019-10-01", "pos")] * 3, (100, 6)),
    ("jss-2024: 24 months only", R24, [("2019-03-01", "neg")] + [("2019-10-01", "pos")] * 3, (50, 24)),
    ("jss-2024: 24 months only (2)", R24, [("2019-11-01", "neg")] + [("2019-04-01", "pos")] * 3, (50, 24)),
]


@pytest.mark.parametrize("name, rules, contracts, expected", BEST, ids=[r[0] for r in BEST])
def test_best_of_windows(name, rules, contracts, expected):
    m = Market()
    for i, (closed, kind) in enumerate(contracts):
        m.contract(f"c-{i}", closed=d(closed) + i * HOUR, client=("k-1", "k-2")[i % 2], recommend=RECOMMEND[kind])
    s = m.score(T, rules)
    assert (s.jss, s.window) == expected
    assert s.exact == expected[0]


# -- floor at 0, rounding half up -------------------------------------------------------


@pytest.mark.parametrize(
    "kinds, exact, jss",
    [
        (["pos"] + ["neg"] * 3, 0, 0),  # (1 - 3) / 4 -> floored at 0
        (["neg"] * 4, 0, 0),
        (["neu", "neu", "neg", "neg"], 0, 0),  # -2/4
        (["pos", "neg"] + ["neu"] * 2, 0, 0),  # exactly 0
        (["pos"] * 5 + ["neu"] * 3, Fraction(125, 2), 63),  # 5/8 = 62.5 -> 63 (half up, not to even)
        (["pos"] * 6 + ["neu", "neg"], Fraction(125, 2), 63),  # (6 - 1)/8
        (["pos"] + ["neu"] * 7, Fraction(25, 2), 13),  # 1/8 = 12.5 -> 13
        (["pos", "pos", "neg"] + ["neu"] * 5, Fraction(25, 2), 13),
        (["pos"] * 4 + ["neu"] * 3 + ["neg"], Fraction(75, 2), 38),  # 3/8 = 37.5 -> 38
        (["pos"] * 7 + ["neu"], Fraction(175, 2), 88),  # 87.5 -> 88
        (["pos"] * 4 + ["neu"] * 2, Fraction(200, 3), 67),  # 66.67 -> 67
        (["pos"] * 2 + ["neu"] * 4, Fraction(100, 3), 33),  # 33.33 -> 33
        (["pos"] * 7 + ["neg"], 75, 75),
    ],
)
def test_floor_and_rounding(kinds, exact, jss):
    s = market_of(kinds).score(d("2019-08-01"), R16)
    assert s.exact == exact
    assert s.jss == jss
    out = display(s, d("2019-08-01"))
    assert out["jss"] == jss and out["jss_exact"] == float(exact)


def test_rounding_half_up_with_weights():
    # jss-2020: two positives at $500 (1.25 each), a negative at $2,000 (1.5), four neutrals
    # at $100 (1 each): (2.5 - 1.5) / 8 = 12.5 -> 13
    m = Market()
    specs = [("500", 10)] * 2 + [("2000", 2)] + [("100", 8)] * 4
    for i, (amount, rec) in enumerate(specs):
        m.contract(f"c-{i}", closed=W0 + i * HOUR, client=("k-1", "k-2")[i % 2], pay=(amount,), recommend=rec)
    s = m.score(W0 + 30 * DAY, R20)
    assert (s.exact, s.jss) == (Fraction(25, 2), 13)


# -- feedback score ----------------------------------------------------------------------

FEEDBACK = [
    # [(earnings, client stars)], displayed feedback score
    ([("500", 5.0), ("500", 4.0)], 4.5),
    ([("500", 4.5), ("500", 4.75)], 4.63),  # 4.625 -> 4.63 (half up)
    ([("100", 1.0), ("100", 1.25)], 1.13),  # 1.125 -> 1.13
    ([("100", 4.01), ("100", 4.0)], 4.01),  # 4.005 -> 4.01 (exact decimals, half up)
    ([("100", 5.0), ("300", 3.0)], 3.5),  # (500 + 900) / 400
    ([("300", 5.0), ("100", 3.0)], 4.5),  # (1500 + 300) / 400
    ([("1", 5.0), ("0.99", 1.0)], 5.0),  # < $1 does not count
    ([("1.00", 2.0), ("3.00", 4.0)], 3.5),  # (2 + 12) / 4
    ([("250.01", 4.2), ("1000", 3.1)], 3.32),  # 4150.042 / 1250.01 = 3.32000..
    ([("0.99", 1.0)], None),
]


@pytest.mark.parametrize("contracts, shown", FEEDBACK)
def test_feedback_score_is_earnings_weighted(contracts, shown):
    m = Market()
    for i, (amount, stars) in enumerate(contracts):
        m.contract(f"c-{i}", closed=d("2019-03-01") + i * HOUR, pay=(amount,), client_stars=stars, freelancer_stars=5.0)
    s = m.score(d("2019-03-10"), R16)
    assert display(s, d("2019-03-10"))["feedback_score"] == shown


def test_feedback_score_is_all_time():
    m = Market().contract("old", closed=d("2015-01-01"), client_stars=4.0, freelancer_stars=5.0)
    m.contract("new", closed=d("2019-03-01"), client_stars=5.0, freelancer_stars=5.0)
    assert m.score(d("2019-04-01")).feedback == Fraction(9, 2)


def test_feedback_score_refund_below_one_dollar():
    # $2 paid, $1.01 refunded: earnings $0.99 -> not counted
    m = Market().contract(
        "c-1",
        closed=C,
        pay=("2",),
        client_stars=1.0,
        freelancer_stars=5.0,
        after=[(C + 3 * DAY, "PaymentRefunded", {"amount": "1.01"})],
    )
    m.contract("c-2", closed=C, pay=("2",), client_stars=5.0, freelancer_stars=5.0)
    assert m.score(C + 3 * DAY - US).feedback == 3  # both $2
    assert m.score(C + 3 * DAY).feedback == 5


BLIND = [
    # name, feedback of the contract, revealed at
    ("client only: hidden until day 14", dict(client_stars=1.0), C + 14 * DAY),
    (
        "freelancer answers on day 5",
        dict(client_stars=1.0, freelancer_stars=5.0, freelancer_stars_at=C + 5 * DAY),
        C + 5 * DAY,
    ),
    (
        "freelancer first, client on day 3",
        dict(client_stars=1.0, client_stars_at=C + 3 * DAY, freelancer_stars=5.0, freelancer_stars_at=C + DAY),
        C + 3 * DAY,
    ),
    ("client with private feedback only besides", dict(client_stars=1.0, recommend=9), C + 14 * DAY),
]


@pytest.mark.parametrize("name, feedback, revealed", BLIND, ids=[r[0] for r in BLIND])
def test_double_blind_reveal(name, feedback, revealed):
    # an earlier contract is revealed at 5.0; c-1's 1.0 (same earnings) joins at the reveal
    m = Market().contract("c-0", closed=C - 30 * DAY, client_stars=5.0, freelancer_stars=5.0)
    m.contract("c-1", closed=C, **feedback)
    assert m.score(revealed - US).feedback == 5
    assert m.score(revealed).feedback == 3
    alone = Market().contract("c-1", closed=C, **feedback)
    assert alone.score(revealed - US).feedback is None
    assert alone.score(revealed).feedback == 1


REMOVALS = [
    # basis, scope (None: default), JSS after removal (counted, outcome), feedback after
    ("policy_violation", "jss_only", (True, "neutral"), Fraction(7, 2)),
    ("policy_violation", "jss_and_profile", (True, "neutral"), Fraction(5)),
    ("policy_violation", None, (True, "neutral"), Fraction(5)),  # default scope: jss_and_profile
    ("dispute_upheld", "jss_only", (True, "neutral"), Fraction(7, 2)),
    ("dispute_upheld", "jss_and_profile", (True, "neutral"), Fraction(5)),
    ("top_rated_perk", "jss_only", (False, None), Fraction(7, 2)),
    ("top_rated_perk", "jss_and_profile", (False, None), Fraction(5)),
]


@pytest.mark.parametrize("basis, scope, after, feedback", REMOVALS)
def test_removal_of_client_feedback(basis, scope, after, feedback):
    # c-1: client-closed completed_successfully, $500, public 2.0 -> negative; c-0 at 5.0.
    # jss-2016: stripped of its signals c-1 is a paid contract without feedback -> neutral.
    removed = C + 20 * DAY
    m = Market().contract("c-0", closed=C - 30 * DAY, client="k-2", client_stars=5.0, freelancer_stars=5.0)
    m.contract(
        "c-1",
        closed=C,
        client_stars=2.0,
        freelancer_stars=5.0,
        after=[(removed, "FeedbackRemoved", {"of": "client", "basis": basis, "scope": scope})],
    )
    before = m.score(removed - US, R16)
    a = assessment(before, "c-1")
    assert (a.counted, a.outcome, before.feedback) == (True, "negative", Fraction(7, 2))
    now = m.score(removed, R16)
    a = assessment(now, "c-1")
    assert a.counted == after[0]
    if after[0]:
        assert a.outcome == after[1]
    assert now.feedback == feedback


@pytest.mark.parametrize("rules", ALL)
def test_top_rated_perk_excludes_from_the_removal_on_under_every_rule_set(rules):
    removed = C + 20 * DAY
    m = Market().contract(
        "c-1",
        closed=C,
        client_stars=2.0,
        freelancer_stars=5.0,
        after=[(removed, "FeedbackRemoved", {"of": "client", "basis": "top_rated_perk", "scope": "jss_only"})],
    )
    assert assessment(m.score(removed - US, rules), "c-1").counted
    a = assessment(m.score(removed, rules), "c-1")
    assert not a.counted and a.weight4 == 0
    assert m.score(removed, rules).exact is None


def test_removal_of_the_freelancers_feedback_keeps_the_client_signals():
    m = Market().contract(
        "c-1",
        closed=C,
        client_stars=2.0,
        freelancer_stars=5.0,
        after=[(C + 20 * DAY, "FeedbackRemoved", {"of": "freelancer", "basis": "policy_violation"})],
    )
    s = m.score(C + 21 * DAY, R16)
    assert (assessment(s, "c-1").outcome, s.feedback) == ("negative", 2)


REVISIONS = [
    # time, outcome, feedback score
    (C + 4 * DAY - US, "positive", 5),  # 5.0 with no private feedback
    (C + 4 * DAY, "negative", 2),  # revised to 2.0
    (C + 5 * DAY - US, "negative", 2),
    (C + 5 * DAY, "neutral", 4),  # revised again to 4.0
    (C + 400 * DAY, "neutral", 4),
]


@pytest.mark.parametrize("at, outcome, feedback", REVISIONS)
def test_revisions_replace_stars_from_their_time_on(at, outcome, feedback):
    m = Market().contract(
        "c-1",
        closed=C,
        client_stars=5.0,
        freelancer_stars=5.0,
        after=[
            (C + 3 * DAY, "FeedbackEditAllowed", {"by": "freelancer"}),
            (C + 4 * DAY, "PublicFeedbackRevised", {"by": "client", "stars": 2.0}),
            (C + 5 * DAY, "PublicFeedbackRevised", {"by": "client", "stars": 4.0}),
        ],
    )
    s = m.score(at, R16)
    assert (assessment(s, "c-1").outcome, s.feedback) == (outcome, feedback)


# -- flagged clients: their signals do not count under jss-2024 only --------------------

F0 = d("2025-01-10")
FLAGGED = [
    # rules, time, (counted, outcome)
    (R24, d("2025-02-01") - US, (True, "negative")),
    (R24, d("2025-02-01"), (False, "neutral")),  # flagged: no signal, not long-term
    (R24, d("2025-03-01") - US, (False, "neutral")),
    (R24, d("2025-03-01"), (True, "negative")),  # unflagged
    (R20, d("2025-02-15"), (True, "negative")),
    (R16, d("2025-02-15"), (True, "negative")),
]


@pytest.mark.parametrize("rules, at, expected", FLAGGED)
def test_flagged_client_signals(rules, at, expected):
    m = Market().contract("c-1", closed=F0, client="k-bad", client_stars=1.0, freelancer_stars=5.0)
    m.flag("k-bad", d("2025-02-01")).unflag("k-bad", d("2025-03-01"))
    s = m.score(at, rules)
    a = assessment(s, "c-1")
    assert (a.counted, a.outcome) == expected
    assert s.feedback == 1  # the feedback score does not depend on flags


def test_flagged_client_long_term_contract_still_counts_positive_under_2024():
    m = Market().contract(
        "c-1",
        closed=F0,
        client="k-bad",
        opened=F0 - 100 * DAY,
        client_stars=1.0,
        pay=[(F0 - 99 * DAY, "100"), (F0 - 5 * DAY, "100")],
    )
    m.flag("k-bad", F0 + DAY)
    a = assessment(m.score(F0 + 30 * DAY, R24), "c-1")
    assert (a.counted, a.outcome) == (True, "positive")


# -- the rule set in force ----------------------------------------------------------------


@pytest.mark.parametrize(
    "at, name",
    [
        ("2010-01-01T00:00:00Z", R16),
        ("2020-02-29T23:59:59.999999Z", R16),
        ("2020-03-01T00:00:00Z", R20),
        ("2024-09-02T23:59:59.999999Z", R20),
        ("2024-09-03T00:00:00Z", R24),
        ("2030-01-01T00:00:00Z", R24),
    ],
)
def test_rule_set_in_force(at, name):
    assert in_force(micros(d(at))).name == name
    m = Market().contract("c-1", closed=d("2019-06-01"), recommend=10)
    assert m.score(d(at)).rules == name


@pytest.mark.parametrize(
    "at, rules, jss",
    [
        ("2020-02-29T23:59:59.999999Z", R16, 75),  # 24-month window: (7 - 1) / 8
        ("2020-03-01T00:00:00Z", R20, 100),  # X1: no_longer_needed neutral, recommend 9 -> positive
    ],
)
def test_worked_example_across_the_2020_switch(at, rules, jss):
    s = Market(lines=worked_example.lines()).score(d(at), freelancer=worked_example.FREELANCER)
    assert (s.rules, s.jss, s.window) == (rules, jss, 24)


@pytest.mark.parametrize(
    "at, rules, jss",
    [
        ("2024-09-02T23:59:59.999999Z", R20, 75),  # 3 positive + 1 paid no-feedback neutral: 3/4
        ("2024-09-03T00:00:00Z", R24, 100),  # the no-feedback contract is no longer counted: 3/3
    ],
)
def test_2024_switch(at, rules, jss):
    m = market_of(["pos"] * 3, closed=d("2024-06-01"))
    m.contract("nf", closed=d("2024-06-02"), client="k-2", by="freelancer")
    s = m.score(d(at))
    assert (s.rules, s.jss) == (rules, jss)


# -- client score --------------------------------------------------------------------------


def client_market(rows, closed=C):
    """rows: (freelancer, paid, the freelancer's public stars about k-1, client stars)."""
    m = Market()
    for i, (freelancer, amount, stars, cstars) in enumerate(rows):
        m.contract(
            f"c-{i}",
            closed=closed + i * HOUR,
            client="k-1",
            freelancer=freelancer,
            pay=(amount,),
            freelancer_stars=stars,
            client_stars=cstars,
        )
    return m


CLIENT = [
    # rows, client score
    ([("f-1", "100", 5.0, 1.0), ("f-2", "300", 3.0, 1.0)], Fraction(7, 2)),  # (500 + 900) / 400
    ([("f-1", "100", 5.0, 5.0), ("f-2", "300", 3.0, 5.0)], Fraction(7, 2)),  # the client's own stars do not matter
    ([("f-1", "300", 5.0, None), ("f-1", "100", 3.0, None)], Fraction(9, 2)),  # revealed at day 14
    ([("f-1", "0.99", 1.0, 5.0), ("f-2", "1", 4.0, 5.0)], Fraction(4)),  # < $1 does not count
    ([("f-1", "500", 4.5, 5.0), ("f-2", "500", 4.75, 5.0)], Fraction(37, 8)),
    ([("f-1", "0.99", 1.0, 5.0)], None),
]


@pytest.mark.parametrize("rows, expected", CLIENT)
def test_client_score(rows, expected):
    assert client_market(rows).client_score("k-1", C + 20 * DAY) == expected


def test_client_score_is_double_blind():
    m = client_market([("f-1", "100", 4.0, None)])  # freelancer's public only: day 14
    assert m.client_score("k-1", C + 14 * DAY - US) is None
    assert m.client_score("k-1", C + 14 * DAY) == 4
    m = client_market([("f-1", "100", 4.0, 5.0)])  # both public (client at day 1, freelancer day 2)
    assert m.client_score("k-1", C + 2 * DAY - US) is None
    assert m.client_score("k-1", C + 2 * DAY) == 4


@pytest.mark.parametrize("scope, expected", [("jss_and_profile", 5), ("jss_only", Fraction(7, 2))])
def test_client_score_without_removed_freelancer_feedback(scope, expected):
    m = client_market([("f-1", "100", 5.0, 5.0), ("f-2", "100", 2.0, 5.0)])
    m.add("FeedbackRemoved", d("2019-04-01"), contract_id="c-1", of="freelancer", basis="policy_violation", scope=scope)
    assert m.client_score("k-1", d("2019-04-01") - US) == Fraction(7, 2)
    assert m.client_score("k-1", d("2019-04-01")) == expected


def test_client_score_displayed_half_up():
    m = client_market([("f-1", "500", 4.5, 5.0), ("f-2", "500", 4.75, 5.0)])
    proj = m.projections()
    out = proj.client("k-1", as_of=micros(C + 20 * DAY))
    assert out["client_score"] == 4.63  # 4.625


def test_client_score_follows_the_freelancers_revision_from_its_time_on():
    # f-1's public 5.0 about k-1 (revealed at closed + 2 days); k-1 allows an edit, f-1 revises to 2.0
    m = client_market([("f-1", "100", 5.0, 5.0), ("f-2", "300", 4.0, 5.0)])
    m.add("FeedbackEditAllowed", C + 5 * DAY, contract_id="c-0", by="client")
    m.add("PublicFeedbackRevised", C + 6 * DAY, contract_id="c-0", by="freelancer", stars=2.0)
    assert m.client_score("k-1", C + 6 * DAY - US) == Fraction(17, 4)  # (500 + 1200) / 400
    assert m.client_score("k-1", C + 6 * DAY) == Fraction(14, 4)  # (200 + 1200) / 400
