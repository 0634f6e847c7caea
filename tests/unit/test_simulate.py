"""`reputation simulate` (`engine.simulate`): determinism, validity of every line, realism.

Every line is checked by the independent rule checker of `tests.simulated_market` and, in the
last test, goes through the engine's own ingest with the top-rated perk guard.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

import engine.simulate.market as market
from engine.simulate import Simulation, add_months, simulate
from engine.simulate.command import simulate_command
from reputation import clock
from reputation import events as ev
from reputation.ingest import ingest
from reputation.store import MemoryStore
from tests.simulated_market import PERK_END, RULES_2020, check_all, stats

START = "2018-06-01T00:00:00Z"
ID_WIDTHS = {"f-": 6, "k-": 6, "c-": 6}
UTC = UTC


def end_of(months: int, start: str = START) -> int:
    """The simulated end in microseconds: `months` calendar months after the start's whole second."""
    first = clock.EPOCH + timedelta(seconds=-(-ev.parse_time(start) // ev.MICROS))
    return ev.parse_time(add_months(first, months).isoformat())


# -- calendar months ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2024, 1, 31, 13, 30, tzinfo=UTC), 1, datetime(2024, 2, 29, 13, 30, tzinfo=UTC)),
        (datetime(2023, 1, 31, tzinfo=UTC), 1, datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2023, 3, 31, tzinfo=UTC), -1, datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2018, 6, 1, tzinfo=UTC), 84, datetime(2025, 6, 1, tzinfo=UTC)),
        (datetime(2023, 12, 15, tzinfo=UTC), 1, datetime(2024, 1, 15, tzinfo=UTC)),
        (datetime(2024, 1, 15, tzinfo=UTC), -13, datetime(2022, 12, 15, tzinfo=UTC)),
        (datetime(2023, 2, 28, tzinfo=UTC), 0, datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2023, 2, 28, tzinfo=UTC), 1, datetime(2023, 3, 28, tzinfo=UTC)),
    ],
)
def test_add_months_clamps_the_day_to_the_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_add_months_out_of_range_is_a_value_error():
    with pytest.raises(ValueError):
        add_months(datetime(9999, 12, 1, tzinfo=UTC), 1)


# -- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_run() -> list[bytes]:
    """80 freelancers over 84 months from 2018-06: crosses 2020-03-01 and 2024-09-03."""
    return list(simulate(80, 84, seed=7))


@pytest.fixture(scope="module")
def long_stats(long_run) -> dict:
    return stats(long_run)


# -- determinism and format -------------------------------------------------------


def test_same_seed_same_bytes():
    a = list(simulate(25, 18, seed=11))
    b = list(simulate(25, 18, seed=11))
    assert a and a == b


def test_output_bytes_are_pinned(long_run):
    """The exact bytes of two runs, recorded before `reputation/simulate.py` became this package:
    a change to the simulator's output must be deliberate (then re-record these)."""
    assert hashlib.sha256(b"".join(x + b"\n" for x in long_run)).hexdigest() == (
        "eb8e9afa5bbcb2d493728bd258603f39fefb1276b13e3d4f19ac950baf145f1c"
    )
    odd = simulate(30, 40, seed=5, start="2019-01-31T13:30:00+02:00", cohort_size=7)
    assert hashlib.sha256(b"".join(x + b"\n" for x in odd)).hexdigest() == (
        "83cfb44a726bf4fb50d34afa1df673b8f152107505f0a15486228b087bfc0d09"
    )


def test_different_seed_different_bytes():
    a = b"\n".join(simulate(25, 18, seed=11))
    b = b"\n".join(simulate(25, 18, seed=12))
    assert hashlib.sha256(a).digest() != hashlib.sha256(b).digest()


def test_lines_are_canonical_events(long_run):
    """Every line decodes, re-encodes to the very same bytes, and has well-formed ids."""
    assert long_run
    for line in long_run:
        assert isinstance(line, bytes) and not line.endswith(b"\n")
        e = ev.decode_event(line)
        assert ev.encode_event(e) == line
        assert e.event_id.startswith("e-")
        assert e.occurred_at.endswith("Z")
        for name in ("contract_id", "freelancer_id", "client_id", "continues"):
            value = getattr(e, name, None)
            if value is not None:
                prefix = value[:2]
                assert prefix in ID_WIDTHS and len(value) == 2 + ID_WIDTHS[prefix], value
                assert value[2:].isdigit(), value


def test_every_rule_holds(long_run):
    checker = check_all(long_run, end=end_of(84))
    assert checker.n == len(long_run)


def test_rules_hold_across_cohorts_and_other_starts():
    """Small cohorts (several time-ordered runs) and an odd start still give valid output."""
    lines = list(simulate(30, 40, seed=5, start="2019-01-31T13:30:00+02:00", cohort_size=7))
    check_all(lines, end=end_of(40, "2019-01-31T13:30:00+02:00"))
    assert len({ev.decode_event(x).freelancer_id for x in lines if b'"ContractOpened"' in x}) > 20


def test_contract_events_in_occurred_order(long_run):
    last: dict[str, int] = {}
    for line in long_run:
        e = ev.decode_event(line)
        cid = getattr(e, "contract_id", None)
        if cid is None:
            continue
        assert e.at >= last.get(cid, e.at), f"{e.event_id} of {cid} goes back in time"
        last[cid] = e.at


