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

from engine.cli import settings
from engine.cli.render import num, plural, print_explain, print_history, print_score
from engine.cli.render_published import print_published_explain, print_published_history, print_published_score
from projections.audiences import AUDIENCES
from projections.cuts import as_time, clock_as_known, default_as_of, known_position
from projections.ledger import entries_json, restated
from projections.service import READ_WAIT, Projections, ProjectionsBusy, bring_up_to_date, open_projections
from reputation.config import open_store
from reputation.errors import BadRequest, NotFound
from reputation.rulesets import UnknownRules, rule_set
from reputation.store import EventStore


@contextmanager
def engine(
    catch_up: bool = True, progress: bool | None = None, reading: bool = True
) -> Iterator[tuple[EventStore, Projections]]:
    """The store and projections, brought up to date (with a progress bar when it is long).

    `reading`: a missing or empty store is NotFound naming where it looked (never created)."""
    cfg = settings()
    store = open_store(cfg, create=not reading)
    if reading and store.max_position() == 0:
        store.close()
        where = "the PostgreSQL store" if cfg.is_postgres else cfg.sqlite_path
        raise NotFound(
            f"the event store at {where} is empty (home {cfg.home}): ingest events first, or give --home / --store"
        )
    proj = open_projections(cfg, store)
    try:
        if catch_up:
            catch_up_shown(store, proj, progress, wait=READ_WAIT if reading else None)
        yield store, proj
    finally:
        proj.close()
        store.close()


def catch_up_shown(
    store: EventStore, proj: Projections, progress: bool | None = None, wait: float | None = None
) -> int:
    """`bring_up_to_date` with a progress bar when it is long and stderr is a terminal.

    With `wait` (the read commands), another process's long catch-up does not block: after
    `wait` seconds the answer comes from what is committed, with a note of how far behind."""
    behind = store.max_position() - proj.position
    show = progress if progress is not None else (behind > 20_000 and sys.stderr.isatty())
    try:
        if behind <= 0 or not show:
            return bring_up_to_date(store, proj, wait=wait)
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("projecting", total=behind)
            return bring_up_to_date(store, proj, lambda done, total: bar.update(task, completed=done), wait=wait)
    except ProjectionsBusy as busy:
        click.echo(f"note: {busy}; answering from what is committed", err=True)
        return 0


def parse_time_opt(text: str | None, name: str) -> int | None:
    try:
        return as_time(text, name)
    except BadRequest as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


def parse_known(text: str | None, store: EventStore) -> int | None:
    try:
        return known_position(text, store)
    except BadRequest as exc:
        raise click.BadParameter(str(exc), param_hint="--known-at") from None


def check_rules(name: str | None) -> None:
    if name is not None:
        try:
            rule_set(name)
        except UnknownRules as exc:
            raise click.UsageError(str(exc)) from None


audience_option = click.option(
    "--audience",
    type=click.Choice(list(AUDIENCES)),
    default="trust",
    show_default=True,
    help="trust: everything, exact; freelancer: as published (1st and 15th), no private answer; "
    "public: the displayed JSS and feedback score (docs/audiences.md).",
)

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
@click.option(
    "--rebuild", is_flag=True, help="Drop all projections and the ledger (not the relay cursors) and replay the log."
)
@click.option("--progress/--no-progress", default=None)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["native", "python"]),
    default="native",
    show_default=True,
    help="The projector: the Python reference or the native (Rust) core; both write the same ledger.",
)
def project_command(follow: bool, interval: float, rebuild: bool, progress: bool | None, engine_name: str) -> None:
    """Bring the projections and the score-change ledger up to date with the log."""
    stop = []
    if follow:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.append(1))
    with engine(catch_up=False, reading=False) as (store, proj):
        proj.engine = engine_name
        if rebuild:
            proj.rebuild()
            click.echo("projections dropped; replaying the log (the ledger is rebuilt with the same change ids)")
        started = time.perf_counter()
        done = catch_up_shown(store, proj, progress)
        elapsed = time.perf_counter() - started
        rate = f" ({done / elapsed:,.0f} events/s)" if done and elapsed > 0 else ""
        click.echo(f"projected {done} events{rate}; position @{proj.position}, ledger seq {proj.max_seq()}")
        while follow and not stop:
            store.wait_for_events(proj.position, interval)  # LISTEN/NOTIFY on PostgreSQL, a short poll on SQLite
            n = proj.catch_up(store)
            if n:
                click.echo(f"projected {n} events; position @{proj.position}")


