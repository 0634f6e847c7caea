"""The fair-2026 rule set's assessments (rules.md, "fair-2026"): engagements and rater
leniency. Both look beyond one contract -- at the contracts it continues, and at its client's
ratings of other contracts -- so they are assessed here, for all of a freelancer's contracts
at once; everything else is windows.assess and outcome.outcome.

The client's history needs every contract of the client (with every freelancer):
`ClientFacts` carries it next to the flag histories it extends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from projections.rules.windows import Assessment, assess
from reputation.clock import INF
from reputation.contract import Contract
from reputation.outcome import (
    Cut,
    Reason,
    Signals,
    Usual,
    View,
    client_reason,
    flagged_at,
    view,
)
from reputation.rulesets import (
    HARSH_RECOMMEND,
    HARSH_STARS,
    LENIENT_MIN_HISTORY,
    RuleSet,
)


class ClientsUnknown(Exception):
    """fair-2026 was asked for without the clients' other contracts (a caller's bug)."""


class ClientFacts(dict):
    """Clients' flag histories (the dict, as `evaluate` takes it) and every contract of each
    client, loaded when first asked for (only rater leniency needs them)."""

    def __init__(self, flags: dict, load: Callable[[str], list[Contract]]):
        super().__init__(flags)
        self._load = load
        self._memo: dict[str, list[Contract]] = {}

    def contracts_of(self, client_id: str) -> list[Contract]:
        if client_id not in self._memo:
            self._memo[client_id] = list(self._load(client_id))
        return self._memo[client_id]

    @classmethod
    def of(cls, flags: dict, contracts: Iterable[Contract]) -> ClientFacts:
        by_client: dict[str, list[Contract]] = {}
        for c in contracts:
            by_client.setdefault(c.client, []).append(c)
        return cls(flags, lambda k: by_client.get(k, []))


def _latest(v: View) -> tuple:
    return (INF if v.closed_at is None else v.closed_at, v.contract.opened_at, v.contract.id)


def engagements(views: list[View]) -> list[tuple[list[View], set[str]]]:
    """The freelancer's contracts seen at the cut grouped by `continues` chains (root first,
    in the order given), with the ids that are continued by a contract seen at the cut."""
    seen = {v.contract.id for v in views}
    parent = {v.contract.id: v.contract.continues for v in views if v.contract.continues in seen}

    def root(cid: str) -> str:
        while cid in parent:
            cid = parent[cid]
        return cid

    groups: dict[str, list[View]] = {}
    for v in views:
        groups.setdefault(root(v.contract.id), []).append(v)
    continued = set(parent.values())
    out = []
    for rid, members in groups.items():
        members.sort(key=lambda v: v.contract.id != rid)  # the root first
        out.append((members, continued))
    return out


def merged(members: list[View], continued: set[str], rules: RuleSet, flagged: bool) -> tuple[View, Signals]:
    """One engagement as one contract: settles when all its contracts have, closes with the
    last, earns their total, its payments span all of them; the client's reason is the one of
    the latest-closed contract not continued by another, recommend and stars the latest given
    (a contract whose client feedback was removed gives none)."""
    root = members[0]
    order = sorted(members, key=_latest)
    closed = [v.closed_at for v in members]
    settled = [v.settled_at for v in members]
    paid = [v for v in members if v.first_paid is not None]
    perk = next(
        (v.client_removed for v in members if v.client_removed and v.client_removed[0] == "top_rated_perk"), None
    )
    live = [v for v in order if v.client_removed is None]
    removed = perk or (order[-1].client_removed if not live else None)
    v = root._replace(
        closed_at=None if None in closed else max(closed),  # type: ignore[type-var]
        settled_at=None if None in settled else max(settled),  # type: ignore[type-var]
        earnings=sum(m.earnings for m in members),
        first_paid=min(m.first_paid for m in paid) if paid else None,  # type: ignore[type-var]
        last_paid=max(m.last_paid for m in paid) if paid else None,  # type: ignore[type-var]
        client_removed=removed,
    )
    if flagged and rules.ignores_flagged_clients:
        return v, Signals(None, False, None, None, Reason("client_flagged", (rules.name,)))
    if not live:
        return v, Signals(None, False, None, None, Reason("client_feedback_removed", (removed[0],)))  # type: ignore[index]
    leaves = [m for m in live if m.contract.id not in continued]
    said = leaves[-1] if leaves else None
    rec = [m.client_recommend for m in live if m.client_recommend is not None]
    stars = [m.client_stars for m in live if m.client_stars is not None]
    return v, Signals(
        client_reason(said) if said else None,
        said is not None and said.client_end_reason is not None,
        rec[-1] if rec else None,
        stars[-1] if stars else None,
        None,
    ).neutral_close(rules)


def history(client_id: str, facts: dict, cut: Cut) -> list[tuple[str, int | None, float | None]]:
    """The client's rated, settled contracts at the cut (with any freelancer) whose client
    feedback was not removed: (contract id, recommend, stars)."""
    load = getattr(facts, "contracts_of", None)
    if load is None:
        raise ClientsUnknown("fair-2026 reads each client's other ratings: pass a ClientFacts")
    out = []
    for c in load(client_id):
        v = view(c, cut)
        if v is None or v.settled_at is None or cut.at < v.settled_at or v.client_removed is not None:
            continue
        if v.client_recommend is not None or v.client_stars is not None:
            out.append((c.id, v.client_recommend, v.client_stars))
    return out


def _lower_median(xs: list):
    xs = sorted(xs)
    return xs[(len(xs) - 1) // 2]


def usual(rated: list[tuple[str, int | None, float | None]], engagement: set[str]) -> Usual | None:
    """A harsh client's usual answers, read from its *other* contracts (not this engagement's)."""
    other = [r for r in rated if r[0] not in engagement]
    if len(other) < LENIENT_MIN_HISTORY:
        return None
    recs = [r for _, r, _ in other if r is not None]
    stars = [s for _, _, s in other if s is not None]
    rec = _lower_median(recs) if recs and max(recs) <= HARSH_RECOMMEND else None
    star = _lower_median(stars) if stars and max(stars) < HARSH_STARS else None
    return Usual(rec, star) if rec is not None or star is not None else None


def assess_all(views: list[View], flags: dict, cut: Cut, rules: RuleSet, overrides: dict[str, str]) -> list[Assessment]:
    """Every contract's assessment under fair-2026: an engagement is assessed once, as its
    first contract; the others say they are part of it and do not count."""
    out: list[Assessment] = []
    histories: dict[str, list] = {}
    for members, continued in engagements(views) if rules.engagements else [([v], set()) for v in views]:
        root = members[0]
        client = root.contract.client
        flagged = flagged_at(flags.get(client), cut) if rules.ignores_flagged_clients else False
        v, s = merged(members, continued, rules, flagged)
        ids = {m.contract.id for m in members}
        lenient = None
        if rules.lenient_raters and s.stripped is None:
            if client not in histories:
                histories[client] = history(client, flags, cut)
            lenient = usual(histories[client], ids)
        a = assess(v, cut, rules, flagged, overrides.get(root.contract.id), s, lenient)
        if len(members) > 1:
            a.why.append(Reason("engagement", (tuple(sorted(ids - {root.contract.id})),)))
        out.append(a)
        for m in members[1:]:
            c = m.contract
            out.append(
                Assessment(
                    c.id,
                    c.client,
                    False,
                    None,
                    0,
                    [Reason("engagement_part", (root.contract.id,))],
                    m.closed_at,
                    m.settled_at,
                    m.earnings,
                )
            )
    return out