def test_nothing_after_the_end_and_nothing_for_empty_sizes():
    assert list(simulate(0, 36, seed=1)) == []
    assert list(simulate(10, 0, seed=1)) == []
    lines = list(simulate(10, 3, seed=1))
    end = end_of(3)
    assert lines and all(ev.decode_event(x).at < end for x in lines)


def test_streaming_first_line_without_generating_everything(monkeypatch):
    """Millions of events in total, yet the first line needs only the first cohort's freelancers
    and one planned contract (nothing is pre-built)."""
    created: list[int] = []
    planned: list[int] = []
    new_freelancer, plan_contract = Simulation.new_freelancer, market.plan_contract

    def counting_freelancer(self, i):
        created.append(i)
        return new_freelancer(self, i)

    def counting_contract(*args):
        planned.append(1)
        return plan_contract(*args)

    monkeypatch.setattr(Simulation, "new_freelancer", counting_freelancer)
    monkeypatch.setattr(market, "plan_contract", counting_contract)
    it = simulate(5_000, 600, seed=1, cohort_size=500)
    first = next(it)
    assert isinstance(ev.decode_event(first), ev.ContractOpened)
    assert created == list(range(1, 501))
    assert len(planned) == 1


# -- size -------------------------------------------------------------------------


def test_size_per_freelancer():
    lines = list(simulate(60, 36, seed=1))
    per_freelancer = len(lines) / 60
    assert 50 <= per_freelancer <= 110, per_freelancer


# -- realism ----------------------------------------------------------------------


def test_mostly_five_stars_in_public(long_stats):
    assert long_stats["five_star_share"] > 0.6


def test_dissatisfied_clients_often_polite_in_public(long_stats):
    assert long_stats["unhappy"] >= 30
    assert 0.15 <= long_stats["unhappy_polite_share"] <= 0.45


def test_clients_are_shared(long_stats):
    assert long_stats["clients_multi"] >= long_stats["clients"] // 3
    assert long_stats["freelancers"] == 80


def test_money_shapes(long_stats):
    s = long_stats
    assert s["zero_dollar_closed"] >= 5
    assert set(s["fixed_payment_counts"]) >= {0, 1, 2, 3}
    assert max(s["fixed_payment_counts"]) <= 4  # 1-3 milestones plus at most one bonus
    assert s["hourly_span_90"] >= 10
    assert s["hourly_span_180"] >= 3
    assert s["refunds"] >= 5
    assert s["bonus_after_close"] >= 10


def test_scope_changes_and_reopenings(long_stats):
    assert long_stats["scope_changes"] >= 20
    assert long_stats["continues"] >= 5
    assert long_stats["continues_after_nln"] == long_stats["continues"]


def test_feedback_shapes(long_stats):
    s = long_stats
    assert s["only_client_public"] >= 10
    assert s["only_freelancer_public"] >= 10
    assert s["no_feedback"] >= 5
    assert s["client_private_share"] > 0.6
    assert s["end_reasons"] >= 20
    assert s["allowances"] >= 5
    assert s["revisions"] >= s["allowances"]


def test_closers_and_reasons(long_stats):
    by = long_stats["closed_by"]
    assert by["client"] > by["freelancer"] > 0 and by["platform"] > 0
    reasons = long_stats["close_reasons_by_client"]
    assert reasons.most_common(1)[0][0] == "completed_successfully"
    assert len(reasons) >= 5


def test_flags_and_removals(long_stats):
    s = long_stats
    assert s["flagged"] >= 1 and s["unflagged"] >= 1
    assert s["removals"]["policy_violation"] + s["removals"]["dispute_upheld"] >= 3
    assert s["perks"] and max(s["perks"]) < PERK_END


def test_history_crosses_rule_switches(long_stats):
    assert long_stats["first"] < RULES_2020 and long_stats["last"] > PERK_END


def test_late_arriving_events(long_stats):
    """A few events are emitted after events of other contracts that occurred later."""
    assert 0.003 <= long_stats["late_share"] <= 0.04, long_stats["late_share"]


def test_default_size_is_time_ordered_but_for_late_events():
    lines = list(simulate(40, 24, seed=3))
    s = stats(lines)
    assert s["late"] > 0 and s["late_share"] < 0.04


# -- the command ------------------------------------------------------------------


def test_command_writes_the_same_lines(tmp_path):
    out = tmp_path / "m.jsonl"
    runner = CliRunner()
    result = runner.invoke(
        simulate_command, ["--freelancers", "12", "--months", "10", "--seed", "4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    expected = b"".join(x + b"\n" for x in simulate(12, 10, seed=4))
    assert out.read_bytes() == expected
    stdout = runner.invoke(simulate_command, ["--freelancers", "12", "--months", "10", "--seed", "4"])
    assert stdout.exit_code == 0
    assert stdout.stdout_bytes == expected


def test_command_rejects_a_bad_start():
    result = CliRunner().invoke(simulate_command, ["--start", "2018-06-01T00:00:00"])
    assert result.exit_code == 2


def test_simulation_progress_reaches_one_and_reruns_identically():
    sim = Simulation(5, 6, seed=1)
    first = list(sim)
    assert sim.progress == 1.0 and sim.lines == len(first)
    assert list(sim) == first


# -- through the engine's own validator ---------------------------------------------


def test_engine_accepts_the_whole_simulation():
    """The real ingest (the top-rated perk check is always on) accepts every line (perks included)."""
    lines = list(simulate(12, 84, seed=2))
    assert any(b"top_rated_perk" in x for x in lines)
    result = ingest(MemoryStore(), lines)
    assert [r.message() for r in result.rejects[:5]] == []
    assert result.written and result.accepted == len(lines)
