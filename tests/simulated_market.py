"""An independent checker of simulated marketplaces: the rules of events.md and the perk rules
of rules.md, written from the spec on purpose (not from the engine's validator), and statistics
of the realism `engine.simulate` promises.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from reputation import events as ev

DAY = ev.DAY  # microseconds
WINDOW = 14 * DAY
RULES_2020 = ev.parse_time("2020-03-01T00:00:00Z")
PERK_END = ev.parse_time("2024-09-03T00:00:00Z")
NEGATIVE = {"freelancer_unresponsive", "freelancer_lacked_skills", "completed_unsuccessfully"}


class _C:
    """What the checker knows about one contract, in arrival order."""

    def __init__(self, e: ev.ContractOpened, at: int):
        self.id = e.contract_id
        self.freelancer = e.freelancer_id
        self.client = e.client_id
        self.pricing = e.pricing
        self.continues = e.continues
        self.opened = at
        self.last = at
        self.closed: int | None = None
        self.closed_by: str | None = None
        self.reason: str | None = None
        self.paid = 0
        self.refunded = 0
        self.pay_times: list[int] = []
        self.public: dict[str, list[tuple[int, float]]] = {"client": [], "freelancer": []}
        self.private: dict[str, tuple[int, int, str | None]] = {}
        self.allowed: dict[str, int] = {}
        self.removed: dict[str, tuple[int, str]] = {}
        self.scope_changes: list[int] = []

    def revealed(self, side: str) -> int | None:
        """When `side`'s public feedback is revealed (assumes it exists)."""
        mine, theirs = self.public[side], self.public["freelancer" if side == "client" else "client"]
        if not mine:
            return None
        end = self.closed + WINDOW
        if theirs:
            return min(max(mine[0][0], theirs[0][0]), end)
        return end

    def client_reason(self) -> str | None:
        p = self.private.get("client")
        if p is not None and p[2] is not None:
            return p[2]
        if self.closed_by in ("client", "platform"):
            return self.reason
        return None

    def outcome(self, rules: str) -> str:
        """The contract's outcome for the freelancer (rules.md), client signals as now."""
        if "client" in self.removed:
            reason = recommend = stars = None
        else:
            reason = self.client_reason()
            p = self.private.get("client")
            recommend = p[1] if p is not None else None
            pub = self.public["client"]
            stars = pub[-1][1] if pub else None
        if reason is not None:
            negative = reason in NEGATIVE or (rules == "jss-2016" and reason != "completed_successfully")
        else:
            negative = False
        if negative or (recommend is not None and recommend <= 6) or (stars is not None and stars < 3.0):
            return "negative"
        long_term = len(self.pay_times) >= 2 and self.pay_times[-1] - self.pay_times[0] >= 90 * DAY
        if (
            (recommend is not None and recommend >= 9)
            or (recommend is None and stars is not None and stars >= 4.5)
            or long_term
        ):
            return "positive"
        return "neutral"


