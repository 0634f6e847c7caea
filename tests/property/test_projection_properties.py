"""The projector's invariants on random valid histories (hypothesis)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.explain import explain
from projections.projector import Entry, Freelancer, Projector, fb_hundredths
from projections.replay import batch_score, clock_at, fold
from projections.rules.fair import ClientFacts
from projections.rules.score import evaluate
from projections.store import MemoryRepo
from reputation import events as ev
from reputation.clock import INF
from reputation.ingest import ingest
from reputation.outcome import Cut
from reputation.rulesets import RULE_SETS
from reputation.store import MemoryStore
from tests.property.histories import histories

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def log_of(lines: list[bytes]) -> list[tuple[int, bytes]]:
    store = MemoryStore()
    ingest(store, lines, skip_invalid=True, recorded_at="2026-01-01T00:00:00Z")
    return store.read(0, 10**9)


def project(rows, splits=()) -> MemoryRepo:
    """Project `rows` in batches cut at `splits`, each batch by a fresh projector (state
    goes through the repo, as after a restart)."""
    repo = MemoryRepo()
    bounds = [0, *sorted(set(s for s in splits if 0 < s < len(rows))), len(rows)]
    for lo, hi in zip(bounds, bounds[1:]):
        Projector(repo).run(rows[lo:hi])
    return repo


@SETTINGS
@given(histories(), st.lists(st.integers(1, 80), max_size=4))
def test_any_split_into_batches_gives_the_same_ledger(lines, splits):
    rows = log_of(lines)
    whole = project(rows)
    split = project(rows, splits)
    assert split.ledger_after(0, 10**9) == whole.ledger_after(0, 10**9)
    assert split.meta() == whole.meta()


@SETTINGS
@given(histories(), st.data())
def test_ledger_prefix_gives_the_score_at_every_time_as_known_then(lines, data):
    """For a position K: the ledger entries written up to K, read as 'latest entry at or
    before ts', equal a batch replay of the log prefix up to K evaluated at ts (incremental ==
    batch: the same rules on both sides)."""
    rows = log_of(lines)
    if not rows:
        return
    repo = project(rows)
    k = data.draw(st.integers(1, len(rows)), label="K")
    clock = clock_at(rows, k)
    by_freelancer, _ = fold(rows, k)
    timelines: dict[str, Freelancer] = {}
    for ch in repo.ledger_after(0, 10**9):
        if ch.position <= k:
            fb = None if ch.feedback_after is None else round(ch.feedback_after * 100)
            timelines.setdefault(ch.freelancer_id, Freelancer(ch.freelancer_id)).record(
                Entry(ev.parse_time(ch.effective_at), ch.seq, ch.jss_after, fb, None, ch.rules)
            )
    lo = min(ev.decode_recorded(d).event.at for _, d in rows[:k])
    probes = {lo, clock} | {data.draw(st.integers(lo, max(lo, clock)), label="ts") for _ in range(6)}
    for fid in by_freelancer:
        for ts in sorted(probes):
            ref = batch_score(rows, fid, ts, k)
            expected = (ref.jss, fb_hundredths(ref.feedback)) if ref else (None, None)
            entry = timelines.get(fid, Freelancer(fid)).lookup(ts)
            got = (entry.jss, entry.fb) if entry else (None, None)
            assert got == expected, (fid, ev.format_time(ts), k)


@SETTINGS
@given(histories(), st.data())
def test_summaries_at_t_k_equal_a_batch_replay_of_the_prefix(lines, data):
    rows = log_of(lines)
    if not rows:
        return
    repo = project(rows)
    k = data.draw(st.integers(1, len(rows)), label="K")
    by_freelancer, flags = fold(rows)
    rules = data.draw(st.sampled_from([None, *RULE_SETS.values()]), label="rules")
    for fid in by_freelancer:
        f = repo.load_freelancers([fid])[fid]
        contracts = list(repo.load_contracts(f.contracts).values())
        client_flags = ClientFacts(
            {k2: v.flags for k2, v in repo.load_clients(sorted({c.client for c in contracts})).items()},
            repo.contracts_of_client,
        )
        ts = data.draw(
            st.integers(ev.parse_time("2019-08-01T00:00:00Z"), ev.parse_time("2027-01-01T00:00:00Z")), label="T"
        )
        got = evaluate(contracts, client_flags, Cut(ts, INF, k), rules)
        ref = batch_score(rows, fid, ts, k, rules)
        if ref is None:  # nothing of this freelancer's is visible at (T, K)
            assert (got.assessments, got.jss, got.exact, got.feedback) == ([], None, None, None)
            continue
        assert (got.jss, got.exact, got.window, got.hidden_reason, got.feedback) == (
            ref.jss,
            ref.exact,
            ref.window,
            ref.hidden_reason,
            ref.feedback,
        )
        assert sorted(got.assessments) == sorted(ref.assessments)


@SETTINGS
@given(histories(), st.data())
def test_explain_causes_sum_exactly_to_the_change(lines, data):
    rows = log_of(lines)
    by_freelancer, flags = fold(rows)
    flags = ClientFacts.of(flags, [c for cs in by_freelancer.values() for c in cs])  # fair-2026
    lo, hi = ev.parse_time("2019-08-01T00:00:00Z"), ev.parse_time("2027-06-01T00:00:00Z")
    for contracts in by_freelancer.values():
        t1 = data.draw(st.integers(lo, hi), label="T1")
        t2 = data.draw(st.integers(t1, hi), label="T2")
        rules = data.draw(st.sampled_from([None, *RULE_SETS.values()]), label="rules")
        r = explain(contracts, flags, t1, t2, INF, rules)
        total = sum((c["jss_delta"] for c in r.causes), Fraction(0))
        assert total == r.delta
        zero = lambda x: x if x is not None else Fraction(0)  # noqa: E731
        assert r.delta == zero(r.end.exact) - zero(r.start.exact)
        # each instant's causes against scores evaluated on their own, just before the
        # instant (T - 1 us sees everything earlier) and at it (everything at T included)
        by_at: dict[int, list[dict]] = {}
        for c in r.causes:
            by_at.setdefault(c["at"], []).append(c)
        for at, here in by_at.items():
            assert t1 < at <= t2
            before = evaluate(contracts, flags, Cut(at - 1, INF, INF), rules)
            after = evaluate(contracts, flags, Cut(at, INF, INF), rules)
            assert zero(here[0]["jss_before"]) == zero(before.exact)
            assert zero(here[-1]["jss_after"]) == zero(after.exact)
            assert sum(c["jss_delta"] for c in here) == zero(after.exact) - zero(before.exact)
            assert (here[-1]["jss_shown_after"], here[-1]["feedback_after"]) == (after.jss, after.feedback)
