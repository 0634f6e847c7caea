"""The generated parts of docs/events.md and docs/rules.md, computed from the code.

Each part sits between `<!-- generated:NAME -->` and `<!-- end generated -->`. `python -m
engine.docs` rewrites them in place; `python -m engine.docs --check` exits 1 and names the
stale parts (the test suite runs the same check), so the reference cannot drift from the
catalogue and the rule sets. The prose around them is checked by tests/unit/test_docs_reference.py.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, get_args

import msgspec
from msgspec import inspect as mi

from projections.rules.windows import WINDOWS, assess, weight4, window_exit
from reputation import contract as ct
from reputation import events as ev
from reputation.clock import DAY, INF, format_time, parse_time
from reputation.outcome import LONG_TERM, Cut, Signals, View, outcome
from reputation.rulesets import NEUTRAL_CLOSES, RULE_SETS, SWITCHES, in_force, reason_is_negative

DOCS = Path(__file__).resolve().parent.parent / "docs"
FILES = ("events.md", "rules.md")
BLOCK = re.compile(r"(<!-- generated:(?P<name>[\w:.-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.DOTALL)

# Raw fields are parsed in __post_init__: their JSON type and constraints are not in the schema.
RAW_FIELDS = {
    "amount": "money: a JSON number or a string of digits with an optional fraction "
    '(`"12.50"`); > 0, <= 1e9, at most 2 decimals',
    "stars": "stars: a JSON number 1.0..5.0, kept exactly as sent (at most 15 significant digits)",
}


def _day(micros: int) -> str:
    return format_time(micros).replace("T00:00:00Z", "")


def _days(micros: int) -> str:
    return f"{micros // DAY} days"


def _describe(t: mi.Type, name: str) -> str:
    if isinstance(t, mi.StrType):
        if t.pattern == ev.ID_PATTERN:
            return "id: 1..128 characters of `A-Z a-z 0-9 . _ : -`"
        if t.pattern == ev.TIMESTAMP_PATTERN:
            return f"timestamp: RFC 3339 with an offset, at most microseconds, before {ev.TIME_LIMIT_TEXT}"
        if t.pattern is None and t.min_length is None:
            return "string" + (f", at most {t.max_length} characters" if t.max_length else "")
    elif isinstance(t, mi.IntType) and t.gt is None and t.lt is None and t.multiple_of is None:
        if name == "schema":
            return "integer, one of " + ", ".join(map(str, ev.SCHEMA_VERSIONS))
        if t.ge is not None and t.le is not None:
            return f"integer {t.ge}..{t.le}"
    elif isinstance(t, mi.LiteralType):
        return "one of " + ", ".join(f"`{v}`" for v in t.values)
    elif isinstance(t, mi.RawType) and name in RAW_FIELDS:
        return RAW_FIELDS[name]
    elif isinstance(t, mi.StructType):
        return f"object: [{t.cls.__name__}](#{t.cls.__name__.lower()})"
    elif isinstance(t, mi.UnionType):
        inner = [u for u in t.types if not isinstance(u, mi.NoneType)]
        if len(inner) == 1:
            return _describe(inner[0], name)
    raise ValueError(f"engine.docs cannot describe field `{name}` ({t}): teach _describe its type")


def _required(f: mi.Field) -> str:
    if f.required:
        return "required"
    if f.default in (None, msgspec.NODEFAULT):
        return "optional"
    return f"optional, default `{f.default}`"


def _fields(cls: type) -> tuple[Any, ...]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType), cls  # events are msgspec Structs
    return info.fields


def field_table(cls: type, skip: tuple[str, ...] = ()) -> str:
    rows = ["| field | type and constraints | presence |", "|---|---|---|"]
    for f in _fields(cls):
        if f.name not in skip:
            rows.append(f"| `{f.encode_name}` | {_describe(f.type, f.name)} | {_required(f)} |")
    return "\n".join(rows)


COMMON = tuple(f.name for f in _fields(ev.Base))


def common_table() -> str:
    """The tag field first (msgspec keeps it out of the struct's fields), then Base's fields."""
    head, rule, *rows = field_table(ev.Base).splitlines()
    tag = f"| `{ev.Base.__struct_config__.tag_field}` | one of the [event types](#event-types-generated) | required |"
    return "\n".join([head, rule, tag, *rows])


def type_table() -> str:
    groups = {"contract": get_args(ev.ContractEvent), "client": get_args(ev.ClientEvent), "engine": (ev.ClockAdvanced,)}
    rows = ["| type | stream | fields besides the common ones |", "|---|---|---|"]
    for stream, types in groups.items():
        for cls in types:
            names = [f.name for f in _fields(cls) if f.name not in COMMON]
            rows.append(
                f"| [`{cls.__name__}`](#{cls.__name__.lower()}) | {stream} | "
                + ", ".join(f"`{n}`" for n in names)
                + " |"
            )
    return "\n".join(rows)


def limits_table() -> str:
    rows = [
        (
            "feedback window (public and private feedback, double-blind reveal)",
            f"closed_at + {_days(ct.FEEDBACK_WINDOW)}",
        ),
        ("bonus window (`PaymentMade` after the close)", f"closed_at + {_days(ct.BONUS_WINDOW)}"),
        (
            "edit window (`FeedbackEditAllowed` after the reveal, `PublicFeedbackRevised` after the allowance)",
            _days(ct.EDIT_WINDOW),
        ),
        ("end of the top-rated removal perk", format_time(ct.PERK_END)),
        ("latest accepted timestamp (exclusive)", ev.TIME_LIMIT_TEXT),
        ("payload versions (`schema`)", ", ".join(map(str, ev.SCHEMA_VERSIONS))),
    ]
    return "\n".join(["| limit | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows])


def reasons_list() -> str:
    return ", ".join(f"`{r}`" for r in ev.REASONS)


# -- rules.md --------------------------------------------------------------------


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def rule_set_table() -> str:
    sets = list(RULE_SETS.values())
    ends = [format_time(s) for s in SWITCHES] + [""]
    head = "| parameter | " + " | ".join(f"`{r.name}`" for r in sets) + " |"
    rows = [head, "|---" * (len(sets) + 1) + "|"]

    def row(label: str, values) -> None:
        rows.append(f"| {label} | " + " | ".join(str(v) for v in values) + " |")

    row(
        "in force from (valid time, inclusive)",
        [
            "the beginning" if r.starts < 0 else "never (chosen by name)" if r.starts >= INF else format_time(r.starts)
            for r in sets
        ],
    )
    row("in force until (exclusive)", [(ends[i] if i < len(ends) else "") or "-" for i in range(len(sets))])
    row("JSS windows (months; best of)", [", ".join(map(str, r.windows)) for r in sets])
    row("neutral reasons exist", [_yes(r.neutral_reasons) for r in sets])
    row("weighted by earnings and length", [_yes(r.weighted) for r in sets])
    row("a $0 contract counts only when negative", [_yes(r.zero_only_if_negative) for r in sets])
    row("counted only with a client signal or long-term", [_yes(r.needs_signal_or_long_term) for r in sets])
    row("flagged clients' signals ignored", [_yes(r.ignores_flagged_clients) for r in sets])
    row("visible from: counted contracts in the 24-month window", [r.min_contracts for r in sets])
    row("... from at least this many clients", [r.min_clients for r in sets])
    row("contracts linked by `continues` are one engagement", [_yes(r.engagements) for r in sets])
    row("neutral closes (no negative signal): neutral", [_yes(r.neutral_closes) for r in sets])
    row("a harsh client's low answers count only below its usual", [_yes(r.lenient_raters) for r in sets])
    row("Top Rated: a week counts from a displayed JSS of", [r.top_rated.jss for r in sets])
    row(
        "... in at least this many weekly evaluations (Mondays 00:00 UTC)",
        [f"{r.top_rated.weeks} of the last {r.top_rated.of}" for r in sets],
    )
    row(
        "... and earnings (payments - refunds) of at least",
        [f"${r.top_rated.earnings // 100:,} in {r.top_rated.months} months" for r in sets],
    )
    return "\n".join(rows)


def reasons_table() -> str:
    sets = list(RULE_SETS.values())
    rows = ["| client's reason | " + " | ".join(f"`{r.name}`" for r in sets) + " |", "|---" * (len(sets) + 1) + "|"]
    for reason in ev.REASONS:
        marks = [
            "negative"
            if reason_is_negative(reason, r)
            else "neutral close"
            if r.neutral_closes and reason in NEUTRAL_CLOSES
            else "not negative"
            for r in sets
        ]
        rows.append(f"| `{reason}` | " + " | ".join(marks) + " |")
    return "\n".join(rows)


def _view(first_paid: int | None = None, last_paid: int | None = None) -> View:
    return View._make([None] * len(View._fields))._replace(first_paid=first_paid, last_paid=last_paid)


# (description, reason, private end reason?, recommend, stars, payment span in days)
OUTCOME_CASES = [
    ("no client signal, payments span 89 days", None, False, None, None, 89),
    ("no client signal, payments span 90 days (long-term)", None, False, None, None, 90),
    ("reason `completed_successfully` only", "completed_successfully", False, None, None, 0),
    ("reason `no_longer_needed` only", "no_longer_needed", False, None, None, 0),
    ("reason `hired_someone_else`, recommend 9", "hired_someone_else", False, 9, None, 0),
    ("reason `freelancer_unresponsive`, recommend 10, stars 5.0", "freelancer_unresponsive", False, 10, 5.0, 0),
    ("private end reason `completed_unsuccessfully`", "completed_unsuccessfully", True, None, None, 0),
    ("recommend 6", None, False, 6, None, 0),
    ("recommend 7", None, False, 7, None, 0),
    ("recommend 8, stars 5.0", None, False, 8, 5.0, 0),
    ("recommend 9", None, False, 9, None, 0),
    ("stars 2.99", None, False, None, 2.99, 0),
    ("stars 3.0", None, False, None, 3.0, 0),
    ("stars 4.49, no private feedback", None, False, None, 4.49, 0),
    ("stars 4.5, no private feedback", None, False, None, 4.5, 0),
    ("recommend 10, stars 2.5", None, False, 10, 2.5, 0),
    ("recommend 8, payments span 90 days", None, False, 8, None, 90),
]


def outcome_table() -> str:
    sets = list(RULE_SETS.values())
    rows = [
        "| client signals at the cut | " + " | ".join(f"`{r.name}`" for r in sets) + " |",
        "|---" * (len(sets) + 1) + "|",
    ]
    for label, reason, private, recommend, stars, span in OUTCOME_CASES:
        s = Signals(reason, private, recommend, stars, None)
        v = _view(0, span * DAY)
        rows.append(f"| {label} | " + " | ".join(outcome(v, s, r)[0] for r in sets) + " |")
    return "\n".join(rows)


# (description, earnings in cents, recommend, payment span in days, removal basis, client flagged)
COUNTED_CASES = [
    ("$100, no client signal", 100_00, None, 0, None, False),
    ("$0, no client signal", 0, None, 0, None, False),
    ("$0, recommend 5", 0, 5, 0, None, False),
    ("$0, recommend 10", 0, 10, 0, None, False),
    ("$100, recommend 10", 100_00, 10, 0, None, False),
    ("$100, no client signal, payments span 90 days", 100_00, None, 90, None, False),
    ("$100, recommend 10, client feedback removed (`policy_violation`)", 100_00, 10, 0, "policy_violation", False),
    ("$100, recommend 3, client feedback removed (`top_rated_perk`)", 100_00, 3, 0, "top_rated_perk", False),
    ("$100, recommend 3, client flagged", 100_00, 3, 0, None, True),
    ("$100, recommend 3, client flagged, payments span 90 days", 100_00, 3, 90, None, True),
]


def counted_table() -> str:
    sets = list(RULE_SETS.values())
    rows = [
        "| settled contract, closed by the freelancer | " + " | ".join(f"`{r.name}`" for r in sets) + " |",
        "|---" * (len(sets) + 1) + "|",
    ]
    c = ct.Contract(
        id="c",
        freelancer="f",
        client="k",
        pricing="fixed",
        continues=None,
        opened_at=0,
        opened_pos=0,
        opened_event="e",
        last_at=0,
    )
    for label, earnings, recommend, span, basis, flagged in COUNTED_CASES:
        v = _view(0, span * DAY)._replace(
            contract=c,
            closed_at=0,
            closed_by="freelancer",
            close_reason="completed_successfully",
            settled_at=ct.FEEDBACK_WINDOW,
            earnings=earnings,
            client_recommend=recommend,
            client_removed=(basis, "jss_only") if basis else None,
            both_public=False,
        )
        cells = []
        for r in sets:
            a = assess(v, Cut(ct.FEEDBACK_WINDOW), r, flagged)
            cells.append(f"counted, {a.outcome}" if a.counted else "excluded")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def weight_table() -> str:
    weighted = [r for r in RULE_SETS.values() if r.weighted]
    unweighted = [r.name for r in RULE_SETS.values() if not r.weighted]
    spans = (0, 89, 90, 179, 180, 630, 720)
    earnings = (0, 250_00, 250_01, 1000_00, 1000_01)
    rows = [
        "| earnings \\ days from first to last payment | " + " | ".join(map(str, spans)) + " |",
        "|---" * (len(spans) + 1) + "|",
    ]
    for e in earnings:
        cells = []
        for d in spans:
            v = _view(0, d * DAY)._replace(earnings=e)
            values = {weight4(v, r) for r in weighted}
            if len(values) != 1:  # one table for all weighted rule sets only while they agree
                raise ValueError(f"weighted rule sets disagree on the weight of ${e / 100:.2f} over {d} days")
            cells.append(f"{values.pop() / 4:g}")
        rows.append(f"| ${e / 100:,.2f} | " + " | ".join(cells) + " |")
    fixed = {
        weight4(_view(0, d * DAY)._replace(earnings=e), RULE_SETS[n]) / 4
        for n in unweighted
        for e in earnings
        for d in spans
    }
    names = ", ".join(f"`{r.name}`" for r in RULE_SETS.values() if r.weighted)
    note = (
        f"\n\nWeights above: {names} (a long-term period is {_days(LONG_TERM)}). "
        + ", ".join(f"`{n}`" for n in unweighted)
        + f": every contract weighs {', '.join(f'{w:g}' for w in sorted(fixed))}."
    )
    return "\n".join(rows) + note


EXIT_EXAMPLES = ("2023-08-31T09:30:00Z", "2024-01-31T12:00:00Z", "2024-02-29T00:00:00Z")


def exit_table() -> str:
    rows = [
        "| closed at | " + " | ".join(f"leaves the {m}-month window at" for m in WINDOWS) + " |",
        "|---" * (len(WINDOWS) + 1) + "|",
    ]
    for text in EXIT_EXAMPLES:
        closed = parse_time(text)
        rows.append(f"| {text} | " + " | ".join(format_time(window_exit(closed, m)) for m in WINDOWS) + " |")
    return "\n".join(rows)


def switch_list() -> str:
    return "\n".join(f"- {format_time(s)}: `{in_force(s - 1).name}` -> `{in_force(s).name}`" for s in SWITCHES)


def blocks() -> dict[str, Callable[[], str]]:
    out: dict[str, Callable[[], str]] = {
        "types": type_table,
        "common-fields": common_table,
        "attributes": lambda: field_table(ev.Attributes),
        "limits": limits_table,
        "reasons": reasons_list,
        "rule-sets": rule_set_table,
        "switches": switch_list,
        "reasons-by-rule-set": reasons_table,
        "outcomes": outcome_table,
        "weights": weight_table,
        "counted": counted_table,
        "window-exits": exit_table,
    }
    for event_type in ev.EVENT_TYPES:
        out[f"fields:{event_type.__name__}"] = partial(field_table, event_type, skip=COMMON)
    return out


def render(text: str, generators: dict[str, Callable[[], str]] | None = None) -> tuple[str, set[str]]:
    """`text` with every generated part recomputed, and the names of the parts it holds."""
    generators = generators or blocks()
    seen: set[str] = set()

    def fill(m: re.Match) -> str:
        name = m["name"]
        if name not in generators:
            raise ValueError(f"unknown generated part {name!r}")
        seen.add(name)
        return m[1] + generators[name]() + "\n" + m[4]

    return BLOCK.sub(fill, text), seen


def stale(folder: Path = DOCS) -> list[str]:
    """What is out of date: parts whose text differs from the code, and parts missing."""
    generators = blocks()
    problems, seen = [], set()
    for name in FILES:
        text = (folder / name).read_text(encoding="utf-8")
        new, names = render(text, generators)
        seen |= names
        if new != text:
            problems += [
                f"{name}: {m['name']} differs from the code"
                for m, n in zip(BLOCK.finditer(text), BLOCK.finditer(new))
                if m["body"] != n["body"]
            ]
    problems += [f"no generated part {n!r} in {', '.join(FILES)}" for n in generators if n not in seen]
    return problems


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        problems = stale()
        for p in problems:
            print(p)
        return 1 if problems else 0
    if argv[1:]:
        print("usage: python -m engine.docs [--check]", file=sys.stderr)
        return 2
    for name in FILES:
        path = DOCS / name
        path.write_text(render(path.read_text(encoding="utf-8"))[0], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
