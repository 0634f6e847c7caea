"""The what-if histogram: every difference in exactly one bin, 0 on a bin edge, bounded bins."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.whatif import MAX_BINS, histogram


@given(st.lists(st.integers(-100, 100), min_size=1, max_size=300))
def test_every_difference_falls_in_one_bin(deltas):
    bins = histogram(deltas)
    assert 1 <= len(bins) <= MAX_BINS
    assert sum(b.count for b in bins) == len(deltas)
    for b in bins:
        assert b.count == sum(b.lo <= d < b.hi for d in deltas)
    widths = {b.hi - b.lo for b in bins}
    assert len(widths) == 1
    assert [b.lo for b in bins[1:]] == [b.hi for b in bins[:-1]]
    assert bins[0].lo % widths.pop() == 0  # 0 is an edge: gains and losses never share a bin


def test_small_ranges_get_one_point_bins():
    assert [(b.lo, b.hi, b.count) for b in histogram([-2, 0, 0, 1])] == [(-2, -1, 1), (-1, 0, 0), (0, 1, 2), (1, 2, 1)]
    assert histogram([]) == []
