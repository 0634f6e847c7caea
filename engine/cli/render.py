"""Text output of the read commands, readable at 80 columns: one line per row, long texts
wrapped and indented under it. `--json` bypasses all of this."""

from __future__ import annotations

import shutil
import textwrap
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import click

from projections.ledger import ScoreChange


def width() -> int:
    return max(60, min(shutil.get_terminal_size((80, 24)).columns, 120))


def num(x: Any) -> str:
    return "-" if x is None else (f"{x:g}" if isinstance(x, float) else str(x))


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"


def shown_jss(jss: int | None, reason: str | None) -> str:
    return f"{jss}%" if jss is not None else f"hidden ({reason or 'no counted contract'})"


def wrapped(text: str, indent: str = "      ") -> str:
    return textwrap.fill(text, width=width(), initial_indent=indent, subsequent_indent=indent + "  ")


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    """Plain columns sized to their content (no box drawing: it also reads well in a pipe)."""
    sizes = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(s) for c, s in zip(r, sizes)).rstrip() for r in [header, *rows]]


def print_interval(iv: dict | None) -> None:
    if iv:
        click.echo(
            f"{iv['level']:.0%} interval {num(iv['low'])} to {num(iv['high'])} (Beta, Jeffreys prior, "
            f"{iv['window_months']}-month window); one more negative contract would move it to "
            f"{iv['one_more_negative']}, one more positive to {iv['one_more_positive']}"
        )


def print_top_rated(t: dict | None) -> None:
    """The badge at the last weekly evaluation, and (trust, freelancer) the 16 weeks behind it."""
    if not t:
        return
    line = f"{'Top Rated' if t['top_rated'] else 'not Top Rated'} at the evaluation of {t['evaluated_at'][:10]}"
    if "weeks" in t:
        r = t["rule"]
        line += (
            f": JSS {r['jss']} or more in {t['weeks_counted']} of the last {r['of']} weeks ({r['weeks']} needed), "
            f"earnings ${t['earnings_last_months']:,.2f} in the last {r['months']} months "
            f"(${r['earnings']:,.2f} needed)"
        )
    click.echo(wrapped(line, ""))
    cells = [
        f"{w['week']} {(num(w['jss']) if 'jss' in w else ''):>3} {'yes' if w['counted'] else 'no '}"
        for w in t.get("weeks", [])
    ]
    for i in range(0, len(cells), 4):
        click.echo("  " + " | ".join(cells[i : i + 4]))


def print_score(out: dict) -> None:
    window = out["jss_window_months"]
    source = f" from the {window}-month window" if window else ""
    click.echo(f"{out['freelancer_id']} as of {out['as_of']} (known at {out['known_at']}), rules {out['rules']}")
    click.echo(
        f"JSS {shown_jss(out['jss'], out['jss_hidden_reason'])}{source} (exact {num(out['jss_exact'])}); "
        f"feedback score {num(out['feedback_score'])}"
    )
    if "note" in out:
        click.echo(wrapped(f"note: {out['note']}", ""))
    print_interval(out.get("interval"))
    print_top_rated(out.get("top_rated"))
    c = out["counted"]
    sets = "sets the score" if window else "decides visibility"
    click.echo(
        f"{c['window_months']}-month window ({sets}): {plural(c['contracts'], 'counted contract')}: "
        f"{c['positive']} positive, {c['neutral']} neutral, {c['negative']} negative (weight {c['weight']:g})"
    )
    rows, whys = [], []
    for k in out["contracts"]:
        in_window = c["window_months"] in k["in_windows"]
        lw = k["leaves_windows"] or {}
        rows.append(
            [
                "*" if in_window else " ",
                k["contract_id"],
                k["client_id"],
                (k["outcome"] or "-") + ("" if k["counted"] else " (not counted)"),
                f"{k['weight']:g}",
                (k["closed_at"] or "open")[:10],
                " ".join(v[:10] for v in lw.values()) if lw else "-",
            ]
        )
        whys.append("; ".join(k["why"]))
    if not rows:
        return
    click.echo("")
    lines = table(rows, ["", "contract", "client", "outcome", "weight", "closed", "leaves 6/12/24-month windows"])
    click.echo(lines[0])
    for line, why in zip(lines[1:], whys):
        click.echo(line)
        if why:
            click.echo(wrapped(why))
    click.echo(f"* counted in the {c['window_months']}-month window")


