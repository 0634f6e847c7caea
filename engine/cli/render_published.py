"""Text output for the freelancer and public audiences (projections.freelancer_view shapes)."""

from __future__ import annotations

import click

from engine.cli.render import (
    num,
    plural,
    print_interval,
    print_top_rated,
    rounded_shares,
    shown_jss,
    table,
    wrapped,
)


def print_published_score(out: dict) -> None:
    click.echo(f"{out['freelancer_id']} as published on {out['published_at'][:10]} (for {out['as_of']})")
    click.echo(f"JSS {shown_jss(out['jss'], out['jss_hidden_reason'])}; feedback score {num(out['feedback_score'])}")
    print_top_rated(out.get("top_rated"))
    if out["audience"] == "public":
        return
    print_interval(out.get("interval"))
    c = out["counted"]
    click.echo(
        f"{c['window_months']}-month window: {plural(c['contracts'], 'counted contract')} "
        f"(weight {c['weight']:g}); {c['private_feedback']} decided by private feedback; of the others "
        f"{c['positive']} positive, {c['neutral']} neutral, {c['negative']} negative"
    )
    rows, whys = [], []
    for k in out["contracts"]:
        outcome = (
            "private feedback"
            if k["private_feedback"]
            else (k["outcome"] or "-") + ("" if k["counted"] or k["outcome"] is None else " (not counted)")
        )
        rows.append([k["contract_id"], outcome, num(k["weight"]), (k["closed_at"] or "open")[:10]])
        whys.append("; ".join(k["why"]))
    if not rows:
        return
    click.echo("")
    lines = table(rows, ["contract", "outcome", "weight", "closed"])
    click.echo(lines[0])
    for line, why in zip(lines[1:], whys):
        click.echo(line)
        if why:
            click.echo(wrapped(why))


def print_published_explain(out: dict) -> None:
    a, b = out["from"], out["to"]
    click.echo(
        f"{out['freelancer_id']}: JSS {shown_jss(a['jss'], a['jss_hidden_reason'])} published "
        f"{a['published_at'][:10]} -> {shown_jss(b['jss'], b['jss_hidden_reason'])} published "
        f"{b['published_at'][:10]}"
    )
    click.echo(
        f"exact {num(a['jss_exact'])} -> {num(b['jss_exact'])}, change {out['jss_delta']:+.2f} "
        f"(a hidden JSS counts as 0 in these sums)"
    )
    causes = out["causes"]
    shares = rounded_shares([c["jss_delta"] for c in causes], out["jss_delta"]) if causes else []
    for c, share in zip(causes, shares):
        click.echo(f"  {share:+7.2f}  {c['kind']}")
        click.echo(wrapped(c["text"], "      "))
    if out["counterfactuals"]:
        click.echo("what if (contracts decided by public facts):")
    for cf in out["counterfactuals"]:
        alternatives = [f"without it {num(cf['jss_without'])}"]
        if cf["outcome"] != "neutral":
            alternatives.append(f"if neutral {num(cf['jss_if_neutral'])}")
        alternatives.append(f"if positive {num(cf['jss_if_positive'])}")
        click.echo(wrapped(f"{cf['contract_id']} ({cf['outcome']}): JSS {', '.join(alternatives)}", "  "))


def print_published_history(entries: list[dict]) -> None:
    rows = [
        [
            e["published_at"][:10],
            e["rules"],
            f"{num(e['jss_before'])} -> {num(e['jss_after'])}",
            f"{num(e['feedback_before'])} -> {num(e['feedback_after'])}",
        ]
        for e in entries
    ]
    lines = table(rows, ["published", "rules", "JSS", "feedback"])
    click.echo(lines[0])
    for line, e in zip(lines[1:], entries):
        click.echo(line)
        for c in e.get("causes", []):
            click.echo(wrapped(f"{c['jss_delta']:+.2f} {c['text']}"))