class Checker:
    """Feed decoded events in arrival order; raises AssertionError on the first broken rule."""

    def __init__(self, end: int | None = None):
        self.end = end
        self.ids: set[str] = set()
        self.contracts: dict[str, _C] = {}
        self.clients: dict[str, tuple[int, bool]] = {}  # last time, flagged
        self.closes: dict[str, list[int]] = defaultdict(list)  # freelancer -> closed_at
        self.perks: dict[str, int] = {}  # freelancer -> last perk removal
        self.n = 0

    def fail(self, e: ev.Event, msg: str) -> None:
        raise AssertionError(f"event #{self.n} {e.event_id} ({type(e).__name__}): {msg}")

    def feed(self, e: ev.Event) -> None:
        self.n += 1
        at = e.at
        if e.event_id in self.ids:
            self.fail(e, "duplicate event id")
        self.ids.add(e.event_id)
        if not e.occurred_at.endswith("Z"):
            self.fail(e, "time not in UTC Z form")
        if self.end is not None and at >= self.end:
            self.fail(e, "occurs at or after the simulated end")
        if isinstance(e, ev.ClockAdvanced):
            self.fail(e, "the simulator must not emit ClockAdvanced")
        if isinstance(e, (ev.ClientFlagged, ev.ClientUnflagged)):
            last, flagged = self.clients.get(e.client_id, (0, False))
            if at < last:
                self.fail(e, "client events out of time order")
            if isinstance(e, ev.ClientFlagged) == flagged:
                self.fail(e, "flag/unflag does not alternate")
            self.clients[e.client_id] = (at, not flagged)
            return
        if isinstance(e, ev.ContractOpened):
            if e.contract_id in self.contracts:
                self.fail(e, "contract id reused")
            if e.freelancer_id == e.client_id:
                self.fail(e, "freelancer == client")
            if e.continues is not None:
                old = self.contracts.get(e.continues)
                if old is None:
                    self.fail(e, "continues an unknown contract")
                if (old.client, old.freelancer) != (e.client_id, e.freelancer_id):
                    self.fail(e, "continues a contract of other parties")
                if old.opened > at:
                    self.fail(e, "continues a later contract")
            self.contracts[e.contract_id] = _C(e, at)
            return
        c = self.contracts.get(e.contract_id)
        if c is None:
            self.fail(e, "contract not opened (yet)")
        if at < c.last:
            self.fail(e, "contract events out of occurred_at order")
        c.last = at
        self.contract_event(c, e, at)

    def contract_event(self, c: _C, e: ev.Event, at: int) -> None:
        if isinstance(e, ev.ScopeChanged):
            if c.closed is not None:
                self.fail(e, "scope change on a closed contract")
            c.scope_changes.append(at)
        elif isinstance(e, ev.PaymentMade):
            if c.closed is not None and at >= c.closed + WINDOW:
                self.fail(e, "payment 14 days or more after close")
            c.paid += int(e.amount * 100)
            c.pay_times.append(at)
        elif isinstance(e, ev.PaymentRefunded):
            c.refunded += int(e.amount * 100)
            if c.refunded > c.paid:
                self.fail(e, "refunds exceed payments")
        elif isinstance(e, ev.ContractClosed):
            if c.closed is not None:
                self.fail(e, "closed twice")
            c.closed, c.closed_by, c.reason = at, e.closed_by, e.reason
            self.closes[c.freelancer].append(at)
        elif isinstance(e, (ev.PublicFeedbackSubmitted, ev.PrivateFeedbackSubmitted)):
            if c.closed is None or not (c.closed <= at < c.closed + WINDOW):
                self.fail(e, "feedback outside the feedback window")
            if isinstance(e, ev.PublicFeedbackSubmitted):
                if c.public[e.by]:
                    self.fail(e, "second public feedback from one side")
                c.public[e.by].append((at, e.stars))
            else:
                if e.by in c.private:
                    self.fail(e, "second private feedback from one side")
                c.private[e.by] = (at, e.recommend, e.end_reason)
        elif isinstance(e, ev.FeedbackEditAllowed):
            author = "freelancer" if e.by == "client" else "client"
            revealed = c.revealed(author)
            if revealed is None or not (revealed <= at < revealed + WINDOW):
                self.fail(e, "edit allowance outside 14 days after the reveal")
            if e.by in c.allowed:
                self.fail(e, "second allowance by one side")
            c.allowed[e.by] = at
        elif isinstance(e, ev.PublicFeedbackRevised):
            allowed = c.allowed.get("freelancer" if e.by == "client" else "client")
            if allowed is None or not (allowed <= at < allowed + WINDOW):
                self.fail(e, "revision outside 14 days after the allowance")
            if not c.public[e.by]:
                self.fail(e, "revision without public feedback")
            c.public[e.by].append((at, e.stars))
        elif isinstance(e, ev.FeedbackRemoved):
            if not c.public[e.of] and e.of not in c.private:
                self.fail(e, "removal of feedback that was not given")
            if e.of in c.removed:
                self.fail(e, "second removal of one side's feedback")
            if e.basis == "top_rated_perk":
                self.check_perk(c, e, at)
            c.removed[e.of] = (at, e.basis)

    def check_perk(self, c: _C, e: ev.FeedbackRemoved, at: int) -> None:
        if e.of != "client":
            self.fail(e, "perk removal of the freelancer's feedback")
        if at >= PERK_END:
            self.fail(e, "perk removal on or after 2024-09-03")
        prev = self.perks.get(c.freelancer)
        if prev is not None:
            if at - prev < 90 * DAY:
                self.fail(e, "perk removals less than 90 days apart")
            since = sum(1 for t in self.closes[c.freelancer] if prev < t <= at)
            if since < 10:
                self.fail(e, f"only {since} contracts closed since the previous perk removal")
        rules = "jss-2016" if at < RULES_2020 else "jss-2020"
        if c.outcome(rules) == "positive":
            self.fail(e, "perk removal of a positive contract")
        # the simulator's stricter, rule-set independent choice
        p = c.private.get("client")
        if p is None or p[1] > 8:
            self.fail(e, "perk removal without a client private recommend <= 8")
        self.perks[c.freelancer] = at