def rounded_shares(deltas: list[float], total: float, places: int = 2) -> list[Decimal]:
    """Round each delta to `places` so the printed column sums to the printed total (largest
    remainder: the units lost or gained by rounding go to the deltas closest to the edge)."""
    unit = Decimal(1).scaleb(-places)
    exact = [Fraction(d) for d in deltas]
    target = Decimal(str(total)).quantize(unit, ROUND_HALF_UP)
    floors = [Decimal(int((x / Fraction(unit)).__floor__())) * unit for x in exact]
    missing = int((target - sum(floors, Decimal(0))) / unit)
    order = sorted(range(len(exact)), key=lambda i: exact[i] - Fraction(floors[i]), reverse=True)
    out = list(floors)
    if missing >= 0:
        for i in order[:missing]:
            out[i] += unit
    else:
        for i in list(reversed(order))[:-missing]:
            out[i] -= unit
    return out


def print_explain(out: dict) -> None:
    a, b = out["from"], out["to"]
    click.echo(
        f"{out['freelancer_id']}: JSS {shown_jss(a['jss'], a['jss_hidden_reason'])} on {a['as_of'][:10]} "
        f"-> {shown_jss(b['jss'], b['jss_hidden_reason'])} on {b['as_of'][:10]}"
    )
    click.echo(
        f"exact {num(a['jss_exact'])} -> {num(b['jss_exact'])}, change {out['jss_delta']:+.2f} "
        f"(a hidden JSS counts as 0 in these sums)"
    )
    causes = out["causes"]
    shares = rounded_shares([c["jss_delta"] or 0.0 for c in causes], out["jss_delta"]) if causes else []
    for c, share in zip(causes, shares):
        step = f"{share:+.2f}" if c["jss_delta"] else "      "
        hidden = c["jss_shown_after"] is None and c["jss_shown_before"] is not None
        shown = c["jss_shown_before"] is None and c["jss_shown_after"] is not None
        marker = " [JSS hidden]" if hidden else " [JSS shown again]" if shown else ""
        click.echo(f"  {c['at'][:16]}  {step:>7}  {c['kind']}{marker}")
        click.echo(wrapped(c["text"], "      "))
    cfs = sorted(out["counterfactuals"], key=lambda cf: -abs((cf["jss_without"] or 0) - (b["jss_exact"] or 0)))
    if cfs:
        window = b["jss_window_months"]
        click.echo(
            f"what if (the {window}-month window sets the score; ranked by how much each would change it):"
            if window
            else "what if (ranked by how much each would change the score):"
        )
    for cf in cfs:
        leaves = next((k["leaves_windows"] for k in b["contracts"] if k["contract_id"] == cf["contract_id"]), None)
        when = f"; leaves the window on {leaves[str(window)][:10]}" if leaves and window else ""
        alternatives = [f"without it {num(cf['jss_without'])}"]
        if cf["outcome"] != "neutral":
            alternatives.append(f"if neutral {num(cf['jss_if_neutral'])}")
        alternatives.append(f"if positive {num(cf['jss_if_positive'])}")
        click.echo(wrapped(f"{cf['contract_id']} ({cf['outcome']}): JSS {', '.join(alternatives)}{when}", "  "))


def print_history(changes: list[ScoreChange], replaced: dict[int, int], show_all: bool) -> None:
    rows, notes = [], []
    for ch in sorted(changes, key=lambda c: (c.effective_at, c.seq)):
        if ch.seq in replaced and not show_all:
            continue
        mark = f" (restated by #{replaced[ch.seq]})" if ch.seq in replaced else ""
        if ch.top_rated_before != ch.top_rated_after:
            mark = (" [Top Rated gained]" if ch.top_rated_after else " [Top Rated lost]") + mark
        rows.append(
            [
                f"#{ch.seq}",
                ch.effective_at[:16].replace("T", " "),
                f"@{ch.position}",
                ch.rules,
                f"{num(ch.jss_before)} -> {num(ch.jss_after)}",
                f"{num(ch.feedback_before)} -> {num(ch.feedback_after)}{mark}",
            ]
        )
        notes.append([c.text for c in ch.causes])
    lines = table(rows, ["seq", "effective", "pos", "rules", "JSS", "feedback"])
    click.echo(lines[0])
    for line, texts in zip(lines[1:], notes):
        click.echo(line)
        for text in texts:
            click.echo(wrapped(text))
    hidden = sum(1 for ch in changes if ch.seq in replaced)
    if hidden and not show_all:
        click.echo(f"({plural(hidden, 'entry', 'entries')} restated by late events not shown: --all shows them)")
