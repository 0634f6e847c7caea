"""The native ingest path against the Python reference: the same lines, in batches, into fresh
stores; the stores must hold the same bytes (events, write-side states with their versions,
id digests) and the results the same counts and reject messages. Valid histories must go
through the core without falling back to the reference (else the test proves nothing).
Seeded: hypothesis prints the failing example, SEED repeats a run."""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from engine.simulate import simulate
from reputation import native_ingest
from reputation.ingest import ingest, ingest_lines
from reputation.store import MemoryStore
from reputation.store.sqlite import SQLiteEventStore
from tests.integration.test_store_contract import PG_URL, pg_schema  # noqa: F401 (fixture)
from tests.property.histories import histories
from tests.property.test_ingest_fuzz import mutated
from tests.write_side import every_type

SEED = 20261201
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECORDED = "2026-12-01T10:00:00.123456Z"


class Counted:
    """Counts the batches the core handed to the reference (a context manager)."""

    def __init__(self):
        self.fallbacks = 0
        real = native_ingest.ingest

        def counting(store, lines, *, reference, **kw):
            def ref(again):
                self.fallbacks += 1
                return reference(again)

            return real(store, lines, reference=ref, **kw)

        self.patch = mock.patch.object(native_ingest, "ingest", counting)

    def __enter__(self):
        self.patch.start()
        return self

    def __exit__(self, *exc):
        self.patch.stop()


def contents(store: MemoryStore):
    return ([(p, tuple(e)) for p, e in store.log], dict(store.states), dict(store.ids), dict(store.versions))


def outcome(result):
    return (
        result.accepted,
        result.duplicates,
        result.positions,
        result.written,
        [(r.message(), r.raw, r.waiting_for, r.contract_id) for r in result.rejects],
    )


def run_both(batches: list[list[bytes]], via_lines: bool = True, **kw):
    """Ingest `batches` one after the other into a fresh store per engine."""
    out = {}
    for engine in ("python", "native"):
        store, results = MemoryStore(), []
        for lines in batches:
            call = ingest_lines if via_lines else ingest
            results.append(outcome(call(store, list(lines), engine=engine, recorded_at=RECORDED, **kw)))
        out[engine] = (results, contents(store))
    assert out["native"][0] == out["python"][0]
    assert out["native"][1] == out["python"][1]  # every stored byte
    return out["native"]


def cut(lines: list[bytes], cuts: list[int]) -> list[list[bytes]]:
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < len(lines)), len(lines)]
    return [lines[a:b] for a, b in zip(bounds, bounds[1:])]


@SETTINGS
@seed(SEED)
@given(histories(), st.lists(st.integers(1, 60), max_size=3))
def test_valid_histories_store_the_same_bytes_without_the_reference(lines, cuts):
    with Counted() as counted:
        results, _ = run_both(cut(lines, cuts))
    rejected = any(r[4] for r in results)
    assert rejected or counted.fallbacks == 0


@st.composite
def messy(draw):
    """A valid history with some lines mutated, re-sent, re-sent with other content, or moved."""
    valid = draw(histories())
    lines = list(valid)
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["mutate", "resend", "conflict", "move", "blank"]))
        if kind == "mutate":
            lines[i] = draw(mutated(draw(st.sampled_from(valid))))
        elif kind == "resend":
            lines.insert(draw(st.integers(i, len(lines))), lines[i])
        elif kind == "conflict":
            body = json.loads(draw(st.sampled_from(valid)))
            body["occurred_at"] = "2019-01-01T00:00:00Z"
            lines.append(json.dumps(body).encode())
        elif kind == "move":
            lines.insert(draw(st.integers(0, len(lines))), lines.pop(i))
        else:
            lines.insert(i, b"  \r\n")
    return lines


@SETTINGS
@seed(SEED)
@given(messy(), st.lists(st.integers(1, 60), max_size=2), st.sampled_from([{}, {"skip_invalid": True}, {"hold": True}]))
def test_any_lines_give_the_same_result_and_store(lines, cuts, mode):
    run_both(cut(lines, cuts), **mode)


@settings(max_examples=60, deadline=None)
@seed(SEED)
@given(st.lists(st.sampled_from(every_type("a") + every_type("b")), max_size=30), st.booleans())
def test_every_event_type_in_any_order(lines, via_lines):
    run_both([lines], via_lines=via_lines)