def check_all(lines: list[bytes], end: int | None = None) -> Checker:
    checker = Checker(end)
    for line in lines:
        checker.feed(ev.decode_event(line))
    return checker


# -- statistics ------------------------------------------------------------------


def stats(lines: list[bytes]) -> dict:
    checker = Checker()
    late = 0
    latest = None
    types: Counter = Counter()
    for line in lines:
        e = ev.decode_event(line)
        checker.feed(e)
        types[type(e).__name__] += 1
        if latest is not None and e.at < latest:
            late += 1
        latest = e.at if latest is None else max(latest, e.at)
    cs = list(checker.contracts.values())
    closed = [c for c in cs if c.closed is not None]
    with_pub = [c for c in cs if c.public["client"]]
    unhappy = [c for c in cs if "client" in c.private and c.private["client"][1] <= 6]
    client_freelancers: dict[str, set] = defaultdict(set)
    for c in cs:
        client_freelancers[c.client].add(c.freelancer)
    hourly_span = [(c.pay_times[-1] - c.pay_times[0]) / DAY for c in cs if c.pricing == "hourly" and c.pay_times]
    removals = Counter(b for c in cs for _, b in c.removed.values())
    perks = [at for c in cs for at, b in c.removed.values() if b == "top_rated_perk"]
    return {
        "events": len(lines),
        "types": types,
        "contracts": len(cs),
        "closed": len(closed),
        "five_star_share": sum(1 for c in with_pub if c.public["client"][0][1] == 5.0) / len(with_pub),
        "unhappy": len(unhappy),
        "unhappy_polite_share": sum(1 for c in unhappy if c.public["client"] and c.public["client"][0][1] >= 4.0)
        / max(1, len(unhappy)),
        "zero_dollar_closed": sum(1 for c in closed if c.paid == 0),
        "fixed_payment_counts": Counter(len(c.pay_times) for c in closed if c.pricing == "fixed"),
        "hourly_span_90": sum(1 for s in hourly_span if s >= 90),
        "hourly_span_180": sum(1 for s in hourly_span if s >= 180),
        "refunds": types["PaymentRefunded"],
        "bonus_after_close": sum(1 for c in closed if any(t > c.closed for t in c.pay_times)),
        "continues": sum(1 for c in cs if c.continues is not None),
        "continues_after_nln": sum(
            1
            for c in cs
            if c.continues is not None
            and checker.contracts[c.continues].reason == "no_longer_needed"
            and checker.contracts[c.continues].closed <= c.opened
        ),
        "scope_changes": types["ScopeChanged"],
        "only_client_public": sum(1 for c in closed if c.public["client"] and not c.public["freelancer"]),
        "only_freelancer_public": sum(1 for c in closed if c.public["freelancer"] and not c.public["client"]),
        "no_feedback": sum(
            1 for c in closed if not c.public["client"] and not c.public["freelancer"] and not c.private
        ),
        "client_private_share": sum(1 for c in closed if "client" in c.private) / max(1, len(closed)),
        "end_reasons": sum(1 for c in closed if "client" in c.private and c.private["client"][2]),
        "revisions": types["PublicFeedbackRevised"],
        "allowances": types["FeedbackEditAllowed"],
        "flagged": types["ClientFlagged"],
        "unflagged": types["ClientUnflagged"],
        "removals": removals,
        "perks": perks,
        "closed_by": Counter(c.closed_by for c in closed),
        "close_reasons_by_client": Counter(c.reason for c in closed if c.closed_by == "client"),
        "late": late,
        "late_share": late / max(1, len(lines)),
        "clients": len(client_freelancers),
        "clients_multi": sum(1 for s in client_freelancers.values() if len(s) >= 2),
        "freelancers": len({c.freelancer for c in cs}),
        "first": min(c.opened for c in cs),
        "last": max(c.last for c in cs),
    }
