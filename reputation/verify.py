"""`reputation verify`: re-read the whole log and its hash chain (reputation.store.chain) and
find where the stored events no longer match it: an event modified, removed, inserted or
moved to another position (docs/verify.md)."""

from __future__ import annotations

import heapq
from typing import Iterator, NamedTuple

from reputation.errors import InvalidInput
from reputation.store import EventStore
from reputation.store.chain import GENESIS, link

PAGE = 5000
MAX_REORDER_CHECK = 1000  # mismatches compared pairwise to tell a move from an edit


class Finding(NamedTuple):
    position: int
    kind: str  # "modified", "removed", "inserted" or "reordered"
    detail: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.kind}: {self.detail}"


class Report(NamedTuple):
    events: int  # events read
    position: int  # the last position read (0: an empty log)
    head: bytes  # the chain hash stored at that position (GENESIS when empty)
    findings: list[Finding]


class Tampered(InvalidInput):
    """The log does not match its hash chain; `findings` says where."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        first = min(f.position for f in findings)
        super().__init__(
            f"the event log does not match its hash chain: {len(findings)} finding"
            f"{'' if len(findings) == 1 else 's'}, the first at position {first}"
        )


def _pages(read, page: int) -> Iterator[tuple]:
    after = 0
    while True:
        rows = read(after, page)
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def _merged(store: EventStore, page: int) -> Iterator[tuple[int, bytes | None, tuple[int, bytes] | None]]:
    """(position, stored event or None, (previous, hash) of its chain row or None), in order."""
    events = ((p, 0, s) for p, s in _pages(store.read, page))
    chain = ((p, 1, (q, h)) for p, q, h in _pages(store.read_chain, page))
    current: list = []
    for position, side, value in heapq.merge(events, chain, key=lambda r: (r[0], r[1])):
        if current and current[0] != position:
            yield tuple(current)
            current = []
        if not current:
            current = [position, None, None]
        current[1 + side] = value
    if current:
        yield tuple(current)


def verify(store: EventStore, page: int = PAGE) -> Report:
    """Every finding, each at the first position it concerns; the chain is followed through
    the stored hashes, so one tampered row makes one finding, not one per later event."""
    findings: list[Finding] = []
    mismatched: list[tuple[int, bytes, bytes, bytes]] = []  # position, previous hash, stored hash, event
    unchained: dict[int, int] = {}  # position of an event without chain entry -> its finding
    last, head, events, position = 0, GENESIS, 0, 0  # the last chain entry read
    for position, state, entry in _merged(store, page):
        if state is not None:
            events += 1
        if entry is None:
            unchained[position] = len(findings)
            findings.append(
                Finding(position, "inserted", "the event has no chain entry: it was added outside the engine")
            )
            continue
        previous, stored = entry
        if previous > last and previous in unchained:  # the event is there, its entry was deleted
            findings[unchained[previous]] = Finding(previous, "removed", "the event's chain entry was deleted")
        elif previous > last:
            findings.append(
                Finding(
                    previous,
                    "removed",
                    f"the chain entry at {position} follows position {previous}, whose event and chain entry are gone",
                )
            )
        elif previous < last:
            findings.append(
                Finding(
                    position,
                    "inserted",
                    f"the chain entry links back to position {previous}, but the entry before it is at {last}",
                )
            )
        if state is None:
            findings.append(Finding(position, "removed", "the event was deleted (its chain entry remains)"))
        elif previous == last and link(head, position, state) != stored:
            mismatched.append((position, head, stored, state))
        last, head = position, stored
    findings += _classify(mismatched)
    findings.sort(key=lambda f: f.position)
    return Report(events, position, head, findings)


def _classify(mismatched: list[tuple[int, bytes, bytes, bytes]]) -> list[Finding]:
    """An event that hashes to the chain entry of another mismatched position was moved
    there (rows swapped or reordered); any other mismatch is an edit."""
    pairs = mismatched[:MAX_REORDER_CHECK]
    out = []
    for position, _, _, state in mismatched:
        home = next((p for p, prev, stored, _ in pairs if p != position and link(prev, p, state) == stored), None)
        if home is None:
            out.append(Finding(position, "modified", "the stored event does not hash to its chain entry"))
        else:
            out.append(Finding(position, "reordered", f"the event here was chained at position {home}"))
    return out


def check(store: EventStore) -> Report:
    """`verify`, raising `Tampered` when anything was found."""
    report = verify(store)
    if report.findings:
        raise Tampered(report.findings)
    return report
