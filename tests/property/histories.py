"""A hypothesis strategy of small, valid, adversarial histories: shared clients, events at
the same instant and exactly at deadlines, late events, flags, removals, ticks, histories
across the 2020 and 2024 rule switches."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from reputation import events as ev

DAY = ev.DAY
STARTS = ["2019-09-01T00:00:00Z", "2020-02-20T00:00:00Z", "2024-06-01T00:00:00Z", "2024-08-25T00:00:00Z"]


class _Log:
    """A drawn history's events, each with its group (a contract, a client, the clock)."""

    def __init__(self, draw):
        self.draw = draw
        self.items: list[tuple[int, int, str, dict]] = []  # (at, order, group, event)

    def add(self, at: int, group: str, **e) -> None:
        seq = len(self.items) + 1
        e["event_id"] = f"e{seq}"
        e["occurred_at"] = ev.format_time(at)
        self.items.append((at, seq, group, e))

    def day(self, lo: int, hi: int) -> int:  # whole days, so instants collide on purpose
        return self.draw(st.integers(lo, hi)) * DAY

    def lines(self) -> list[bytes]:
        """In time order, but for late arrivals: some groups (a contract or a client) are
        delivered after everything else."""
        items = sorted(self.items, key=lambda x: (x[0], x[1]))
        groups = sorted({x[2] for x in items if x[2] != "clock"})
        late = set(self.draw(st.lists(st.sampled_from(groups), max_size=2, unique=True))) if groups else set()
        ordered = [x for x in items if x[2] not in late] + [x for x in items if x[2] in late]
        return [json.dumps(x[3]).encode() for x in ordered]


REASONS = list(ev.REASONS)


@st.composite
def histories(
    draw, max_contracts: int = 7, open_days: int = 120, clock_days: int = 1100, max_ticks: int = 3
) -> list[bytes]:
    t0 = ev.parse_time(draw(st.sampled_from(STARTS)))
    n_freelancers = draw(st.integers(1, 2))
    n_clients = draw(st.integers(2, 3))
    log = _Log(draw)
    add, day, items = log.add, log.day, log.items

    for i in range(draw(st.integers(1, max_contracts))):
        cid, fid, kid = (
            f"c{i}",
            f"f{draw(st.integers(0, n_freelancers - 1))}",
            f"k{draw(st.integers(0, n_clients - 1))}",
        )
        t = t0 + day(0, open_days)
        add(
            t,
            cid,
            type="ContractOpened",
            contract_id=cid,
            freelancer_id=fid,
            client_id=kid,
            pricing=draw(st.sampled_from(["fixed", "hourly"])),
        )
        for _ in range(draw(st.integers(0, 3))):
            t += day(0, 60)
            add(
                t,
                cid,
                type="PaymentMade",
                contract_id=cid,
                amount=draw(st.sampled_from([1, 99.99, 250, 250.01, 1000, 1500])),
            )
        if draw(st.booleans()) and any(x[2] == cid and x[3]["type"] == "PaymentMade" for x in items):
            add(t, cid, type="PaymentRefunded", contract_id=cid, amount=1)
        if not draw(st.integers(0, 5)):
            continue  # stays open
        t += day(0, 10)
        closed = t
        add(
            t,
            cid,
            type="ContractClosed",
            contract_id=cid,
            closed_by=draw(st.sampled_from(["client", "client", "freelancer", "platform"])),
            reason=draw(st.sampled_from(REASONS)),
        )
        sides = draw(
            st.sampled_from([("client", "freelancer"), ("freelancer", "client"), ("client",), ("freelancer",), ()])
        )
        public_at = {}
        for side in sides:
            t = min(t + day(0, 7), closed + 13 * DAY)
            public_at[side] = t
            add(
                t,
                cid,
                type="PublicFeedbackSubmitted",
                contract_id=cid,
                by=side,
                stars=draw(st.sampled_from([1.0, 2.9, 3.0, 4.0, 4.5, 4.9, 5.0])),
            )
        if draw(st.booleans()):
            t = min(t + day(0, 5), closed + 13 * DAY)
            e = {"recommend": draw(st.integers(0, 10))}
            if draw(st.booleans()):
                e["end_reason"] = draw(st.sampled_from(REASONS))
            add(t, cid, type="PrivateFeedbackSubmitted", contract_id=cid, by="client", **e)
        if draw(st.integers(0, 3)) == 0 and closed + 14 * DAY - t > DAY:  # a bonus inside the window
            t += DAY
            add(t, cid, type="PaymentMade", contract_id=cid, amount=500)
        if "client" in public_at and draw(st.integers(0, 3)) == 0:
            reveal = max(public_at.values()) if len(public_at) == 2 else closed + 14 * DAY
            t = max(t, reveal) + day(0, 3)
            add(t, cid, type="FeedbackEditAllowed", contract_id=cid, by="freelancer")
            t += day(0, 3)
            add(
                t,
                cid,
                type="PublicFeedbackRevised",
                contract_id=cid,
                by="client",
                stars=draw(st.sampled_from([2.0, 4.5, 5.0])),
            )
        if (
            "client" in public_at or any(x[2] == cid and x[3]["type"] == "PrivateFeedbackSubmitted" for x in items)
        ) and draw(st.integers(0, 4)) == 0:
            t += day(0, 30)
            add(
                t,
                cid,
                type="FeedbackRemoved",
                contract_id=cid,
                of="client",
                basis=draw(st.sampled_from(["policy_violation", "dispute_upheld", "top_rated_perk"])),
                scope=draw(st.sampled_from(["jss_only", "jss_and_profile"])),
            )
    for k in range(n_clients):
        if draw(st.integers(0, 3)) == 0:
            t = t0 + day(0, 200)
            add(t, f"k{k}", type="ClientFlagged", client_id=f"k{k}")
            if draw(st.booleans()):
                add(t + day(0, 200), f"k{k}", type="ClientUnflagged", client_id=f"k{k}")
    for _ in range(draw(st.integers(0, max_ticks))):
        t = t0 + day(0, clock_days)
        add(t, "clock", type="ClockAdvanced", to=ev.format_time(t))
    return log.lines()


