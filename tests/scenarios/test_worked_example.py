"""The worked example of rules.md end to end through the command line: `ingest`, `tick`,
`score`, `explain`, `history`, with `REPUTATION_HOME` in a temporary folder (embedded store).

Expected values are those of rules.md's worked example, worked by hand:
- jss-2016: eight counted, seven positive, one negative (X1: no_longer_needed):
  (7 - 1) / 8 = 75, from the 6-month window (all windows tie at 75: the shortest is named);
  feedback (7 * 5 + 4) / 8 = 4.875 -> 4.88; X2 (open) not counted.
- jss-2020 and jss-2024: X1's no_longer_needed is neutral and its private 9 makes it
  positive: 100.
- X1 closed 2019-01-04T00:00Z: it leaves the 6-month window on 2019-07-04 + 1 day.
- Without X1: 7/7 = 100; X1 neutral: (7 - 0) / 8 = 87.5.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from tests.scenarios import worked_example

REPUTATION = str(Path(sys.executable).with_name("reputation"))
CATHY = worked_example.FREELANCER


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPUTATION_")}
    env["REPUTATION_HOME"] = str(home)
    return subprocess.run([REPUTATION, *args], env=env, capture_output=True, text=True, timeout=120)


def ok(home: Path, *args: str) -> str:
    done = run(home, *args)
    assert done.returncode == 0, (args, done.returncode, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("worked-example")
    events = home / "worked-example.jsonl"
    events.write_bytes(b"\n".join(worked_example.lines()) + b"\n")
    ok(home, "ingest", str(events))
    ok(home, "tick", "--to", "2019-03-01T00:00:00Z")
    return home


@pytest.fixture(scope="module")
def score(home) -> dict:
    return json.loads(ok(home, "score", CATHY, "--json"))


@pytest.fixture(scope="module")
def explained(home) -> dict:
    return json.loads(
        ok(
            home,
            "explain",
            CATHY,
            "--from",
            "2019-01-01T00:00:00Z",
            "--to",
            "2019-03-01T00:00:00Z",
            "--rules",
            "jss-2016",
            "--json",
        )
    )


def contract(score: dict, contract_id: str) -> dict:
    (found,) = [c for c in score["contracts"] if c["contract_id"] == contract_id]
    return found


def test_score_under_jss_2016(score):
    assert score["freelancer_id"] == CATHY
    assert score["as_of"] == "2019-03-01T00:00:00Z"
    assert score["rules"] == "jss-2016"
    assert (score["jss"], score["jss_exact"], score["jss_window_months"], score["jss_hidden_reason"]) == (
        75,
        75.0,
        6,
        None,
    )
    assert score["feedback_score"] == 4.88
    counted = score["counted"]
    assert (counted["contracts"], counted["positive"], counted["neutral"], counted["negative"]) == (8, 7, 0, 1)
    assert counted["weight"] == 8.0


def test_x1_is_negative_because_of_no_longer_needed(score):
    x1 = contract(score, "X1")
    assert (x1["outcome"], x1["counted"], x1["weight"], x1["client_id"]) == ("negative", True, 1.0, "k-x")
    assert any("no_longer_needed" in why for why in x1["why"])
    assert x1["closed_at"] == "2019-01-04T00:00:00Z"
    assert x1["settled_at"] == "2019-01-06T00:00:00Z"  # both public feedbacks
    assert x1["leaves_windows"] == {
        "6": "2019-07-05T00:00:00Z",
        "12": "2020-01-05T00:00:00Z",
        "24": "2021-01-05T00:00:00Z",
    }


def test_x2_is_not_counted(score):
    x2 = contract(score, "X2")
    assert x2["counted"] is False
    assert x2["outcome"] is None


def test_every_other_contract_is_positive(score):
    others = [c for c in score["contracts"] if c["contract_id"] not in ("X1", "X2")]
    assert len(others) == 7
    assert all(c["outcome"] == "positive" and c["counted"] for c in others)


@pytest.mark.parametrize("rules, window", [("jss-2020", 6), ("jss-2024", 24)])
def test_same_history_under_newer_rules_scores_100(home, rules, window):
    out = json.loads(ok(home, "score", CATHY, "--rules", rules, "--json"))
    assert (out["rules"], out["jss"], out["jss_exact"], out["jss_window_months"]) == (rules, 100, 100.0, window)
    assert contract(out, "X1")["outcome"] == "positive"
    assert out["feedback_score"] == 4.88  # the feedback score does not depend on the rule set


def test_explain_causes_sum_exactly(explained):
    total = Fraction(explained["jss_delta_exact"])
    assert sum(Fraction(c["jss_delta_exact"]) for c in explained["causes"]) == total
    # from: no counted contract (undefined, 0 in the sums); to: 75
    assert explained["from"]["jss_exact"] is None
    assert explained["to"]["jss_exact"] == 75.0
    assert total == 75 and explained["jss_delta"] == 75.0
    # every cause is in (from, to], in valid-time order
    ats = [c["at"] for c in explained["causes"]]
    assert ats == sorted(ats) and all("2019-01-01T00:00:00Z" < at <= "2019-03-01T00:00:00Z" for at in ats)


def test_explain_names_x1_as_the_whole_gap_to_100(explained):
    moving = [c for c in explained["causes"] if Fraction(c["jss_delta_exact"]) != 0]
    x1 = [c for c in moving if c["contract_id"] == "X1"]
    assert len(x1) == 1
    (cause,) = x1
    assert Fraction(cause["jss_delta_exact"]) == -25 and cause["jss_delta"] == -25.0
    assert (cause["jss_before"], cause["jss_after"]) == (100.0, 75.0)
    assert cause["at"] == "2019-01-06T00:00:00Z"
    assert "no_longer_needed" in cause["text"]
    # the only other move is the first settled contract taking the JSS from undefined to 100
    assert [Fraction(c["jss_delta_exact"]) for c in moving if c["contract_id"] != "X1"] == [100]


def test_explain_counterfactual_for_x1(explained):
    (cf,) = [c for c in explained["counterfactuals"] if c["contract_id"] == "X1"]
    assert (cf["jss_without"], cf["jss_if_neutral"]) == (100.0, 87.5)
    assert contract(explained["to"], "X1")["leaves_windows"]["6"] == "2019-07-05T00:00:00Z"
    # only X1 holds the score below 100
    assert [c["contract_id"] for c in explained["counterfactuals"]] == ["X1"]


@pytest.mark.parametrize(
    "command",
    [
        [
            "explain",
            CATHY,
            "--from",
            "2019-01-01T00:00:00Z",
            "--to",
            "2019-03-01T00:00:00Z",
            "--rules",
            "jss-2016",
            "--json",
        ],
        ["score", CATHY, "--json"],
    ],
)
def test_freelancer_audience_never_sees_private_answers(home, command):
    trust = ok(home, *command)
    assert "recommend 10" in trust and "recommend 9" in trust  # the trust view names them
    mine = ok(home, *command, "--audience", "freelancer")
    assert "recommend 9" not in mine and "recommend 10" not in mine
    assert "recommend" not in mine


def test_history_has_the_change_to_75_caused_by_x1(home):
    changes = [json.loads(line) for line in ok(home, "history", CATHY, "--json").splitlines() if line.strip()]
    to_75 = [ch for ch in changes if ch["jss_after"] == 75 and ch["jss_before"] != 75]
    assert len(to_75) == 1
    (ch,) = to_75
    assert (ch["jss_before"], ch["effective_at"], ch["rules"]) == (100, "2019-01-06T00:00:00Z", "jss-2016")
    assert any(c["contract_id"] == "X1" for c in ch["causes"])
    assert ch["feedback_after"] == 4.88
    assert len({ch["change_id"] for ch in changes}) == len(changes)


@pytest.mark.parametrize(
    "command",
    [
        ["score", "f-nobody"],
        ["score", "f-nobody", "--json"],
        ["history", "f-nobody"],
        ["explain", "f-nobody", "--from", "2019-01-01T00:00:00Z"],
    ],
)
def test_unknown_freelancer_exits_4(home, command):
    done = run(home, *command)
    assert done.returncode == 4, (done.stdout, done.stderr)
    assert "f-nobody" in done.stderr


@pytest.mark.parametrize("command", [["score", CATHY], ["explain", CATHY, "--from", "2019-01-01T00:00:00Z"]])
def test_unknown_rule_set_exits_2_listing_the_names(home, command):
    done = run(home, *command, "--rules", "jss-1999")
    assert done.returncode == 2, (done.stdout, done.stderr)
    for name in ("jss-1999", "jss-2016", "jss-2020", "jss-2024"):
        assert name in done.stderr
