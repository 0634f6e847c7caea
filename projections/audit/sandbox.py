"""The read-only sandbox of `reputation audit`: which statements run, and how they run.

Two independent layers, so that a gap in one is closed by the other:

1. `check_statement` parses the text with DuckDB's own parser (`extract_statements`) and
   walks the whole syntax tree of the one statement (`json_serialize_sql`), not its first
   keyword: only plain queries (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, or
   EXPLAIN of one) pass, with no write, COPY or other statement nested in a CTE, no table
   function but the audit macros and a few pure built-ins, and no file path as a table.
   What the tree cannot show (a statement type this DuckDB client cannot name, a statement
   the serializer cannot express) is refused, never guessed.
2. `open_readonly` opens the file read-only with DuckDB's own limits: no external access
   (no file, network or other database), no temp directory (nothing spills next to the file),
   no extension loading or Python replacement scans, and the configuration locked.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import duckdb

from projections.audit import schema
from projections.audit.errors import AuditError, ParameterError, QueryRefused

ALLOWED = "only reads are allowed: SELECT (or WITH/FROM/VALUES/DESCRIBE/SHOW/SUMMARIZE) and EXPLAIN of one"
OUT_OF_SCOPE = "reading or writing files and other databases is out of scope for `reputation audit`"

# query nodes of a read; DELETE/INSERT/UPDATE/COPY/MERGE/STATEMENT nodes (in a CTE) are not
_READ_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"}
# table functions that read only the audit tables or compute: an allow-list, so that a table
# function added by a later DuckDB (a reader of some file format) is refused until listed
SAFE_TABLE_FUNCTIONS = frozenset(schema.TABLE_MACROS) | {
    "unnest",
    "range",
    "generate_series",
    "repeat",
    "repeat_row",
    "json_each",
    "json_tree",
    "duckdb_tables",
    "duckdb_views",
    "duckdb_columns",
    "duckdb_functions",
    "duckdb_types",
    "duckdb_schemas",
    "duckdb_constraints",
    "duckdb_indexes",
    "duckdb_keywords",
    "duckdb_sequences",
    "duckdb_dependencies",
    "pragma_table_info",
    "pragma_version",
    "pg_timezone_names",
    "icu_calendar_names",
}
# scalar functions that see outside the query (the environment, the log, other statements)
DENIED_FUNCTIONS = frozenset(
    {
        "getenv",
        "write_log",
        "json_serialize_plan",
        "json_execute_serialized_sql",
        "query",
        "query_table",
        "which_secret",
    }
)
_PATH_CHARS = re.compile(r"[./\\:~]")  # a table name with these is a file (a replacement scan)
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)  # blanks and comments
_EXPLAIN = re.compile(r"EXPLAIN\b", re.IGNORECASE)
_ANALYZE = re.compile(r"ANALY[ZS]E\b", re.IGNORECASE)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def parser() -> duckdb.DuckDBPyConnection:
    """An in-memory connection that only parses (it touches no file)."""
    return duckdb.connect(":memory:", config=dict(schema.READ_ONLY_CONFIG))


def _statements(con: duckdb.DuckDBPyConnection, sql: str) -> list:
    try:
        return con.extract_statements(sql)
    except duckdb.Error as exc:
        raise AuditError(f"the query does not parse: {_first_line(exc)}") from None


def _kind(statement) -> str:
    try:
        return statement.type.name
    except ValueError as exc:  # a statement type this client cannot name (`UPDATE EXTENSIONS`)
        raise QueryRefused(f"statement refused (a statement type unknown to this client: {exc}); {ALLOWED}") from None


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    """Check that `sql` is one statement that only reads; return the `$names` it uses.
    Raises `QueryRefused` (or `AuditError` for text that does not parse)."""
    statements = _statements(con, sql)
    if not statements:
        raise AuditError("no SQL statement given")
    if len(statements) > 1:
        raise QueryRefused(f"one statement at a time please ({len(statements)} given)")
    st = statements[0]
    kind = _kind(st)
    if kind == "EXPLAIN":
        explained = _after_explain(st.query)
        inner = _statements(con, explained) if explained.strip() else []
        if len(inner) != 1 or _kind(inner[0]) != "SELECT":
            raise QueryRefused(f"EXPLAIN is allowed only of a SELECT; {ALLOWED}")
        _check_tree(con, inner[0].query)
    elif kind == "SELECT":
        _check_tree(con, st.query)
    else:
        raise QueryRefused(
            f"{kind} statements are refused: the audit database is read-only and "
            f"`reputation audit` writes nothing anywhere; {ALLOWED}"
        )
    return set(st.named_parameters)


def _after_explain(query: str) -> str:
    """The statement an EXPLAIN [ANALYZE] explains ('' when the text is not of that form).
    The parser has no tree for EXPLAIN, so its two keywords are skipped here; whatever else
    is left is parsed and checked like any query."""
    rest = query[_end(_LEADING, query) :]
    explain = _EXPLAIN.match(rest)
    if not explain:
        return ""
    rest = rest[explain.end() :]
    rest = rest[_end(_LEADING, rest) :]
    analyze = _ANALYZE.match(rest)
    return rest[analyze.end() :] if analyze else rest


def _end(pattern: re.Pattern[str], text: str) -> int:
    """Where `pattern` (one that always matches, maybe empty) ends at the start of `text`."""
    found = pattern.match(text)
    return found.end() if found else 0


def _check_tree(con: duckdb.DuckDBPyConnection, query: str) -> None:
    (text,) = con.execute("SELECT json_serialize_sql($q)", {"q": query}).fetchone() or ("{}",)
    tree = json.loads(text)
    if tree.get("error"):
        raise QueryRefused(
            f"statement refused: it cannot be checked as a read ({tree.get('error_message')}); {ALLOWED}"
        )
    _walk(tree["statements"])


def _walk(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if "info_type" in node or (isinstance(kind, str) and kind.endswith("_NODE") and kind not in _READ_NODES):
        what = str(node.get("info_type") or kind).removesuffix("_INFO").removesuffix("_NODE")
        what = what.removesuffix("_QUERY").replace("_", " ")  # COPY_QUERY_NODE -> COPY
        raise QueryRefused(
            f"{what} inside a query is refused: the audit database is read-only and "
            f"`reputation audit` writes nothing anywhere; {ALLOWED}"
        )
    if kind == "TABLE_FUNCTION":
        name = str((node.get("function") or {}).get("function_name", "")).lower()
        if name not in SAFE_TABLE_FUNCTIONS:
            raise QueryRefused(
                f"the table function {name}() is refused: {OUT_OF_SCOPE}; query the audit tables and macros instead"
            )
    elif kind in ("BASE_TABLE", "SHOW_REF") and _PATH_CHARS.search(str(node.get("table_name", ""))):
        raise QueryRefused(f"{node['table_name']!r} is a file: {OUT_OF_SCOPE}; query the audit tables instead")
    elif node.get("class") == "FUNCTION" and str(node.get("function_name", "")).lower() in DENIED_FUNCTIONS:
        raise QueryRefused(f"the function {node['function_name']}() is refused: it looks outside the audit database")
    for value in node.values():
        _walk(value)


def bind(used: set[str], params: dict[str, Any] | None) -> dict[str, Any]:
    """The parameters to bind: every `$name` the query uses, no other (DuckDB refuses
    unused named parameters)."""
    params = params or {}
    unused = [n for n in params if n not in used]
    if unused:
        raise ParameterError(f"--param {', '.join(unused)}: the query has no such $parameter")
    missing = sorted(used - set(params))
    if missing:
        raise ParameterError(f"the query uses ${missing[0]}: give it with --param {missing[0]}=VALUE")
    return params


def check_query(sql: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check `sql` and its parameters before any file is touched; return the parameters to
    bind. Raises `QueryRefused`, `AuditError` or `ParameterError`."""
    con = parser()
    try:
        return bind(check_statement(con, sql), params)
    finally:
        con.close()


