"""A correction can be re-sent: a rejected line does not let the later lines of its contract in
ahead of it, and the corrected dead-letter file is ingested as it is."""

from __future__ import annotations

import json
from collections import Counter

from click.testing import CliRunner

from engine.cli import main_group
from engine.simulate import simulate
from reputation.config import Settings, open_store
from reputation.ingest import ingest_lines
from reputation.store import MemoryStore

SEED = 424242


def test_a_corrected_dead_letter_file_completes_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("REPUTATION_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REPUTATION_STORE", raising=False)
    clean = list(simulate(12, 24, SEED))
    events = [json.loads(x) for x in clean]
    busiest, _ = Counter(e.get("contract_id") for e in events if e["type"] == "PaymentMade").most_common(1)[0]
    mine = [i for i, e in enumerate(events) if e.get("contract_id") == busiest]
    payments = [i for i in mine if events[i]["type"] == "PaymentMade"]
    bad_at = payments[len(payments) // 2]  # a payment in the middle of the contract
    later = [i for i in mine if i > bad_at]
    assert later, "the corrupted line must have later lines in its contract"
    corrupt = dict(events[bad_at], amount="1.234")  # three decimals: refused
    lines = clean[:bad_at] + [json.dumps(corrupt).encode()] + clean[bad_at + 1 :]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    dead = tmp_path / "dead.jsonl"

    runner = CliRunner()
    first = runner.invoke(main_group, ["ingest", "--skip-invalid", "--dead-letter", str(dead), str(source)])
    assert first.exit_code == 3, first.output
    rows = [json.loads(x) for x in dead.read_text().splitlines()]
    assert [r["line"] for r in rows] == [i + 1 for i in [bad_at] + later]  # in order
    assert rows[0]["event_id"] == events[bad_at]["event_id"]
    assert all(f"waiting for rejected event {events[bad_at]['event_id']}" in r["error"] for r in rows[1:])

    rows[0]["original"] = clean[bad_at].decode()  # the correction, made in the dead-letter file
    dead.write_text("".join(json.dumps(r) + "\n" for r in rows))
    second = runner.invoke(main_group, ["ingest", str(dead)])
    assert second.exit_code == 0, second.output

    expected = MemoryStore()
    assert ingest_lines(expected, clean).accepted == len(clean)
    store = open_store(Settings.from_env())
    try:
        assert store.max_position() == len(clean)
        assert store.load_digests([e["event_id"] for e in events]) == expected.ids
    finally:
        store.close()
