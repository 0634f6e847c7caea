"""The rules of events.md (contract table, client events, idempotency, the top-rated perk),
each accepted at its boundary and rejected just past it, through `ingest(MemoryStore(), ...)`.

Each row is (setup, the probed line, None when accepted or fragments of the reason). The
probed line is always the last line of the file; a rejected row must write nothing at all.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Callable

import pytest

from reputation.ingest import ingest
from reputation.store import MemoryStore
from tests.write_side import History, line, store_snapshot, t

W = 14  # days: feedback window, bonus window, edit windows


def run(lines, store=None, **kw):
    store = store if store is not None else MemoryStore()
    return store, ingest(store, lines, **kw)


def assert_accepted(lines, store=None):
    store, result = run(lines, store)
    assert result.rejects == [], [r.message() for r in result.rejects]
    assert result.accepted == len(lines) and result.written
    assert store.max_position() == len(lines)
    return store, result


def assert_rejected_alone(lines, fragments, line_number=None):
    """Exactly the last line (or `line_number`) is rejected, naming the rule; nothing written."""
    store, result = run(lines)
    line_number = line_number or len(lines)
    assert [r.line for r in result.rejects] == [line_number], [r.message() for r in result.rejects]
    reject = result.rejects[0]
    reason = reject.reason
    assert "\n" not in reason and reason
    for fragment in fragments:
        assert fragment.lower() in reason.lower(), f"{fragment!r} not in {reason!r}"
    sent_id = json.loads(lines[line_number - 1])["event_id"]
    assert reject.event_id == sent_id
    assert reject.message() == f"line {line_number} (event {sent_id}): {reason}"
    assert reject.raw == lines[line_number - 1]
    # all or nothing: not one event, state or id was written
    assert not result.written and result.accepted == 0 and result.positions is None
    assert store_snapshot(store, lines) == (0, [], {}, {})
    return reject


# -- scenario builders: each returns the lines, the last one probed ----------------------

Row = Callable[[History], None]


def opened(h: History) -> None:
    h.open(t(0))


def closed_at_10(h: History) -> None:
    h.open(t(0))
    h.pay(t(1), "100.00")
    h.close(t(10))


def both_public(h: History, client_at=11, freelancer_at=12) -> None:
    closed_at_10(h)
    h.public(t(client_at), by="client", stars=4.0)
    h.public(t(freelancer_at), by="freelancer", stars=5.0)


def rows_contract():
    """(id, builder, fragments or None)."""
    R = []

    def row(name, fragments=None):
        def deco(fn):
            R.append(pytest.param(fn, fragments, id=name))
            return fn

        return deco

    # -- per-contract time order ----------------------------------------------------
    @row("order-equal-time-ok")
    def _(h):
        h.open(t(0))
        h.pay(t(1))
        h.pay(t(1))
        h.scope(t(1))

    @row("order-1us-earlier", ["time order", "c-1"])
    def _(h):
        h.open(t(0))
        h.pay(t(1))
        h.scope(t(1, -1))

    @row("order-before-open", ["time order"])
    def _(h):
        h.open(t(1))
        h.pay(t(1, -1))

    @row("order-other-contract-any-time-ok")
    def _(h):
        h.open(t(5))
        h.pay(t(6))
        h.open(t(0), cid="c-2")
        h.pay(t(0, 1), cid="c-2")

    @row("event-of-unknown-contract", ["c-9", "does not exist"])
    def _(h):
        h.open(t(0))
        h.pay(t(1), cid="c-9")

    # -- ContractOpened -------------------------------------------------------------
    @row("open-new-ok")
    def _(h):
        h.open(t(0))
        h.open(t(0), cid="c-2")

    @row("open-twice", ["c-1", "already exists"])
    def _(h):
        h.open(t(0))
        h.open(t(1))

    @row("open-twice-other-parties", ["already exists"])
    def _(h):
        h.open(t(0))
        h.open(t(1), freelancer="f-2", client="k-2")

    @row("open-freelancer-is-client", ["freelancer", "client", "differ"])
    def _(h):
        h.open(t(0), freelancer="same", client="same")

    @row("continues-same-parties-ok")
    def _(h):
        h.open(t(0))
        h.scope(t(1))
        h.close(t(2), reason="no_longer_needed")
        h.open(t(2), cid="c-2", continues="c-1")

    @row("continues-open-contract-ok")
    def _(h):
        h.open(t(0))
        h.open(t(1), cid="c-2", continues="c-1")

    @row("continues-unknown", ["c-0", "does not exist"])
    def _(h):
        h.open(t(0))
        h.open(t(1), cid="c-2", continues="c-0")

    @row("continues-other-client", ["c-1", "another client"])
    def _(h):
        h.open(t(0))
        h.open(t(1), cid="c-2", client="k-2", continues="c-1")

    @row("continues-other-freelancer", ["c-1", "another client and freelancer"])
    def _(h):
        h.open(t(0))
        h.open(t(1), cid="c-2", freelancer="f-2", continues="c-1")

    @row("continues-contract-opened-at-the-same-time-ok")
    def _(h):
        h.open(t(1))
        h.open(t(1), cid="c-2", continues="c-1")

    @row("continues-a-contract-opened-later", ["c-1", "opened later"])
    def _(h):
        h.open(t(1))
        h.open(t(1, -1), cid="c-2", continues="c-1")

    @row("continues-itself", ["continue itself"])
    def _(h):
        h.open(t(0), continues="c-1")

    # -- ScopeChanged ---------------------------------------------------------------
    @row("scope-while-open-ok")
    def _(h):
        h.open(t(0))
        h.scope(t(0))
        h.scope(t(3), summary="s" * 2000)

    @row("scope-after-close", ["scope", "closed"])
    def _(h):
        h.open(t(0))
        h.close(t(1))
        h.scope(t(1))

    # -- PaymentMade -----------------------------------------------------------------
    @row("payment-while-open-ok")
    def _(h):
        h.open(t(0))
        h.pay(t(0), "1000000000.00")

    @row("payment-bonus-at-close-ok")
    def _(h):
        closed_at_10(h)
        h.pay(t(10))

    @row("payment-bonus-1us-before-14d-ok")
    def _(h):
        closed_at_10(h)
        h.pay(t(10 + W, -1))

    @row("payment-bonus-at-14d", ["payment", "14 days"])
    def _(h):
        closed_at_10(h)
        h.pay(t(10 + W))

    # -- PaymentRefunded -------------------------------------------------------------
    @row("refund-equal-to-payments-ok")
    def _(h):
        h.open(t(0))
        h.pay(t(1), "60.00")
        h.pay(t(2), 40)
        h.refund(t(3), "99.99")
        h.refund(t(4), "0.01")

    @row("refund-all-after-close-ok")
    def _(h):
        closed_at_10(h)
        h.refund(t(200), "100")

    @row("refund-1-cent-above", ["refunds", "exceed", "payments"])
    def _(h):
        h.open(t(0))
        h.pay(t(1), "60.00")
        h.pay(t(2), 40)
        h.refund(t(3), "100.01")

    @row("refunds-sum-1-cent-above", ["refunds", "exceed"])
    def _(h):
        h.open(t(0))
        h.pay(t(1), "100.00")
        h.refund(t(2), "50.00")
        h.refund(t(3), "50.01")

    @row("refund-without-payment", ["refunds", "exceed"])
    def _(h):
        h.open(t(0))
        h.refund(t(1), "0.01")

    # -- ContractClosed ---------------------------------------------------------------
    @row("close-ok")
    def _(h):
        h.open(t(0))
        h.close(t(0), by="platform", reason="other")

    @row("close-twice", ["already closed"])
    def _(h):
        h.open(t(0))
        h.close(t(1))
        h.close(t(2), by="freelancer", reason="client_unresponsive")

    # -- public and private feedback: after close, before closed_at + 14 days, once -----
    for kind, add in (
        ("public", lambda h, at, by="client": h.public(at, by=by)),
        ("private", lambda h, at, by="client": h.private(at, by=by)),
    ):

        @row(f"{kind}-at-close-ok")
        def _(h, add=add):
            closed_at_10(h)
            add(h, t(10))

        @row(f"{kind}-1us-before-window-end-ok")
        def _(h, add=add):
            closed_at_10(h)
            add(h, t(10 + W, -1))

        @row(f"{kind}-at-window-end", [kind, "window"])
        def _(h, add=add):
            closed_at_10(h)
            add(h, t(10 + W))

        @row(f"{kind}-before-close", [kind, "before it closed"])
        def _(h, add=add):
            h.open(t(0))
            add(h, t(1))

        @row(f"{kind}-both-sides-ok")
        def _(h, add=add):
            closed_at_10(h)
            add(h, t(11), "client")
            add(h, t(12), "freelancer")

    @row("public-twice-same-side", ["public feedback", "client", "already given"])
    def _(h):
        closed_at_10(h)
        h.public(t(11))
        h.public(t(12), stars=1.0)

    @row("private-twice-same-side-immutable", ["private feedback", "client", "immutable"])
    def _(h):
        closed_at_10(h)
        h.private(t(11), recommend=10)
        h.private(t(12), recommend=0)

    @row("private-twice-same-values-immutable", ["private feedback", "freelancer", "immutable"])
    def _(h):
        closed_at_10(h)
        h.private(t(11), by="freelancer")
        h.private(t(11), by="freelancer")

    # -- FeedbackEditAllowed -------------------------------------------------------------
    # both public feedbacks exist: revealed at the later one (day 12)
    @row("allow-at-reveal-ok")
    def _(h):
        both_public(h)
        h.allow(t(12), by="freelancer")

    @row("allow-1us-before-14d-after-reveal-ok")
    def _(h):
        both_public(h)
        h.allow(t(12 + W, -1), by="freelancer")

    @row("allow-14d-after-reveal", ["allow an edit", "14 days"])
    def _(h):
        both_public(h)
        h.allow(t(12 + W), by="freelancer")

    @row("allow-both-sides-ok")
    def _(h):
        both_public(h)
        h.allow(t(13), by="freelancer")
        h.allow(t(13), by="client")

    @row("allow-twice-same-side", ["already allowed"])
    def _(h):
        both_public(h)
        h.allow(t(13), by="freelancer")
        h.allow(t(14), by="freelancer")

    # only the client's public feedback: revealed at the window end (day 24)
    @row("allow-1us-before-window-end-not-revealed", ["not revealed"])
    def _(h):
        closed_at_10(h)
        h.public(t(11))
        h.allow(t(10 + W, -1), by="freelancer")

    @row("allow-at-window-end-ok")
    def _(h):
        closed_at_10(h)
        h.public(t(11))
        h.allow(t(10 + W), by="freelancer")

    @row("allow-1us-before-window-end-plus-14d-ok")
    def _(h):
        closed_at_10(h)
        h.public(t(11))
        h.allow(t(10 + 2 * W, -1), by="freelancer")

    @row("allow-window-end-plus-14d", ["14 days"])
    def _(h):
        closed_at_10(h)
        h.public(t(11))
        h.allow(t(10 + 2 * W), by="freelancer")

    @row("allow-without-the-authors-feedback", ["not revealed"])
    def _(h):
        closed_at_10(h)
        h.public(t(11), by="freelancer")
        h.allow(t(30), by="freelancer")

    @row("allow-before-close", ["not revealed"])
    def _(h):
        h.open(t(0))
        h.allow(t(1))

    # -- PublicFeedbackRevised -------------------------------------------------------------
    @row("revise-at-allowance-ok")
    def _(h):
        both_public(h)
        h.allow(t(13))
        h.revise(t(13), by="client")

    @row("revise-repeat-until-1us-before-14d-ok")
    def _(h):
        both_public(h)
        h.allow(t(13))
        h.revise(t(14))
        h.revise(t(20), stars=3.0)
        h.revise(t(13 + W, -1), stars=1.0)

    @row("revise-14d-after-allowance", ["revised", "14 days"])
    def _(h):
        both_public(h)
        h.allow(t(13))
        h.revise(t(14))
        h.revise(t(13 + W))

    @row("revise-without-allowance", ["revised", "did not allow"])
    def _(h):
        both_public(h)
        h.revise(t(13))

    @row("revise-allowed-by-the-author-itself", ["did not allow"])
    def _(h):
        both_public(h)
        h.allow(t(13), by="client")
        h.revise(t(14), by="client")

    @row("revise-freelancer-ok")
    def _(h):
        both_public(h)
        h.allow(t(13), by="client")
        h.revise(t(14), by="freelancer", stars=2.0)

    # -- FeedbackRemoved ---------------------------------------------------------------------
    @row("remove-public-ok")
    def _(h):
        both_public(h)
        h.remove(t(30), of="client", basis="policy_violation")

    @row("remove-private-only-ok")
    def _(h):
        closed_at_10(h)
        h.private(t(11), by="freelancer")
        h.remove(t(30), of="freelancer", basis="dispute_upheld", scope="jss_only")

    @row("remove-nonexistent", ["freelancer", "no feedback"])
    def _(h):
        closed_at_10(h)
        h.public(t(11), by="client")
        h.remove(t(30), of="freelancer")

    @row("remove-on-open-contract", ["no feedback"])
    def _(h):
        h.open(t(0))
        h.remove(t(1))

    @row("remove-twice", ["already removed"])
    def _(h):
        both_public(h)
        h.remove(t(30))
        h.remove(t(31), basis="dispute_upheld")

    # -- client events ---------------------------------------------------------------------
    @row("flag-ok")
    def _(h):
        h.flag(t(0), note="n")

    @row("flag-unflag-flag-ok")
    def _(h):
        h.flag(t(0))
        h.unflag(t(0))
        h.flag(t(5))

    @row("flag-twice", ["k-1", "already flagged"])
    def _(h):
        h.flag(t(0))
        h.flag(t(1))

    @row("unflag-not-flagged", ["k-1", "not flagged"])
    def _(h):
        h.unflag(t(0))

    @row("client-1us-earlier", ["time order", "k-1"])
    def _(h):
        h.flag(t(1))
        h.unflag(t(1, -1))

    @row("other-client-any-order-ok")
    def _(h):
        h.flag(t(5))
        h.flag(t(0), client="k-2")

    # -- the engine clock -----------------------------------------------------------------
    @row("clock-ok")
    def _(h):
        h.clock(t(0))
        h.clock(t(0), to=t(2))
        h.clock(t(1))

    @row("clock-to-before-occurred", ["`to`"])
    def _(h):
        h.clock(t(1), to=t(1, -1))

    @row("clock-to-before-occurred-fraction", ["`to`"])
    def _(h):
        h.add("ClockAdvanced", "2024-01-01T00:00:00.5Z", to="2024-01-01T00:00:00Z")

    return R


def check_row(build, fragments) -> None:
    """Build a history; `fragments` None: every line is accepted; else its last line is
    rejected alone, with a reason containing the fragments, and nothing is written."""
    h = History()
    build(h)
    if fragments is None:
        assert_accepted(h.lines)
    else:
        assert_rejected_alone(h.lines, fragments)


@pytest.mark.parametrize("build, fragments", rows_contract())
def test_contract_rules(build, fragments):
    check_row(build, fragments)


# -- every bad line is reported, not only the first ----------------------------------------


def test_every_bad_line_is_reported_and_nothing_written():
    h = History()
    closed_at_10(h)
    h.private(t(11))
    h.private(t(12))  # line 5: immutable
    h.scope(t(13))  # line 6: closed
    h.add("PaymentMade", t(14), contract_id="c-1", amount="1.001")  # line 7: schema
    h.public(t(15))  # fine
    store, result = run(h.lines)
    assert [r.line for r in result.rejects] == [5, 6, 7]
    assert "immutable" in result.rejects[0].reason
    assert "2 decimals" in result.rejects[2].reason
    assert store_snapshot(store, h.lines) == (0, [], {}, {})


def test_a_rejected_line_does_not_change_the_state_the_next_lines_see():
    """A rejected close must not make the contract look closed (all or nothing: every line is
    checked on its own merits; with --skip-invalid the later lines would wait for the reject)."""
    h = History()
    h.open(t(0))
    h.close(t(1), cid="c-2")  # rejected: unknown contract
    h.add("ContractClosed", t(2), contract_id="c-1", closed_by="client", reason="bad")  # schema reject
    h.scope(t(3))  # still open: accepted
    h.pay(t(3), "5.00")
    h.refund(t(4), "5.01")  # rejected
    h.refund(t(4), "5.00")  # the rejected refund did not count
    store, result = run(h.lines)
    assert [r.line for r in result.rejects] == [2, 3, 6]
    assert result.accepted == 0 and store.max_position() == 0


# -- idempotent re-send ------------------------------------------------------------------------


def _small_history() -> list[bytes]:
    h = History()
    both_public(h)
    h.private(t(13), recommend=9)
    return h.lines


def test_resending_a_file_is_a_noop():
    lines = _small_history()
    store, first = run(lines)
    assert first.accepted == len(lines) and first.duplicates == 0
    before = store_snapshot(store, lines)
    _, again = run(lines, store)
    assert again.rejects == [] and again.accepted == 0 and again.duplicates == len(lines)
    assert not again.written and again.positions is None
    assert store_snapshot(store, lines) == before


IDEMPOTENCY = [
    # (id, the re-sent line, accepted as duplicate?)
    ("same-bytes", line("PaymentMade", "e-3", t(1), contract_id="c-1", amount="100.00"), True),
    (
        "same-content-other-spelling",
        line("PaymentMade", "e-3", "2023-01-03T05:30:00+05:30", contract_id="c-1", amount=100, schema=1),
        True,
    ),
    ("same-id-other-amount", line("PaymentMade", "e-3", t(1), contract_id="c-1", amount="100.01"), False),
    ("same-id-other-time", line("PaymentMade", "e-3", t(1, 1), contract_id="c-1", amount="100.00"), False),
    ("same-id-other-type", line("PaymentRefunded", "e-3", t(1), contract_id="c-1", amount="100.00"), False),
]


@pytest.mark.parametrize("resent, duplicate", [pytest.param(r, d, id=i) for i, r, d in IDEMPOTENCY])
@pytest.mark.parametrize("same_file", [True, False], ids=["same-file", "later-file"])
def test_resend_same_id(resent, duplicate, same_file):
    h = History()
    h.open(t(0), event_id="e-1")
    h.open(t(0), cid="c-2", event_id="e-2")
    h.pay(t(1), "100.00", event_id="e-3")
    store = MemoryStore()
    if same_file:
        lines = h.lines + [resent]
    else:
        assert_accepted(h.lines, store)
        lines = [resent]
    before = store.max_position()
    _, result = run(lines, store)
    if duplicate:
        assert result.rejects == [] and result.duplicates == 1
        assert store.max_position() == before + len(lines) - 1
    else:
        assert [r.line for r in result.rejects] == [len(lines)]
        reason = result.rejects[0].reason
        assert "e-3" in reason and "conflict" in reason and "different content" in reason
        assert result.rejects[0].event_id == "e-3"
        assert store.max_position() == before


# -- the top-rated perk (rules.md) ---------------------------------------------------------------

PERK_END = "2024-09-03T00:00:00Z"


def perk_contract(h, cid, open_day, client_stars=2.0, reason="completed_successfully", base=None, recommend=None):
    """A contract of f-1 closed a day after opening, with the client's public feedback."""
    kw = {} if base is None else {"base": base}
    h.open(t(open_day, **kw), cid=cid, client=f"k-{cid}")
    h.pay(t(open_day, 1, **kw), "100.00", cid=cid)
    h.close(t(open_day + 1, **kw), cid=cid, reason=reason)
    if client_stars is not None:
        h.public(t(open_day + 2, **kw), cid=cid, stars=client_stars)
    if recommend is not None:
        h.private(t(open_day + 2, 1, **kw), cid=cid, recommend=recommend)


