"""The Kafka commands: `relay`, `consume`, `subscribe` (registered lazily by engine.cli)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from consumers.consume import STALL_SECONDS
from consumers.holding import HOLD_MAX, HOLD_SECONDS
from consumers.kafka import DEFAULT_PARTITIONS, StopSignal, check_reachable
from engine.cli import settings
from reputation.config import Settings, open_store


@click.command("relay")
@click.option("--follow", is_flag=True, help="Keep publishing new score changes until SIGINT/SIGTERM.")
@click.option(
    "--batch",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Changes per batch (one flush, one cursor commit).",
)
@click.option(
    "--from-seq",
    type=click.IntRange(1),
    default=None,
    help="Re-publish the ledger from entry N on (resets the relay cursor to N-1 first).",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.01),
    default=0.2,
    show_default=True,
    help="Seconds between polls of the store with --follow.",
)
@click.option(
    "--partitions",
    type=click.IntRange(1),
    default=DEFAULT_PARTITIONS,
    show_default=True,
    help="Partitions of score-changes when the relay creates it.",
)
@click.option(
    "--compression",
    type=click.Choice(["none", "gzip"]),
    default="none",
    show_default=True,
    help="Compression of the produced batches (gzip: fewer bytes, more CPU).",
)
@click.option(
    "--status",
    is_flag=True,
    help="Only show the cursor and what is pending (with --from-seq: set the cursor first); needs no Kafka, publishes nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def relay_command(
    follow: bool,
    batch: int,
    from_seq: int | None,
    interval: float,
    partitions: int,
    compression: str,
    status: bool,
    as_json: bool,
) -> None:
    """Publish the ledger to score-changes.trust and the published changes to score-changes.

    Brings the projections up to date, then sends every ledger entry after the relay's cursor
    to score-changes.trust (key: freelancer id, header change_id, value: the change as JSON),
    then, for every publication instant the engine clock has passed, the freelancers' published
    changes to score-changes (docs/kafka.md). The cursor
    (relay:<topic>) advances only after the broker acknowledged the changes, so a re-run never
    re-sends acknowledged changes and a crash re-sends at most the unacknowledged ones.
    """
    from consumers.relay import Relay
    from projections.service import open_projections

    cfg: Settings = settings()
    if status:
        return _relay_status(cfg, as_json, from_seq)
    check_reachable(cfg)
    store = open_store(cfg)
    relay = Relay(
        cfg,
        store,
        open_projections(cfg, store),
        batch=batch,
        partitions=partitions,
        producer_config={"compression_type": None if compression == "none" else compression},
        reopen=lambda: open_projections(cfg, store),
    )
    try:
        if from_seq is not None:
            before = relay.cursor
            relay.reset(from_seq)
            if not as_json:
                click.echo(f"relay cursor reset from {before} to {from_seq - 1}", err=True)
        with StopSignal() as stop:
            stats = relay.run(follow=follow, stop=stop, interval=interval)
    finally:
        relay.proj.close()
        store.close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "published": stats.published,
                    "cursor": stats.cursor,
                    "topic": relay.topic,
                    "publications": stats.publications,
                    "publications_topic": relay.publications.topic,
                    "seconds": round(stats.seconds, 3),
                }
            )
        )
    else:
        rate = f" ({stats.published / stats.seconds:,.0f}/s)" if stats.published and stats.seconds > 0 else ""
        click.echo(
            f"published {stats.published} score changes to {relay.topic}{rate}; cursor at seq {stats.cursor}; "
            f"{stats.publications} published changes to {relay.publications.topic}"
        )


def _relay_status(cfg: Settings, as_json: bool, from_seq: int | None = None) -> None:
    """The cursor and what is pending; with --from-seq, set the cursor first (publish nothing)."""
    from consumers.kafka import SCORE_CHANGES_TRUST
    from consumers.relay import cursor_name
    from projections.service import open_projections

    store = open_store(cfg)
    proj = open_projections(cfg, store)
    try:
        topic = cfg.topic(SCORE_CHANGES_TRUST)
        if from_seq is not None:
            proj.set_cursor(cursor_name(topic), from_seq - 1)
        out: dict[str, Any] = {
            "topic": topic,
            "cursor": proj.get_cursor(cursor_name(topic)),
            "ledger_seq": proj.max_seq(),
            "projected_position": proj.position,
            "log_position": store.max_position(),
        }
    finally:
        proj.close()
        store.close()
    out["pending"] = max(0, out["ledger_seq"] - out["cursor"])
    if as_json:
        click.echo(json.dumps(out))
    else:
        behind = out["log_position"] - out["projected_position"]
        click.echo(
            f"relay cursor for {topic} at seq {out['cursor']} of {out['ledger_seq']} ({out['pending']} pending)"
            + (f"; projections are {behind} events behind the log" if behind > 0 else "")
        )


@click.command("consume")
@click.option("--follow", is_flag=True, help="Keep consuming until SIGINT/SIGTERM (default: stop when caught up).")
@click.option("--group", default="reputation-consume", show_default=True, help="Kafka consumer group.")
@click.option(
    "--partitions",
    type=click.IntRange(1),
    default=DEFAULT_PARTITIONS,
    show_default=True,
    help="Partitions of contract-events (and .rejected) when consume creates them.",
)
@click.option(
    "--hold-seconds",
    type=click.FloatRange(0),
    default=HOLD_SECONDS,
    show_default=True,
    help="How long an event may wait for what it depends on (e.g. its contract, from another partition) before it is dead-lettered.",
)
@click.option(
    "--hold-max",
    type=click.IntRange(0),
    default=HOLD_MAX,
    show_default=True,
    help="Events held at most; beyond, the oldest are dead-lettered.",
)
@click.option(
    "--stall-seconds",
    type=click.FloatRange(1),
    default=STALL_SECONDS,
    show_default=True,
    help="With --follow: stop (exit 5) when Kafka has not answered for this long.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def consume_command(
    follow: bool, group: str, partitions: int, hold_seconds: float, hold_max: int, stall_seconds: float, as_json: bool
) -> None:
    """Ingest events from the Kafka topic contract-events.

    Each polled batch is checked and appended like `reputation ingest --skip-invalid`. An event
    whose dependency has not arrived yet (its contract, the contract it continues) is held and
    retried with the next batches; rejected messages, and the later events of a rejected event's
    contract, go to contract-events.rejected (with the error and the source offset); offsets are
    committed only for what is stored or dead-lettered. Redelivery is harmless (idempotent ids).
    """
    from consumers.consume import Consumer

    cfg: Settings = settings()
    check_reachable(cfg)
    store = open_store(cfg)
    errors: list[str] = []

    def report(r) -> None:
        if len(errors) < 100:
            click.echo(r.message(), err=True)
        errors.append(r.message())

    try:
        consumer = Consumer(
            cfg,
            store,
            group=group,
            partitions=partitions,
            hold_seconds=hold_seconds,
            hold_max=hold_max,
            stall_seconds=stall_seconds,
        )
        with StopSignal() as stop:
            stats = consumer.run(follow=follow, stop=stop, report=report)
    finally:
        store.close()
    if len(errors) > 100:
        click.echo(f"... and {len(errors) - 100} more rejected messages", err=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "messages": stats.messages,
                    "accepted": stats.accepted,
                    "duplicates": stats.duplicates,
                    "rejected": stats.rejected,
                    "rejected_topic": consumer.rejected_topic,
                    "held": stats.held,
                    "errors": errors[:100],
                }
            )
        )
    else:
        click.echo(
            f"consumed {stats.messages} messages from {consumer.topic}: accepted {stats.accepted} events, "
            f"{stats.duplicates} already known, {stats.rejected} rejected"
            + (f" (sent to {consumer.rejected_topic})" if stats.rejected else "")
            + (f"; {stats.held} held events not committed (read again on the next run)" if stats.held else "")
        )


@click.command("subscribe")
@click.option("--group", default=None, help="Kafka consumer group (offsets committed after printing); default: none.")
@click.option("--from-beginning", is_flag=True, help="Start at the beginning of the topic (default: only new changes).")
@click.option("--max-messages", type=click.IntRange(1), default=None, help="Stop after N changes.")
@click.option("--timeout", type=click.FloatRange(0), default=None, help="Stop after S seconds without a message.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (the ledger entry).")
@click.option(
    "--dedupe/--no-dedupe", default=True, show_default=True, help="Drop changes whose change_id was already printed."
)
@click.option(
    "--audience",
    type=click.Choice(["trust", "freelancer", "public"]),
    default="trust",
    show_default=True,
    help="trust: every ledger entry (score-changes.trust); freelancer / public: the published changes "
    "(score-changes; public: without causes).",
)
def subscribe_command(
    group: str | None,
    from_beginning: bool,
    max_messages: int | None,
    timeout: float | None,
    as_json: bool,
    dedupe: bool,
    audience: str,
) -> None:
    """Print score changes as they come: the ledger (trust) or the published changes."""
    import msgspec

    from consumers.subscribe import one_line, subscribe

    cfg: Settings = settings()
    out = sys.stdout

    def handler(change) -> None:
        out.write((msgspec.json.encode(change).decode() if as_json else one_line(change)) + "\n")
        out.flush()

    with StopSignal() as stop:
        stats = subscribe(
            handler,
            settings=cfg,
            group=group,
            from_beginning=from_beginning,
            max_messages=max_messages,
            timeout=timeout,
            dedupe=dedupe,
            stop=stop,
            audience=audience,
        )
    if not as_json:
        dup = f", {stats.duplicates} duplicates dropped" if stats.duplicates else ""
        click.echo(f"{stats.handled} score changes{dup}", err=True)
