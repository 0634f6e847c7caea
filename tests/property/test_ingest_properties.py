"""Properties of ingest on random valid histories (hypothesis, small sizes):

- ingest, `reputation export`, re-ingest into a fresh store: the identical log;
- one corrupted line in a valid file leaves the store exactly as it was.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.cli import main_group
from reputation.ingest import ingest
from reputation.store import MemoryStore
from reputation.store.sqlite import SQLiteEventStore
from tests.write_side import store_snapshot

BASE = datetime(2023, 1, 2, tzinfo=UTC)
US_PER_DAY = 86_400 * 1_000_000
WINDOW = 14 * US_PER_DAY
OFFSETS = [0, 0, 0, 120, -300, 330]  # minutes; most lines in Z

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def render_time(micros: int, offset_minutes: int) -> str:
    """RFC 3339 text of an instant, written with the given offset."""
    tz = timezone(timedelta(minutes=offset_minutes))
    local = (BASE + timedelta(microseconds=micros)).astimezone(tz)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if local.microsecond:
        text += f".{local.microsecond:06d}"
    if offset_minutes == 0:
        return text + "Z"
    sign = "-" if offset_minutes < 0 else "+"
    hh, mm = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hh:02d}:{mm:02d}"


def gap(draw, max_days: float = 3) -> int:
    """A time step: often zero (equal times keep arrival order), else up to `max_days`."""
    return draw(st.one_of(st.just(0), st.integers(1, int(max_days * US_PER_DAY))))


def money(draw) -> tuple[int, object]:
    cents = draw(st.integers(1, 500_000))
    spelled = draw(st.sampled_from(["str", "num"]))
    value = f"{cents // 100}.{cents % 100:02d}" if spelled == "str" else cents / 100
    return cents, value


@st.composite
def histories(draw, max_contracts: int = 4):
    """Lines of a valid history: a few contracts (open, payments, scope changes, refunds,
    close, bonus, public and private feedback, edit allowance and revisions, removal), a
    few client flags and clock ticks, interleaved at random across streams."""
    sources: list[list[tuple[str, int, dict]]] = []  # per stream: (type, micros, fields)
    freelancers = ["f-1", "f-2"]
    clients = ["k-1", "k-2", "k-3"]
    for ci in range(draw(st.integers(1, max_contracts))):
        cid = f"c-{ci}"
        out: list[tuple[str, int, dict]] = []
        now = draw(st.integers(0, 60)) * US_PER_DAY
        f, k = draw(st.sampled_from(freelancers)), draw(st.sampled_from(clients))
        out.append(
            (
                "ContractOpened",
                now,
                dict(contract_id=cid, freelancer_id=f, client_id=k, pricing=draw(st.sampled_from(["fixed", "hourly"]))),
            )
        )
        paid = 0
        for _ in range(draw(st.integers(0, 3))):
            now += gap(draw)
            kind = draw(st.sampled_from(["pay", "pay", "scope", "refund"]))
            if kind == "pay":
                cents, value = money(draw)
                paid += cents
                out.append(("PaymentMade", now, dict(contract_id=cid, amount=value)))
            elif kind == "scope":
                out.append(("ScopeChanged", now, dict(contract_id=cid, summary=draw(st.text(max_size=20)))))
            elif paid > 0:
                cents = draw(st.integers(1, paid))
                paid -= cents
                out.append(("PaymentRefunded", now, dict(contract_id=cid, amount=f"{cents / 100:.2f}")))
        if draw(st.booleans()):
            now += gap(draw)
            closed = now
            out.append(
                (
                    "ContractClosed",
                    now,
                    dict(
                        contract_id=cid,
                        closed_by=draw(st.sampled_from(["client", "freelancer", "platform"])),
                        reason=draw(st.sampled_from(["completed_successfully", "no_longer_needed", "other"])),
                    ),
                )
            )
            # feedback and a bonus, each at some time inside the window, in time order
            after_close = []
            for side in ("client", "freelancer"):
                if draw(st.booleans()):
                    after_close.append(
                        (
                            "PublicFeedbackSubmitted",
                            dict(contract_id=cid, by=side, stars=draw(st.sampled_from([1.0, 2.5, 4.0, 4.75, 5.0]))),
                        )
                    )
                if draw(st.booleans()):
                    after_close.append(
                        ("PrivateFeedbackSubmitted", dict(contract_id=cid, by=side, recommend=draw(st.integers(0, 10))))
                    )
            if draw(st.booleans()):
                after_close.append(("PaymentMade", dict(contract_id=cid, amount=money(draw)[1])))
            offsets = sorted(
                draw(st.lists(st.integers(0, WINDOW - 1), min_size=len(after_close), max_size=len(after_close)))
            )
            public_at = {}
            for (type_, fields), off in zip(after_close, offsets):
                out.append((type_, closed + off, fields))
                if type_ == "PublicFeedbackSubmitted":
                    public_at[fields["by"]] = closed + off
            now = out[-1][1]
            if len(public_at) == 2 and draw(st.booleans()):
                revealed = max(public_at.values())
                start = max(revealed, now)
                if start < revealed + WINDOW:
                    allow_at = draw(st.integers(start, revealed + WINDOW - 1))
                    author = draw(st.sampled_from(["client", "freelancer"]))
                    receiver = "freelancer" if author == "client" else "client"
                    out.append(("FeedbackEditAllowed", allow_at, dict(contract_id=cid, by=receiver)))
                    for at in sorted(draw(st.lists(st.integers(allow_at, allow_at + WINDOW - 1), max_size=2))):
                        out.append(
                            (
                                "PublicFeedbackRevised",
                                at,
                                dict(contract_id=cid, by=author, stars=draw(st.sampled_from([1.0, 3.0, 5.0]))),
                            )
                        )
                    now = out[-1][1]
            gave = sorted({fields["by"] for type_, _, fields in out if type_.endswith("FeedbackSubmitted")})
            if gave and draw(st.booleans()):
                now += gap(draw, 30)
                out.append(
                    (
                        "FeedbackRemoved",
                        now,
                        dict(
                            contract_id=cid,
                            of=draw(st.sampled_from(gave)),
                            basis=draw(st.sampled_from(["policy_violation", "dispute_upheld"])),
                        ),
                    )
                )
        sources.append(out)
    for k in clients:
        out, now = [], draw(st.integers(0, 30)) * US_PER_DAY
        for i in range(draw(st.integers(0, 3))):
            now += gap(draw, 10)
            out.append(("ClientFlagged" if i % 2 == 0 else "ClientUnflagged", now, dict(client_id=k)))
        sources.append(out)
    # clock ticks: any order of valid times is fine, `to` never before `occurred_at`
    ticks = []
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, 90)) * US_PER_DAY
        ticks.append(("ClockAdvanced", at, {"to": at + gap(draw, 5)}))
    sources.append(ticks)

    # interleave the streams at random, keeping each stream's order
    order = [i for i, src in enumerate(sources) for _ in src]
    order = draw(st.permutations(order))
    cursors = [0] * len(sources)
    lines = []
    for n, i in enumerate(order):
        type_, at, fields = sources[i][cursors[i]]
        cursors[i] += 1
        offset = draw(st.sampled_from(OFFSETS))
        body = {"type": type_, "event_id": f"ev-{n}", "occurred_at": render_time(at, offset)}
        for key, value in fields.items():
            body[key] = render_time(value, offset) if key == "to" else value
        lines.append(json.dumps(body).encode())
    return lines


# -- export, re-ingest: the identical log ---------------------------------------------------


def cli(home: Path, *args: str, input: bytes | None = None):
    result = CliRunner().invoke(main_group, ["--home", str(home), "--store", "sqlite", *args], input=input)
    return result


def log_of(home: Path) -> list[tuple[int, bytes]]:
    """(position, raw event bytes) of the store at `home`, straight from the store."""
    store = SQLiteEventStore(str(home / "events.sqlite"))
    try:
        rows = store.read(0, 1_000_000)
    finally:
        store.close()
    raw = msgspec.json.Decoder(tuple[msgspec.Raw, str])
    return [(p, bytes(raw.decode(body)[0])) for p, body in rows]


@SETTINGS
@given(lines=histories(), split=st.floats(0, 1))
def test_export_then_reingest_gives_the_identical_log(lines, split):
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        cut = int(len(lines) * split)
        for part in (lines[:cut], lines[cut:]):  # two ingest calls: the log spans batches
            if part:
                r = cli(a, "ingest", "-", input=b"\n".join(part) + b"\n")
                assert r.exit_code == 0, r.output
        exported = cli(a, "export")
        assert exported.exit_code == 0, exported.output
        out_a = exported.stdout_bytes
        assert out_a.count(b"\n") == len(lines)

        r = cli(b, "ingest", "-", input=out_a)
        assert r.exit_code == 0, r.output
        out_b = cli(b, "export").stdout_bytes

        def without_recorded_at(text: bytes):
            rows = [json.loads(x) for x in text.splitlines()]
            for row in rows:
                assert set(row) == {"position", "recorded_at", "event", "chain"}
                del row["recorded_at"]
                assert len(row.pop("chain")) == 64  # covers recorded_at: differs between the stores
            return rows

        rows_a = without_recorded_at(out_a)
        assert rows_a == without_recorded_at(out_b)
        # same events in the same order as the lines that were sent (not from the code under test)
        assert [row["event"]["event_id"] for row in rows_a] == [json.loads(x)["event_id"] for x in lines]
        assert [row["position"] for row in rows_a] == list(range(1, len(lines) + 1))
        # the stored event bodies are byte-equal
        log_a, log_b = log_of(a), log_of(b)
        assert log_a == log_b and len(log_a) == len(lines)
        # re-ingesting the export into the first store writes nothing
        r = cli(a, "ingest", "-", input=out_a)
        assert r.exit_code == 0 and log_of(a) == log_a


# -- one corrupted line: nothing changes ---------------------------------------------------

CORRUPTIONS = [
    "garbage",
    "truncate",
    "wrong-type",
    "unknown-field",
    "unknown-type",
    "reopen",
    "duplicate-private",
    "id-conflict",
]

# values of the wrong JSON type for each field (None only where the field is required)
WRONG = {
    "amount": [True, None, "ten", {"cents": 5}],  # a number or a decimal string
    "stars": ["4.0", True, None],
    "recommend": ["7", True, 1.5, None],
    "summary": [5, True, ["x"]],  # optional: null is fine
}
WRONG_DEFAULT = [5, True, None, ["x"]]  # required strings


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@settings(SETTINGS, max_examples=150)
@given(data=st.data(), lines=histories(max_contracts=3), kind=st.sampled_from(CORRUPTIONS))
def test_one_corrupted_line_leaves_the_store_unchanged(data, lines, kind):
    store = MemoryStore()
    k = data.draw(st.integers(0, len(lines)), label="prefix")
    first = ingest(store, lines[:k])
    assert first.rejects == []
    before = store_snapshot(store, lines)
    rest = list(lines[k:])
    parsed = [json.loads(x) for x in lines]

    if kind in ("garbage", "truncate", "wrong-type", "unknown-field", "unknown-type"):
        assume(rest)
        i = data.draw(st.integers(0, len(rest) - 1), label="line")
        body = json.loads(rest[i])
        if kind == "garbage":
            bad = data.draw(st.binary(min_size=1, max_size=40).filter(lambda b: b.strip(b" \t\r\n")), label="bytes")
        elif kind == "truncate":
            bad = rest[i][: data.draw(st.integers(1, len(rest[i]) - 1), label="cut")]
        elif kind == "wrong-type":
            field = data.draw(st.sampled_from(sorted(f for f in body if f != "type")), label="field")
            body[field] = data.draw(st.sampled_from(WRONG.get(field, WRONG_DEFAULT)), label="value")
            bad = json.dumps(body).encode()
        elif kind == "unknown-field":
            body[data.draw(st.sampled_from(["extra", "recorded_at", "position", "contractid"]))] = 1
            bad = json.dumps(body).encode()
        else:
            body["type"] = data.draw(st.sampled_from(["PaymentMaid", "Payment", "", "contractopened"]))
            bad = json.dumps(body).encode()
        rest[i] = bad
        where = i
    elif kind == "reopen":  # a second ContractOpened of an existing contract, with a new id
        opens = [j for j, p in enumerate(parsed) if p["type"] == "ContractOpened"]
        j = data.draw(st.sampled_from(opens), label="contract")
        copy = dict(parsed[j], event_id="dup-open")
        where = data.draw(st.integers(max(0, j + 1 - k), len(rest)), label="at")
        rest.insert(where, json.dumps(copy).encode())
    elif kind == "duplicate-private":  # private feedback is immutable
        privates = [j for j, p in enumerate(parsed) if p["type"] == "PrivateFeedbackSubmitted"]
        assume(privates)
        j = data.draw(st.sampled_from(privates), label="private")
        copy = dict(parsed[j], event_id="dup-private", recommend=(parsed[j]["recommend"] + 1) % 11)
        where = data.draw(st.integers(max(0, j + 1 - k), len(rest)), label="at")
        # keep the contract's time order: at the latest time of the contract so far
        latest = [p["occurred_at"] for p in parsed[: k + where] if p.get("contract_id") == copy["contract_id"]]
        copy["occurred_at"] = max(latest, key=_instant)
        (closed,) = [p for p in parsed if p["type"] == "ContractClosed" and p["contract_id"] == copy["contract_id"]]
        # that latest time may be past the feedback window: then the window rejects it first
        in_window = _instant(copy["occurred_at"]) < _instant(closed["occurred_at"]) + timedelta(days=14)
        rest.insert(where, json.dumps(copy).encode())
    else:  # "id-conflict": an earlier event id with other content
        j = data.draw(st.integers(0, len(lines) - 1), label="original")
        copy = dict(parsed[j], schema=1)
        copy["occurred_at"] = (
            "2022-06-01T00:00:00Z" if copy["occurred_at"] != "2022-06-01T00:00:00Z" else "2022-06-02T00:00:00Z"
        )
        where = data.draw(st.integers(max(0, j + 1 - k), len(rest)), label="at")
        rest.insert(where, json.dumps(copy).encode())

    result = ingest(store, rest, first_line=k + 1)
    assert k + 1 + where in [r.line for r in result.rejects], (kind, [r.message() for r in result.rejects])
    assert not result.written and result.accepted == 0
    assert store_snapshot(store, lines) == before
    if kind == "duplicate-private":
        expected = "immutable" if in_window else "after its feedback window ended"
        assert any(expected in r.reason for r in result.rejects), [r.reason for r in result.rejects]
    if kind == "id-conflict":
        assert any("conflict" in r.reason for r in result.rejects)


@settings(max_examples=60, deadline=None)
@given(lines=histories())
def test_the_generated_histories_are_valid(lines):
    """The strategy itself: its histories are accepted whole (else the properties prove little)."""
    store = MemoryStore()
    result = ingest(store, lines)
    assert result.rejects == [], [r.message() for r in result.rejects]
    assert store.max_position() == len(lines)
