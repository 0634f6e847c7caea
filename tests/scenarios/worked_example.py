"""The worked example of rules.md (Cathy's forum complaint) as event lines."""

import json

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
        add(type="ContractOpened", occurred_at=t(base_day), contract_id=cid, freelancer_id=FREELANCER, client_id=kid, pricing="fixed")
        add(type="PaymentMade", occurred_at=t(base_day + 1), contract_id=cid, amount=500)
        add(type="ContractClosed", occurred_at=t(base_day + 2), contract_id=cid, closed_by="client", reason="completed_successfully")
        add(type="PublicFeedbackSubmitted", occurred_at=t(base_day + 3), contract_id=cid, by="client", stars=stars)
        add(type="PrivateFeedbackSubmitted", occurred_at=t(base_day + 3, 1), contract_id=cid, by="client", recommend=rec)
        add(type="PublicFeedbackSubmitted", occurred_at=t(base_day + 4), contract_id=cid, by="freelancer", stars=5.0)
    add(type="ContractOpened", occurred_at=t(base_day), contract_id="X1", freelancer_id=FREELANCER, client_id="k-x", pricing="fixed")
    add(type="PaymentMade", occurred_at=t(base_day + 1), contract_id="X1", amount=500)
    add(type="ScopeChanged", occurred_at=t(base_day + 2), contract_id="X1", summary="client changed the scope")
    add(type="ContractClosed", occurred_at=t(base_day + 3), contract_id="X1", closed_by="client", reason="no_longer_needed")
    add(type="ContractOpened", occurred_at=t(base_day + 3, 1), contract_id="X2", freelancer_id=FREELANCER, client_id="k-x", pricing="fixed", continues="X1")
    add(type="PublicFeedbackSubmitted", occurred_at=t(base_day + 4), contract_id="X1", by="client", stars=5.0)
    add(type="PrivateFeedbackSubmitted", occurred_at=t(base_day + 4, 1), contract_id="X1", by="client", recommend=9)
    add(type="PublicFeedbackSubmitted", occurred_at=t(base_day + 5), contract_id="X1", by="freelancer", stars=5.0)
    return out


def copies(freelancers: int) -> list[bytes]:
    """`freelancers` copies of the worked example, each with its own ids (f-0, f-1, ...)."""
    import json

    out = []
    for i in range(freelancers):
        for raw in lines():
            e = json.loads(raw)
            e["event_id"] = f"{e['event_id']}-{i}"
            for k in ("contract_id", "continues", "client_id"):
                if k in e:
                    e[k] = f"{e[k]}-{i}"
            if "freelancer_id" in e:
                e["freelancer_id"] = f"f-{i}"
            out.append(json.dumps(e).encode())
    return out
