"""`whatif --rules fair-2026` on a simulated marketplace: who gains and loses, and why -- each
mover's contracts whose state differs, equal to the Python rule sets' assessments."""

from __future__ import annotations

import reputation
from engine.simulate import simulate
from engine.whatif import whatif
from projections.rules.score import evaluate
from reputation import events as ev
from reputation.clock import INF
from reputation.outcome import Cut
from reputation.rulesets import RULE_SETS, in_force

SEED = 5  # recorded


def _state(a) -> str:
    return a.outcome if a.counted else "not counted"


def test_whatif_fair_2026_names_the_contracts_that_move_each_mover(tmp_path):
    at = "2023-06-01T00:00:00Z"
    with reputation.open(str(tmp_path / "h")) as e:
        e.ingest(simulate(40, 60, SEED))
        e.project()
        out = whatif(e.store, e.projections, str(tmp_path / "audit.duckdb"), "fair-2026", ev.parse_time(at), movers=40)
        assert out.gain + out.lose > 0 and out.transitions
        assert sum(t.contracts for t in out.transitions) >= len([m for m in out.movers if m.why])
        t = ev.parse_time(at)
        for m in out.movers:
            contracts, flags = e.projections.facts(m.freelancer_id)
            now = {
                a.contract_id: _state(a) for a in evaluate(contracts, flags, Cut(t, INF, INF), in_force(t)).assessments
            }
            alt = evaluate(contracts, flags, Cut(t, INF, INF), RULE_SETS["fair-2026"])
            assert alt.jss == m.jss_whatif
            want = sorted(
                f"{a.contract_id}: {now[a.contract_id]} -> {_state(a)}"
                for a in alt.assessments
                if _state(a) != now[a.contract_id]
            )
            assert m.why == want[:5], m.freelancer_id
        # in 2023 jss-2020 is in force (best of 6, 12, 24 months): a mover may move by the window alone
        assert sum(bool(m.why) for m in out.movers) > len(out.movers) // 2
