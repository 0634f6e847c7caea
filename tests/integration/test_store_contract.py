"""The `EventStore` port contract, run against every adapter: the in-memory twin, SQLite and
PostgreSQL (a fresh schema on the real server per test; skipped with the reason when the
server is unreachable). Also `ingest` end to end on each adapter.
"""

from __future__ import annotations

import json
import uuid

import msgspec
import pytest

from reputation.ingest import ingest
from reputation.store import Batch, Conflict, EventStore, MemoryStore, NewEvent
from tests.services import PG_URL, pg_admin
from tests.write_side import History, every_type, t

RECORDED = "2030-01-01T00:00:00.123456Z"


def ev(stream: str, version: int, body: bytes, type_: str = "PaymentMade") -> NewEvent:
    return NewEvent(stream, version, type_, body)


def batch(events=(), states=None, ids=None) -> Batch:
    return Batch(list(events), dict(states or {}), dict(ids or {}))


class Recording(EventStore):
    """Wraps a store and remembers every batch handed to `append` (the bytes that went in)."""

    def __init__(self, inner: EventStore):
        self.inner = inner
        self.batches: list[Batch] = []

    def append(self, b):
        self.batches.append(b)
        return self.inner.append(b)

    def load_states(self, keys):
        return self.inner.load_states(keys)

    def load_digests(self, ids):
        return self.inner.load_digests(ids)

    def read(self, after, limit, upto=None):
        return self.inner.read(after, limit, upto)

    def max_position(self):
        return self.inner.max_position()


def read_all(store: EventStore) -> list[tuple[int, bytes]]:
    out, after = [], 0
    while True:
        rows = store.read(after, 3)  # a small page on purpose
        if not rows:
            return out
        out.extend(rows)
        after = rows[-1][0]


