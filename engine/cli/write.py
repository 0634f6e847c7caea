"""Write-side commands: `ingest`, `export`, `tick`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Iterator

import click

from engine.cli import EXIT_INVALID, Failure, settings
from engine.cli.render import plural
from reputation import events as ev
from reputation.config import Settings, open_store
from reputation.errors import InvalidInput
from reputation.export import export_lines
from reputation.ingest import DeadLetterUnusable, Result, check_dead_letter, ingest_lines, now_utc, write_dead_letters
from reputation.store import EventStore

MAX_REPORTED = 100


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    yield from stream


def report(result: Result, out=sys.stderr, where: str = "line") -> None:
    for reject in result.rejects[:MAX_REPORTED]:
        click.echo(reject.message(where), err=True)
    if len(result.rejects) > MAX_REPORTED:
        click.echo(f"... and {plural(len(result.rejects) - MAX_REPORTED, 'more rejected line')}", err=True)


@click.command("ingest")
@click.argument("file", type=click.Path(exists=True, allow_dash=True, dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Write the valid lines; put the rejects in a dead-letter file.")
@click.option(
    "--dead-letter",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where --skip-invalid puts rejects (default HOME/dead-letter/<time>.jsonl).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on for big files on a terminal).")
@click.option(
    "--engine",
    type=click.Choice(["native", "python"]),
    default=None,
    help="native (the Rust core, default) or python (the reference; same result) [REPUTATION_INGEST_ENGINE].",
)
def ingest_command(
    file: str, skip_invalid: bool, dead_letter: str | None, as_json: bool, progress: bool | None, engine: str | None
) -> None:
    """Append events from a JSON Lines FILE (or - for stdin).

    All-or-nothing: every line is checked (against the store and the earlier lines) before
    anything is written; if any line is bad, nothing is written and every bad line is
    reported (exit 3). Re-sending accepted events is a no-op. Export lines are accepted too.
    """
    cfg: Settings = settings()
    dead_path = None
    if skip_invalid:  # checked before anything is written
        dead_path = (
            Path(dead_letter)
            if dead_letter
            else Path(cfg.home) / "dead-letter" / (now_utc().replace(":", "-") + ".jsonl")
        )
        try:
            check_dead_letter(dead_path, [0] if file == "-" else [Path(file)])
        except DeadLetterUnusable as exc:
            hint = "--dead-letter: " if dead_letter else ""
            raise Failure(f"{hint}{exc}; nothing was read or written", 2) from None
    store = open_store(cfg)
    try:
        if file == "-":
            result = ingest_lines(store, _lines(sys.stdin.buffer), skip_invalid=skip_invalid, engine=engine)
        else:
            path = Path(file)
            size = path.stat().st_size
            show = progress if progress is not None else (size > 5_000_000 and sys.stderr.isatty())
            with path.open("rb") as f:
                if show:
                    from rich.progress import Progress

                    with Progress(transient=True) as bar:
                        task = bar.add_task("checking", total=size)
                        lines = _counted(f, lambda n: bar.advance(task, n))
                        result = ingest_lines(store, lines, skip_invalid=skip_invalid, engine=engine)
                else:
                    result = ingest_lines(store, f, skip_invalid=skip_invalid, engine=engine)
    finally:
        store.close()
    if not result.rejects:
        dead_path = None
    elif dead_path is not None:
        try:
            write_dead_letters(dead_path, result.rejects)
        except OSError as exc:  # the path was checked: only a change meanwhile gets here
            report(result)
            raise Failure(
                f"accepted {result.accepted} events, but the {len(result.rejects)} rejects above could "
                f"not be written to {dead_path}: {exc.strerror or exc}",
                EXIT_INVALID,
            ) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "accepted": result.accepted,
                    "duplicates": result.duplicates,
                    "rejected": len(result.rejects),
                    "written": result.written,
                    "positions": list(result.positions) if result.positions else None,
                    "dead_letter": str(dead_path) if dead_path else None,
                    "errors": [r.message() for r in result.rejects[:MAX_REPORTED]],
                }
            )
        )
    else:
        report(result)
        if result.rejects and not skip_invalid:
            click.echo(f"rejected {plural(len(result.rejects), 'line')}; nothing was written", err=True)
        else:
            span = f" (positions {result.positions[0]}..{result.positions[1]})" if result.positions else ""
            click.echo(
                f"accepted {plural(result.accepted, 'event')}{span}, {result.duplicates} already known, {len(result.rejects)} rejected"
            )
            if dead_path:
                click.echo(f"rejects written to {dead_path}")
    if result.rejects:
        sys.exit(EXIT_INVALID)


def _counted(f, advance) -> Iterator[bytes]:
    for line in f:
        advance(len(line))
        yield line


def parse_position(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text.lstrip("@"))
    except ValueError:
        raise click.BadParameter(f"{name} must be a log position written @N", param_hint=name) from None


@click.command("export")
@click.option("--from", "start", default=None, help="First position, @N (inclusive).")
@click.option("--to", "end", default=None, help="Last position, @M (inclusive).")
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True), default="-")
def export_command(start: str | None, end: str | None, out: str) -> None:
    """The log as JSON lines: position, recorded_at and the event exactly as accepted."""
    first = parse_position(start, "--from") or 1
    last = parse_position(end, "--to")
    store = open_store(settings())
    sink = sys.stdout.buffer if out == "-" else open(out, "wb")
    try:
        for line in export_lines(store, first, last):
            sink.write(line)
    finally:
        store.close()
        if sink is not sys.stdout.buffer:
            sink.close()
        else:
            sink.flush()


def engine_clock(cfg: Settings, store: EventStore) -> int:
    """The engine clock: the latest occurred_at or ClockAdvanced.to of the log."""
    from projections.service import bring_up_to_date, open_projections

    proj = open_projections(cfg, store)
    try:
        bring_up_to_date(store, proj)
        return proj.clock
    finally:
        proj.close()


@click.command("tick")
@click.option("--to", "to", required=True, help="RFC 3339 time the engine clock moves to.")
def tick_command(to: str) -> None:
    """Advance the engine clock (writes a ClockAdvanced event)."""
    try:
        when = ev.canonical_time(to, "--to")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    event_id = "clock:" + when
    line = ev.encode_event(ev.ClockAdvanced(event_id=event_id, occurred_at=when, to=when))
    cfg = settings()
    store = open_store(cfg)
    try:
        clock = engine_clock(cfg, store)
        if ev.parse_time(when) <= clock and not store.load_digests([event_id]):
            raise InvalidInput(
                f"the engine clock is already at {ev.format_time(clock)}: `tick --to {when}` would not move it "
                "(the clock only moves forward)"
            )
        result = ingest_lines(store, [line])
    finally:
        store.close()
    if result.rejects:
        report(result)
        sys.exit(EXIT_INVALID)
    click.echo(f"engine clock advanced to {when}" if result.accepted else f"clock already advanced to {when}")
