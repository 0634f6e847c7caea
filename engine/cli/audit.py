"""`reputation audit`: read-only SQL over the DuckDB audit database (docs/audit.md).

It first brings the projections and the audit database up to date with the log, then opens
the file read-only, with no access to any other file or database, and runs one statement
that only reads (SELECT, or EXPLAIN of a SELECT). Anything else is refused with exit 3 and a
one-line message; usage errors exit 2.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import click
import duckdb

from reputation.config import open_store

from projections import audit
from projections.service import open_projections

from engine.cli import EXIT_INVALID, Failure, settings
from engine.cli.read import catch_up_shown

TABLE_ROWS = 1000  # rows shown by the table output (use --csv or --json for more)
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT = re.compile(r"^[+-]?\d{1,18}$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def parse_params(items: tuple[str, ...]) -> dict[str, Any]:
    """`name=value` pairs; integers and decimals become numbers, the rest stays text
    (write `$name::VARCHAR` in the query to compare a number-like value as text)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lstrip("$")
        if not sep or not _PARAM.match(name):
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        if _INT.match(value):
            out[name] = int(value)
        elif _FLOAT.match(value):
            out[name] = float(value)
        else:
            out[name] = value
    return out


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


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return _time(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(_jsonable(value), separators=(",", ":"))
    return str(value)


def _time(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
        text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
        return text + "Z"
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return _time(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return str(value)


def _json_cell(value: Any, type_name: str) -> Any:
    if type_name == "JSON" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return _jsonable(value)


def render(names: list[str], types: list[str], batches, fmt: str) -> None:
    """Write the result: csv and json stream every row; the table shows the first rows."""
    out = sys.stdout
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for rows in batches:
            writer.writerows([_text(v) for v in row] for row in rows)
        return
    if fmt == "json":
        out.write("[")
        first = True
        for rows in batches:
            for row in rows:
                obj = {n: _json_cell(v, t) for n, v, t in zip(names, row, types)}
                out.write(("" if first else ",\n") + json.dumps(obj, ensure_ascii=False))
                first = False
        out.write("]\n")
        return
    from rich.console import Console
    from rich.table import Table

    rows: list = []
    more = False
    for chunk in batches:
        rows.extend(chunk)
        if len(rows) > TABLE_ROWS:
            more = True
            break
    shown = [[_text(v) for v in row] for row in rows[:TABLE_ROWS]]
    widths = [max([len(n)] + [len(r[i]) for r in shown]) for i, n in enumerate(names)]
    console = Console()
    if not console.is_terminal:  # a pipe or a file: never fold cells, use the width needed
        console = Console(width=max(80, sum(widths) + 3 * len(widths) + 1))
    table = Table(show_lines=False)
    for name, type_name, width in zip(names, types, widths):
        numeric = any(k in type_name for k in ("INT", "DOUBLE", "DECIMAL", "FLOAT", "REAL"))
        table.add_column(name, justify="right" if numeric else "left", overflow="fold",
                         min_width=min(width, max(len(name), 8), 24))
    for row in shown:
        table.add_row(*row)
    console.print(table)
    if more:
        console.print(f"first {TABLE_ROWS} rows shown; use --csv or --json for all", style="dim")
    else:
        console.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}", style="dim")


@click.command("audit")
@click.option("--sql", "sql", default=None, metavar="QUERY", help="The query (one SELECT).")
@click.option("--file", "file", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Read the query from a file (- for stdin).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV output (header row first).")
@click.option("--json", "as_json", is_flag=True, help="JSON output: an array of objects.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Bind $NAME in the query (repeatable). Integers and decimals bind as numbers.")
@click.option("--sync/--no-sync", "do_sync", default=True, show_default=True,
              help="Bring the audit database up to date with the log first.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar while syncing (default: on a terminal, for big catch-ups).")
def audit_command(sql: str | None, file: str | None, as_csv: bool, as_json: bool,
                  params: tuple[str, ...], do_sync: bool, progress: bool | None) -> None:
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
        raise click.UsageError("give a query with --sql \"SELECT ...\" or --file Q.sql (or on stdin)")
    bound = parse_params(params)

    # refuse anything but a read before touching any file
    parser = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        audit.check_statement(parser, sql)
    except audit.AuditError as exc:
        raise Failure(str(exc), EXIT_INVALID) from None
    finally:
        parser.close()

    if do_sync:
        _sync(progress)
    path = settings().audit_path
    try:
        con = audit.open_readonly(path)
    except audit.AuditError as exc:
        raise Failure(f"{exc} (run without --no-sync to create it)", EXIT_INVALID) from None
    try:
        names, types, batches = audit.stream(con, sql, _used(sql, bound))
        render(names, types, batches, "csv" if as_csv else "json" if as_json else "table")
    except audit.AuditError as exc:
        message = str(exc)
        missing = re.search(r"parameters?: ?\$?(\w+)", message) if "not provided" in message.lower() else None
        if missing:
            raise Failure(f"the query uses ${missing.group(1)}: give it with --param {missing.group(1)}=VALUE", 2) from None
        raise Failure(message, EXIT_INVALID) from None
    finally:
        con.close()


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters the query mentions (DuckDB refuses unused named parameters)."""
    unused = [n for n in params if not re.search(r"\$" + re.escape(n) + r"\b", sql)]
    if unused:
        raise Failure(f"--param {', '.join(unused)}: the query has no such $parameter", 2)
    return params
