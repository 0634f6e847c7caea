"""The schema of the audit database: tables, the rule-set table, macros and views (the SQL is
in `sql/`; what is computed from `projections.rules` is filled in here), and the connection
helpers shared by the sync and the read-only sandbox.

Time arithmetic (the 14-day feedback window, calendar-month windows) is done on naive UTC
`TIMESTAMP`s, so the result does not depend on the session's `TimeZone`.
"""

from __future__ import annotations

import time

import duckdb

from projections.audit.errors import AuditError
from projections.audit.loader import sql
from reputation.clock import INF
from reputation.events import format_time
from reputation.outcome import LONG_TERM
from reputation.rulesets import (
    HARSH_RECOMMEND,
    HARSH_STARS,
    LENIENT_MIN_HISTORY,
    NEGATIVE_REASONS,
    NEUTRAL_CLOSES,
    RULE_SETS,
)

TABLES_VERSION = 3  # the layout of the tables: a change rebuilds the file from the log
MACROS_VERSION = 10  # macros and views: a change only recreates them

# what the read-only connection may do (the sandbox adds lock_configuration once it is set up)
READ_ONLY_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "python_enable_replacements": False,
    "temp_directory": "",  # no spilling: nothing is written next to the file (HOME/audit.duckdb.tmp)
    "max_temp_directory_size": "0KiB",
}

# the contract columns, in table order (the aggregate and derived SQL name them)
CONTRACT_COLUMNS = [
    "contract_id",
    "freelancer_id",
    "client_id",
    "pricing",
    "continues",
    "opened_at",
    "scope_changes",
    "closed_at",
    "closed_by",
    "close_reason",
    "client_end_reason",
    "client_reason",
    "feedback_window_ends",
    "settled_at",
    "paid",
    "refunded",
    "earnings",
    "first_payment_at",
    "last_payment_at",
    "long_term",
    "client_stars",
    "client_stars_first",
    "client_revisions",
    "client_public_at",
    "client_recommend",
    "client_private_at",
    "freelancer_stars",
    "freelancer_public_at",
    "freelancer_recommend",
    "freelancer_end_reason",
    "client_feedback_removed",
    "client_removal_basis",
    "client_removal_scope",
    "client_removed_at",
    "freelancer_feedback_removed",
    "freelancer_removal_basis",
    "freelancer_removal_scope",
    "freelancer_removed_at",
    "leaves_window_6",
    "leaves_window_12",
    "leaves_window_24",
    "last_event_at",
    "last_position",
]

# the audit tables' macros callable as table functions (the sandbox allows them by name)
TABLE_MACROS = (
    "contract_state",
    "contract_assessments",
    "feedback_as_of",
    "client_score_as_of",
    "jss_sql",
    "jss_as_of",
    "feedback_ledger_as_of",
    "jss_published_as_of",
)


def _ts_literal(micros: int) -> str:
    return f"TIMESTAMPTZ '{format_time(micros)}'"


def _rule_sets_sql() -> str:
    rows = []
    for r in RULE_SETS.values():
        starts = "NULL" if r.starts <= -INF or r.starts >= INF else _ts_literal(r.starts)
        windows = "[" + ", ".join(str(w) for w in r.windows) + "]"
        rows.append(
            f"('{r.name}', {starts}, {windows}, {r.neutral_reasons}, {r.weighted}, "
            f"{r.zero_only_if_negative}, {r.needs_signal_or_long_term}, "
            f"{r.ignores_flagged_clients}, {r.min_contracts}, {r.min_clients}, {r.engagements}, "
            f"{r.neutral_closes}, {r.lenient_raters})"
        )
    return (
        "CREATE OR REPLACE TABLE rule_sets (name VARCHAR, starts TIMESTAMPTZ, windows INTEGER[], "
        "neutral_reasons BOOLEAN, weighted BOOLEAN, zero_only_if_negative BOOLEAN, "
        "needs_signal_or_long_term BOOLEAN, ignores_flagged_clients BOOLEAN, "
        "min_contracts INTEGER, min_clients INTEGER, engagements BOOLEAN, neutral_closes BOOLEAN, "
        "lenient_raters BOOLEAN);\n"
        "INSERT INTO rule_sets VALUES " + ",\n  ".join(rows) + ";\n"
    )


