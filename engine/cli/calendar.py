"""`reputation calendar F [--until T]`: the aging calendar (projections.calendar)."""

from __future__ import annotations

import json

import click

from engine.cli.read import audience_option, check_rules, engine, parse_time_opt
from engine.cli.render import shown_jss, wrapped


@click.command("calendar")
@click.argument("freelancer_id")
@click.option("--until", default=None, help="Up to this time (RFC 3339); default: 25 months after the engine clock.")
@click.option(
    "--rules",
    default=None,
    help="Under this rule set (what-if), e.g. fair-2026; default: the one in force at each date.",
)
@audience_option
@click.option("--json", "as_json", is_flag=True)
def calendar_command(freelancer_id: str, until: str | None, rules: str | None, audience: str, as_json: bool) -> None:
    """The dates on which the JSS would change if nothing new happened, and why."""
    check_rules(rules)
    t = parse_time_opt(until, "--until")
    with engine() as (_store, proj):
        out = proj.calendar(freelancer_id, t, rules, audience)
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(
        f"{out['freelancer_id']} from {out['from']} to {out['until']}, if nothing new happens"
        + (f", under {out['rules']}" if out["rules"] else "")
    )
    if not out["steps"]:
        click.echo("  no change")
    for step in out["steps"]:
        when = step.get("at") or f"published {step['published_at']}"
        before = "hidden" if step["jss_before"] is None else f"{step['jss_before']}%"
        click.echo(f"{when}: JSS {before} -> {shown_jss(step['jss'], step['jss_hidden_reason'])} ({step['rules']})")
        for c in step.get("causes", []):
            click.echo(wrapped(c["text"], "    "))
