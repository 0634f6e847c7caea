"""The Python API (`reputation.open`): the README's example as written, typed results equal to
the CLI's --json, and the typed errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

import reputation
from reputation.errors import BadRequest, InvalidInput, NotFound
from tests.scenarios.worked_example import FREELANCER, lines

ROOT = Path(__file__).resolve().parents[2]


def test_readme_example_runs_as_written():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Python API\n\n```python\n(.*?)```", text, re.S)
    assert block, "the README has a Python API example"
    code = block.group(1)
    home = re.search(r'reputation.open\("([^"]+)"\)', code).group(1)
    shutil.rmtree(home, ignore_errors=True)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["75 4.88", "['X1']", "2019-01-01T00:00:00Z None", "[(50,)]"]


@pytest.fixture
def engine(tmp_path):
    with reputation.open(str(tmp_path / "home")) as e:
        e.ingest(lines())
        yield e


def cli(home: Path, *args: str) -> str:
    cmd = [sys.executable, "-c", "from engine.cli import main; main()", "--home", str(home), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_score_and_explain_equal_the_cli_json(engine, tmp_path):
    home = tmp_path / "home"
    for rules in ("jss-2016", "jss-2024"):
        api = msgspec.to_builtins(engine.score(FREELANCER, rules=rules))
        assert api == json.loads(cli(home, "score", FREELANCER, "--rules", rules, "--json"))
    api = msgspec.to_builtins(engine.explain(FREELANCER, start="2019-01-01T00:00:00Z", audience="freelancer"))
    assert api == json.loads(
        cli(home, "explain", FREELANCER, "--from", "2019-01-01T00:00:00Z", "--audience", "freelancer", "--json")
    )


def test_history_client_and_audit_agree(engine):
    history = engine.history(FREELANCER)
    assert [h.seq for h in history] == sorted(h.seq for h in history) and history
    last = engine.audit(
        "SELECT jss_after FROM score_changes WHERE freelancer_id = $f ORDER BY seq DESC LIMIT 1", {"f": FREELANCER}
    )
    assert last.rows == [(history[-1].jss_after,)]
    client = engine.client("k-x")
    assert (client.contracts, client.freelancers) == (2, 1)


def test_typed_errors(engine):
    with pytest.raises(NotFound, match="unknown freelancer nobody"):
        engine.score("nobody")
    with pytest.raises(NotFound, match="unknown client"):
        engine.client("nobody")
    with pytest.raises(BadRequest, match="unknown rule set"):
        engine.score(FREELANCER, rules="jss-1999")
    with pytest.raises(BadRequest):
        engine.score(FREELANCER, as_of="yesterday")
    with pytest.raises(BadRequest, match="audience"):
        engine.score(FREELANCER, audience="everyone")
    with pytest.raises(InvalidInput):
        engine.audit("DELETE FROM events")
    bad = b'{"type": "ContractOpened", "event_id": "e-bad"}'
    with pytest.raises(InvalidInput, match="line 1"):
        engine.ingest([bad])
    assert engine.audit("SELECT count(*) FROM events").rows == [(50,)]  # nothing was written


def test_the_api_takes_the_audience(engine, tmp_path):
    from projections.published import FreelancerScore, PublicScore, PublishedChange

    tick = '{"type": "ClockAdvanced", "event_id": "clock-api", "occurred_at": "2019-01-20T00:00:00Z", "to": "2019-01-20T00:00:00Z"}'
    engine.ingest([tick])
    public = engine.score(FREELANCER, audience="public")
    assert isinstance(public, PublicScore) and (public.published_at, public.jss) == ("2019-01-15T00:00:00Z", 75)
    mine = engine.score(FREELANCER, audience="freelancer")
    assert isinstance(mine, FreelancerScore) and mine.counted.private_feedback == 8
    assert all(c.outcome is None for c in mine.contracts if c.private_feedback)
    (change,) = engine.history(FREELANCER, audience="freelancer")
    assert isinstance(change, PublishedChange) and change.change_id == f"{FREELANCER}@2019-01-15T00:00:00Z"
    assert [c.kind for c in change.causes] == ["private_feedback"]
    assert engine.history(FREELANCER, audience="public")[0].causes is None
    trust = engine.client("k-x")
    assert trust.flagged is False and engine.client("k-x", audience="freelancer").flagged is None
    with pytest.raises(BadRequest, match="public audience"):
        engine.explain(FREELANCER, start="2019-01-01T00:00:00Z", audience="public")
