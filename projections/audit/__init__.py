"""The DuckDB audit database (interfaces.md, "DuckDB audit database").

`REPUTATION_HOME/audit.duckdb` is a read model for auditors, kept up to date with the event
log incrementally (`arrow_sync`), with its SQL in `sql/` (`loader`, `schema`), queried through
a read-only sandbox (`sandbox`) and written out as CSV, JSON or a table (`output`).

What is in the file (docs/audit.md has the full schema and example queries):

- `events`: one row per log position, the payload as JSON, plus typed copies of the fields
  the SQL scoring needs (`side`, `amount`, `stars`, `recommend`, `reason`, ...);
- `contracts`: one row per contract, its current summary, derived in SQL from `events` for
  the contracts the newly synced events touched;
- `score_changes`: the ledger; `rule_sets`: the parameters of rules.md;
- macros: `jss_as_of(ts)` (from the ledger), `jss_sql(ts, rules, known)` (the JSS computed
  directly from `events`, an independent implementation of rules.md), `feedback_as_of(ts)`,
  `client_score_as_of(ts)`, `contract_state(ts)`, `contract_assessments(ts, rules)`, and the
  views `engine_clock`, `contract_outcomes`.
"""

from projections.audit.arrow_sync import SyncStats, sync
from projections.audit.errors import AuditError, MalformedParameter, ParameterError, QueryRefused
from projections.audit.output import render
from projections.audit.params import parse_params
from projections.audit.sandbox import check_query, check_statement, open_readonly, query, stream
from projections.audit.schema import MACROS_VERSION, TABLES_VERSION, ensure_schema

__all__ = [
    "AuditError",
    "MalformedParameter",
    "ParameterError",
    "QueryRefused",
    "SyncStats",
    "MACROS_VERSION",
    "TABLES_VERSION",
    "check_query",
    "check_statement",
    "ensure_schema",
    "open_readonly",
    "parse_params",
    "query",
    "render",
    "stream",
    "sync",
]