def test_canonical_forms_of_odd_but_valid_lines():
    """Spellings the canonical form rewrites: offsets, fractions, money as text, escapes, nulls."""
    odd = [
        '{"type":"ContractOpened","event_id":"e\\u002d1","occurred_at":"2023-01-01t10:00:00.5+02:30",'
        '"contract_id":"c1","freelancer_id":"f1","client_id":"k1","pricing":"hourly","continues":null,"schema":1}',
        '{"occurred_at":"2023-01-02T00:00:00.000000Z","type":"PaymentMade","event_id":"e2","contract_id":"c1","amount":"0012.5"}',
        '{"type":"PaymentMade","event_id":"e3","occurred_at":"2023-01-02T00:00:00-00:00","contract_id":"c1","amount":7}',
        '{"type":"ScopeChanged","event_id":"e4","occurred_at":"2023-01-03T00:00:00Z","contract_id":"c1",'
        '"summary":"tab\\there \\"q\\" \\u00e9\\u2028 \\ud83d\\ude00 \\/ \\u001f\u007f"}',
        '{"type":"ContractClosed","event_id":"e5","occurred_at":"2023-01-04T00:00:00Z","contract_id":"c1",'
        '"closed_by":"platform","reason":"other"}',
        '{"type":"PublicFeedbackSubmitted","event_id":"e6","occurred_at":"2023-01-05T00:00:00Z","contract_id":"c1",'
        '"by":"client","stars":4.10,"attributes":{"cooperation":1,"skills":null},"comment":null}',
        '{"type":"PublicFeedbackSubmitted","event_id":"e7","occurred_at":"2023-01-05T00:00:00Z","contract_id":"c1",'
        '"by":"freelancer","stars":1.234567890123456,"attributes":{}}',
        '{"type":"PrivateFeedbackSubmitted","event_id":"e8","occurred_at":"2023-01-06T00:00:00Z","contract_id":"c1",'
        '"by":"client","recommend":0,"end_reason":null}',
        '{"type":"FeedbackRemoved","event_id":"e9","occurred_at":"2023-01-07T00:00:00Z","contract_id":"c1",'
        '"of":"client","basis":"policy_violation","scope":"jss_and_profile"}',
        '{"type":"ClientFlagged","event_id":"e10","occurred_at":"2023-01-07T00:00:00Z","client_id":"k1","note":null}',
        '{"type":"ClockAdvanced","event_id":"e11","occurred_at":"2023-01-08T00:00:00+05:00","to":"2023-01-08T00:00:00.1z"}',
    ]
    lines = [x.encode() for x in odd]
    with Counted() as counted:
        (results, (log, _, _, _)) = run_both([lines, lines])  # the second time: all duplicates
    assert results[0][0] == len(lines) and results[1][1] == len(lines)
    assert counted.fallbacks == 0
    assert b'"amount":"12.50"' in log[1][1][3] and b'"occurred_at":"2023-01-01T07:30:00.500000Z"' in log[0][1][3]


@pytest.mark.parametrize("seed_", [1, 2, 3])
def test_simulated_markets_into_sqlite_store_the_same_rows(seed_):
    """A simulated market (perk removals, flags, ticks) in three files, into SQLite stores."""
    lines = list(simulate(40, 60, seed_))
    rng = random.Random(seed_)
    parts = cut(lines, [rng.randrange(len(lines)) for _ in range(2)])
    dumps = {}
    with tempfile.TemporaryDirectory() as tmp, Counted() as counted:
        for engine in ("python", "native"):
            path = str(Path(tmp) / f"{engine}.sqlite")
            store = SQLiteEventStore(path)
            for part in parts:
                result = ingest_lines(store, part, engine=engine, recorded_at=RECORDED)
                assert not result.rejects
            store.close()
            db = sqlite3.connect(path)
            dumps[engine] = [
                db.execute("SELECT rowid, * FROM stored_events ORDER BY rowid").fetchall(),
                db.execute("SELECT * FROM rep_state ORDER BY key").fetchall(),
                db.execute("SELECT * FROM rep_event_ids ORDER BY event_id").fetchall(),
            ]
            db.close()
    assert dumps["native"] == dumps["python"] and len(dumps["native"][0]) == len(lines)
    assert counted.fallbacks == 0


def test_export_lines_are_ingested_natively_dead_letters_by_the_reference():
    store = MemoryStore()
    ingest_lines(store, every_type("x"), engine="python")
    from reputation.export import export_lines

    exported = list(export_lines(store))
    dead = json.dumps({"line": 1, "event_id": "y", "error": "e", "original": every_type("y")[0].decode()}).encode()
    with Counted() as counted:
        run_both([exported, [*exported, *every_type("x")]])  # the second time: all known
        assert counted.fallbacks == 0
        run_both([exported + [dead]])
        assert counted.fallbacks == 1  # the native run handed that batch over
        results, _ = run_both([exported[:3]], via_lines=False)  # ingest() takes no export line
        assert results[0][4] and counted.fallbacks == 2


def test_unknown_engine_is_a_bad_request():
    with pytest.raises(native_ingest.UnknownIngestEngine, match="unknown ingest engine 'rust'; known: native, python"):
        ingest(MemoryStore(), [], engine="rust")