def open_readonly(path: str) -> duckdb.DuckDBPyConnection:
    """The audit file opened read-only, without access to any other file or database."""
    if not os.path.exists(path):
        raise AuditError(f"no audit database at {path}")
    con = schema.connect(path, read_only=True)
    con.execute("SET lock_configuration = true")
    return con


class _Errors:
    """Turns DuckDB errors into clean `AuditError`s / `QueryRefused`s (no tracebacks)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, duckdb.Error):
            return False
        text = _first_line(exc)
        if isinstance(exc, duckdb.PermissionException):
            raise QueryRefused(f"{OUT_OF_SCOPE} ({text}); query the audit tables instead") from None
        if isinstance(exc, duckdb.InvalidInputException) and ("read-only" in text or "configuration" in text):
            raise QueryRefused(text) from None
        raise AuditError(text) from None


def stream(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None, batch: int = 10_000
) -> tuple[list[str], list[str], Iterator[list[tuple]]]:
    """Run a checked read; return (column names, column type names, iterator of row batches)."""
    bound = bind(check_statement(con, sql), params)
    with _Errors():
        cur = con.execute(sql, bound) if bound else con.execute(sql)
        names = [d[0] for d in cur.description] if cur.description else []
        types = [str(d[1]) for d in cur.description] if cur.description else []

    def batches():
        while True:
            with _Errors():
                rows = cur.fetchmany(batch)
            if not rows:
                return
            yield rows

    return names, types, batches()


def query(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None, limit: int | None = None):
    """Run a checked read; return (column names, column type names, rows), at most `limit`."""
    names, types, batches = stream(con, sql, params, batch=limit or 10_000)
    rows: list = []
    for chunk in batches:
        rows.extend(chunk)
        if limit is not None and len(rows) >= limit:
            return names, types, rows[:limit]
    return names, types, rows
