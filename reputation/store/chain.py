"""The hash chain over the log (tamper evidence; docs/verify.md).

Each stored event at position n gets h_n = SHA-256(h_p || n as 8 bytes big-endian || the
stored event bytes), where p is the position of the event before it in the log and h_0 is
32 zero bytes. The adapters store (n, p, h_n) in `rep_chain`, in the transaction that
inserts the event, so the chain commits with the events or not at all.
"""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Iterable, NamedTuple, Sequence

from reputation.errors import InvalidInput

GENESIS = bytes(32)

try:
    from reputation._core import chain_hashes as _core_hashes
except ImportError:  # not built: the reference below
    _core_hashes = None


class Link(NamedTuple):
    position: int
    previous: int  # the position this link follows (0 for the first event)
    hash: bytes


def link(previous_hash: bytes, position: int, state: bytes | str) -> bytes:
    # a row edited by hand may come back as text (SQLite): its UTF-8 bytes are what it holds
    body = state.encode() if isinstance(state, str) else bytes(state)
    return hashlib.sha256(previous_hash + position.to_bytes(8, "big") + body).digest()


def hashes(previous_hash: bytes, rows: Iterable[tuple[int, bytes]]) -> list[bytes]:
    """The hash of each of `rows` (position, state; in log order) following `previous_hash`."""
    out = []
    h, sha256 = previous_hash, hashlib.sha256
    for position, state in rows:
        # `link`, inlined for the common case of bytes (ingest hashes every event)
        h = (
            sha256(h + position.to_bytes(8, "big") + state).digest()
            if type(state) is bytes
            else link(h, position, state)
        )
        out.append(h)
    return out


def joined_hashes(previous_hash: bytes, positions: Sequence[int], states: Sequence[bytes]) -> bytes:
    """`hashes` of (positions, states) as one run of 32-byte hashes: computed by the Rust core
    when it is built (ingest hashes every event it writes; the core does it without the GIL),
    else by `hashes`."""
    if _core_hashes is not None and all(type(s) is bytes for s in states):
        return _core_hashes(previous_hash, positions, states)
    return b"".join(hashes(previous_hash, zip(positions, states)))


def links(tail: tuple[int, bytes], rows: Iterable[tuple[int, bytes]]) -> list[Link]:
    """The chain rows of `rows` (position, state; in log order) following `tail`
    (position, hash) of the last chained event, or (0, GENESIS)."""
    rows = list(rows)
    positions = [p for p, _ in rows]
    new = partial(tuple.__new__, Link)  # Link._make without its checks
    # (a position not after the one before it: the table's CHECK refuses it)
    return list(map(new, zip(positions, [tail[0], *positions[:-1]], hashes(tail[1], rows))))


class ChainBroken(InvalidInput):
    """An append found the chain ahead of the log (rows were deleted or re-inserted by hand)."""

    def __init__(self, detail: str):
        super().__init__(
            f"the hash chain already holds the position of the next event ({detail}): the log "
            "was changed outside the engine; nothing was written; run `reputation verify`"
        )
