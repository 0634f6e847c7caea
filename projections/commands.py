"""Read-side commands: `project`, `score`, `client`, `explain`, `history`."""

from __future__ import annotations

import json
import signal
import sys
import time
from contextlib import contextmanager
from typing import Iterator

import click
from rich.console import Console
from rich.table import Table

from reputation import events as ev
from reputation.cli import EXIT_NOT_FOUND, Failure, settings
from reputation.config import open_store
from reputation.store import EventStore

from projections.rules import RULE_SETS
from projections.service import NotFound, Projections, UnknownRules, open_projections

console = Console()


@contextmanager
def engine(catch_up: bool = True, progress: bool | None = None) -> Iterator[tuple[EventStore, Projections]]:
    """The store and projections, brought up to date (with a progress bar when it is long)."""
    cfg = settings()
    store = open_store(cfg)
    proj = open_projections(cfg, store)
    try:
        if catch_up:
            bring_up_to_date(store, proj, progress)
        yield store, proj
    except NotFound as exc:
        raise Failure(str(exc), EXIT_NOT_FOUND) from None
    except UnknownRules as exc:
        raise Failure(str(exc), 2) from None
    finally:
        proj.close()
        store.close()


def bring_up_to_date(store: EventStore, proj: Projections, progress: bool | None = None) -> int:
    behind = store.max_position() - proj.position
    if behind <= 0:
        return 0
    show = progress if progress is not None else (behind > 20_000 and sys.stderr.isatty())
    if not show:
        return proj.catch_up(store)
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("projecting", total=behind)
        start = proj.position
        return proj.catch_up(store, lambda pos, last: bar.update(task, completed=pos - start))


def parse_time_opt(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        return ev.parse_time(ev.canonical_time(text, name))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


def parse_known(text: str | None, store: EventStore) -> int | None:
    """`@N` is a log position; a timestamp means the last position recorded by then."""
    if text is None:
        return None
    if text.startswith("@"):
        try:
            return int(text[1:])
        except ValueError:
            raise click.BadParameter("write a log position as @N", param_hint="--known-at") from None
    when = ev.canonical_time(text, "--known-at")
    lo, hi = 0, store.max_position()
    while lo < hi:  # recorded_at grows with the position
        mid = (lo + hi + 1) // 2
        (_, data), = store.read(mid - 1, 1)
        if ev.decode_recorded(data).recorded_at <= when:
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_rules(name: str | None) -> None:
    if name is not None and name not in RULE_SETS:
        raise click.UsageError(f"unknown rule set {name!r}; known: {', '.join(RULE_SETS)}")


def _num(x) -> str:
    return "null" if x is None else (f"{x:g}" if isinstance(x, float) else str(x))


common = [
    click.option("--as-of", default=None, help="Valid time T (RFC 3339); default: the engine clock."),
    click.option("--known-at", default=None, help="Transaction time K: RFC 3339 or a log position @N; default: all."),
]


def with_options(options):
    def wrap(f):
        for option in reversed(options):
            f = option(f)
        return f

    return wrap


@click.command("project")
@click.option("--follow", is_flag=True, help="Keep following the log until SIGINT/SIGTERM.")
@click.option("--interval", default=0.5, show_default=True, help="Seconds between polls with --follow.")
@click.option("--rebuild", is_flag=True, help="Drop all projections and the ledger (not the relay cursors) and replay the log.")
@click.option("--progress/--no-progress", default=None)
@click.option("--engine", "engine_name", type=click.Choice(["python", "native"]), default="python", show_default=True,
              help="The projector: the Python reference or the native (Rust) core; both write the same ledger.")
def project_command(follow: bool, interval: float, rebuild: bool, progress: bool | None, engine_name: str) -> None:
    """Bring the projections and the score-change ledger up to date with the log."""
    stop = []
    if follow:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.append(1))
    with engine(catch_up=False) as (store, proj):
        proj.engine = engine_name
        if rebuild:
            proj.rebuild()
            click.echo("projections dropped; replaying the log (the ledger is rebuilt with the same change ids)")
        started = time.perf_counter()
        done = bring_up_to_date(store, proj, progress)
        elapsed = time.perf_counter() - started
        rate = f" ({done / elapsed:,.0f} events/s)" if done and elapsed > 0 else ""
        click.echo(f"projected {done} events{rate}; position @{proj.position}, ledger seq {proj.max_seq()}")
        while follow and not stop:
            time.sleep(interval)
            n = proj.catch_up(store)
            if n:
                click.echo(f"projected {n} events; position @{proj.position}")


@click.command("score")
@click.argument("freelancer_id")
@with_options(common)
@click.option("--rules", default=None, help="Evaluate under this rule set (what-if): jss-2016, jss-2020, jss-2024.")
@click.option("--audience", type=click.Choice(["trust", "freelancer"]), default="trust", help="freelancer: hides private answers.")
@click.option("--json", "as_json", is_flag=True)
def score_command(freelancer_id: str, as_of: str | None, known_at: str | None, rules: str | None, audience: str, as_json: bool) -> None:
    """A freelancer's Job Success Score and feedback score at T, as known at K."""
    check_rules(rules)
    t = parse_time_opt(as_of, "--as-of")
    with engine() as (store, proj):
        out = proj.score(freelancer_id, t, parse_known(known_at, store), rules, audience)
    if as_json:
        click.echo(json.dumps(out))
        return
    print_score(out)


