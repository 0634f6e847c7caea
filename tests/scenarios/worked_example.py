"""The worked example of rules.md (Cathy's forum complaint) as event lines (engine.forum_case
holds them: `reputation demo` replays them)."""

from engine.forum_case import FREELANCER, lines

__all__ = ["FREELANCER", "copies", "lines"]


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