class Contended(MemoryStore):
    """A store whose first `fails` appends find that another writer came first."""

    def __init__(self, fails: int):
        super().__init__()
        self.fails, self.appends = fails, 0

    def append(self, batch):
        self.appends += 1
        if self.appends <= self.fails:
            from reputation.store import Conflict

            raise Conflict("stream moved on")
        return super().append(batch)


def test_a_conflict_is_checked_again_and_retried_by_the_core():
    lines = every_type("c")
    reference = MemoryStore()
    ingest(reference, lines, engine="python", recorded_at=RECORDED)
    store = Contended(fails=2)
    with Counted() as counted:
        result = ingest(store, lines, engine="native", recorded_at=RECORDED)
    assert (result.accepted, store.appends, counted.fallbacks) == (len(lines), 3, 0)
    assert contents(store) == contents(reference)


@st.composite
def odd_values(draw) -> list[bytes]:
    """One contract whose stars, amounts and timestamps are spelled in random (valid or not) ways."""

    def when(day: int) -> str:
        us = draw(st.sampled_from([0, 500_000, 1, 999_999, 120_000]))
        digits = draw(st.integers(1, 6))
        frac = f".{us:06d}"[: digits + 1] if us or draw(st.booleans()) else ""
        offset = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00", "+05:30", "-11:59", "+23:59", "+24:00"]))
        sep = draw(st.sampled_from(["T", "t"]))
        return f"2023-02-{day:02d}{sep}{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:00{frac}{offset}"

    stars = draw(st.floats(0.5, 5.5) | st.sampled_from([1, 5, 3.0, 4.50, 4.499999999999999999]))
    stars_text = draw(st.sampled_from([repr(stars), f"{stars:.17g}", f"{stars:.3f}", f"{stars}0"]))
    amount = draw(st.decimals(min_value=0, max_value=2_000_000_000, places=draw(st.integers(0, 3))))
    amount_text = draw(st.sampled_from([str(amount), f'"{amount}"', f'"{amount:f}"', f"{amount:.2f}"]))
    c = '"contract_id":"c1"'
    return [
        x.encode()
        for x in [
            f'{{"type":"ContractOpened","event_id":"o","occurred_at":"{when(1)}",{c},"freelancer_id":"f","client_id":"k","pricing":"fixed"}}',
            f'{{"type":"PaymentMade","event_id":"p","occurred_at":"{when(3)}",{c},"amount":{amount_text}}}',
            f'{{"type":"ContractClosed","event_id":"x","occurred_at":"{when(5)}",{c},"closed_by":"client","reason":"other"}}',
            f'{{"type":"PublicFeedbackSubmitted","event_id":"s","occurred_at":"{when(7)}",{c},"by":"client","stars":{stars_text}}}',
        ]
    ]


@settings(max_examples=400, deadline=None)
@seed(SEED)
@given(odd_values())
def test_stars_amounts_and_timestamps_spelled_any_way(lines):
    """The canonical values (shortest float, two-decimal money, UTC microseconds) as msgspec writes them."""
    run_both([lines])


EDGE = [
    b'{"type":"ClientUnflagged","ev\\u0065nt_id":"e1","occurred_at":"2024-01-01T00:00:00Z","client_id":"k"}',
    b'{"typ\\u0065":"ClientFlagged","event_id":"e2","occurred_at":"2024-01-01T00:00:00Z","client_id":"k"}',
    b'{"type":"ClientUnfl\\u0061gged","event_id":"e3","occurred_at":"2024-01-02T00:00:00Z","client_id":"k"}',
    b'{"type":"ClientFlagged","event_id":"e4","occurred_at":"2024-01-03T00:00:00Z","client_id":"k","schema":-0}',
    b'{"type":"ClientFlagged","event_id":"e5","occurred_at":"2024-01-03T00:00:00Z","client_id":"k","schema":1.0}',
    b'{"type":"ClientFlagged","event_id":"e6\\n","occurred_at":"2024-01-03T00:00:00Z","client_id":"k"}',
    b'{"type":"ClientFlagged","event_id":"e7","occurred_at":"2024-01-03T24:00:00Z","client_id":"k"}',
    b'{"type":"ClientFlagged","event_id":"e8","occurred_at":"2024-12-31T23:59:60Z","client_id":"k"}',
    b'{"type":"ClientFlagged","event_id":"e9","occurred_at":"0001-01-01T00:30:00+01:00","client_id":"k"}',
    b'{"type":"ClientFlagged","event_id":"e10","occurred_at":"8999-12-31T23:59:59.999999Z","client_id":"k"}',
    b'{"type":"ClientFlagged","event_id":"e11","occurred_at":"8999-12-31T23:30:00-01:00","client_id":"k"}',
    b'\x0b{"type":"ClientFlagged","event_id":"e12","occurred_at":"2024-01-03T00:00:00Z","client_id":"k"}',
    b' {"type":"ClientFlagged","event_id":"e13","occurred_at":"2024-01-03T00:00:00Z","client_id":"k"} \t',
    b'{"type":"ClientFlagged","event_id":"e14","occurred_at":"2024-01-03T00:00:00Z","client_id":"k","note":"x\\ud800"}',
    b'{"type":"ClientFlagged","event_id":"e15","occurred_at":"2024-01-03T00:00:00Z","client_id":"k","note":"'
    + b"\xc3\xa9" * 2000
    + b'"}',
    b'{"type":"ClientFlagged","event_id":"e16","occurred_at":"2024-01-03T00:00:00Z","client_id":"k","note":"'
    + b"\xc3\xa9" * 2001
    + b'"}',
]


