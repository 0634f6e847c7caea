"""The native core's evaluation (reputation._core.CoreFreelancer through projections.judge)
against the Python rule code, field by field: the whole Score (exact fractions, windows, every
assessment and its reasons) at random cuts (as_of, log position at that instant, known at),
under every rule set (fair-2026 included) and the one in force, with and without a what-if;
and `score --json` / `explain --json` of both engines on simulated markets."""

from __future__ import annotations

import random

import msgspec
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from engine.simulate import simulate
from projections.core_judge import CoreJudge
from projections.judge import PythonJudge
from projections.replay import fold
from projections.rules.fair import ClientFacts
from projections.rules.score import evaluate
from projections.service import Projections
from reputation import events as ev
from reputation.clock import INF
from reputation.ingest import ingest
from reputation.outcome import Cut
from reputation.rulesets import RULE_SETS
from reputation.store import MemoryStore
from tests.native.test_native_equals_python import project
from tests.property.histories import histories
from tests.property.test_fair_rules import markets
from tests.property.test_projection_properties import log_of

RULES = [None, *RULE_SETS.values()]  # None: the rule set in force at the cut
WHAT_IFS = ("exclude", "neutral", "positive", "negative")


def instants(rows) -> list[int]:
    """Every event's valid time and the deadlines around them (the interesting cuts)."""
    out = set()
    for _pos, data in rows:
        e = ev.decode_recorded(data).event
        out.add(e.at)
        for d in (1, 14, 183, 366, 731, 732):
            out.add(e.at + d * ev.DAY)
    return sorted(out)


def same_everywhere(rows, draw_cut, draw_what_if) -> int:
    """Python == core for every freelancer at the drawn cuts; returns how many compared."""
    by, flags = fold(rows)
    facts = ClientFacts.of(flags, [c for cs in by.values() for c in cs])
    compared = 0
    for f in sorted(by):
        contracts = by[f]
        core = CoreJudge(contracts, facts)
        for cut in draw_cut():
            for rules in RULES:
                py = evaluate(contracts, facts, cut, rules)
                got = core.score(cut, rules)
                assert got == py, (f, cut, rules and rules.name)
                assert seen(core.glance(cut, rules)) == seen(py)
                what_if = draw_what_if([c.id for c in contracts])
                if what_if:
                    py = evaluate(contracts, facts, cut, rules, dict([what_if]))
                    assert core.score(cut, rules, dict([what_if])) == py, (f, cut, what_if)
                compared += 1
            t1, t2 = sorted((draw_cut()[0].at, draw_cut()[0].at))
            known = draw_cut()[0].known
            for rules in RULES:
                py_moves = PythonJudge(contracts, facts).moves(t1, t2, known, rules)
                assert walked(core.moves(t1, t2, known, rules)) == walked(py_moves), (f, t1, t2, known, rules)
    return compared


def seen(s) -> tuple:
    """What a step compares, of a Score or a Glance."""
    return s.rules, s.at, s.jss, s.exact, s.feedback, s.shown


def walked(moves) -> list:
    return [(m.happenings, m.before_cut, seen(m.before), m.after_cut, seen(m.after)) for m in moves]


def cuts_of(data, rows):
    times = instants(rows)

    def draw():
        out = []
        for _ in range(data.draw(st.integers(1, 3), label="cuts")):
            at = data.draw(st.sampled_from(times), label="as_of")
            pos = data.draw(st.sampled_from([INF, 0, *range(1, len(rows) + 1)]), label="pos at that instant")
            known = data.draw(st.sampled_from([INF, *range(1, len(rows) + 1)]), label="known_at")
            out.append(Cut(at, pos, known))
        return out

    return draw


def what_ifs_of(data):
    def draw(ids):
        if not ids or not data.draw(st.booleans(), label="what-if?"):
            return None
        return data.draw(st.sampled_from(ids), label="contract"), data.draw(st.sampled_from(WHAT_IFS), label="what")

    return draw


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@seed(20261201)
@SETTINGS
@given(histories(max_contracts=10), st.data())
def test_core_evaluation_equals_python_on_random_histories(lines, data):
    rows = log_of(lines)
    assert same_everywhere(rows, cuts_of(data, rows), what_ifs_of(data)) > 0


@seed(20261202)
@SETTINGS
@given(markets(), st.data())
def test_core_evaluation_equals_python_on_harsh_raters_and_chains(h, data):
    """fair-2026's engagements and rater leniency in play (histories() has no `continues`)."""
    rows = log_of(h.lines)
    assert same_everywhere(rows, cuts_of(data, rows), what_ifs_of(data)) > 0


def test_a_what_if_on_another_freelancers_contract_changes_nothing():
    h_rows = log_of(_two_freelancers())
    by, flags = fold(h_rows)
    facts = ClientFacts.of(flags, [c for cs in by.values() for c in cs])
    cut = Cut(max(instants(h_rows)))
    core = CoreJudge(by["f0"], facts)
    other = by["f1"][0].id
    assert core.score(cut, None, {other: "exclude"}) == core.score(cut) == PythonJudge(by["f0"], facts).score(cut)
    with pytest.raises(ValueError, match="unknown what-if"):
        core.score(cut, None, {by["f0"][0].id: "maybe"})


def _two_freelancers() -> list[bytes]:
    lines = []
    for i, f in enumerate(("f0", "f1")):
        cid = f"c{i}"
        for n, e in enumerate(
            [
                dict(type="ContractOpened", contract_id=cid, freelancer_id=f, client_id="k", pricing="fixed"),
                dict(type="PaymentMade", contract_id=cid, amount=300),
                dict(type="ContractClosed", contract_id=cid, closed_by="client", reason="freelancer_unresponsive"),
            ]
        ):
            e["event_id"] = f"e{i}{n}"
            e["occurred_at"] = ev.format_time(ev.parse_time("2025-01-01T00:00:00Z") + n * ev.DAY)
            lines.append(msgspec.json.encode(e))
    return lines


# -- the CLI's JSON, both engines, simulated markets ------------------------------------------


@pytest.fixture(scope="module", params=(11, 12))
def market(request):
    store = MemoryStore()
    result = ingest(store, list(simulate(30, 60, seed=request.param)), recorded_at="2026-01-01T00:00:00Z")
    assert not result.rejects
    rows = store.read(0, 10**9)
    return project("native", rows), request.param


def test_score_and_explain_json_are_the_same_in_both_engines(market):
    repo, market_seed = market
    native, python = Projections(repo), Projections(repo, engine="python")
    rnd = random.Random(market_seed)
    clock = native.clock
    compared = 0
    for fid in native.freelancers():
        known = rnd.choice([None, native.position // 2])
        rules = rnd.choice([None, "fair-2026", "jss-2016", "jss-2020", "jss-2024"])
        t2 = clock - rnd.randrange(0, 700) * ev.DAY
        t1 = t2 - rnd.randrange(30, 800) * ev.DAY
        for kw in ({}, {"known_at": known, "rules": rules}, {"as_of": t1, "rules": rules}):
            assert native.score(fid, **kw) == python.score(fid, **kw), (fid, kw)
        for audience in ("trust", "freelancer"):
            assert native.score(fid, audience=audience) == python.score(fid, audience=audience)
        got = native.explain(fid, t1, t2, known, rules)
        assert got == python.explain(fid, t1, t2, known, rules), (fid, t1, t2, known, rules)
        compared += len(got["causes"]) + len(got["counterfactuals"])
    assert compared > 100  # the markets move: there is something to explain