def perk(h, at, cid):
    h.remove(at, of="client", basis="top_rated_perk", cid=cid)


def perk_frequency(closed_since: int, second_at_day_us: tuple[float, int]):
    """First removal on day 10; `closed_since` contracts closed after it; second removal."""

    def build(h):
        perk_contract(h, "a", 0)
        perk_contract(h, "z", 0)
        perk(h, t(10), "a")
        for i in range(closed_since):
            perk_contract(h, f"b{i}", 20 + i, client_stars=5.0)
        perk(h, t(*second_at_day_us), "z")

    return build


def perk_late(accepted_day: int, late_day: int, closed_between: int):
    """A removal on `accepted_day` is accepted; one that occurred on `late_day` arrives after it."""

    def build(h):
        perk_contract(h, "a", 0)
        perk_contract(h, "z", 0)
        for i in range(closed_between):
            perk_contract(h, f"b{i}", late_day + 10 + i, client_stars=5.0)
        perk(h, t(accepted_day), "z")
        perk(h, t(late_day), "a")

    return build


def perk_date(at: str):
    def build(h):
        from datetime import datetime

        base = datetime(2024, 8, 1, tzinfo=UTC)
        perk_contract(h, "a", 0, base=base)
        perk(h, at, "a")

    return build


PERK = [
    ("perk-negative-outcome-ok", lambda h: (perk_contract(h, "a", 0, client_stars=2.0), perk(h, t(5), "a")), None),
    (
        "perk-neutral-outcome-ok",
        lambda h: (
            perk_contract(h, "a", 0, client_stars=None, reason="no_longer_needed", recommend=7),
            perk(h, t(5), "a"),
        ),
        None,
    ),
    (
        "perk-positive-outcome",
        lambda h: (perk_contract(h, "a", 0, client_stars=5.0), perk(h, t(5), "a")),
        ["positive", "never lowers"],
    ),
    (
        "perk-positive-private",
        lambda h: (perk_contract(h, "a", 0, client_stars=4.0, recommend=9), perk(h, t(5), "a")),
        ["positive"],
    ),
    (
        "perk-of-freelancer",
        lambda h: (
            perk_contract(h, "a", 0),
            h.public(t(3), by="freelancer", cid="a"),
            h.remove(t(5), of="freelancer", basis="top_rated_perk", cid="a"),
        ),
        ["client"],
    ),
    ("perk-1us-before-end-ok", perk_date("2024-09-02T23:59:59.999999Z"), None),
    ("perk-at-end", perk_date(PERK_END), ["2024-09-03"]),
    ("perk-at-end-other-offset", perk_date("2024-09-03T02:00:00+02:00"), ["2024-09-03"]),
    ("perk-second-90d-10-closed-ok", perk_frequency(10, (100, 0)), None),
    ("perk-second-1us-before-90d", perk_frequency(10, (100, -1)), ["90 days"]),
    ("perk-second-only-9-closed", perk_frequency(9, (100, 0)), ["10", "closed only 9"]),
    ("perk-second-much-later-9-closed", perk_frequency(9, (300, 0)), ["closed only 9"]),
    # a late-arriving removal that occurred before an accepted one: the reason cites the later
    # removal as later, and says what accepting the earlier one would break
    (
        "perk-late-50-days-before-accepted",
        perk_late(60, 10, closed_between=10),
        ["later, on 2023-03-03T00:00:00Z", "invalidate", "less than 90 days before"],
    ),
    (
        "perk-late-132-days-before-accepted-9-closed",
        perk_late(142, 10, closed_between=9),
        ["later, on 2023-05-24T00:00:00Z", "invalidate", "only 9 contracts closed between"],
    ),
    (
        "perk-late-not-in-time-order",
        perk_late(200, 10, closed_between=10),
        ["later, on 2023-07-21T00:00:00Z", "time order"],
    ),
]


