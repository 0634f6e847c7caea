"""Tamper evidence: the hash chain over the log and `verify`, on SQLite and the real
PostgreSQL. Each test tampers with the database directly, as someone with write access to
it would (UPDATE a payload, DELETE a row, swap two rows, INSERT a row), and checks that
`verify` names the position and the kind of change. The expected hashes are computed here
from the definition in docs/verify.md, not with the code under test."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from reputation.errors import InvalidInput
from reputation.export import export_lines
from reputation.ingest import ingest_lines
from reputation.store import Batch, MemoryStore, NewEvent
from reputation.verify import Tampered, check, verify
from tests.integration.test_ingest_cli import assert_no_traceback, run
from tests.services import PG_URL, pg_admin
from tests.write_side import every_type


class SQLite:
    """The SQLite store and a plain sqlite3 connection to the same file, for tampering."""

    pos = "rowid"

    def __init__(self, tmp_path):
        import sqlite3

        self.path = str(tmp_path / "events.sqlite")
        self.store = self.open()
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.events, self.chain = "stored_events", "rep_chain"

    def open(self):
        from reputation.store.sqlite import SQLiteEventStore

        return SQLiteEventStore(self.path)

    def sql(self, statement: str) -> None:
        self.conn.executescript(statement)

    def replace_in_state(self, position: int, old: str, new: str) -> None:
        self.sql(
            f"UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), '{old}', '{new}') AS BLOB) "
            f"WHERE rowid = {position}"
        )

    def close(self) -> None:
        self.conn.close()
        self.store.close()


class Postgres:
    pos = "notification_id"

    def __init__(self, tmp_path):
        self.admin = pg_admin()
        self.schema = "ch_" + uuid.uuid4().hex[:12]
        self.admin.execute(f'CREATE SCHEMA "{self.schema}"')
        self.events, self.chain = f'"{self.schema}".stored_events', f'"{self.schema}".rep_chain'
        self.store = self.open()

    def open(self):
        from reputation.store.postgres import PostgresEventStore

        return PostgresEventStore(PG_URL, schema=self.schema)

    def sql(self, statement: str) -> None:
        with self.admin.transaction():
            for part in filter(str.strip, statement.split(";")):
                self.admin.execute(part)

    def replace_in_state(self, position: int, old: str, new: str) -> None:
        self.sql(
            f"UPDATE {self.events} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
            f"'{old}', '{new}'), 'UTF8') WHERE notification_id = {position}"
        )

    def close(self) -> None:
        self.store.close()
        self.admin.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        self.admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    d = (SQLite if request.param == "sqlite" else Postgres)(tmp_path)
    result = ingest_lines(d.store, every_type())  # 14 events, positions 1..14
    assert not result.rejects and d.store.max_position() == 14
    yield d
    d.close()


def expected_chain(rows: list[tuple[int, bytes]]) -> list[bytes]:
    """docs/verify.md: h_n = SHA-256(h_prev || n as 8 bytes big-endian || event bytes), h_0 = 0^32."""
    h, out = b"\0" * 32, []
    for position, state in rows:
        h = hashlib.sha256(h + position.to_bytes(8, "big") + state).digest()
        out.append(h)
    return out


def kinds(store) -> list[tuple[int, str]]:
    return [(f.position, f.kind) for f in verify(store, page=4).findings]  # small pages on purpose


def test_an_untouched_log_verifies_and_its_head_follows_the_definition(db):
    rows = db.store.read(0, 100)
    hashes = expected_chain(rows)
    report = check(db.store)
    assert (report.events, report.position, report.head) == (14, 14, hashes[-1])
    exported = [json.loads(x) for x in export_lines(db.store)]
    assert [e["chain"] for e in exported] == [h.hex() for h in hashes]
    # the export lines, chain included, are accepted by ingest again (into a fresh store)
    again = MemoryStore()
    assert ingest_lines(again, [x.rstrip(b"\n") for x in export_lines(db.store)]).accepted == 14


def test_a_modified_payload_is_found_at_its_position(db):
    before = db.store.read(2, 1)[0][1]
    db.replace_in_state(3, "250.50", "999.50")  # every_type: the payment at position 3
    assert db.store.read(2, 1)[0][1] != before
    assert kinds(db.store) == [(3, "modified")]
    with pytest.raises(Tampered) as err:
        check(db.store)
    assert isinstance(err.value, InvalidInput) and err.value.findings[0].position == 3


def test_a_deleted_event_is_found(db):
    db.sql(f"DELETE FROM {db.events} WHERE {db.pos} = 5")
    assert kinds(db.store) == [(5, "removed")]


def test_an_event_deleted_with_its_chain_entry_is_found(db):
    db.sql(f"DELETE FROM {db.events} WHERE {db.pos} = 5; DELETE FROM {db.chain} WHERE position = 5")
    assert kinds(db.store) == [(5, "removed")]


def test_two_swapped_rows_are_found_as_reordered(db):
    db.sql(
        f"UPDATE {db.events} SET {db.pos} = -1 WHERE {db.pos} = 4; "
        f"UPDATE {db.events} SET {db.pos} = 4 WHERE {db.pos} = 9; "
        f"UPDATE {db.events} SET {db.pos} = 9 WHERE {db.pos} = -1"
    )
    assert kinds(db.store) == [(4, "reordered"), (9, "reordered")]


def test_an_inserted_row_is_found(db):
    # a copy of event 2 under a new stream version: a row the engine never wrote
    db.sql(
        f"INSERT INTO {db.events} (originator_id, originator_version, topic, state) "
        f"SELECT originator_id, originator_version + 100, topic, state FROM {db.events} WHERE {db.pos} = 2"
    )
    assert kinds(db.store) == [(15, "inserted")]


def test_every_kind_at_once_is_one_line_each(db):
    db.replace_in_state(3, "250.50", "999.50")
    db.sql(f"DELETE FROM {db.events} WHERE {db.pos} = 7")
    db.sql(f"DELETE FROM {db.chain} WHERE position = 11")
    assert kinds(db.store) == [(3, "modified"), (7, "removed"), (11, "removed")]


def test_a_store_without_a_chain_is_chained_when_opened(db):
    head = check(db.store).head
    db.store.close()
    db.sql(f"DELETE FROM {db.chain}")  # as a store written before the chain existed
    db.store = db.open()
    assert check(db.store).head == head  # the same definition, so the same head
    assert len(db.store.read_chain(0, 100)) == 14


@pytest.mark.parametrize("forged", [15, 20])
def test_an_append_that_cannot_chain_writes_nothing(db, forged):
    # a forged chain entry at the next position (15: its key) or beyond it (20: the entry
    # would link back to a later position): the append must fail whole, saying why
    db.sql(
        f"INSERT INTO {db.chain} (position, previous, hash) SELECT {forged}, 14, hash FROM {db.chain} WHERE position = 14"
    )
    batch = Batch([NewEvent("contract:x", 1, "PaymentMade", b'{"x":1}')], {"contract:x": (1, b"s")}, {"e-x": b"d"})
    with pytest.raises(InvalidInput, match="rep_chain"):
        db.store.append(batch)
    assert db.store.max_position() == 14 and db.store.load_digests(["e-x"]) == {}


def test_the_chain_commits_with_its_events(db):
    """A failed append (a version taken meanwhile) leaves no chain entry behind, and the next
    append links to the last committed event."""
    from reputation.store import Conflict

    bad = Batch([NewEvent("contract:y", 1, "T", b"a"), NewEvent("contract:y", 1, "T", b"b")], {}, {})
    with pytest.raises(Conflict):
        db.store.append(bad)
    assert [p for p, _, _ in db.store.read_chain(0, 100)] == list(range(1, 15))
    [pos] = db.store.append(Batch([NewEvent("contract:y", 1, "T", b"c")], {}, {}))
    [(position, previous, _)] = db.store.read_chain(pos - 1, 10)
    assert (position, previous) == (pos, 14)
    check(db.store)


def test_the_memory_twin_keeps_the_same_chain(tmp_path):
    from reputation.store.sqlite import SQLiteEventStore

    batches = [
        Batch([NewEvent("a", 1, "T", b"x"), NewEvent("a", 2, "T", b"y")], {}, {}),
        Batch([NewEvent("b", 1, "T", b"z")], {}, {}),
    ]
    memory, sqlite = MemoryStore(), SQLiteEventStore(str(tmp_path / "e.sqlite"))
    for b in batches:
        memory.append(b)
        sqlite.append(b)
    assert memory.read_chain(0, 10) == sqlite.read_chain(0, 10)
    assert [h for _, _, h in memory.read_chain(0, 10)] == expected_chain(memory.read(0, 10))
    sqlite.close()


def test_verify_command_prints_the_head_or_one_line_per_finding(tmp_path):
    home = tmp_path / "home"
    assert run(home, "ingest", "-", input=b"\n".join(every_type()) + b"\n").returncode == 0
    ok = run(home, "verify")
    assert ok.returncode == 0, ok.stderr
    head = ok.stdout.split()[0].decode()
    assert len(head) == 64 and head == json.loads(run(home, "export").stdout.splitlines()[-1])["chain"]

    import sqlite3

    with sqlite3.connect(home / "events.sqlite") as conn:
        conn.execute("DELETE FROM stored_events WHERE rowid = 2")
        conn.execute(
            "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), '250.50', '1.50') AS BLOB) WHERE rowid = 3"
        )
    bad = run(home, "verify")
    assert_no_traceback(bad)
    assert bad.returncode == 3
    lines = bad.stdout.decode().splitlines()
    assert [x.split(":")[0] for x in lines] == ["position 2", "position 3"]
    assert "removed" in lines[0] and "modified" in lines[1]
    assert b"position 2" in bad.stderr  # the error line names the first finding
    as_json = json.loads(run(home, "verify", "--json").stdout)
    assert [(f["position"], f["kind"]) for f in as_json["findings"]] == [(2, "removed"), (3, "modified")]


def test_a_failure_while_chaining_writes_nothing(db, monkeypatch):
    """The chain is written inside the append's transaction: when computing it fails, the
    events, states and ids of the batch are not committed either (as after a crash there)."""
    import reputation.store.postgres as pg
    import reputation.store.sqlite as lite

    def broken(*_):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(lite, "joined_hashes", broken)  # the chain's hashes of a batch (SQLite)
    monkeypatch.setattr(pg, "links", broken)
    batch = Batch([NewEvent("contract:z", 1, "T", b"z")], {"contract:z": (1, b"s")}, {"e-z": b"d"})
    with pytest.raises(Exception, match="disk on fire"):
        db.store.append(batch)
    assert db.store.max_position() == 14
    assert db.store.load_states(["contract:z"]) == {} and db.store.load_digests(["e-z"]) == {}
    monkeypatch.undo()
    check(db.store)