MONDAYS = ["2023-01-02T00:00:00Z", "2024-05-06T00:00:00Z"]  # the second crosses the 2024 switch


@st.composite
def careers(draw, max_contracts: int = 8) -> list[bytes]:
    """Histories that earn and lose Top Rated: one or two freelancers with mostly good, paid
    contracts from several clients over months, events on whole days from a Monday (so many
    fall exactly on a weekly evaluation), amounts at the $1,000 edge, late deliveries, ticks."""
    t0 = ev.parse_time(draw(st.sampled_from(MONDAYS)))
    log = _Log(draw)
    add, day = log.add, log.day

    for i in range(draw(st.integers(3, max_contracts))):
        cid, fid, kid = f"c{i}", f"f{int(draw(st.integers(0, 3)) == 0)}", f"k{i % 2 + 2 * draw(st.integers(0, 1))}"
        t = t0 + day(0, 300)
        add(t, cid, type="ContractOpened", contract_id=cid, freelancer_id=fid, client_id=kid, pricing="fixed")
        for _ in range(draw(st.integers(1, 3))):
            t += day(0, 40)
            amount = draw(st.sampled_from([0.01, 300, 999.99, 1000, 1000, 1500]))
            add(t, cid, type="PaymentMade", contract_id=cid, amount=amount)
        if not draw(st.integers(0, 3)):
            add(t + day(0, 20), cid, type="PaymentRefunded", contract_id=cid, amount=draw(st.sampled_from([0.01, 500])))
        if not draw(st.integers(0, 5)):
            continue  # stays open
        t += day(1, 60)
        good = draw(st.integers(0, 6)) > 0
        reason = "completed_successfully" if good else draw(st.sampled_from(["completed_unsuccessfully", "other"]))
        add(t, cid, type="ContractClosed", contract_id=cid, closed_by="client", reason=reason)
        for side in draw(st.sampled_from([("client", "freelancer"), ("client", "freelancer"), ("client",), ()])):
            t += day(0, 6)
            stars = 5.0 if good else draw(st.sampled_from([2.0, 4.0]))
            add(t, cid, type="PublicFeedbackSubmitted", contract_id=cid, by=side, stars=stars)
        if draw(st.booleans()):
            t += day(0, 6)
            recommend = draw(st.sampled_from([9, 10] if good else [3, 7]))
            add(t, cid, type="PrivateFeedbackSubmitted", contract_id=cid, by="client", recommend=recommend)
    for _ in range(draw(st.integers(0, 2))):
        t = t0 + day(100, 900)
        add(t, "clock", type="ClockAdvanced", to=ev.format_time(t))
    t = t0 + day(700, 900)  # a quiet end: earnings age out of the 12 months
    add(t, "clock", type="ClockAdvanced", to=ev.format_time(t))
    return log.lines()
