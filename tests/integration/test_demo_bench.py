"""`reputation demo` end to end (small), and `reputation bench --json` on a tiny size."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-c", "from engine.cli import main; main()"]


def run(args, home, **kw):
    env = {**os.environ, "REPUTATION_HOME": str(home), "COLUMNS": "200"}
    env.pop("REPUTATION_KAFKA", None)
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=600, **kw)


@pytest.mark.slow
def test_demo_runs_end_to_end_and_twice(tmp_path):
    first = run(["demo", "--freelancers", "30", "--months", "60", "--drops", "2"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    out = first.stdout
    for section in (
        "1. simulated 30 freelancers",
        "2. ingested",
        "3. projected",
        "largest JSS drops",
        "public stars and JSS that disagree",
        "try next",
    ):
        assert section in out, out[-3000:]
    assert "0 rejected" in out
    # it ends with the forum case: 75 in force, 100 under fair-2026, the interval, the date of 100
    forum = out[out.index("the forum case") :]
    assert "jss-2016" in forum and ": 75" in forum and "fair-2026" in forum and ": 100" in forum
    assert "80% interval" in forum and "becomes 100 on 2020-03-01" in forum
    assert (tmp_path / "demo" / "events.sqlite").exists()  # its own home below REPUTATION_HOME
    second = run(["demo", "--freelancers", "30", "--months", "60", "--drops", "2"], tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "ingested 0 new events" in second.stdout  # idempotent: nothing written twice
    assert "projected 0 events" in second.stdout


@pytest.mark.slow
def test_bench_json_yields_every_named_figure(tmp_path):
    result = run(["bench", "--events", "1500", "--serve-seconds", "1", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    names = {f["name"] for f in figures}
    for name in (
        "ingest",
        "ingest_chain_cost",
        "ingest_memory",
        "rebuild",
        "rebuild_python",
        "memory_per_contract",
        "rebuild_memory_per_contract",
        "state_per_contract",
        "jss_as_of",
        "serve_score_p99",
        "serve_score_rps",
        "serve_explain_p99",
        "serve_explain_rps",
    ):
        assert name in names, names
    assert any(n.startswith("score_p99_") for n in names) and any(n.startswith("explain_p99_") for n in names)
    for f in figures:
        assert set(f) == {"name", "value", "unit", "baseline", "baseline_value", "ratio"}
        assert f["value"] > 0 and f["unit"] and f["baseline"]


@pytest.mark.postgres
def test_bench_measures_ingest_into_postgresql_side_by_side():
    """The figure `bench` adds when the store is a PostgreSQL URL: both engines, each in a
    schema of its own that is dropped afterwards."""
    import psycopg

    from engine.bench import _lines
    from engine.bench_ingest import bench_postgres_ingest
    from tests.services import PG_URL

    figure = bench_postgres_ingest(_lines(600), PG_URL)
    assert figure.name == "ingest_postgres" and figure.value > 0 and figure.baseline_value > 0
    assert figure.ratio == pytest.approx(figure.value / figure.baseline_value)
    with psycopg.connect(PG_URL) as conn:
        mine = f"reputation_bench_%_{os.getpid()}"  # the schemas of this process's run
        left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s", (mine,)).fetchone()
    assert left == (0,)
