"""`reputation ingest / export / tick` end to end, as a user runs them (subprocess, exit codes,
messages), on the embedded SQLite store in a temporary REPUTATION_HOME."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.write_side import History, every_type, line, t

SCRIPT = Path(sys.executable).with_name("reputation")


def run(home: Path, *args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 60):
    if SCRIPT.exists():
        cmd = [str(SCRIPT), *args]
    else:  # not installed as a script: same entry point
        cmd = [sys.executable, "-c", "from engine.cli import main; main()", *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REPUTATION_")}
    environment.update({"REPUTATION_HOME": str(home), **(env or {})})
    return subprocess.run(cmd, input=input, capture_output=True, env=environment, timeout=timeout, cwd=home.parent)


def assert_no_traceback(proc) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert b"Traceback" not in stream and b'File "' not in stream, stream.decode(errors="replace")


def export(home: Path) -> list[dict]:
    proc = run(home, "export")
    assert proc.returncode == 0, proc.stderr
    return [json.loads(x) for x in proc.stdout.splitlines()]


def good_history(prefix="e") -> list[bytes]:
    h = History(prefix)
    h.open(t(0), cid=f"{prefix}-c")
    h.pay(t(1), "100.00", cid=f"{prefix}-c")
    h.close(t(2), cid=f"{prefix}-c")
    h.public(t(3), stars=4.5, cid=f"{prefix}-c")
    h.private(t(3), recommend=9, cid=f"{prefix}-c")
    h.public(t(4), by="freelancer", cid=f"{prefix}-c")
    return h.lines


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def test_good_file_exit_0(home, tmp_path):
    lines = every_type()
    proc = run(home, "ingest", str(write(tmp_path / "in.jsonl", lines)))
    assert proc.returncode == 0, proc.stderr
    assert f"accepted {len(lines)} events".encode() in proc.stdout
    rows = export(home)
    assert [r["event"]["event_id"] for r in rows] == [json.loads(x)["event_id"] for x in lines]
    assert [r["position"] for r in rows] == list(range(1, len(lines) + 1))


def test_stdin_and_json_output(home):
    lines = good_history()
    proc = run(home, "ingest", "-", "--json", input=b"\r\n".join(lines) + b"\r\n\r\n")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["accepted"] == 6 and out["rejected"] == 0 and out["written"] is True
    assert out["positions"] == [1, 6] and out["errors"] == []


def test_bad_lines_exit_3_all_reported_nothing_written(home, tmp_path):
    lines = good_history()
    lines[1] = (
        b'{"type":"PaymentMade","event_id":"bad-1","occurred_at":"2023-01-03T00:00:00","contract_id":"e-c","amount":5}'
    )
    lines.insert(
        5,
        json.dumps(
            {
                "type": "PrivateFeedbackSubmitted",
                "event_id": "bad-2",
                "occurred_at": t(3),
                "contract_id": "e-c",
                "by": "client",
                "recommend": 1,
            }
        ).encode(),
    )
    lines.append(b"{not json")
    proc = run(home, "ingest", str(write(tmp_path / "in.jsonl", lines)))
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert_no_traceback(proc)
    err = proc.stderr.decode()
    reported = re.findall(r"^line (\d+)(?: \(event ([^)]+)\))?: (.+)$", err, re.M)
    assert [(int(n), i) for n, i, _ in reported] == [(2, "bad-1"), (6, "bad-2"), (8, "")]
    assert "offset" in reported[0][2]
    assert "immutable" in reported[1][2]
    assert "nothing was written" in err
    assert export(home) == []


def test_more_than_100_bad_lines_reports_the_first_100_then_a_count(home, tmp_path):
    lines = [
        json.dumps(
            {"type": "ClientFlagged", "event_id": f"x{i}", "occurred_at": "2024-01-01T00:00:00", "client_id": "k"}
        ).encode()
        for i in range(130)
    ]
    proc = run(home, "ingest", str(write(tmp_path / "in.jsonl", lines)))
    assert proc.returncode == 3
    err = proc.stderr.decode()
    assert len(re.findall(r"^line \d+ \(event x\d+\): ", err, re.M)) == 100
    assert "30 more" in err
    assert export(home) == []


def test_skip_invalid_writes_good_ones_and_a_dead_letter_file(home, tmp_path):
    lines = good_history()
    bad = b'{"type":"PaymentMade","event_id":"bad-1","occurred_at":"2023-01-03T00:00:00Z","contract_id":"e-c","amount":"1.234"}'
    lines.insert(2, bad)
    lines.append(b"\xff\xfe binary \x00")
    proc = run(home, "ingest", "--skip-invalid", str(write(tmp_path / "in.jsonl", lines)))
    assert proc.returncode == 3, proc.stderr
    assert_no_traceback(proc)
    out = proc.stdout.decode()
    assert "accepted 2 events" in out  # the lines after bad-1 of its contract wait for it
    m = re.search(r"rejects written to (.+)$", out, re.M)
    assert m, out
    dead = Path(m.group(1).strip())
    if not dead.is_absolute():
        dead = home.parent / dead
    assert dead.exists()
    rows = [json.loads(x) for x in dead.read_text().splitlines()]
    assert [(r["line"], r["event_id"]) for r in rows] == [(3, "bad-1")] + [(n, f"e-{n - 1}") for n in range(4, 8)] + [
        (8, None)
    ]
    assert "2 decimals" in rows[0]["error"] and rows[0]["original"] == bad.decode()
    assert all("waiting for rejected event bad-1" in r["error"] for r in rows[1:5])
    assert [r["event"]["event_id"] for r in export(home)] == ["e-1", "e-2"]
    # the dead-letter file, its bad lines dropped or fixed, is ingested as it is
    dead.write_text("".join(x + "\n" for x in dead.read_text().splitlines()[1:5]))
    proc = run(home, "ingest", str(dead))
    assert proc.returncode == 0, proc.stderr
    assert [r["event"]["event_id"] for r in export(home)] == [f"e-{i}" for i in range(1, 7)]


def test_skip_invalid_with_dead_letter_path(home, tmp_path):
    lines = good_history() + [b"garbage"]
    target = tmp_path / "rejects" / "dl.jsonl"
    proc = run(home, "ingest", "--skip-invalid", "--dead-letter", str(target), str(write(tmp_path / "in.jsonl", lines)))
    assert proc.returncode == 3
    assert str(target).encode() in proc.stdout
    assert [json.loads(x)["line"] for x in target.read_text().splitlines()] == [7]
    assert len(export(home)) == 6


def test_rerunning_the_same_file_writes_nothing(home, tmp_path):
    path = write(tmp_path / "in.jsonl", good_history())
    assert run(home, "ingest", str(path)).returncode == 0
    first = export(home)
    proc = run(home, "ingest", str(path))
    assert proc.returncode == 0, proc.stderr
    assert b"accepted 0 events" in proc.stdout and b"6 already known" in proc.stdout
    assert export(home) == first


def test_export_then_ingest_into_another_home(home, tmp_path):
    path = write(tmp_path / "in.jsonl", every_type() + good_history("g"))
    assert run(home, "ingest", str(path)).returncode == 0
    dump = run(home, "export").stdout
    out_file = tmp_path / "export.jsonl"
    assert run(home, "export", "--out", str(out_file)).returncode == 0
    assert out_file.read_bytes() == dump
    other = tmp_path / "other"
    proc = run(other, "ingest", str(out_file))
    assert proc.returncode == 0, proc.stderr

    def strip(text: bytes):
        rows = [json.loads(x) for x in text.splitlines()]
        for r in rows:
            r.pop("recorded_at")
            assert len(r.pop("chain")) == 64  # the chain covers recorded_at, so it differs too
        return rows

    dump2 = run(other, "export").stdout
    assert strip(dump2) == strip(dump) and len(strip(dump)) == 20
    # only recorded_at (and the chain over it) differs, byte for byte
    no_rec = lambda b: re.sub(rb'"(recorded_at|chain)":"[^"]*"', b"", b)  # noqa: E731
    assert no_rec(dump2) == no_rec(dump)


def test_export_from_to(home, tmp_path):
    assert run(home, "ingest", str(write(tmp_path / "in.jsonl", good_history()))).returncode == 0
    proc = run(home, "export", "--from", "@2", "--to", "@4")
    assert proc.returncode == 0
    assert [json.loads(x)["position"] for x in proc.stdout.splitlines()] == [2, 3, 4]
    bad = run(home, "export", "--from", "two")
    assert bad.returncode == 2 and b"@N" in bad.stderr
    assert_no_traceback(bad)


def test_tick(home):
    proc = run(home, "tick", "--to", "2024-06-01T12:00:00+02:00")
    assert proc.returncode == 0, proc.stderr
    assert b"2024-06-01T10:00:00Z" in proc.stdout
    rows = export(home)
    assert len(rows) == 1 and rows[0]["event"]["type"] == "ClockAdvanced"
    assert rows[0]["event"]["to"] == "2024-06-01T10:00:00Z"
    again = run(home, "tick", "--to", "2024-06-01T10:00:00Z")
    assert again.returncode == 0 and len(export(home)) == 1
    later = run(home, "tick", "--to", "2024-07-01T00:00:00Z")
    assert later.returncode == 0 and len(export(home)) == 2
    for bad in ("2024-06-01T10:00:00", "tomorrow"):
        proc = run(home, "tick", "--to", bad)
        assert proc.returncode == 2, proc.stderr
        assert_no_traceback(proc)
    assert run(home, "tick").returncode == 2


GARBAGE = [
    ("binary", bytes(range(256)) * 4),
    ("nul-bytes", b"\x00" * 100),
    ("invalid-utf8", b"\xc3\x28\xa0\xa1\n\xf0\x28\x8c\xbc\n"),
    ("json-array", b"[1, 2, 3]\n"),
    ("truncated", good_history()[0][:30] + b"\n"),
    (
        "huge-number",
        b'{"type":"PaymentMade","event_id":"e","occurred_at":"2024-01-01T00:00:00Z","contract_id":"c","amount":1e999999}\n',
    ),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000 + b"\n"),
    ("deep-nesting-in-an-id", b'{"type":"ClientFlagged","event_id":' + b"[" * 1000 + b"]" * 1000 + b"}\n"),
    ("deep-nesting-in-an-unknown-field", b'{"event_id":"e-1","x":' + b'{"a":' * 1000 + b"1" + b"}" * 1001 + b"\n"),
    ("utf16", json.dumps({"type": "ClientFlagged"}).encode("utf-16")),
]


@pytest.mark.parametrize("data", [pytest.param(d, id=i) for i, d in GARBAGE])
def test_garbage_never_shows_a_traceback(home, tmp_path, data):
    path = tmp_path / "garbage.bin"
    path.write_bytes(data)
    proc = run(home, "ingest", str(path))
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert_no_traceback(proc)
    assert re.search(rb"^line \d+", proc.stderr, re.M)
    proc = run(home, "ingest", "-", input=data)
    assert proc.returncode == 3
    assert_no_traceback(proc)
    assert export(home) == []


def test_missing_file_is_a_usage_error(home, tmp_path):
    proc = run(home, "ingest", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2
    assert_no_traceback(proc)


@pytest.mark.parametrize("args", [["ingest", "-"], ["export"], ["tick", "--to", "2024-01-01T00:00:00Z"]])
@pytest.mark.parametrize("how", ["option", "env"])
def test_unreachable_postgres_exit_5_says_how_to_start_it(home, args, how):
    url = "postgresql://postgres@127.0.0.1:1/x"
    if how == "option":
        proc = run(home, "--store", url, *args, input=good_history()[0] + b"\n")
    else:
        proc = run(home, *args, input=good_history()[0] + b"\n", env={"REPUTATION_STORE": url})
    assert proc.returncode == 5, (proc.stdout, proc.stderr)
    assert_no_traceback(proc)
    err = proc.stderr.decode().lower()
    assert "postgresql" in err and "start" in err


@pytest.mark.parametrize("command", ["ingest", "export", "tick"])
def test_help_of_every_write_command(home, command):
    proc = run(home, command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"Usage:") and command.encode() in proc.stdout
    assert not home.exists() or not any(home.iterdir())  # --help writes nothing


def test_top_level_help_lists_the_write_commands(home):
    proc = run(home, "--help")
    assert proc.returncode == 0
    for command in (b"ingest", b"export", b"tick"):
        assert command in proc.stdout


def test_two_concurrent_ingests_of_the_same_file(home, tmp_path):
    """Both check against the empty store; the second to commit must not crash (Conflict):
    it re-checks, finds everything already known, and writes nothing."""
    from tests.write_side import big_file_lines

    lines = big_file_lines(1500)  # 9,000 events: both processes are checking at the same time
    path = write(tmp_path / "in.jsonl", lines)
    home.mkdir()
    cmd = (
        [str(SCRIPT), "ingest", str(path)]
        if SCRIPT.exists()
        else [sys.executable, "-c", "from engine.cli import main; main()", "ingest", str(path)]
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REPUTATION_")}
    environment["REPUTATION_HOME"] = str(home)
    procs = [subprocess.Popen(cmd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err.decode(errors="replace")[-2000:]
        assert b"Traceback" not in err
    accepted = sorted(int(re.search(rb"accepted (\d+) events", out).group(1)) for out, _ in outs)
    assert accepted == [0, len(lines)]
    rows = export(home)
    assert len(rows) == len(lines) and len({r["event"]["event_id"] for r in rows}) == len(lines)


# -- the supported time range: no stored event may break a read ------------------------------

READS = [
    ["project"],
    ["score", "f-1"],
    ["history", "f-1"],
    ["client", "k-1"],
    ["explain", "f-1", "--from", "8999-01-01T00:00:00Z", "--to", "8999-12-31T00:00:00Z"],
    ["audit", "--sql", "SELECT count(*) FROM contracts"],
]


def late_history(base: datetime, prefix: str) -> list[bytes]:
    h = History(prefix)
    cid = f"{prefix}-c"
    h.open(t(0, base=base), cid=cid)
    h.pay(t(1, base=base), "100.00", cid=cid)
    h.close(t(2, base=base), cid=cid)
    h.public(t(3, base=base), stars=4.5, cid=cid)
    h.private(t(3, base=base), recommend=9, cid=cid)
    return h.lines


def test_events_up_to_the_supported_range_can_all_be_read_back(home, tmp_path):
    lines = late_history(datetime(8999, 12, 20, tzinfo=UTC), "end")
    lines.append(line("ClockAdvanced", "clock-end", "8999-12-31T23:59:59.999999Z", to="8999-12-31T23:59:59.999999Z"))
    assert run(home, "ingest", str(write(tmp_path / "in.jsonl", lines))).returncode == 0
    for args in READS:
        proc = run(home, *args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert_no_traceback(proc)


def test_an_event_past_the_supported_range_is_rejected_and_reads_keep_working(home, tmp_path):
    """A contract closed in year 9999 used to be accepted, then every read failed computing
    its window exit (year 10000). It is now a bad line that names the rule."""
    assert run(home, "ingest", str(write(tmp_path / "ok.jsonl", good_history()))).returncode == 0
    late = late_history(datetime(9999, 6, 1, tzinfo=UTC), "late")
    proc = run(home, "ingest", str(write(tmp_path / "late.jsonl", late)))
    assert proc.returncode == 3, proc.stdout
    assert_no_traceback(proc)
    reported = re.findall(r"^line (\d+) \(event ([^)]+)\): (.+)$", proc.stderr.decode(), re.M)
    assert [(int(n), i) for n, i, _ in reported] == [(n, f"late-{n}") for n in range(1, 6)]
    assert all("before 9000-01-01T00:00:00Z" in why and "occurred_at" in why for _, _, why in reported)
    assert len(export(home)) == len(good_history())
    tick = run(home, "tick", "--to", "9999-12-31T00:00:00Z")
    assert tick.returncode in (2, 3) and b"9000-01-01" in tick.stderr
    for args in READS:
        proc = run(home, *args)
        assert proc.returncode in (0, 4), (args, proc.stderr)  # 4: f-1 / k-1 unknown here
        assert_no_traceback(proc)


# -- the dead-letter path is checked before anything is written ------------------------------


def test_an_unwritable_dead_letter_path_writes_nothing(home, tmp_path):
    (tmp_path / "afile").write_text("")
    target = tmp_path / "afile" / "dl.jsonl"
    lines = good_history() + [b"garbage"]
    proc = run(home, "ingest", "--skip-invalid", "--dead-letter", str(target), str(write(tmp_path / "in.jsonl", lines)))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert_no_traceback(proc)
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and str(target) in err[0] and "dead-letter" in err[0], err
    assert export(home) == []  # the good lines were not committed either


@pytest.mark.parametrize("spelling", ["same", "relative"])
def test_a_dead_letter_path_equal_to_the_input_is_refused(home, tmp_path, spelling):
    lines = good_history() + [b"garbage"]
    source = write(tmp_path / "in.jsonl", lines)
    before = source.read_bytes()
    target = str(source) if spelling == "same" else "./in.jsonl"  # run() works in tmp_path
    proc = run(home, "ingest", "--skip-invalid", "--dead-letter", target, str(source))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert_no_traceback(proc)
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and "input" in err[0], err
    assert source.read_bytes() == before
    assert export(home) == []


def test_an_ingest_kept_from_the_write_lock_says_so_and_writes_nothing(tmp_path, monkeypatch):
    """Another process holds SQLite's write lock past the wait (a long ingest): exit 5 with the
    store named, no traceback, and the store as it was (in process, to shorten the wait)."""
    from click.testing import CliRunner

    from engine.cli import main_group
    from reputation.store import sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "LOCK_TIMEOUT", 0.2)
    home = tmp_path / "home"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"\n".join(good_history("a")) + b"\n")
    second.write_bytes(b"\n".join(good_history("b")) + b"\n")
    runner = CliRunner()
    env = {"REPUTATION_HOME": str(home)}
    assert runner.invoke(main_group, ["ingest", str(first)], env=env).exit_code == 0
    before = export(home)
    other = sqlite3.connect(home / "events.sqlite")
    other.execute("BEGIN IMMEDIATE")  # the other writer
    try:
        result = runner.invoke(main_group, ["ingest", str(second)], env=env)
    finally:
        other.rollback()
        other.close()
    assert result.exit_code == 5, result.output
    assert f"the event store {home / 'events.sqlite'} stayed locked by another writer" in result.output
    assert "nothing was written" in result.output and "Traceback" not in result.output
    assert export(home) == before