def _in_force_sql() -> str:
    cases = " ".join(
        f"WHEN ts::TIMESTAMPTZ >= {_ts_literal(r.starts)} THEN '{r.name}'"
        for r in sorted(RULE_SETS.values(), key=lambda r: -r.starts)
        if -INF < r.starts < INF  # a rule set starting at INF is never in force
    )
    first = min(RULE_SETS.values(), key=lambda r: r.starts).name
    return f"CASE {cases} ELSE '{first}' END"


def contracts_select(where: str) -> str:
    """One row per contract (the `contracts` columns) from the events matching `where`."""
    agg = sql("contract_agg", where=where)
    derived = sql("contract_derived", long_term_us=LONG_TERM)
    return f"SELECT {', '.join(CONTRACT_COLUMNS)} FROM (SELECT a.*, {derived} FROM ({agg}) a)"


def _star_score_macro(name: str, key: str, side: str, column: str, exact: str) -> str:
    """A star score per `key` at ts (the feedback and the client score)."""
    return sql("star_score_macro", name=name, key=key, side=side, column=column, exact=exact)


def macros_sql() -> str:
    """The rule-set table, the macros and the views."""
    cut = "occurred_at <= ts::TIMESTAMPTZ AND (known IS NULL OR position <= known)"
    return sql(
        "macros",
        rule_sets=_rule_sets_sql(),
        in_force=_in_force_sql(),
        long_term_us=LONG_TERM,
        contracts_as_of_cut=contracts_select(cut),
        cut=cut,
        all_rules="[" + ", ".join(f"'{n}'" for n in RULE_SETS) + "]",
        rule_set_names=tuple(RULE_SETS),
        rule_set_list=", ".join(RULE_SETS),
        negative_reasons=", ".join(f"'{r}'" for r in sorted(NEGATIVE_REASONS)),
        neutral_closes=", ".join(f"'{r}'" for r in sorted(NEUTRAL_CLOSES)),
        lenient_min=LENIENT_MIN_HISTORY,
        harsh_recommend=HARSH_RECOMMEND,
        harsh_stars=HARSH_STARS,
        feedback_as_of=_star_score_macro(
            "feedback_as_of", "freelancer_id", "client", "feedback_score", "feedback_exact"
        ),
        client_score_as_of=_star_score_macro(
            "client_score_as_of", "client_id", "freelancer", "client_score", "client_score_exact"
        ),
    )


# -- connections -------------------------------------------------------------------


def connect(path: str, read_only: bool = False, wait: float = 15.0) -> duckdb.DuckDBPyConnection:
    """Open the file (read-only: with `READ_ONLY_CONFIG`), retrying while another process
    holds its lock."""
    deadline = time.monotonic() + wait
    while True:
        try:
            if read_only:
                con = duckdb.connect(path, read_only=True, config=dict(READ_ONLY_CONFIG))
            else:
                con = duckdb.connect(path)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise AuditError(f"cannot open the audit database {path}: {str(exc).splitlines()[0]}") from None
            time.sleep(0.2)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def get(con: duckdb.DuckDBPyConnection, key: str) -> int:
    row = con.execute("SELECT value FROM _sync WHERE key = ?", [key]).fetchone()
    return int(row[0]) if row else 0


def set_(con: duckdb.DuckDBPyConnection, key: str, value: int) -> None:
    con.execute(
        "INSERT INTO _sync VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schema. A file whose tables have another layout is rebuilt from scratch (it
    is a read model: everything in it comes from the log and the ledger); macros and views of
    another version are recreated."""
    con.execute("BEGIN")
    try:
        (exists,) = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = '_sync'"
        ).fetchone() or (0,)
        tables = get(con, "tables_version") if exists else None
        if tables is not None and tables != TABLES_VERSION:
            for name, kind in con.execute(
                "SELECT view_name, 'VIEW' FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
                "UNION ALL SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE schema_name = 'main'"
            ).fetchall():
                con.execute(f'DROP {kind} IF EXISTS "{name}" CASCADE')
            tables = None
        con.execute(sql("tables"))
        if tables is None or get(con, "macros_version") != MACROS_VERSION:
            con.execute(macros_sql())
            set_(con, "tables_version", TABLES_VERSION)
            set_(con, "macros_version", MACROS_VERSION)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