def print_score(out: dict) -> None:
    jss = out["jss"]
    shown = f"{jss}%" if jss is not None else f"hidden ({out['jss_hidden_reason']}; exact {_num(out['jss_exact'])})"
    console.print(
        f"[bold]{out['freelancer_id']}[/] as of {out['as_of']} (known at {out['known_at']}), rules {out['rules']}: "
        f"JSS [bold]{shown}[/] from the {out['jss_window_months']}-month window, feedback score "
        f"{_num(out['feedback_score'])}"
    )
    if "note" in out:
        console.print(f"[yellow]note:[/] {out['note']}")
    c = out["counted"]
    console.print(f"{c['window_months']}-month window: {c['contracts']} counted contracts: {c['positive']} positive, {c['neutral']} neutral, {c['negative']} negative (weight {c['weight']:g})")
    table = Table("contract", "client", "outcome", "weight", "closed", "leaves 6/12/24 months", "why")
    for k in out["contracts"]:
        lw = k["leaves_windows"] or {}
        table.add_row(
            k["contract_id"], k["client_id"], (k["outcome"] or "-") + ("" if k["counted"] else " (not counted)"),
            f"{k['weight']:g}", (k["closed_at"] or "open")[:10],
            " / ".join(v[:10] for v in lw.values()) if lw else "-", "; ".join(k["why"]),
        )
    console.print(table)


@click.command("client")
@click.argument("client_id")
@with_options(common)
@click.option("--json", "as_json", is_flag=True)
def client_command(client_id: str, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """A client's score: freelancers' public stars about the client, weighted by what it paid."""
    t = parse_time_opt(as_of, "--as-of")
    with engine() as (store, proj):
        out = proj.client(client_id, t, parse_known(known_at, store))
    if as_json:
        click.echo(json.dumps(out))
    else:
        console.print(
            f"[bold]{out['client_id']}[/] as of {out['as_of']}: client score {_num(out['client_score'])} over "
            f"{out['contracts']} contracts with {out['freelancers']} freelancers"
            + (" [red](flagged)[/]" if out["flagged"] else "")
        )


@click.command("explain")
@click.argument("freelancer_id")
@click.option("--from", "start", required=True, help="T1 (RFC 3339).")
@click.option("--to", "end", default=None, help="T2 (RFC 3339); default: the engine clock.")
@click.option("--known-at", default=None, help="RFC 3339 or @N; default: all.")
@click.option("--rules", default=None, help="A fixed rule set instead of the one in force at each time.")
@click.option("--audience", type=click.Choice(["trust", "freelancer"]), default="trust", help="freelancer: 'a private rating' instead of values.")
@click.option("--json", "as_json", is_flag=True)
def explain_command(freelancer_id: str, start: str, end: str | None, known_at: str | None, rules: str | None, audience: str, as_json: bool) -> None:
    """Why the score moved between T1 and T2: every change point with its exact share."""
    check_rules(rules)
    t1 = parse_time_opt(start, "--from")
    with engine() as (store, proj):
        t2 = parse_time_opt(end, "--to") if end else proj.clock
        out = proj.explain(freelancer_id, t1, t2, parse_known(known_at, store), rules, audience)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(out))
    else:
        print_explain(out)


def print_explain(out: dict) -> None:
    a, b = out["from"], out["to"]

    def shown(s: dict) -> str:
        return f"{s['jss']}%" if s["jss"] is not None else f"no JSS shown ({s['jss_hidden_reason']})"

    console.print(
        f"[bold]{out['freelancer_id']}[/]: JSS {shown(a)} on {a['as_of'][:10]} -> {shown(b)} on {b['as_of'][:10]} "
        f"(exact {_num(a['jss_exact'])} -> {_num(b['jss_exact'])}, change {out['jss_delta']:+g})"
    )
    for c in out["causes"]:
        delta = f"{c['jss_delta']:+.2f}" if c["jss_delta"] else "  0.00"
        console.print(f"  {c['at'][:19]}  {delta:>7}  [cyan]{c['kind']}[/]  {c['text']}")
    for cf in out["counterfactuals"]:
        leaves = next((k["leaves_windows"] for k in b["contracts"] if k["contract_id"] == cf["contract_id"]), None)
        when = f"; it leaves the {b['jss_window_months']}-month window on {leaves[str(b['jss_window_months'])][:10]}" if leaves and b["jss_window_months"] else ""
        console.print(
            f"  what if {cf['contract_id']} ({cf['outcome']}) were not there: JSS {_num(cf['jss_without'])}; "
            f"neutral: {_num(cf['jss_if_neutral'])}; positive: {_num(cf['jss_if_positive'])}{when}"
        )


@click.command("history")
@click.argument("freelancer_id")
@click.option("--audience", type=click.Choice(["trust", "freelancer"]), default="trust", help="freelancer: causes without private answers.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per ledger entry.")
def history_command(freelancer_id: str, audience: str, as_json: bool) -> None:
    """The freelancer's score-change ledger."""
    from projections.explain import redact
    from projections.ledger import to_json

    with engine() as (_, proj):
        changes = proj.history(freelancer_id)
    if audience == "freelancer":
        for ch in changes:
            for c in ch.causes:
                c.text = redact(c.text)
    if as_json:
        for ch in changes:
            click.echo(to_json(ch).decode())
        return
    table = Table("seq", "effective", "@pos", "rules", "JSS", "feedback", "causes")
    for ch in changes:
        table.add_row(
            str(ch.seq), ch.effective_at[:19], str(ch.position), ch.rules,
            f"{_num(ch.jss_before)} -> {_num(ch.jss_after)}",
            f"{_num(ch.feedback_before)} -> {_num(ch.feedback_after)}",
            "; ".join(c.text for c in ch.causes),
        )
    console.print(table)