@pytest.mark.parametrize("i", range(len(EDGE)))
def test_escaped_names_odd_numbers_and_time_limits_as_the_reference(i):
    """One line each (a valid opening before it where it needs one): the same result and bytes."""
    run_both([[EDGE[i]]])
    run_both([[EDGE[0], EDGE[i]]])


@st.composite
def export_files(draw) -> list[bytes]:
    """The export lines of a valid history, a few of them broken in their outer fields or event."""
    from reputation.export import export_lines

    store = MemoryStore()
    ingest_lines(store, draw(histories()), engine="python")
    lines = [x.rstrip(b"\n") for x in export_lines(store)]
    for i in draw(st.sets(st.integers(0, max(0, len(lines) - 1)), max_size=2)) if lines else ():
        outer = json.loads(lines[i])
        how = draw(st.sampled_from(["drop", "recorded_at", "extra", "event", "position"]))
        if how == "drop":
            outer.pop(draw(st.sampled_from(sorted(outer))))
        elif how == "recorded_at":
            outer["recorded_at"] = draw(st.sampled_from([1, None, "", "not a time"]))
        elif how == "extra":
            outer["error"] = "x"
        elif how == "position":
            outer["position"] = draw(st.sampled_from([-1, 2**70, "1", 1.5]))
        else:
            broken = draw(mutated(json.dumps(outer["event"]).encode()))
            try:
                outer["event"] = json.loads(broken)
                json.dumps(outer)
            except (ValueError, RecursionError):  # the mutation may nest past the json module
                outer["event"] = broken.decode("utf-8", "replace")
        lines[i] = json.dumps(outer).encode()
    return lines


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@seed(SEED)
@given(export_files())
def test_export_lines_whole_or_broken_as_the_reference(lines):
    run_both([lines])


ODD_NAMES = ["k", "0", "-", ".", "K.x_y:z-1", "a:b:c", "Z" * 128]  # ids: 1..128 of A-Z a-z 0-9 . _ : -


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_recorder_gets_the_streams_and_topics_the_reference_names(backend, tmp_path, request):
    """The core makes a recorder's rows itself (uuid5 originator ids, as hex for SQLite and
    as UUIDs for PostgreSQL, and topics): each stored row is the reference's event as the
    port names it (stream_uuid, TOPIC_PREFIX), ids at the edges of their alphabet and length
    included."""
    from reputation.store.port import TOPIC_PREFIX, stream_uuid

    lines = list(simulate(6, 24, 3)) + [
        json.dumps(
            {"type": "ClientFlagged", "event_id": f"odd-{i}", "occurred_at": "2024-01-03T00:00:00Z", "client_id": name}
        ).encode()
        for i, name in enumerate(ODD_NAMES)
    ]
    reference = MemoryStore()
    assert not ingest_lines(reference, lines, engine="python", recorded_at=RECORDED).rejects
    if backend == "sqlite":
        store = SQLiteEventStore(str(tmp_path / "events.sqlite"))
    else:
        from reputation.store.postgres import PostgresEventStore

        store = PostgresEventStore(PG_URL, schema=request.getfixturevalue("pg_schema"))
    try:
        with Counted() as counted:
            assert not ingest_lines(store, lines, engine="native", recorded_at=RECORDED).rejects
        assert counted.fallbacks == 0  # the core wrote them
        stored = store.recorder.select_notifications(1, len(lines) + 1)
        assert [(n.id, n.originator_id.hex, n.originator_version, n.topic, bytes(n.state)) for n in stored] == [
            (p, stream_uuid(e.stream).hex, e.version, TOPIC_PREFIX + e.type, e.state) for p, e in reference.log
        ]
        assert {f"client:{name}" for name in ODD_NAMES} <= {e.stream for _, e in reference.log}
    finally:
        store.close()
