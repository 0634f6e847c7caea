"""`reputation simulate`: write a simulated marketplace as JSON Lines (stdout or a file)."""

from __future__ import annotations

from typing import BinaryIO, Callable

import click

from engine.simulate.market import Simulation
from reputation.events import parse_time


@click.command("simulate")
@click.option("--freelancers", type=int, default=200, show_default=True, help="Number of freelancers.")
@click.option("--months", type=int, default=36, show_default=True, help="Length of the history in months.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same bytes).")
@click.option("--start", default="2018-06-01T00:00:00Z", show_default=True, help="RFC 3339 start time.")
@click.option(
    "--out",
    type=click.Path(allow_dash=True, dir_okay=False),
    default="-",
    show_default=True,
    help="Output JSON Lines file, or - for standard output.",
)
def simulate_command(freelancers: int, months: int, seed: int, start: str, out: str) -> None:
    """Write a realistic synthetic marketplace as event lines (deterministic for a seed)."""
    if freelancers < 0:
        raise click.BadParameter("must be >= 0", param_hint="--freelancers")
    if months < 0:
        raise click.BadParameter("must be >= 0", param_hint="--months")
    try:
        parse_time(start)
    except ValueError as exc:
        raise click.BadParameter(f"not an RFC 3339 time with an offset: {exc}", param_hint="--start") from None
    try:
        sim = Simulation(freelancers, months, seed, start)
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(f"the simulated period is out of range: {exc}", param_hint="--months") from None
    if out == "-":
        with click.open_file("-", "wb") as stream:
            _write(sim, stream)  # type: ignore[arg-type]  # click opens stdout's binary buffer
            stream.flush()
        return
    _write_with_progress(sim, out)


def _write_with_progress(sim: Simulation, out: str) -> None:
    """Write to the file `out` with a progress bar on stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    with (
        open(out, "wb") as fh,
        Progress(
            TextColumn("simulating"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[lines]} events"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        task = progress.add_task("simulate", total=1000, lines=0)

        def tick() -> None:
            progress.update(task, completed=int(sim.progress * 1000), lines=sim.lines)

        _write(sim, fh, tick)
        tick()
    console.print(f"wrote {sim.lines} events to {out}")


def _write(sim: Simulation, fh: BinaryIO, tick: Callable[[], None] | None = None) -> None:
    """Write the lines in batches (one `write` per 8192 lines), each ending with a newline."""
    batch: list[bytes] = []
    for line in sim:
        batch.append(line)
        if len(batch) >= 8192:
            batch.append(b"")
            fh.write(b"\n".join(batch))
            batch.clear()
            if tick is not None:
                tick()
    if batch:
        batch.append(b"")
        fh.write(b"\n".join(batch))
