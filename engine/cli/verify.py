"""`reputation verify`: check the log against its hash chain."""

from __future__ import annotations

import json

import click

from engine.cli import settings
from reputation.config import open_store
from reputation.verify import Tampered, verify


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: events, position, head, findings.")
def verify_command(as_json: bool) -> None:
    """Re-read the whole log and its hash chain: print the head hash (exit 0), or one line per
    position where an event was modified, removed, inserted or reordered (exit 3)."""
    store = open_store(settings(), create=False)
    try:
        report = verify(store)
    finally:
        store.close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "events": report.events,
                    "position": report.position,
                    "head": report.head.hex(),
                    "findings": [f._asdict() for f in report.findings],
                }
            )
        )
    else:
        for finding in report.findings:
            click.echo(str(finding))
        if not report.findings:
            click.echo(f"{report.head.hex()}  ({report.events} events, head at position {report.position})")
    if report.findings:
        raise Tampered(report.findings)
