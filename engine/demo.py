"""`reputation demo`: the main job on the embedded default, in about a minute.

Simulates a marketplace, ingests it, projects it, and shows what a trust team would look at:
the largest JSS drops with their explanations, one freelancer whose public stars and JSS
disagree, and the commands to try next. Safe to run twice (ids are idempotent).
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from engine.cli import settings
from engine.simulate import simulate
from projections.ledger import restated
from reputation import clock
from reputation import events as ev
from reputation.config import open_store

console = Console()


def _stage(label: str):
    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@click.command("demo")
@click.option("--freelancers", default=150, show_default=True, help="Size of the simulated marketplace.")
@click.option(
    "--months",
    default=84,
    show_default=True,
    help="Months of history (84 from 2018-06 crosses the 2020 and 2024 rule switches).",
)
@click.option("--seed", default=7, show_default=True)
@click.option("--drops", default=3, show_default=True, help="How many of the largest JSS drops to explain.")
def demo_command(freelancers: int, months: int, seed: int, drops: int) -> None:
    """Build a realistic marketplace, ingest, project, and explain the biggest score drops."""
    from projections.service import open_projections
    from reputation.ingest import ingest_lines

    cfg = settings()
    cfg.home = str(Path(cfg.home) / "demo")  # its own folder: never mixed with a real store
    home = Path(cfg.home)
    home.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]reputation demo")
    console.print(f"home: {home} (safe to run again: event ids are idempotent)")

    # 1. simulate
    start = "2018-06-01T00:00:00Z"
    path = home / f"market-{freelancers}f-{months}m-seed{seed}.jsonl"
    t0 = time.perf_counter()
    with path.open("wb") as f:
        lines = 0
        for line in simulate(freelancers, months, seed, start):
            f.write(line + b"\n")
            lines += 1
    console.print(
        f"1. simulated {freelancers} freelancers over {months} months: {lines:,} events "
        f"({time.perf_counter() - t0:.1f} s) -> {path.name}"
    )

    # 2. ingest
    store = open_store(cfg)
    t0 = time.perf_counter()
    with path.open("rb") as f, _stage("2. ingesting") as bar:
        task = bar.add_task("ingest", total=lines)
        result = ingest_lines(store, f, progress=lambda n: bar.advance(task, n))
    dt = time.perf_counter() - t0
    console.print(
        f"2. ingested {result.accepted:,} new events, {result.duplicates:,} already known, "
        f"{len(result.rejects)} rejected ({dt:.1f} s, {lines / dt:,.0f} lines/s, all or nothing)"
    )
    if result.rejects:
        for r in result.rejects[:5]:
            console.print(f"   [red]{r.message()}[/]")

    # 3. project (the clock moves to the end of the simulation: pending deadlines take effect)
    end = _end_of(start, months)
    if store.max_position() and ev.parse_time(end) > _last_time(store):
        tick = ev.encode_event(ev.ClockAdvanced(event_id="clock:" + end, occurred_at=end, to=end))
        ingest_lines(store, [tick])
    proj = open_projections(cfg, store)
    t0 = time.perf_counter()
    behind = store.max_position() - proj.position
    with _stage("3. projecting") as bar:
        task = bar.add_task("project", total=max(behind, 1))
        first = proj.position
        done = proj.catch_up(store, lambda pos, last: bar.update(task, completed=pos - first))
    dt = time.perf_counter() - t0
    rate = f", {done / dt:,.0f} events/s" if done else ""
    console.print(
        f"3. projected {done:,} events into scores and the ledger ({dt:.1f} s{rate}); "
        f"engine clock {ev.format_time(proj.clock)}; ledger has {proj.max_seq():,} score changes"
    )

    # 4. the largest drops of the current history (entries a late event restated are not
    #    today's history), explained the way a trust team reads them
    changes: list = []
    seq = 0
    while batch := proj.ledger_after(seq, 5000):
        changes.extend(batch)
        seq = batch[-1].seq
    replaced = restated(changes)
    # mature histories only (the last four years): early drops of a two-contract record say little
    mature = ev.format_time(ev.parse_time(end) - 4 * 365 * ev.DAY)
    candidates = sorted(
        (
            c
            for c in changes
            if c.seq not in replaced
            and c.effective_at >= mature
            and c.jss_before is not None
            and c.jss_after is not None
            and c.jss_after < c.jss_before
        ),
        key=lambda c: (c.jss_after - c.jss_before, c.seq),
    )
    console.rule("4. the largest JSS drops, explained")
    shown: set[str] = set()
    for ch in candidates:
        if len(shown) >= drops:
            break
        if ch.freelancer_id in shown:
            continue
        at = ev.parse_time(ch.effective_at)
        out = proj.explain(ch.freelancer_id, at - 1, at)
        before, after = out["from"], out["to"]
        if before["jss"] is None or after["jss"] is None or after["jss"] >= before["jss"]:
            continue  # not a drop as the engine sees it now
        shown.add(ch.freelancer_id)
        window = after["jss_window_months"]
        console.print(
            f"\n[bold]{ch.freelancer_id}[/]: JSS {before['jss']} -> [bold red]{after['jss']}[/] on "
            f"{ch.effective_at[:10]} (rules {ch.rules}; the {window}-month window sets the score); "
            f"feedback score {ch.feedback_after}"
        )
        for c in out["causes"]:
            delta = f"{c['jss_delta']:+7.2f}" if c["jss_delta"] else "       "
            console.print(f"   {c['at'][:10]} {delta}  [cyan]{c['kind']}[/]  {c['text']}")
        current = after["jss_exact"] or 0
        ranked = sorted(out["counterfactuals"], key=lambda cf: -abs((cf["jss_without"] or 0) - current))
        for cf in ranked[:3]:
            alt = f"; if it were neutral {_n(cf['jss_if_neutral'])}" if cf["outcome"] != "neutral" else ""
            console.print(
                f"   without {cf['contract_id']} ({cf['outcome']}) the JSS would be {_n(cf['jss_without'])}{alt}"
            )
    if not shown:
        console.print("no JSS drop in this marketplace (try another --seed)")

    # 5. stars and JSS that disagree
    console.rule("5. public stars and JSS that disagree")
    best = None
    for fid in proj.freelancers():
        s = proj.score(fid)
        if s["jss"] is None or s["feedback_score"] is None:
            continue
        gap = s["feedback_score"] * 20 - s["jss"]
        if best is None or gap > best[0]:
            best = (gap, s)
    if best:
        s = best[1]
        console.print(
            f"[bold]{s['freelancer_id']}[/] has a feedback score of [green]{s['feedback_score']}[/] "
            f"stars but a JSS of [red]{s['jss']}[/] ({s['rules']}, {s['jss_window_months']}-month window):"
        )
        for k in s["contracts"]:
            if k["counted"] and k["outcome"] != "positive":
                console.print(f"   {k['contract_id']} (client {k['client_id']}) {k['outcome']}: {'; '.join(k['why'])}")
        example = s["freelancer_id"]
    else:
        example = "f-000001"
    proj.close()
    store.close()

    console.rule("try next")
    h = f"--home {home.resolve()}"
    for cmd in [
        f"reputation {h} score {example}",
        f"reputation {h} score {example} --as-of 2020-02-29T00:00:00Z --rules jss-2020 --json",
        f"reputation {h} explain {example} --from 2023-01-01T00:00:00Z --audience freelancer",
        f"reputation {h} history {example}",
        f"reputation {h} audit --sql \"SELECT * FROM jss_as_of(TIMESTAMPTZ '2024-06-30 00:00:00+00') ORDER BY jss NULLS LAST LIMIT 10\"",
    ]:
        console.print(f"  {cmd}", soft_wrap=True)

    from engine.forum_case import show

    show(console)


def _n(x) -> str:
    return "hidden" if x is None else f"{x:g}"


def _end_of(start: str, months: int) -> str:
    return clock.format_time(clock.to_micros(clock.add_months(clock.to_datetime(clock.parse_time(start)), months)))


def _last_time(store) -> int:
    ((_, data),) = store.read(store.max_position() - 1, 1)
    return ev.decode_recorded(data).event.at
