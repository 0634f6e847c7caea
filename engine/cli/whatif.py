"""`reputation whatif`: the population's displayed JSS under another rule set."""

from __future__ import annotations

import click
import msgspec

from engine.cli import settings
from engine.cli.read import check_rules, engine, parse_time_opt


@click.command("whatif")
@click.option("--rules", required=True, help="The rule set R: jss-2016, jss-2020, jss-2024, fair-2026.")
@click.option("--at", default=None, help="T (RFC 3339); default: the engine clock.")
@click.option(
    "--movers", default=20, show_default=True, type=click.IntRange(0), help="How many of the largest movers to list."
)
@click.option("--json", "as_json", is_flag=True)
def whatif_command(rules: str, at: str | None, movers: int, as_json: bool) -> None:
    """Every freelancer's displayed JSS at T under the rule set in force and under R: who gains,
    loses, appears or disappears (computed in the DuckDB audit, one query for everyone)."""
    from engine.whatif import whatif

    check_rules(rules)
    t = parse_time_opt(at, "--at")
    with engine() as (store, proj):
        out = whatif(store, proj, settings().audit_path, rules, t, movers)
    if as_json:
        click.echo(msgspec.json.encode(out).decode())
        return
    click.echo(f"at {out.at}: {out.freelancers} freelancers, {out.rules_in_force or '-'} (in force) -> {out.rules}")
    click.echo(
        f"gain {out.gain}, lose {out.lose}, same {out.same}, appear {out.appear}, "
        f"disappear {out.disappear}, hidden under both {out.hidden_both}"
    )
    top = max((b.count for b in out.histogram), default=0)
    for b in out.histogram:
        if b.count:
            bar = "#" * max(1, round(40 * b.count / top))
            label = f"{b.lo:+d}" if b.hi - b.lo == 1 else f"[{b.lo:+d}, {b.hi:+d})"
            click.echo(f"  {label:>12} {b.count:6d} {bar}")
    if out.movers:
        click.echo("largest movers:")
    for m in out.movers:
        shown = lambda v: "hidden" if v is None else str(v)
        change = f"{m.delta:+d}" if m.delta is not None else ("appears" if m.jss_in_force is None else "disappears")
        click.echo(
            f"  {m.freelancer_id}  {shown(m.jss_in_force)} -> {shown(m.jss_whatif)}  {change}"
            + (f"  ({'; '.join(m.why)})" if m.why else "")
        )
    if out.transitions:
        click.echo("why: contracts whose state differs (in force -> what-if)")
    for tr in out.transitions:
        click.echo(f"  {tr.before} -> {tr.after}: {tr.contracts} contracts of {tr.freelancers} freelancers")