@pytest.mark.parametrize("build, fragments", [pytest.param(b, f, id=i) for i, b, f in PERK])
def test_top_rated_perk(build, fragments):
    check_row(build, fragments)


def test_perk_contracts_closed_at_the_first_removal_do_not_count():
    """'closed since' the previous removal: a contract closed at that very instant is not after it."""
    h = History()
    perk_contract(h, "a", 0)
    perk_contract(h, "z", 0)
    for i in range(10):
        h.open(t(5), cid=f"b{i}", client="k-b")
    perk(h, t(10), "a")
    for i in range(10):
        h.close(t(10), cid=f"b{i}")  # same instant as the first removal
    perk(h, t(100), "z")
    assert_rejected_alone(h.lines, ["closed only 0"])


def test_perk_frequency_counts_across_ingest_calls():
    """The freelancer's perk history lives in the store, not only in one file."""
    store = MemoryStore()
    h = History()
    perk_contract(h, "a", 0)
    perk_contract(h, "z", 0)
    perk(h, t(10), "a")
    assert_accepted(h.lines, store)
    h2 = History("later")
    perk(h2, t(50), "z")
    _, result = run(h2.lines, store)
    assert len(result.rejects) == 1 and "90 days" in result.rejects[0].reason
    assert store.max_position() == len(h.lines)


def test_perk_history_and_closings_come_from_earlier_ingest_calls():
    store = MemoryStore()
    calls = [History("one"), History("two"), History("three")]
    perk_contract(calls[0], "a", 0)
    perk_contract(calls[0], "z", 0)
    perk(calls[0], t(10), "a")
    for i in range(10):
        perk_contract(calls[1], f"b{i}", 20 + i, client_stars=5.0)
    perk(calls[2], t(100), "z")
    assert_accepted(calls[0].lines, store)
    for h in calls[1:]:
        _, result = run(h.lines, store)
        assert result.rejects == [], [r.message() for r in result.rejects]
    assert store.max_position() == sum(len(h.lines) for h in calls)