class StoreContract:
    """Every adapter of the port must pass these. Subclasses provide the `store` fixture."""

    @pytest.fixture
    def store(self) -> EventStore:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- append / read / max_position ----------------------------------------------------

    def test_empty_store(self, store):
        assert store.max_position() == 0
        assert store.read(0, 10) == []
        assert store.load_states(["contract:x"]) == {}
        assert store.load_digests(["e-x"]) == {}
        assert store.load_states([]) == {} and store.load_digests([]) == {}

    def test_append_returns_increasing_positions(self, store):
        first = store.append(
            batch([ev("contract:a", 1, b"a1"), ev("contract:b", 1, b"b1"), ev("contract:a", 2, b"a2")])
        )
        assert len(first) == 3 and first == sorted(first) and len(set(first)) == 3
        assert store.max_position() == first[-1]
        second = store.append(batch([ev("contract:b", 2, b"b2")]))
        assert len(second) == 1 and second[0] > first[-1]
        assert store.max_position() == second[0]
        assert [p for p, _ in read_all(store)] == first + second
        assert [body for _, body in read_all(store)] == [b"a1", b"b1", b"a2", b"b2"]

    def test_read_after_limit_upto(self, store):
        bodies = [f"body-{i}".encode() for i in range(7)]
        pos = store.append(batch([ev(f"contract:{i % 3}", i // 3 + 1, b) for i, b in enumerate(bodies)]))
        rows = store.read(0, 100)
        assert rows == list(zip(pos, bodies))
        assert store.read(pos[1], 2) == [(pos[2], bodies[2]), (pos[3], bodies[3])]
        assert store.read(pos[1], 100, upto=pos[4]) == list(zip(pos[2:5], bodies[2:5]))
        assert store.read(0, 100, upto=pos[0]) == [(pos[0], bodies[0])]
        assert store.read(pos[2], 1, upto=pos[2]) == []
        assert store.read(pos[-1], 10) == []
        assert store.read(0, 0) == []
        assert store.read(pos[0], 3, upto=pos[-1]) == list(zip(pos[1:4], bodies[1:4]))

    def test_load_states_and_digests(self, store):
        store.append(
            batch(
                [ev("contract:a", 1, b"x")],
                states={"contract:a": (1, b"\x00state-a\xff"), "freelancer:f": (0, b"f0")},
                ids={"e-1": b"\x01" * 16, "e-2": b"\x02" * 16},
            )
        )
        assert store.load_states(["contract:a", "freelancer:f", "contract:zz"]) == {
            "contract:a": (1, b"\x00state-a\xff"),
            "freelancer:f": (0, b"f0"),
        }
        assert store.load_digests(["e-1", "e-2", "e-3"]) == {"e-1": b"\x01" * 16, "e-2": b"\x02" * 16}
        # states are replaced by newer versions, ids accumulate
        store.append(
            batch(
                [ev("contract:a", 2, b"y")],
                states={"contract:a": (2, b"state-a2"), "freelancer:f": (0, b"f1")},
                ids={"e-3": b"\x03" * 16},
            )
        )
        assert store.load_states(["contract:a", "freelancer:f"]) == {
            "contract:a": (2, b"state-a2"),
            "freelancer:f": (0, b"f1"),
        }
        assert store.load_digests(["e-1", "e-3"]) == {"e-1": b"\x01" * 16, "e-3": b"\x03" * 16}

    def test_many_keys_in_one_lookup(self, store):
        n = 1234  # more than one IN (...) chunk
        states = {f"contract:{i}": (1, str(i).encode()) for i in range(n)}
        ids = {f"e-{i}": i.to_bytes(16, "big") for i in range(n)}
        store.append(batch([ev(f"contract:{i}", 1, b"x") for i in range(n)], states, ids))
        assert store.load_states(list(states) + ["contract:none"]) == states
        assert store.load_digests(list(ids) + ["e-none"]) == ids
        assert store.max_position() - store.read(0, 1)[0][0] == n - 1

    # -- conflicts: nothing written ----------------------------------------------------------

    def _snapshot(self, store, keys, ids):
        return read_all(store), store.max_position(), store.load_states(keys), store.load_digests(ids)

    @pytest.mark.parametrize("kind", ["stream-version-taken", "event-id-taken", "same-version-twice-in-batch"])
    def test_conflicting_append_raises_and_writes_nothing(self, store, kind):
        store.append(batch([ev("contract:a", 1, b"a1")], {"contract:a": (1, b"s1")}, {"e-1": b"d1"}))
        events = [ev("contract:new", 1, b"n1"), ev("contract:a", 2, b"a2")]
        ids = {"e-new": b"dn", "e-2": b"d2"}
        if kind == "stream-version-taken":
            events.append(ev("contract:a", 1, b"a1-again"))
        elif kind == "event-id-taken":
            ids["e-1"] = b"other"
        else:
            events.append(ev("contract:new", 1, b"n1-again"))
        keys = ["contract:a", "contract:new"]
        before = self._snapshot(store, keys, [*ids, "e-1"])
        with pytest.raises(Conflict):
            store.append(batch(events, {"contract:a": (2, b"s2"), "contract:new": (1, b"sn")}, ids))
        assert self._snapshot(store, keys, [*ids, "e-1"]) == before
        # and the store still works afterwards
        pos = store.append(batch([ev("contract:a", 2, b"a2")], {"contract:a": (2, b"s2")}, {"e-2": b"d2"}))
        assert pos[0] > before[1]
        assert store.load_states(["contract:a"]) == {"contract:a": (2, b"s2")}

    # -- bytes --------------------------------------------------------------------------------

    def test_arbitrary_bytes_round_trip(self, store):
        bodies = [bytes(range(256)), b"", b"\x00" * 10, "ünïcode ✓".encode(), b"x" * 200_000]
        pos = store.append(
            batch(
                [ev(f"contract:{i}", 1, b) for i, b in enumerate(bodies)],
                {"k": (7, bytes(range(256)))},
                {"id": bytes(range(16))},
            )
        )
        assert store.read(0, 10) == list(zip(pos, bodies))
        assert store.load_states(["k"]) == {"k": (7, bytes(range(256)))}
        assert store.load_digests(["id"]) == {"id": bytes(range(16))}

    def test_every_event_type_round_trips_byte_exact(self, store):
        lines = every_type()
        rec = Recording(store)
        result = ingest(rec, lines, recorded_at=RECORDED)
        assert result.rejects == [] and result.accepted == len(lines)
        assert len(rec.batches) == 1
        sent = [e.state for e in rec.batches[0].events]
        rows = read_all(store)
        assert [body for _, body in rows] == sent  # exactly the bytes handed to append
        assert [p for p, _ in rows] == list(range(result.positions[0], result.positions[1] + 1))
        # and those bytes hold what was sent (checked against the lines, not the encoder)
        types = []
        for (_, body), raw in zip(rows, lines):
            event, recorded_at = json.loads(body)
            sent_event = json.loads(raw)
            assert recorded_at == RECORDED
            types.append(event["type"])
            for key, value in sent_event.items():
                if key in ("amount", "stars"):
                    assert float(event[key]) == float(value), key
                else:
                    assert event[key] == value, key
        assert len(set(types)) == 13  # every event type


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self):
        return MemoryStore()


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        from reputation.store.sqlite import SQLiteEventStore

        s = SQLiteEventStore(str(tmp_path / "events.sqlite"))
        yield s
        s.close()

    def test_reopening_sees_the_same_log(self, tmp_path):
        from reputation.store.sqlite import SQLiteEventStore

        path = str(tmp_path / "events.sqlite")
        a = SQLiteEventStore(path)
        pos = a.append(batch([ev("contract:a", 1, b"one")], {"contract:a": (1, b"s")}, {"e-1": b"d"}))
        a.close()
        b = SQLiteEventStore(path)
        try:
            assert b.read(0, 10) == [(pos[0], b"one")] and b.max_position() == pos[0]
            assert b.load_states(["contract:a"]) == {"contract:a": (1, b"s")}
            assert b.load_digests(["e-1"]) == {"e-1": b"d"}
        finally:
            b.close()


def _pg_admin():
    return pg_admin()


@pytest.fixture
def pg_schema():
    """A fresh schema on the real server, dropped afterwards."""
    conn = _pg_admin()
    name = "rt_" + uuid.uuid4().hex[:12]
    conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        conn.close()


@pytest.mark.postgres
class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, pg_schema):
        from reputation.store.postgres import PostgresEventStore

        s = PostgresEventStore(PG_URL, schema=pg_schema)
        yield s
        s.close()

    def test_tables_live_in_the_given_schema(self, store, pg_schema):
        store.append(batch([ev("contract:a", 1, b"x")], {"contract:a": (1, b"s")}, {"e-1": b"d"}))
        conn = _pg_admin()
        try:
            tables = {
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (pg_schema,)
                )
            }
        finally:
            conn.close()
        assert {"rep_state", "rep_event_ids"} <= tables and len(tables) >= 3


# -- ingest end to end on each adapter ---------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        from reputation.store.sqlite import SQLiteEventStore

        s = SQLiteEventStore(str(tmp_path / "events.sqlite"))
    else:
        from reputation.store.postgres import PostgresEventStore

        schema = request.getfixturevalue("pg_schema")
        s = PostgresEventStore(PG_URL, schema=schema)
    yield s
    s.close()


def _history_with_one_bad_line():
    h = History()
    h.open(t(0))
    h.pay(t(1), "10.00")
    h.close(t(2))
    h.private(t(3), recommend=8)
    h.private(t(4), recommend=2)  # line 5: immutable
    h.public(t(5), stars=4.5)
    h.flag(t(6))
    return h.lines


def _all_keys(lines):
    keys, ids = set(), set()
    for raw in lines:
        e = json.loads(raw)
        ids.add(e["event_id"])
        for field, prefix in (("contract_id", "contract:"), ("client_id", "client:"), ("freelancer_id", "freelancer:")):
            if field in e:
                keys.add(prefix + e[field])
    return sorted(keys), sorted(ids)


def test_ingest_all_or_nothing(any_store):
    lines = _history_with_one_bad_line()
    result = ingest(any_store, lines)
    assert [r.line for r in result.rejects] == [5] and "immutable" in result.rejects[0].reason
    keys, ids = _all_keys(lines)
    assert any_store.max_position() == 0 and any_store.read(0, 100) == []
    assert any_store.load_states(keys) == {} and any_store.load_digests(ids) == {}


def test_ingest_skip_invalid_writes_the_good_lines(any_store):
    lines = _history_with_one_bad_line()
    result = ingest(any_store, lines, skip_invalid=True)
    # line 6 (same contract, after the reject) waits for it; line 7 (a client's) does not
    assert [r.line for r in result.rejects] == [5, 6]
    assert "waiting for rejected event e-5" in result.rejects[1].reason
    assert result.accepted == 5 and result.written
    rows = any_store.read(0, 100)
    assert [json.loads(body)[0]["event_id"] for _, body in rows] == ["e-1", "e-2", "e-3", "e-4", "e-7"]
    keys, ids = _all_keys(lines)
    assert set(any_store.load_digests(ids)) == {"e-1", "e-2", "e-3", "e-4", "e-7"}
    assert set(any_store.load_states(keys)) == {"contract:c-1", "client:k-1", "freelancer:f-1"}
    # the rejected line is still rejected next time; the good ones are duplicates
    again = ingest(any_store, lines, skip_invalid=True)
    assert [r.line for r in again.rejects] == [5, 6] and again.duplicates == 5 and again.accepted == 0
    assert any_store.max_position() == rows[-1][0]


def test_ingest_in_two_calls_sees_the_first(any_store):
    """The write-side state persisted by the first call is what the second is checked against."""
    h = History()
    h.open(t(0))
    h.pay(t(1), "10.00")
    h.close(t(2))
    h.private(t(3))
    first = ingest(any_store, h.lines)
    assert first.accepted == 4
    h2 = History("x")
    h2.refund(t(4), "10.01")  # more than paid
    h2.private(t(4))  # immutable
    h2.pay(t(2 + 14))  # after the bonus window
    h2.scope(t(5))  # closed
    h2.open(t(5), cid="c-2", continues="c-1")  # fine
    h2.open(t(5), cid="c-3", continues="c-1", client="k-9")  # other client
    second = ingest(any_store, h2.lines)
    assert [r.line for r in second.rejects] == [1, 2, 3, 4, 6]
    assert any_store.max_position() == first.positions[1]


def test_stored_body_is_the_recorded_event(any_store):
    lines = every_type("rt")
    ingest(any_store, lines, recorded_at=RECORDED)
    rows = any_store.read(0, 100)
    assert len(rows) == len(lines)
    for (_, body), raw in zip(rows, lines):
        event, recorded_at = msgspec.json.decode(body)
        assert recorded_at == RECORDED and event["event_id"] == json.loads(raw)["event_id"]


class ConcurrentWriter(Recording):
    """Lets `other` append (another process, in effect) just before our first append."""

    def __init__(self, inner: EventStore, other_lines: list[bytes]):
        super().__init__(inner)
        self.other_lines = other_lines

    def append(self, b):
        if self.other_lines:
            lines, self.other_lines = self.other_lines, []
            other = ingest(self.inner, lines)
            assert other.rejects == [] and other.written
        return super().append(b)


def test_ingest_rechecks_after_a_concurrent_writer_wrote_the_same_events(any_store):
    lines = _history_with_one_bad_line()
    del lines[4]  # now valid
    store = ConcurrentWriter(any_store, lines[:3])
    result = ingest(store, lines)
    assert result.rejects == [] and result.accepted == 3 and result.duplicates == 3
    assert len(store.batches) == 2  # the first append conflicted, the second wrote the rest
    rows = any_store.read(0, 100)
    assert [json.loads(body)[0]["event_id"] for _, body in rows] == ["e-1", "e-2", "e-3", "e-4", "e-6", "e-7"]


def test_ingest_rechecks_after_a_concurrent_writer_broke_our_rule(any_store):
    h = History()
    h.open(t(0))
    assert ingest(any_store, h.lines).accepted == 1
    ours = History("ours")
    ours.scope(t(2))  # fine while open...
    theirs = History("theirs")
    theirs.close(t(1))  # ...but another writer closes the contract first
    store = ConcurrentWriter(any_store, theirs.lines)
    result = ingest(store, ours.lines)
    assert [r.line for r in result.rejects] == [1] and "closed" in result.rejects[0].reason
    assert not result.written
    assert [json.loads(body)[0]["event_id"] for _, body in any_store.read(0, 100)] == ["e-1", "theirs-1"]
