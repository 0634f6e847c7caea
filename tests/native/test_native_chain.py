"""The core's hash chain (reputation._core.chain_hashes, what ingest writes) equals the
reference (reputation.store.chain.hashes) link by link, and a row that came back as text
(a hand-edited SQLite row) takes the reference."""

from __future__ import annotations

import hashlib

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from reputation.store import chain


def test_the_core_computes_the_chain():
    assert chain._core_hashes is not None  # the tests below compare two implementations


@seed(20261201)
@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.integers(1, 2**62),
    st.lists(st.tuples(st.integers(1, 9), st.binary(max_size=300)), max_size=40),
)
def test_the_core_links_equal_the_reference(previous, first, rows):
    positions, p = [], first
    for gap, _ in rows:  # increasing, with gaps (PostgreSQL's positions may skip)
        positions.append(p)
        p += gap
    states = [s for _, s in rows]
    run = chain.joined_hashes(previous, positions, states)
    assert run == b"".join(chain.hashes(previous, zip(positions, states)))
    h = previous
    for i, (position, state) in enumerate(zip(positions, states)):  # docs/verify.md's formula
        h = hashlib.sha256(h + position.to_bytes(8, "big") + state).digest()
        assert run[32 * i : 32 * i + 32] == h


def test_text_rows_take_the_reference():
    """A row that came back as text hashes as its UTF-8 bytes (the core takes bytes only)."""
    previous = bytes(range(32))
    run = chain.joined_hashes(previous, [1, 2], [b"a", "b\u00e9"])
    h1 = hashlib.sha256(previous + (1).to_bytes(8, "big") + b"a").digest()
    h2 = hashlib.sha256(h1 + (2).to_bytes(8, "big") + "b\u00e9".encode()).digest()
    assert run == h1 + h2
