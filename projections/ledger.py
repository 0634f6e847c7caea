"""The score-change ledger record (interfaces.md) and its JSON form.

One entry whenever a freelancer's displayed JSS, its visibility, the displayed feedback
score or the Top Rated badge changes. `seq` is the ledger's own order (1, 2, ...); `change_id` is deterministic
(`<position>.<n>`: the n-th change caused by the event at that log position), so a rebuild
from the same log yields the same ids.
"""

from __future__ import annotations

from typing import Iterable

import msgspec


class Cause(msgspec.Struct, omit_defaults=True):
    at: str  # valid time of the change point
    kind: str  # contract_settled, feedback_revealed, feedback_revised, feedback_removed,
    # feedback_submitted, payment, refund, client_flagged, client_unflagged, window_exit,
    # rules_changed, late_event, window_end, contract_closed, contract_opened, scope_changed,
    # top_rated_gained, top_rated_lost
    text: str
    contract_id: str | None = None
    client_id: str | None = None
    event_id: str | None = None
    jss_before: float | None = None  # exact (unrounded) JSS before / after this point
    jss_after: float | None = None
    jss_delta: float | None = None
    # the words rest on a private answer (a private reason, or the happening is a private
    # answer's arrival): trust audience only; written only when true
    private: bool = False


class ScoreChange(msgspec.Struct):
    seq: int
    change_id: str
    freelancer_id: str
    rules: str
    effective_at: str  # valid time: the causing event's time or a deadline's own time
    recorded_at: str  # transaction time of the causing event
    position: int  # log position that caused it
    jss_before: int | None
    jss_after: int | None
    jss_exact_before: float | None
    jss_exact_after: float | None
    feedback_before: float | None
    feedback_after: float | None
    causes: list[Cause]
    # the Top Rated badge (rules.md) before / after; an entry that only moves the badge keeps
    # the JSS and feedback (before == after) and says why in causes top_rated_gained/_lost
    top_rated_before: bool = False
    top_rated_after: bool = False


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ScoreChange)


def to_json(change: ScoreChange) -> bytes:
    return _encoder.encode(change)


def from_json(data: bytes) -> ScoreChange:
    return _decoder.decode(data)


def restated(changes: Iterable[ScoreChange]) -> dict[int, int]:
    """seq -> the seq that restated it. A late event re-evaluates the later change points it
    alters and writes a new entry at the same effective time (its first cause `late_event`);
    the ledger is read as the latest entry at or before a time, so the new one replaces the
    earlier entries at that time. (Several entries at one instant without a late event are
    successive steps in log order, not restatements.)"""
    earlier: dict[tuple[str, str], list[int]] = {}
    out: dict[int, int] = {}
    for ch in sorted(changes, key=lambda c: c.seq):
        key = (ch.freelancer_id, ch.effective_at)
        if ch.causes and ch.causes[0].kind == "late_event":
            for seq in earlier.get(key, []):
                out.setdefault(seq, ch.seq)
        earlier.setdefault(key, []).append(ch.seq)
    return out


def entries_json(changes: list[ScoreChange], everything: bool = False) -> list[dict]:
    """The ledger entries as `history --json` prints them, each with `restated_by` (the seq of
    the entry that restated it, or None); the restated ones only with `everything`."""
    replaced = restated(changes)
    return [
        {**msgspec.to_builtins(ch), "restated_by": replaced.get(ch.seq)}
        for ch in changes
        if everything or ch.seq not in replaced
    ]
