"""What a new user trips on, through the real CLI: restated history entries, the empty or
missing store, store URLs, options after the command, a tick to the past, explain's order of
times, --known-at without --as-of, and text that reads well."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from engine.cli.render import rounded_shares
from tests.scenarios.builder import Market, d
from tests.scenarios.test_causes import base
from tests.scenarios.worked_example import FREELANCER
from tests.scenarios.worked_example import lines as worked_example

CLI = [sys.executable, "-c", "from engine.cli import main; main()"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("REPUTATION_")}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def ok(*args: str, cwd: Path | None = None) -> str:
    done = run(*args, cwd=cwd)
    assert done.returncode == 0, (args, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def restated_home(tmp_path) -> Path:
    """P0..P3 positive (settled 2019-01-12), M negative settling 2019-04-15: (4 - 1) / 5 = 60;
    clock 2019-06-01. Then a late contract N, negative, settling 2019-03-15: from 03-15 on
    (4 - 1) / 5 = 60 and from 04-15 on (4 - 2) / 6 = 33.3 -> 33, which restates the 04-15
    entry (it said 60)."""
    m = base(Market())
    m.contract("M", closed=d("2019-04-01"), client="k-3", reason="freelancer_unresponsive")
    m.tick(d("2019-06-01"))
    home = tmp_path / "home"
    ok("--home", str(home), "ingest", str(write(tmp_path / "a.jsonl", m.lines)))
    ok("--home", str(home), "project")
    late = Market(prefix="late").contract("N", closed=d("2019-03-01"), client="k-4", reason="freelancer_unresponsive")
    ok("--home", str(home), "ingest", str(write(tmp_path / "b.jsonl", late.lines)))
    return home


def test_history_hides_restated_entries_and_marks_them_with_all(restated_home):
    entries = [
        json.loads(x) for x in ok("--home", str(restated_home), "history", "f-1", "--all", "--json").splitlines()
    ]
    at_0415 = [e for e in entries if e["effective_at"] == "2019-04-15T00:00:00Z"]
    assert [(e["jss_after"], e["restated_by"]) for e in at_0415] == [(60, at_0415[1]["seq"]), (33, None)]
    assert at_0415[1]["causes"][0]["kind"] == "late_event"
    current = [json.loads(x) for x in ok("--home", str(restated_home), "history", "f-1", "--json").splitlines()]
    assert [e["seq"] for e in current] == [e["seq"] for e in entries if e["restated_by"] is None]
    # read as "the latest entry at or before ts", the current history gives today's values. No
    # Top Rated here, before the late N or after: the JSS 100 of 2019-01-12 is published on 01-15,
    # so the first Monday it counts is 01-21 and the 13th would be 04-15, when M's settlement at
    # 00:00 is published (60): 12 of 16 (the badge reads the published JSS, rules.md)
    assert [
        (e["effective_at"][:10], e["jss_after"], e["top_rated_after"])
        for e in current
        if e["effective_at"] >= "2019-03"
    ] == [("2019-03-15", 60, False), ("2019-04-15", 33, False)]
    text = ok("--home", str(restated_home), "history", "f-1")
    assert "(restated by #" not in text and "1 entry restated by late events not shown" in text
    shown_all = ok("--home", str(restated_home), "history", "f-1", "--all")
    assert f"(restated by #{at_0415[1]['seq']})" in shown_all


def test_a_missing_or_empty_store_says_where_and_creates_nothing(tmp_path):
    done = run("--home", str(tmp_path / "nothing"), "score", "f-1")
    assert done.returncode == 4 and str(tmp_path / "nothing" / "events.sqlite") in done.stderr
    assert not (tmp_path / "nothing").exists()
    ok("--home", str(tmp_path / "empty"), "project")  # creates an empty store
    done = run("--home", str(tmp_path / "empty"), "history", "f-1")
    assert done.returncode == 4 and "is empty" in done.stderr and str(tmp_path / "empty") in done.stderr


@pytest.fixture
def home(tmp_path) -> Path:
    h = tmp_path / "we"
    ok("--home", str(h), "ingest", str(write(tmp_path / "we.jsonl", worked_example())))
    return h


@pytest.mark.parametrize(
    "store, code, says",
    [
        ("mysql://x@y/z", 2, "is not a store"),
        ("sqlitex", 2, "is not a store"),
        ("sqlite:///", 2, "is not a store"),
        ("sqlite:///{tmp}/other/events.sqlite", 4, "no event store at"),
    ],
)
def test_store_settings_are_accepted_forms_or_refused(home, tmp_path, store, code, says):
    done = run("--home", str(home), "--store", store.format(tmp=tmp_path), "score", FREELANCER)
    assert done.returncode == code and says in done.stderr and "Traceback" not in done.stderr


def test_a_sqlite_url_names_the_event_file(home, tmp_path):
    url = f"sqlite:///{home}/events.sqlite"
    out = json.loads(ok("--home", str(tmp_path / "elsewhere"), "--store", url, "score", FREELANCER, "--json"))
    assert out["jss"] == 75


def test_options_after_the_command_and_version(home):
    assert json.loads(ok("score", FREELANCER, "--json", "--home", str(home)))["jss"] == 75
    # after the command wins over before it
    assert json.loads(ok("--home", "/nonexistent", "score", FREELANCER, "--home", str(home), "--json"))["jss"] == 75
    assert ok("--version").startswith("reputation, version ")


def test_tick_to_the_past_is_refused_and_ticking_twice_is_a_no_op(home):
    done = run("--home", str(home), "tick", "--to", "2018-01-01T00:00:00Z")
    assert done.returncode == 3 and "would not move it" in done.stderr
    assert "advanced to 2019-03-01" in ok("--home", str(home), "tick", "--to", "2019-03-01T00:00:00Z")
    assert "already advanced" in ok("--home", str(home), "tick", "--to", "2019-03-01T00:00:00Z")


@pytest.mark.parametrize(
    "args",
    [
        ["score", FREELANCER, "--known-at", "2026-01-01"],
        ["explain", FREELANCER, "--from", "2019-01-01T00:00:00Z", "--known-at", "2026-01-01"],
        ["explain", FREELANCER, "--from", "2019-02-01T00:00:00Z", "--to", "2019-01-01T00:00:00Z"],
        ["score", FREELANCER, "--as-of", "yesterday"],
        ["score", FREELANCER, "--rules", "jss-1999"],
    ],
)
def test_bad_options_are_usage_errors_without_traceback(home, args):
    done = run("--home", str(home), *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip()


def test_known_at_alone_evaluates_at_the_clock_as_known_then(home):
    # position 20 is the last event of 2019-01-05 00:00 in the worked example's log
    out = json.loads(ok("--home", str(home), "score", FREELANCER, "--known-at", "@20", "--json"))
    export = [json.loads(x) for x in ok("--home", str(home), "export", "--to", "@20").splitlines()]
    assert out["as_of"] == max(e["event"]["occurred_at"] for e in export)
    assert out["known_at"] == "@20" and "note" not in out


def test_text_output_reads_well(home):
    score = ok("--home", str(home), "score", FREELANCER, "--as-of", "2030-01-01T00:00:00Z", "--rules", "jss-2024")
    assert "None-month" not in score and "null" not in score
    assert "deadlines up to as_of" in score
    one = ok("--home", str(home), "score", FREELANCER, "--as-of", "2019-01-05T00:00:00Z", "--known-at", "@6")
    assert "counted contracts" in one or "counted contract:" in one
    assert "1 counted contracts" not in one
    text = ok("--home", str(home), "explain", FREELANCER, "--from", "2018-12-01T00:00:00Z")
    assert "[JSS shown again]" in text and "no JSS shown" not in text
    assert max(len(line) for line in text.splitlines()) <= 120


@pytest.mark.parametrize(
    "deltas, total",
    [
        ([-8.333333, -8.333333, -8.333334], -25.0),
        ([33.333333, 33.333333, 33.333334], 100.0),
        ([0.005, 0.005], 0.01),
        ([-12.5, 12.5, -0.004], -0.004),
    ],
)
def test_printed_explain_deltas_sum_to_the_printed_total(deltas, total):
    shares = rounded_shares(deltas, total)
    assert sum(shares, Decimal(0)) == Decimal(str(total)).quantize(Decimal("0.01"), "ROUND_HALF_UP")
    assert all(abs(float(s) - d) < 0.01 for s, d in zip(shares, deltas))


def test_a_reader_does_not_wait_for_a_long_catch_up_of_another_process(home, tmp_path):
    """While another process holds the catch-up, `score` answers from what is committed after
    a bounded wait and says how far behind it is."""
    import time

    from projections.store import sqlite_repo

    ok("--home", str(home), "project")
    ok("--home", str(home), "tick", "--to", "2019-06-01T00:00:00Z")  # one event the projections lack
    repo = sqlite_repo(str(home / "projections.sqlite"))
    try:
        with repo.catch_up_lock(None) as got:  # "another process" catching up
            assert got
            start = time.monotonic()
            done = run("--home", str(home), "score", FREELANCER, "--json")
            waited = time.monotonic() - start
    finally:
        repo.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["jss"] == 75
    assert "events behind the log" in done.stderr and "answering from what is committed" in done.stderr
    assert waited < 30


def test_a_bad_time_is_quoted_as_given(home):
    done = run("--home", str(home), "score", FREELANCER, "--as-of", "yesterday")
    assert done.returncode == 2 and "'yesterday'" in done.stderr and "yesTerday" not in done.stderr


def test_a_missing_postgresql_database_is_named_not_the_server(tmp_path):
    from tests.services import PG_URL, pg_admin

    pg_admin().close()  # the server is there (or the test is skipped/failed as a missing service)
    url = PG_URL.rsplit("/", 1)[0] + "/no_such_database_here"
    done = run("--home", str(tmp_path), "--store", url, "score", "f-1")
    assert done.returncode == 5, done.stderr
    assert "no database 'no_such_database_here'" in done.stderr and "CREATE DATABASE" in done.stderr
    assert "Start it" not in done.stderr
