"""`reputation audit`: read-only SQL over the DuckDB audit database (docs/audit.md).

It first brings the projections and the audit database up to date with the log, then opens
the file read-only, with no access to any other file or database, and runs one statement
that only reads (SELECT, or EXPLAIN of a SELECT). Anything else is refused with exit 3 and a
one-line message; usage errors exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli import EXIT_INVALID, Failure, settings
from engine.cli.read import catch_up_shown
from projections import audit
from projections.service import open_projections
from reputation.config import open_store


def _sync(progress: bool | None) -> None:
    cfg = settings()
    Path(cfg.audit_path).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(cfg)
    try:
        proj = open_projections(cfg, store)
        try:
            catch_up_shown(store, proj, progress)
            audit.sync(store, proj, cfg.audit_path, progress, catch_up=False)
        finally:
            proj.close()
    except audit.AuditError as exc:
        raise Failure(str(exc), EXIT_INVALID) from None
    finally:
        store.close()


@click.command("audit")
@click.option("--sql", "sql", default=None, metavar="QUERY", help="The query (one SELECT).")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="Read the query from a file (- for stdin).",
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV output (header row first).")
@click.option("--json", "as_json", is_flag=True, help="JSON output: an array of objects.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Bind $NAME in the query (repeatable). Integers and decimals bind as numbers.",
)
@click.option(
    "--sync/--no-sync",
    "do_sync",
    default=True,
    show_default=True,
    help="Bring the audit database up to date with the log first.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar while syncing (default: on a terminal, for big catch-ups).",
)
def audit_command(
    sql: str | None,
    file: str | None,
    as_csv: bool,
    as_json: bool,
    params: tuple[str, ...],
    do_sync: bool,
    progress: bool | None,
) -> None:
    """Read-only SQL over the DuckDB audit database (HOME/audit.duckdb).

    Tables: events, contracts, score_changes, rule_sets; table macros jss_as_of(ts),
    jss_sql(ts, rules := ..., known := ...), feedback_as_of(ts), client_score_as_of(ts),
    contract_state(ts), contract_assessments(ts, rules := ...); views engine_clock,
    contract_outcomes. Only reads run: writes of any kind, other files and other databases
    are refused (exit 3). Example:

      reputation audit --sql "SELECT * FROM jss_as_of(\\$ts) ORDER BY jss" --param ts=2024-06-01T00:00:00Z
    """
    if sql is not None and file is not None:
        raise click.UsageError("give the query with --sql or --file, not both")
    if as_csv and as_json:
        raise click.UsageError("choose one of --csv and --json")
    if file is not None:
        try:
            sql = sys.stdin.read() if file == "-" else Path(file).read_text()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="--file") from None
    if sql is None and not sys.stdin.isatty():
        sql = sys.stdin.read()
    if sql is None or not sql.strip():
        raise click.UsageError('give a query with --sql "SELECT ..." or --file Q.sql (or on stdin)')
    try:
        bound = audit.parse_params(params)
    except audit.MalformedParameter as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    # refuse anything but a read, and parameters that do not match, before touching any file
    try:
        bound = audit.check_query(sql, bound)
    except audit.ParameterError as exc:
        raise Failure(str(exc), 2) from None
    except audit.AuditError as exc:
        raise Failure(str(exc), EXIT_INVALID) from None

    if do_sync:
        _sync(progress)
    path = settings().audit_path
    try:
        con = audit.open_readonly(path)
    except audit.AuditError as exc:
        raise Failure(f"{exc} (run without --no-sync to create it)", EXIT_INVALID) from None
    try:
        names, types, batches = audit.stream(con, sql, bound)
        audit.render(names, types, batches, "csv" if as_csv else "json" if as_json else "table", sys.stdout)
    except audit.AuditError as exc:
        raise Failure(str(exc), EXIT_INVALID) from None
    finally:
        con.close()
