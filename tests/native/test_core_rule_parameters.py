"""The core holds the rule sets' Top Rated thresholds as constants: they must be the ones
reputation/rulesets.py configures for the rule set in force at every instant (a change on one
side only fails here, not only where a random history happens to reach the boundary)."""

from __future__ import annotations

import pytest

from reputation import _core
from reputation.rulesets import JSS_2016, RULE_SETS, SWITCHES, in_force

INSTANTS = [JSS_2016.starts + 1, *SWITCHES, *(s - 1 for s in SWITCHES), max(SWITCHES) + 10**15]


@pytest.mark.parametrize("at", INSTANTS)
def test_the_core_applies_the_top_rated_thresholds_of_the_rule_set_in_force(at):
    assert _core.top_rated_at(at) == tuple(in_force(at).top_rated), in_force(at).name


def test_the_instants_cover_every_rule_set_ever_in_force():
    assert {in_force(at).name for at in INSTANTS} == {r.name for r in RULE_SETS.values() if r.starts < 2**62}
