"""Fuzzing `reputation ingest` (and the same path `consume` takes) with garbage and mutated lines.

Whatever the lines: never a traceback; exit 0 or 3; every complaint is one `line N (event
...): reason` line; and when any line is bad, nothing at all is written (all or nothing).
Seeded (`@seed`), so a run is repeatable; hypothesis prints the failing example.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from engine.cli import main_group
from reputation.ingest import ingest_lines
from reputation.store import MemoryStore
from reputation.store.sqlite import SQLiteEventStore
from tests.write_side import every_type

SEED = 20261201
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = every_type("fz")  # 14 lines, every event type
REPORT_LINE = re.compile(
    r"^(line \d+( \(event .+\))?: \S.*|rejected \d+ lines?; nothing was written|\.\.\. and \d+ more rejected lines?)$"
)

# JSON values of every kind, nested a little
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# raw JSON texts that Python's json would never write
raw_numbers = st.sampled_from(
    [
        "1e999999",
        "-1e999999",
        "1E-400",
        "9" * 5000,
        "0." + "0" * 3000 + "1",
        "-0",
        "4.49999999999999999",
        "5.00000000000000001",
        "123456789012345678901234567890.125",
        "1e3",
        "0e0",
    ]
)


@st.composite
def deep(draw) -> str:
    depth = draw(st.integers(500, 5000))
    open_, close = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    return open_ * depth + ("1" if open_ != "[" else "") + close * depth


@st.composite
def mutated(draw, valid: bytes) -> bytes:
    """One line: the valid line with one field, or its bytes, changed (or plain garbage)."""
    kind = draw(st.sampled_from(["bytes", "flip", "cut", "field-raw", "field-json", "drop", "extra", "deep-line"]))
    body = json.loads(valid)
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=200))
    if kind == "flip":
        i = draw(st.integers(0, len(valid) - 1))
        return valid[:i] + bytes([draw(st.integers(0, 255))]) + valid[i + 1 :]
    if kind == "cut":
        return valid[: draw(st.integers(1, len(valid) - 1))]
    if kind == "deep-line":
        return draw(deep()).encode()
    field = draw(st.sampled_from(sorted(body)))
    if kind == "drop":
        body.pop(field)
        return json.dumps(body).encode()
    if kind == "extra":
        body[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
        return json.dumps(body).encode()
    if kind == "field-json":
        body[field] = draw(json_values | st.text(alphabet="0123456789:-+.TZe tz", max_size=30))
        return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()
    body[field] = "@@RAW@@"  # a raw number or very deep nesting, spliced in as text
    raw = draw(raw_numbers | deep())
    return json.dumps(body).replace('"@@RAW@@"', raw).encode()


@st.composite
def files(draw) -> list[bytes]:
    """The valid lines with a few of them mutated (sometimes none), as file lines."""
    lines = list(VALID)
    for i in draw(st.sets(st.integers(0, len(lines) - 1), max_size=3)):
        lines[i] = draw(mutated(lines[i]))
    # a line of the file is what lies between newlines
    return [part for x in lines for part in re.split(rb"\r?\n", x)]


def stored(home: Path) -> int:
    path = home / "events.sqlite"
    if not path.exists():
        return 0
    store = SQLiteEventStore(str(path))
    try:
        return store.max_position()
    finally:
        store.close()


@FUZZ
@seed(SEED)
@given(lines=files())
def test_ingest_never_crashes_and_writes_all_or_nothing(lines):
    data = b"\n".join(lines) + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        result = CliRunner().invoke(main_group, ["--home", str(home), "ingest", "-"], input=data)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code in (0, 3), (result.exit_code, result.stderr)
        complaints = result.stderr.splitlines()
        assert all(REPORT_LINE.match(x) for x in complaints), complaints
        if result.exit_code == 3:
            assert any(x.startswith("line ") for x in complaints), complaints
            assert stored(home) == 0  # all or nothing
        else:
            assert complaints == [] and stored(home) == int(re.search(r"accepted (\d+)", result.stdout).group(1))


@FUZZ
@seed(SEED)
@given(lines=files())
def test_the_consume_path_turns_every_bad_line_into_a_reject(lines):
    """`consume` calls `ingest_lines(..., skip_invalid=True)`: a bad line is a reject (to the
    dead-letter topic), never an exception that would stop the consumer on every restart."""
    store = MemoryStore()
    result = ingest_lines(store, lines, skip_invalid=True)
    assert all(r.reason and "\n" not in r.reason for r in result.rejects)
    assert store.max_position() == result.accepted
    assert result.accepted + result.duplicates + len(result.rejects) == sum(1 for x in lines if x.strip())


def test_control_characters_in_a_bad_line_stay_on_one_report_line():
    """Found by the fuzzer: msgspec names an unknown field as sent, and an id is shown as sent."""
    body = json.loads(VALID[0])
    lines = [
        json.dumps(dict(body, **{"a\nb\u2028c\x1e": 1})).encode(),
        json.dumps(dict(body, event_id="id\nwith newline")).encode(),
    ]
    result = ingest_lines(MemoryStore(), lines)
    messages = [r.message() for r in result.rejects]
    assert len(messages) == 2 and all(len(m.splitlines()) == 1 for m in messages), messages
    assert "a\\nb\\u2028c\\x1e" in messages[0] and "(event id\\nwith newline)" in messages[1]