@click.command("score")
@click.argument("freelancer_id")
@with_options(common)
@click.option(
    "--rules", default=None, help="Evaluate under this rule set (what-if): jss-2016, jss-2020, jss-2024, fair-2026."
)
@audience_option
@click.option("--json", "as_json", is_flag=True)
def score_command(
    freelancer_id: str, as_of: str | None, known_at: str | None, rules: str | None, audience: str, as_json: bool
) -> None:
    """A freelancer's Job Success Score and feedback score at T, as known at K."""
    check_rules(rules)
    t = parse_time_opt(as_of, "--as-of")
    with engine() as (store, proj):
        known = parse_known(known_at, store)
        out = proj.score(freelancer_id, default_as_of(t, known, store, proj.repo), known, rules, audience)
    if as_json:
        click.echo(json.dumps(out))
        return
    print_score(out) if audience == "trust" else print_published_score(out)


@click.command("client")
@click.argument("client_id")
@with_options(common)
@audience_option
@click.option("--json", "as_json", is_flag=True)
def client_command(client_id: str, as_of: str | None, known_at: str | None, audience: str, as_json: bool) -> None:
    """A client's score: freelancers' public stars about the client, weighted by what it paid."""
    t = parse_time_opt(as_of, "--as-of")
    with engine() as (store, proj):
        known = parse_known(known_at, store)
        out = proj.client(client_id, default_as_of(t, known, store, proj.repo), known, audience)
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(
            f"{out['client_id']} as of {out['as_of']}: client score {num(out['client_score'])} over "
            f"{plural(out['contracts'], 'contract')} with {plural(out['freelancers'], 'freelancer')}"
            + (" (flagged)" if out.get("flagged") else "")
        )


@click.command("explain")
@click.argument("freelancer_id")
@click.option("--from", "start", required=True, help="T1 (RFC 3339).")
@click.option("--to", "end", default=None, help="T2 (RFC 3339); default: the engine clock.")
@click.option("--known-at", default=None, help="RFC 3339 or @N; default: all.")
@click.option("--rules", default=None, help="A fixed rule set instead of the one in force at each time.")
@audience_option
@click.option("--json", "as_json", is_flag=True)
def explain_command(
    freelancer_id: str,
    start: str,
    end: str | None,
    known_at: str | None,
    rules: str | None,
    audience: str,
    as_json: bool,
) -> None:
    """Why the score moved between T1 and T2: every change point with its exact share."""
    check_rules(rules)
    t1 = parse_time_opt(start, "--from")
    with engine() as (store, proj):
        known = parse_known(known_at, store)
        t2 = parse_time_opt(end, "--to") if end else clock_as_known(known, store, proj.clock, proj.repo)
        out = proj.explain(freelancer_id, t1, t2, known, rules, audience)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(out))
    else:
        print_explain(out) if audience == "trust" else print_published_explain(out)


@click.command("history")
@click.argument("freelancer_id")
@audience_option
@click.option("--all", "show_all", is_flag=True, help="Also the entries that late events restated (marked).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per ledger entry (with restated_by).")
def history_command(freelancer_id: str, audience: str, show_all: bool, as_json: bool) -> None:
    """The freelancer's score-change ledger (trust), or the published changes (freelancer, public)."""
    with engine() as (_, proj):
        if audience != "trust":
            published = proj.published_history(freelancer_id, audience)
        else:
            changes = proj.history(freelancer_id)
    if audience != "trust":
        if as_json:
            for entry in published:
                click.echo(json.dumps(entry))
        else:
            print_published_history(published)
        return
    if as_json:
        for entry in entries_json(changes, show_all):
            click.echo(json.dumps(entry))
        return
    print_history(changes, restated(changes), show_all)
