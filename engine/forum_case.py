"""The seeds' forum case (docs/rules.md, "Worked example"): nine jobs, 4.88 stars, every client
would hire again, yet a JSS of 75 -- X1 closed as `no_longer_needed`, then reopened as X2
`continues` X1. `reputation demo` ends by replaying it into a temporary store: the JSS under
the rule set in force, under fair-2026, its interval, and the date 75 would become 100 with no
new work (the aging calendar).
"""

from __future__ import annotations

import json
import tempfile

FREELANCER = "f-cathy"


def lines(base_day: int = 1) -> list[bytes]:
    out = []
    n = 0

    def add(**e):
        nonlocal n
        n += 1
        e.setdefault("event_id", f"e-{n}")
        out.append(json.dumps(e).encode())

    def t(day, hour=0):
        return f"2019-01-{day:02d}T{hour:02d}:00:00Z" if day <= 31 else f"2019-02-{day - 31:02d}T{hour:02d}:00:00Z"

    contracts = [(f"c-{i}", f"k-{i % 3}", 5.0, 10) for i in range(1, 7)] + [("c-7", "k-1", 4.0, 9)]
    for cid, kid, stars, rec in contracts:
        add(
            type="ContractOpened",
            occurred_at=t(base_day),
            contract_id=cid,
            freelancer_id=FREELANCER,
            client_id=kid,
            pricing="fixed",
        )
        add(type="PaymentMade", occurred_at=t(base_day + 1), contract_id=cid, amount=500)
        add(
            type="ContractClosed",
            occurred_at=t(base_day + 2),
            contract_id=cid,
            closed_by="client",
            reason="completed_successfully",
        )
        add(type="PublicFeedbackSubmitted", occurred_at=t(base_day + 3), contract_id=cid, by="client", stars=stars)
        add(
            type="PrivateFeedbackSubmitted", occurred_at=t(base_day + 3, 1), contract_id=cid, by="client", recommend=rec
        )
        add(type="PublicFeedbackSubmitted", occurred_at=t(base_day + 4), contract_id=cid, by="freelancer", stars=5.0)
    add(
        type="ContractOpened",
        occurred_at=t(base_day),
        contract_id="X1",
        freelancer_id=FREELANCER,
        client_id="k-x",
        pricing="fixed",
    )
    add(type="PaymentMade", occurred_at=t(base_day + 1), contract_id="X1", amount=500)
    add(type="ScopeChanged", occurred_at=t(base_day + 2), contract_id="X1", summary="client changed the scope")
    add(
        type="ContractClosed",
        occurred_at=t(base_day + 3),
        contract_id="X1",
        closed_by="client",
        reason="no_longer_needed",
    )
    add(
        type="ContractOpened",
        occurred_at=t(base_day + 3, 1),
        contract_id="X2",
        freelancer_id=FREELANCER,
        client_id="k-x",
        pricing="fixed",
        continues="X1",
    )
    add(type="PublicFeedbackSubmitted", occurred_at=t(base_day + 4), contract_id="X1", by="client", stars=5.0)
    add(type="PrivateFeedbackSubmitted", occurred_at=t(base_day + 4, 1), contract_id="X1", by="client", recommend=9)
    add(type="PublicFeedbackSubmitted", occurred_at=t(base_day + 5), contract_id="X1", by="freelancer", stars=5.0)
    return out


def show(console) -> None:
    """Replay the case and print what the issue asks for."""
    import reputation

    with tempfile.TemporaryDirectory(prefix="forum-case-") as home, reputation.open(home) as e:
        e.ingest(lines())
        now = e.score(FREELANCER)
        fair = e.score(FREELANCER, rules="fair-2026")
        cal = e.calendar(FREELANCER)
    console.rule("the forum case")
    console.print(f"{FREELANCER}: 9 jobs, feedback score {now.feedback_score}, every client would hire again")
    console.print(
        f"  JSS under {now.rules} (in force on {now.as_of[:10]}): [red]{now.jss}[/]"
        f" -- X1 closed as no_longer_needed, X2 continues it"
    )
    console.print(f"  JSS under fair-2026 (X1 and X2 are one engagement, still open): [green]{fair.jss}[/]")
    iv = now.interval
    if iv is not None:
        console.print(
            f"  {iv.level:.0%} interval {iv.low:g} to {iv.high:g} (Beta, Jeffreys prior); one more negative "
            f"contract would move it to {iv.one_more_negative}, one more positive to {iv.one_more_positive}"
        )
    up = next((s for s in cal.steps if s.jss == 100), None)
    if up is None:
        console.print(f"  with no new work it does not reach 100 before {cal.until[:10]}")
    else:
        why = "; ".join(c.text for c in up.causes)
        console.print(f"  with no new work its {up.jss_before} becomes 100 on [bold]{up.at[:10]}[/] ({why})")
