"""docs/events.md and docs/rules.md against the code, so the reference cannot drift.

- the generated tables (fields, rule-set parameters, outcomes, weights, window exits) equal what
  `engine.docs` computes from the catalogue and the rule sets today;
- every event type has a section naming all its fields and one example line, and the example
  lines, ingested in order, are all accepted;
- every documented reject message is produced by a bad line written here (rule id -> bad line),
  and every message the write side can raise is documented;
- the README and the docs point nowhere outside the repository.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import msgspec
import pytest

from engine import docs
from reputation import events as ev
from reputation.clock import INF
from reputation.ingest import ingest
from reputation.rulesets import RULE_SETS, SWITCHES, in_force
from reputation.store import MemoryStore
from tests.unit.test_contract_rules import (
    PERK_END,
    perk,
    perk_contract,
    perk_date,
    perk_frequency,
    perk_late,
)
from tests.write_side import History, line, t

ROOT = Path(__file__).resolve().parents[2]
EVENTS_MD = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
RULES_MD = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")


# -- generated parts -------------------------------------------------------------


def test_generated_parts_equal_the_code():
    assert docs.stale() == [], "run `python -m engine.docs` and review the diff"


def test_a_changed_rule_set_makes_the_docs_stale(monkeypatch):
    changed = RULE_SETS["jss-2024"]._replace(min_contracts=3)
    monkeypatch.setitem(RULE_SETS, "jss-2024", changed)
    assert docs.stale() == ["rules.md: rule-sets differs from the code"]


def test_a_missing_generated_part_is_reported(tmp_path):
    for name in docs.FILES:
        (tmp_path / name).write_text((ROOT / "docs" / name).read_text(encoding="utf-8"), encoding="utf-8")
    text = (tmp_path / "rules.md").read_text(encoding="utf-8")
    (tmp_path / "rules.md").write_text(text.replace("<!-- generated:weights -->", "<!-- weights -->"), encoding="utf-8")
    assert docs.stale(tmp_path) == ["no generated part 'weights' in events.md, rules.md"]


def test_rule_set_table_parsed_back_equals_the_code():
    """An independent read of the parameters table (not through engine.docs' renderer)."""
    body = re.search(r"<!-- generated:rule-sets -->\n(.*?)<!-- end generated -->", RULES_MD, re.DOTALL)[1]
    rows = [[c.strip() for c in r.strip("|").split("|")] for r in body.strip().splitlines()]
    names = [n.strip("`") for n in rows[0][1:]]
    assert names == list(RULE_SETS)
    table = {r[0]: r[1:] for r in rows[2:]}
    yes = {"yes": True, "no": False}
    for i, name in enumerate(names):
        r = RULE_SETS[name]
        assert tuple(int(m) for m in table["JSS windows (months; best of)"][i].split(", ")) == r.windows
        assert yes[table["neutral reasons exist"][i]] == r.neutral_reasons
        assert yes[table["weighted by earnings and length"][i]] == r.weighted
        assert yes[table["a $0 contract counts only when negative"][i]] == r.zero_only_if_negative
        assert yes[table["counted only with a client signal or long-term"][i]] == r.needs_signal_or_long_term
        assert yes[table["flagged clients' signals ignored"][i]] == r.ignores_flagged_clients
        assert int(table["visible from: counted contracts in the 24-month window"][i]) == r.min_contracts
        assert int(table["... from at least this many clients"][i]) == r.min_clients
        assert yes[table["contracts linked by `continues` are one engagement"][i]] == r.engagements
        assert yes[table["neutral closes (no negative signal): neutral"][i]] == r.neutral_closes
        assert yes[table["a harsh client's low answers count only below its usual"][i]] == r.lenient_raters
        start = table["in force from (valid time, inclusive)"][i]
        if start == "never (chosen by name)":
            assert r.starts >= INF and all(in_force(s).name != name for s in (-INF, *SWITCHES, INF - 1))
            continue
        assert (r.starts < 0) if start == "the beginning" else ev.parse_time(start) == r.starts


# -- event sections and examples ---------------------------------------------------


def sections() -> dict[str, str]:
    parts = re.split(r"^### (\w+)\n", EVENTS_MD, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def example(name: str) -> bytes:
    found = re.findall(r"```json\n(.*?)\n```", sections()[name], re.DOTALL)
    assert len(found) == 1, f"{name}: expected one example line, found {len(found)}"
    return found[0].encode()


@pytest.mark.parametrize("cls", ev.EVENT_TYPES, ids=ev.TYPE_NAMES)
def test_each_event_type_has_a_section_with_every_field_and_an_example(cls):
    section = sections().get(cls.__name__)
    assert section is not None, f"no section `### {cls.__name__}` in docs/events.md"
    for f in msgspec.inspect.type_info(cls).fields:
        if f.name not in docs.COMMON:
            assert f"`{f.encode_name}`" in section, f"{cls.__name__}: field `{f.encode_name}` not documented"
    event = ev.decode_event(example(cls.__name__))
    assert type(event) is cls


def test_the_example_lines_in_order_are_all_accepted():
    lines = [example(name) for name in ev.TYPE_NAMES]
    store = MemoryStore()
    result = ingest(store, lines)
    assert [r.message() for r in result.rejects] == []
    assert result.accepted == len(ev.TYPE_NAMES) == store.max_position()
    assert len({json.loads(x)["event_id"] for x in lines}) == len(lines)


# -- reject messages -----------------------------------------------------------------

ROW = re.compile(r"^\| `([a-z0-9]+(?:-[a-z0-9]+)+)` \| .* \| (`+) ?(.+?) ?\2 \|$", re.MULTILINE)
PLACEHOLDER = re.compile(r"<[a-z _]+>")


def documented() -> dict[str, str]:
    rows = ROW.findall(EVENTS_MD)
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "a rule id is documented twice"
    return {rule: template for rule, _, template in rows}


def template_regex(template: str) -> str:
    return ".+?".join(re.escape(part) for part in PLACEHOLDER.split(template))


def closed_at_10(h: History) -> None:
    h.open(t(0))
    h.pay(t(1), "100.00")
    h.close(t(10))


def both_public(h: History) -> None:
    closed_at_10(h)
    h.public(t(11), by="client", stars=4.0)
    h.public(t(12), by="freelancer", stars=5.0)


def shape(**fields) -> bytes:
    base = {"type": "PaymentMade", "event_id": "e-1", "occurred_at": t(0), "contract_id": "c-1", "amount": "5.00"}
    return json.dumps(base | fields).encode()


# rule id -> the bad line, or a builder whose last line is the bad one
BAD = {
    "shape-not-json": b'{"type": ',
    "shape-nested": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "shape-not-object": b"[1]",
    "shape-unknown-type": shape(type="PaymentPromised"),
    "shape-missing-field": line("ClientUnflagged", "e-1", t(0)),
    "shape-unknown-field": line("ClientUnflagged", "e-1", t(0), client_id="k-1", colour="red"),
    "shape-wrong-type": shape(contract_id=3),
    "shape-out-of-range": line("PrivateFeedbackSubmitted", "e-1", t(0), contract_id="c-1", by="client", recommend=11),
    "shape-not-a-choice": line("FeedbackEditAllowed", "e-1", t(0), contract_id="c-1", by="both"),
    "shape-id": shape(contract_id="c 1"),
    "shape-timestamp": shape(occurred_at="2023-01-02T00:00:00"),
    "shape-timestamp-date": shape(occurred_at="2023-02-30T00:00:00Z"),
    "shape-timestamp-range": line("ClockAdvanced", "e-1", t(0), to="9000-01-01T00:00:00Z"),
    "shape-schema": shape(schema=2),
    "shape-money-finite": shape(amount="NaN"),
    "shape-money-range": shape(amount=0),
    "shape-money-decimals": shape(amount="12.505"),
    "shape-money-string": shape(amount="+5"),
    "shape-stars-range": line("PublicFeedbackSubmitted", "e-1", t(0), contract_id="c-1", by="client", stars=5.5),
    "shape-stars-range-exact": b'{"type": "PublicFeedbackSubmitted", "event_id": "e-1", "occurred_at": "2023-01-02T00:00:00Z", '
    b'"contract_id": "c-1", "by": "client", "stars": 5.000000000000000001}',
    "shape-stars-digits": b'{"type": "PublicFeedbackSubmitted", "event_id": "e-1", "occurred_at": "2023-01-02T00:00:00Z", '
    b'"contract_id": "c-1", "by": "client", "stars": 4.49999999999999999}',
    "id-conflict": lambda h: (h.open(t(0), event_id="x"), h.open(t(0), cid="c-2", event_id="x")),
    "contract-missing": lambda h: h.pay(t(0), cid="c-9"),
    "contract-order": lambda h: (h.open(t(1)), h.pay(t(0))),
    "client-order": lambda h: (h.flag(t(1)), h.unflag(t(0))),
    "opened-exists": lambda h: (h.open(t(0)), h.open(t(1))),
    "opened-same-party": lambda h: h.open(t(0), freelancer="p-1", client="p-1"),
    "opened-continues-itself": lambda h: h.open(t(0), continues="c-1"),
    "opened-continues-missing": lambda h: h.open(t(0), continues="c-0"),
    "opened-continues-other-parties": lambda h: (h.open(t(0), cid="c-0", client="k-2"), h.open(t(1), continues="c-0")),
    "opened-continues-later": lambda h: (h.open(t(1), cid="c-0"), h.open(t(0), continues="c-0")),
    "scope-closed": lambda h: (closed_at_10(h), h.scope(t(11))),
    "payment-late": lambda h: (closed_at_10(h), h.pay(t(24))),
    "refund-exceeds": lambda h: (h.open(t(0)), h.pay(t(1), "100.00"), h.refund(t(2), "100.01")),
    "close-twice": lambda h: (closed_at_10(h), h.close(t(11))),
    "public-before-close": lambda h: (h.open(t(0)), h.public(t(1))),
    "public-after-window": lambda h: (closed_at_10(h), h.public(t(24))),
    "public-twice": lambda h: (closed_at_10(h), h.public(t(11)), h.public(t(12))),
    "private-before-close": lambda h: (h.open(t(0)), h.private(t(1))),
    "private-after-window": lambda h: (closed_at_10(h), h.private(t(24))),
    "private-twice": lambda h: (closed_at_10(h), h.private(t(11)), h.private(t(12))),
    "edit-not-revealed": lambda h: (closed_at_10(h), h.public(t(11)), h.allow(t(12), by="freelancer")),
    "edit-too-late": lambda h: (both_public(h), h.allow(t(26), by="freelancer")),
    "edit-twice": lambda h: (both_public(h), h.allow(t(13), by="freelancer"), h.allow(t(14), by="freelancer")),
    "revise-not-allowed": lambda h: (both_public(h), h.revise(t(13), by="client")),
    "revise-too-late": lambda h: (both_public(h), h.allow(t(13), by="freelancer"), h.revise(t(27), by="client")),
    "remove-nothing": lambda h: (closed_at_10(h), h.remove(t(11))),
    "remove-twice": lambda h: (
        closed_at_10(h),
        h.public(t(11)),
        h.remove(t(12)),
        h.remove(t(13), basis="dispute_upheld"),
    ),
    "perk-of-freelancer": lambda h: (
        perk_contract(h, "a", 0),
        h.public(t(3), by="freelancer", cid="a"),
        h.remove(t(5), of="freelancer", basis="top_rated_perk", cid="a"),
    ),
    "perk-ended": perk_date(PERK_END),
    "perk-90-days": perk_frequency(10, (100, -1)),
    "perk-10-contracts": perk_frequency(9, (100, 0)),
    "perk-late-90-days": perk_late(60, 10, closed_between=10),
    "perk-late-10-contracts": perk_late(142, 10, closed_between=9),
    "perk-late-order": perk_late(200, 10, closed_between=10),
    "perk-positive": lambda h: (perk_contract(h, "a", 0, client_stars=5.0), perk(h, t(5), "a")),
    "flag-twice": lambda h: (h.flag(t(0)), h.flag(t(1))),
    "unflag-not-flagged": lambda h: h.unflag(t(0)),
    "clock-backwards": lambda h: h.clock(t(1), to=t(0)),
}

# Raise sites no input can reach, so no documented rule: checked here so that a change making
# one reachable shows up.
UNREACHABLE = {
    # FeedbackEditAllowed by the other side already needs the author's revealed public feedback
    "the {} gave no public feedback on contract {} to revise",
    # msgspec reports invalid UTF-8 in bytes as malformed JSON ("not a JSON event object (...)")
    "not UTF-8 text",
}


def test_every_documented_rule_has_a_bad_line_here_and_back():
    assert set(documented()) == set(BAD)


def reject_format() -> str:
    fmt = re.search(r"```text\n(line .*)\n```", EVENTS_MD)[1]
    return fmt


@pytest.mark.parametrize("rule", sorted(BAD))
def test_the_bad_line_is_rejected_with_the_documented_message(rule):
    bad = BAD[rule]
    if isinstance(bad, bytes):
        lines = [bad]
    else:
        h = History()
        bad(h)
        lines = h.lines
    store = MemoryStore()
    result = ingest(store, lines)
    assert [r.line for r in result.rejects] == [len(lines)], [r.message() for r in result.rejects]
    assert not result.written and store.max_position() == 0
    reject = result.rejects[0]
    template = documented()[rule]
    assert re.fullmatch(template_regex(template), reject.reason), (template, reject.reason)
    # the reported line, as the documented format gives it
    fmt = reject_format().replace("<reject message>", template)
    if reject.event_id is None:
        fmt = fmt.replace(" (event <event_id>)", "")
    assert re.fullmatch(template_regex(fmt), reject.message()), (fmt, reject.message())


# -- every message the code can raise is documented -----------------------------------

RAISING = {
    "reputation/contract.py": {"RuleBroken"},
    "reputation/outcome.py": {"RuleBroken"},
    "reputation/ingest.py": {"RuleBroken"},
    "reputation/events.py": {"ValueError", "InvalidEvent"},
    "reputation/values.py": {"ValueError"},
}


def _pattern(node: ast.expr) -> str:
    """A regex for the messages an expression can build: literal text kept, values as `.+?`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(_pattern(v) if isinstance(v, ast.Constant) else ".+?" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _pattern(node.left) + _pattern(node.right)
    if isinstance(node, ast.IfExp):
        return f"(?:{_pattern(node.body)}|{_pattern(node.orelse)})"
    return ".+?"


def _text(node: ast.expr) -> str:
    """The literal text of a message expression, values as `{}` (to name it in UNREACHABLE)."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return "{}"


def raise_sites() -> list[tuple[str, int, str, str]]:
    sites = []
    for path, names in RAISING.items():
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            func = node.exc.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            message = node.exc.args[0]
            if name in names and isinstance(message, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.IfExp)):
                sites.append((path, node.lineno, _pattern(message), _text(message)))
    return sites


def test_the_scan_finds_the_write_side_rules():
    assert len(raise_sites()) >= 40  # a broken scan must not pass for lack of sites


def test_every_message_the_write_side_raises_is_documented():
    templates = list(documented().values())
    missing = [
        f"{path}:{lineno}: {text}"
        for path, lineno, pattern, text in raise_sites()
        if text not in UNREACHABLE and not any(re.fullmatch(pattern, tpl) for tpl in templates)
    ]
    assert missing == [], "raised by the code, not documented in docs/events.md"
    texts = {text for *_, text in raise_sites()}
    assert UNREACHABLE <= texts, "an UNREACHABLE entry no longer matches a raise site"


# -- links -----------------------------------------------------------------------------


def test_readme_and_docs_point_only_inside_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, text in [("README.md", readme), ("docs/events.md", EVENTS_MD), ("docs/rules.md", RULES_MD)]:
        assert "shared/" not in text and not re.search(r"/work\b", text), name
    assert "(docs/events.md)" in readme and "(docs/rules.md)" in readme
    pages = {"events.md": EVENTS_MD, "rules.md": RULES_MD}
    for page, text in pages.items():
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md)?(?:#([\w-]*))?\)", text):
            linked = pages.get(target or page)
            assert linked is not None, f"{page}: link to {target}"
            assert not anchor or anchor in anchors(linked), f"{page}: no #{anchor} in {target or page}"


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
