"""The publication days the projections are built with (REPUTATION_PUBLISH_DAYS): recorded at the
first projection, a reader with other days refused (exit 2, naming both and the way out), and
`project --rebuild` building them again with the new days, Top Rated weeks included."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from engine.cli import main_group
from tests.unit.test_top_rated import market


def run(home: Path, *args: str, days: str | None = None):
    env = {"REPUTATION_PUBLISH_DAYS": days} if days else {}
    return CliRunner(env=env).invoke(main_group, ["--home", str(home), *args], catch_exceptions=False)


def badges(home: Path, days: str | None) -> list[tuple[str, bool]]:
    done = run(home, "history", "f-1", "--json", days=days)
    assert done.exit_code == 0, done.output
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    return [(e["effective_at"], e["top_rated_after"]) for e in entries if e["top_rated_before"] != e["top_rated_after"]]


def test_other_days_are_refused_until_a_rebuild(tmp_path):
    path = tmp_path / "market.jsonl"
    path.write_bytes(b"\n".join(market(tick="2025-06-01").log_lines()) + b"\n")
    assert run(tmp_path, "ingest", str(path)).exit_code == 0
    assert run(tmp_path, "project").exit_code == 0  # built with the default days, 1 and 15
    # JSS 100 from 2025-01-06; published on the 15th: the 13th counted Monday is 2025-04-14
    assert badges(tmp_path, None) == [("2025-04-14T00:00:00Z", True)]

    for command in (["score", "f-1"], ["score", "f-1", "--audience", "freelancer"], ["history", "f-1"]):
        refused = run(tmp_path, *command, days="1")
        assert refused.exit_code == 2, refused.output
        assert "Traceback" not in refused.output
        assert "REPUTATION_PUBLISH_DAYS=1 but the projections were built with the days 1,15" in refused.output
        assert "reputation project --rebuild" in refused.output

    assert run(tmp_path, "project", "--rebuild", days="1").exit_code == 0
    # published on the 1st only: the first counted Monday is 2025-02-03, the 13th 2025-04-28
    assert badges(tmp_path, "1") == [("2025-04-28T00:00:00Z", True)]
    refused = run(tmp_path, "score", "f-1")  # now the default days are the other ones
    assert refused.exit_code == 2
    assert "REPUTATION_PUBLISH_DAYS=1,15 but the projections were built with the days 1:" in refused.output


def test_serve_refuses_to_start_with_other_days(tmp_path, monkeypatch):
    import uvicorn

    started: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(k))
    path = tmp_path / "market.jsonl"
    path.write_bytes(b"\n".join(market(tick="2025-06-01").log_lines()) + b"\n")
    assert run(tmp_path, "ingest", str(path)).exit_code == 0
    assert run(tmp_path, "project").exit_code == 0  # built with the default days, 1 and 15

    refused = run(tmp_path, "serve", "--no-follow", "--port", "0", days="1")
    assert refused.exit_code == 2, refused.output
    assert "REPUTATION_PUBLISH_DAYS=1 but the projections were built with the days 1,15" in refused.output
    assert started == []  # the server never came up

    assert run(tmp_path, "serve", "--no-follow", "--port", "0", days="15,1").exit_code == 0
    assert len(started) == 1  # the same days (in another order) start it
