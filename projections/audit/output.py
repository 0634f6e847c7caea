"""Writing a query result: CSV (header row first), JSON (an array of objects; JSON columns as
JSON, timestamps as RFC 3339 UTC, decimals as numbers) or a table of the first rows."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Iterable
from typing import Any, TextIO

TABLE_ROWS = 1000  # rows shown by the table output (use --csv or --json for more)


def text(value: Any) -> str:
    """A cell as CSV/table text: empty for NULL, RFC 3339 UTC for timestamps, JSON for nested."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return _time(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(jsonable(value), separators=(",", ":"))
    return str(value)


def _time(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
        text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
        return text + "Z"
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")


def jsonable(value: Any) -> Any:
    """A cell as a JSON value."""
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
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return str(value)


def _json_cell(value: Any, type_name: str) -> Any:
    if type_name == "JSON" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return jsonable(value)


def write_csv(out: TextIO, names: list[str], batches: Iterable[list[tuple]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for rows in batches:
        writer.writerows([text(v) for v in row] for row in rows)


def write_json(out: TextIO, names: list[str], types: list[str], batches: Iterable[list[tuple]]) -> None:
    out.write("[")
    first = True
    for rows in batches:
        for row in rows:
            obj = {n: _json_cell(v, t) for n, v, t in zip(names, row, types)}
            out.write(("" if first else ",\n") + json.dumps(obj, ensure_ascii=False))
            first = False
    out.write("]\n")


def print_table(names: list[str], types: list[str], batches: Iterable[list[tuple]]) -> None:
    """The first TABLE_ROWS rows as a rich table on stdout, and the row count."""
    from rich.console import Console
    from rich.table import Table

    rows: list = []
    more = False
    for chunk in batches:
        rows.extend(chunk)
        if len(rows) > TABLE_ROWS:
            more = True
            break
    shown = [[text(v) for v in row] for row in rows[:TABLE_ROWS]]
    widths = [max([len(n)] + [len(r[i]) for r in shown]) for i, n in enumerate(names)]
    console = Console()
    if not console.is_terminal:  # a pipe or a file: never fold cells, use the width needed
        console = Console(width=max(80, sum(widths) + 3 * len(widths) + 1))
    table = Table(show_lines=False)
    for name, type_name, width in zip(names, types, widths):
        numeric = any(k in type_name for k in ("INT", "DOUBLE", "DECIMAL", "FLOAT", "REAL"))
        table.add_column(
            name, justify="right" if numeric else "left", overflow="fold", min_width=min(width, max(len(name), 8), 24)
        )
    for row in shown:
        table.add_row(*row)
    console.print(table)
    if more:
        console.print(f"first {TABLE_ROWS} rows shown; use --csv or --json for all", style="dim")
    else:
        console.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}", style="dim")


def render(names: list[str], types: list[str], batches: Iterable[list[tuple]], fmt: str, out: TextIO) -> None:
    """Write the result: csv and json stream every row; the table shows the first rows."""
    if fmt == "csv":
        write_csv(out, names, batches)
    elif fmt == "json":
        write_json(out, names, types, batches)
    else:
        print_table(names, types, batches)
