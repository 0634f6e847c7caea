"""The three audiences on the real CLI: no freelancer-audience output contains a private value
(every freelancer of a seeded simulated marketplace), the public audience sees the score only,
and swapping two private answers changes no freelancer-audience output (hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings

from engine.cli import main_group
from engine.simulate import simulate
from projections import toprated
from reputation import events as ev
from tests.audience_checks import assert_no_private, forbidden_words
from tests.property.test_audience_invariance import swapped_pair

SEED = 11  # the seeded marketplace: 30 freelancers over 48 months from 2019-01


def cli(home: Path, *args: str) -> str:
    done = CliRunner().invoke(main_group, ["--home", str(home), *args], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    home = tmp_path_factory.mktemp("audiences")
    lines = list(simulate(30, 48, SEED, "2019-01-01T00:00:00Z"))
    path = home / "market.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    cli(home, "ingest", str(path))
    cli(home, "tick", "--to", "2023-01-02T00:00:00Z")
    return home, lines


def outputs(home: Path, freelancer: str, audience: str) -> dict[str, str]:
    out = {
        "score": cli(home, "score", freelancer, "--audience", audience, "--json"),
        "history": cli(home, "history", freelancer, "--audience", audience, "--json"),
    }
    if audience != "public":
        out["explain"] = cli(
            home, "explain", freelancer, "--from", "2019-01-01T00:00:00Z", "--audience", audience, "--json"
        )
        out["explain (text)"] = cli(
            home, "explain", freelancer, "--from", "2019-01-01T00:00:00Z", "--audience", audience
        )
        out["score (text)"] = cli(home, "score", freelancer, "--audience", audience)
    return out


def test_no_freelancer_output_contains_a_private_value(market):
    home, lines = market
    words = forbidden_words(lines)
    groups = 0
    for freelancer in sorted(words):
        for name, text in outputs(home, freelancer, "freelancer").items():
            assert_no_private(text, words[freelancer], f"{name} --audience freelancer of {freelancer}")
        groups += '"kind": "private_feedback"' in outputs(home, freelancer, "freelancer")["explain"]
    assert groups  # the grouped line is exercised
    # the check can fail: the trust audience names the private answers
    trust = cli(home, "explain", sorted(words)[0], "--from", "2019-01-01T00:00:00Z", "--json")
    assert "recommend" in trust


def test_the_public_audience_sees_the_published_score_only(market):
    home, lines = market
    freelancer = sorted(forbidden_words(lines))[0]
    score = json.loads(cli(home, "score", freelancer, "--audience", "public", "--json"))
    assert set(score) == {
        "freelancer_id",
        "audience",
        "as_of",
        "published_at",
        "jss",
        "jss_hidden_reason",
        "feedback_score",
        "top_rated",  # the badge is public: it, and the Monday it was evaluated, nothing behind it
    }
    assert set(score["top_rated"]) == {"top_rated", "evaluated_at"}
    assert score["published_at"] in ("2023-01-01T00:00:00Z",)  # the clock is 2023-01-02: the 1st
    for line in cli(home, "history", freelancer, "--audience", "public", "--json").splitlines():
        assert "causes" not in json.loads(line)
    done = CliRunner().invoke(
        main_group,
        ["--home", str(home), "explain", freelancer, "--from", "2020-01-01T00:00:00Z", "--audience", "public"],
    )
    assert done.exit_code == 2 and "public audience" in done.output


def test_freelancer_history_lists_publications_not_ledger_instants(market):
    home, lines = market
    freelancer = sorted(forbidden_words(lines))[0]
    entries = [
        json.loads(x) for x in cli(home, "history", freelancer, "--audience", "freelancer", "--json").splitlines()
    ]
    assert entries
    for e in entries:
        at = ev.parse_time(e["published_at"])
        if e["published_at"][8:] not in ("01T00:00:00Z", "15T00:00:00Z"):  # else a Top Rated flip, at its Monday
            assert at == toprated.monday_at_or_before(at)
            assert e["top_rated_before"] != e["top_rated_after"] and e["jss_before"] == e["jss_after"]
        assert e["change_id"] == f"{freelancer}@{e['published_at']}"
        total = sum(float(c["jss_delta"]) for c in e["causes"])
        assert (e["jss_before"], e["jss_after"]) != (None, None) or e["feedback_before"] != e["feedback_after"]
        assert abs(total) < 101


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
@given(pair=swapped_pair())
def test_swapping_two_private_answers_changes_no_freelancer_cli_output(pair, tmp_path_factory):
    seen = []
    for n, lines in enumerate(pair):
        home = tmp_path_factory.mktemp(f"swap{n}")
        path = home / "log.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        CliRunner().invoke(
            main_group,
            ["--home", str(home), "ingest", str(path), "--skip-invalid", "--dead-letter", str(home / "dead.jsonl")],
        )
        score = json.loads(cli(home, "score", "f0", "--json"))
        counted = {c["contract_id"]: c["counted"] and c["outcome"] is not None for c in score["contracts"]}
        assume(counted.get("A") and counted.get("B"))
        start = min(json.loads(x)["occurred_at"] for x in lines)
        seen.append(
            [
                cli(home, "score", "f0", "--audience", "freelancer", "--json"),
                cli(home, "explain", "f0", "--from", start, "--audience", "freelancer", "--json"),
                cli(home, "history", "f0", "--audience", "freelancer", "--json"),
                cli(home, "score", "f0", "--audience", "public", "--json"),
            ]
        )
    assert seen[0] == seen[1]


def test_the_audit_has_the_published_scores(market):
    home, lines = market
    rows = json.loads(
        cli(
            home,
            "audit",
            "--json",
            "--sql",
            "SELECT * FROM jss_published_as_of(TIMESTAMPTZ '2022-06-20 00:00:00+00') ORDER BY freelancer_id",
        )
    )
    assert len(rows) >= 20
    for row in rows[:8]:
        public = json.loads(
            cli(
                home, "score", row["freelancer_id"], "--as-of", "2022-06-20T00:00:00Z", "--audience", "public", "--json"
            )
        )
        assert public["published_at"] == "2022-06-15T00:00:00Z"
        assert (row["jss"], row["feedback_score"]) == (public["jss"], public["feedback_score"])
        assert row["published_at"].startswith("2022-06-15")


def test_the_audit_publishes_on_the_days_the_projections_were_built_with(tmp_path, monkeypatch):
    """REPUTATION_PUBLISH_DAYS reaches SQL: jss_published_as_of reads the JSS at the latest of
    those days (this month's or the last month's), as the public score does."""
    monkeypatch.setenv("REPUTATION_PUBLISH_DAYS", "8,22")
    path = tmp_path / "market.jsonl"
    path.write_bytes(b"\n".join(simulate(20, 40, SEED + 1, "2019-01-01T00:00:00Z")) + b"\n")
    cli(tmp_path, "ingest", str(path))
    cli(tmp_path, "tick", "--to", "2022-06-30T00:00:00Z")
    for at, published in [("2022-06-20", "2022-06-08"), ("2022-06-05", "2022-05-22"), ("2022-06-22", "2022-06-22")]:
        sql = f"SELECT * FROM jss_published_as_of(TIMESTAMPTZ '{at} 00:00:00+00') ORDER BY freelancer_id"
        rows = json.loads(cli(tmp_path, "audit", "--json", "--sql", sql))
        assert len(rows) >= 10
        for row in rows[:6]:
            public = json.loads(
                cli(
                    tmp_path,
                    "score",
                    row["freelancer_id"],
                    "--as-of",
                    f"{at}T00:00:00Z",
                    "--audience",
                    "public",
                    "--json",
                )
            )
            assert public["published_at"] == f"{published}T00:00:00Z"
            assert row["published_at"].startswith(published), (at, row["published_at"])
            assert (row["jss"], row["feedback_score"]) == (public["jss"], public["feedback_score"])
