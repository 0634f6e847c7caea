"""What a freelancer-audience output must never contain, from the event lines themselves
(independently of the engine): the word of a private answer, and each private end reason of
the freelancer's contracts that the freelancer never saw as a close reason."""

from __future__ import annotations

import json
from collections import defaultdict

ALWAYS = ("recommend", "private end reason")


def forbidden_words(lines: list[bytes]) -> dict[str, set[str]]:
    """freelancer id -> the strings its freelancer-audience outputs must not contain."""
    owner: dict[str, str] = {}
    private: dict[str, set[str]] = defaultdict(set)
    public: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        e = json.loads(line)
        kind = e["type"]
        if kind == "ContractOpened":
            owner[e["contract_id"]] = e["freelancer_id"]
        elif kind == "ContractClosed":
            public[owner[e["contract_id"]]].add(e["reason"])
        elif kind == "PrivateFeedbackSubmitted" and e.get("end_reason"):
            private[owner[e["contract_id"]]].add(e["end_reason"])
    return {f: set(ALWAYS) | (private[f] - public[f]) for f in set(owner.values())}


def assert_no_private(text: str, words: set[str], where: str) -> None:
    found = sorted(w for w in words if w in text)
    assert not found, f"{where} betrays private answers: {found}"
