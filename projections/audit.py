"""The DuckDB audit database (interfaces.md, "DuckDB audit database").

`REPUTATION_HOME/audit.duckdb` is a read model for auditors, kept up to date with the event
log *incrementally*: `sync` reads the events after the position it tracked last time (through
`EventStore.read`, so it works the same with SQLite and PostgreSQL), loads them through Arrow
and commits the rows together with the new position in one DuckDB transaction. A kill at any
moment leaves a database that the next sync completes, without duplicates. The score-change
ledger is synced the same way by its `seq`.

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

Time arithmetic (the 14-day feedback window, calendar-month windows) is done on naive UTC
`TIMESTAMP`s, so the result does not depend on the session's `TimeZone`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import msgspec
import pyarrow as pa

from reputation.clock import INF
from reputation.events import format_time
from reputation.outcome import LONG_TERM
from reputation.rulesets import NEGATIVE_REASONS, RULE_SETS
from reputation.store import EventStore

TABLES_VERSION = 1  # the layout of the tables: a change rebuilds the file from the log
MACROS_VERSION = 7  # macros and views: a change only recreates them
PAGE = 10_000  # rows per store read
CHUNK = 200_000  # events per DuckDB transaction
LEDGER_PAGE = 50_000
BAR_THRESHOLD = 20_000  # show a progress bar when at least this many rows are behind


class AuditError(RuntimeError):
    """A clean failure of the audit database (message for the user, no traceback)."""


class Refused(AuditError):
    """A statement that `reputation audit` does not run (anything but a read)."""


class SyncStats(NamedTuple):
    events: int  # events added by this sync
    contracts: int  # contract rows refreshed
    changes: int  # ledger rows added
    position: int  # log position the database is now at
    seq: int  # ledger seq the database is now at
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return (self.events + self.changes) / self.seconds if self.seconds else 0.0


# -- schema ------------------------------------------------------------------------

TABLES = """
CREATE TABLE IF NOT EXISTS _sync (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    position      BIGINT NOT NULL,
    event_id      VARCHAR NOT NULL,
    type          VARCHAR NOT NULL,
    contract_id   VARCHAR,
    freelancer_id VARCHAR,
    client_id     VARCHAR,
    occurred_at   TIMESTAMPTZ NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL,
    payload       JSON NOT NULL,
    side          VARCHAR,
    amount        DECIMAL(18, 2),
    stars         DOUBLE,
    recommend     INTEGER,
    reason        VARCHAR,
    closed_by     VARCHAR,
    basis         VARCHAR,
    scope         VARCHAR
);
CREATE TABLE IF NOT EXISTS contracts (
    contract_id             VARCHAR NOT NULL,
    freelancer_id           VARCHAR,
    client_id               VARCHAR,
    pricing                 VARCHAR,
    continues               VARCHAR,
    opened_at               TIMESTAMPTZ,
    scope_changes           INTEGER,
    closed_at               TIMESTAMPTZ,
    closed_by               VARCHAR,
    close_reason            VARCHAR,
    client_end_reason       VARCHAR,
    client_reason           VARCHAR,
    feedback_window_ends    TIMESTAMPTZ,
    settled_at              TIMESTAMPTZ,
    paid                    DECIMAL(18, 2),
    refunded                DECIMAL(18, 2),
    earnings                DECIMAL(18, 2),
    first_payment_at        TIMESTAMPTZ,
    last_payment_at         TIMESTAMPTZ,
    long_term               BOOLEAN,
    client_stars            DOUBLE,
    client_stars_first      DOUBLE,
    client_revisions        INTEGER,
    client_public_at        TIMESTAMPTZ,
    client_recommend        INTEGER,
    client_private_at       TIMESTAMPTZ,
    freelancer_stars        DOUBLE,
    freelancer_public_at    TIMESTAMPTZ,
    freelancer_recommend    INTEGER,
    freelancer_end_reason   VARCHAR,
    client_feedback_removed BOOLEAN,
    client_removal_basis    VARCHAR,
    client_removal_scope    VARCHAR,
    client_removed_at       TIMESTAMPTZ,
    freelancer_feedback_removed BOOLEAN,
    freelancer_removal_basis VARCHAR,
    freelancer_removal_scope VARCHAR,
    freelancer_removed_at   TIMESTAMPTZ,
    leaves_window_6         TIMESTAMPTZ,
    leaves_window_12        TIMESTAMPTZ,
    leaves_window_24        TIMESTAMPTZ,
    last_event_at           TIMESTAMPTZ,
    last_position           BIGINT
);
CREATE TABLE IF NOT EXISTS score_changes (
    seq              BIGINT NOT NULL,
    change_id        VARCHAR NOT NULL,
    freelancer_id    VARCHAR NOT NULL,
    rules            VARCHAR,
    effective_at     TIMESTAMPTZ NOT NULL,
    recorded_at      TIMESTAMPTZ,
    position         BIGINT,
    jss_before       INTEGER,
    jss_after        INTEGER,
    jss_exact_before DOUBLE,
    jss_exact_after  DOUBLE,
    feedback_before  DECIMAL(3, 2),
    feedback_after   DECIMAL(3, 2),
    causes           JSON
);
"""


def _ts_literal(micros: int) -> str:
    return f"TIMESTAMPTZ '{format_time(micros)}'"


def _rule_sets_sql() -> str:
    rows = []
    for r in RULE_SETS.values():
        starts = "NULL" if r.starts <= -INF else _ts_literal(r.starts)
        windows = "[" + ", ".join(str(w) for w in r.windows) + "]"
        rows.append(
            f"('{r.name}', {starts}, {windows}, {r.neutral_reasons}, {r.weighted}, "
            f"{r.zero_only_if_negative}, {r.needs_signal_or_long_term}, "
            f"{r.ignores_flagged_clients}, {r.min_contracts}, {r.min_clients})"
        )
    return (
        "CREATE OR REPLACE TABLE rule_sets (name VARCHAR, starts TIMESTAMPTZ, windows INTEGER[], "
        "neutral_reasons BOOLEAN, weighted BOOLEAN, zero_only_if_negative BOOLEAN, "
        "needs_signal_or_long_term BOOLEAN, ignores_flagged_clients BOOLEAN, "
        "min_contracts INTEGER, min_clients INTEGER);\n"
        "INSERT INTO rule_sets VALUES " + ",\n  ".join(rows) + ";\n"
    )


def _in_force_sql() -> str:
    cases = " ".join(
        f"WHEN ts::TIMESTAMPTZ >= {_ts_literal(r.starts)} THEN '{r.name}'"
        for r in sorted(RULE_SETS.values(), key=lambda r: -r.starts)
        if r.starts > -INF
    )
    first = min(RULE_SETS.values(), key=lambda r: r.starts).name
    return f"CASE {cases} ELSE '{first}' END"


_NEGATIVE = ", ".join(f"'{r}'" for r in sorted(NEGATIVE_REASONS))
_LONG_TERM_US = LONG_TERM  # 90 days in microseconds
_ALL_RULES = "[" + ", ".join(f"'{n}'" for n in RULE_SETS) + "]"

# The contract columns as of a cut, from `events` (used by `contracts` and by the macros).
# `{where}` filters the events; the result has one row per contract.
_CONTRACT_AGG = """
    SELECT
        contract_id,
        any_value(freelancer_id) AS freelancer_id,
        any_value(client_id) AS client_id,
        any_value(payload->>'pricing') FILTER (WHERE type = 'ContractOpened') AS pricing,
        any_value(payload->>'continues') FILTER (WHERE type = 'ContractOpened') AS continues,
        min(occurred_at) FILTER (WHERE type = 'ContractOpened') AS opened_at,
        count(*) FILTER (WHERE type = 'ScopeChanged')::INTEGER AS scope_changes,
        max(occurred_at) FILTER (WHERE type = 'ContractClosed') AS closed_at,
        any_value(closed_by) FILTER (WHERE type = 'ContractClosed') AS closed_by,
        any_value(reason) FILTER (WHERE type = 'ContractClosed') AS close_reason,
        coalesce(sum(amount) FILTER (WHERE type = 'PaymentMade'), 0)::DECIMAL(18, 2) AS paid,
        coalesce(sum(amount) FILTER (WHERE type = 'PaymentRefunded'), 0)::DECIMAL(18, 2) AS refunded,
        min(occurred_at) FILTER (WHERE type = 'PaymentMade') AS first_payment_at,
        max(occurred_at) FILTER (WHERE type = 'PaymentMade') AS last_payment_at,
        arg_max(stars, position) FILTER (WHERE side = 'client'
            AND type IN ('PublicFeedbackSubmitted', 'PublicFeedbackRevised')) AS client_stars,
        any_value(stars) FILTER (WHERE side = 'client' AND type = 'PublicFeedbackSubmitted')
            AS client_stars_first,
        count(*) FILTER (WHERE side = 'client' AND type = 'PublicFeedbackRevised')::INTEGER
            AS client_revisions,
        min(occurred_at) FILTER (WHERE side = 'client' AND type = 'PublicFeedbackSubmitted')
            AS client_public_at,
        any_value(recommend) FILTER (WHERE side = 'client' AND type = 'PrivateFeedbackSubmitted')
            AS client_recommend,
        any_value(reason) FILTER (WHERE side = 'client' AND type = 'PrivateFeedbackSubmitted')
            AS client_end_reason,
        min(occurred_at) FILTER (WHERE side = 'client' AND type = 'PrivateFeedbackSubmitted')
            AS client_private_at,
        arg_max(stars, position) FILTER (WHERE side = 'freelancer'
            AND type IN ('PublicFeedbackSubmitted', 'PublicFeedbackRevised')) AS freelancer_stars,
        min(occurred_at) FILTER (WHERE side = 'freelancer' AND type = 'PublicFeedbackSubmitted')
            AS freelancer_public_at,
        any_value(recommend) FILTER (WHERE side = 'freelancer' AND type = 'PrivateFeedbackSubmitted')
            AS freelancer_recommend,
        any_value(reason) FILTER (WHERE side = 'freelancer' AND type = 'PrivateFeedbackSubmitted')
            AS freelancer_end_reason,
        any_value(basis) FILTER (WHERE side = 'client' AND type = 'FeedbackRemoved')
            AS client_removal_basis,
        any_value(coalesce(scope, 'jss_and_profile')) FILTER (WHERE side = 'client'
            AND type = 'FeedbackRemoved') AS client_removal_scope,
        min(occurred_at) FILTER (WHERE side = 'client' AND type = 'FeedbackRemoved')
            AS client_removed_at,
        any_value(basis) FILTER (WHERE side = 'freelancer' AND type = 'FeedbackRemoved')
            AS freelancer_removal_basis,
        any_value(coalesce(scope, 'jss_and_profile')) FILTER (WHERE side = 'freelancer'
            AND type = 'FeedbackRemoved') AS freelancer_removal_scope,
        min(occurred_at) FILTER (WHERE side = 'freelancer' AND type = 'FeedbackRemoved')
            AS freelancer_removed_at,
        max(occurred_at) AS last_event_at,
        max(position) AS last_position
    FROM events
    WHERE contract_id IS NOT NULL AND ({where})
    GROUP BY contract_id
"""

# Columns derived from one aggregated row (`a`), all in naive UTC arithmetic.
_CONTRACT_DERIVED = f"""
        coalesce(a.client_end_reason,
                 CASE WHEN a.closed_by IN ('client', 'platform') THEN a.close_reason END)
            AS client_reason,
        timezone('UTC', timezone('UTC', a.closed_at) + INTERVAL 14 DAY) AS feedback_window_ends,
        CASE WHEN a.closed_at IS NULL THEN NULL
             WHEN a.client_public_at IS NOT NULL AND a.freelancer_public_at IS NOT NULL
             THEN least(greatest(a.client_public_at, a.freelancer_public_at),
                        timezone('UTC', timezone('UTC', a.closed_at) + INTERVAL 14 DAY))
             ELSE timezone('UTC', timezone('UTC', a.closed_at) + INTERVAL 14 DAY) END AS settled_at,
        (a.paid - a.refunded)::DECIMAL(18, 2) AS earnings,
        coalesce(epoch_us(a.last_payment_at) - epoch_us(a.first_payment_at) >= {_LONG_TERM_US}, false)
            AS long_term,
        a.client_removal_basis IS NOT NULL AS client_feedback_removed,
        a.freelancer_removal_basis IS NOT NULL AS freelancer_feedback_removed,
        timezone('UTC', timezone('UTC', a.closed_at) + INTERVAL 6 MONTH + INTERVAL 1 DAY)
            AS leaves_window_6,
        timezone('UTC', timezone('UTC', a.closed_at) + INTERVAL 12 MONTH + INTERVAL 1 DAY)
            AS leaves_window_12,
        timezone('UTC', timezone('UTC', a.closed_at) + INTERVAL 24 MONTH + INTERVAL 1 DAY)
            AS leaves_window_24
"""

_CONTRACT_COLUMNS = [
    "contract_id", "freelancer_id", "client_id", "pricing", "continues", "opened_at",
    "scope_changes", "closed_at", "closed_by", "close_reason", "client_end_reason",
    "client_reason", "feedback_window_ends", "settled_at", "paid", "refunded", "earnings",
    "first_payment_at", "last_payment_at", "long_term", "client_stars", "client_stars_first",
    "client_revisions", "client_public_at", "client_recommend", "client_private_at",
    "freelancer_stars", "freelancer_public_at", "freelancer_recommend", "freelancer_end_reason",
    "client_feedback_removed", "client_removal_basis", "client_removal_scope",
    "client_removed_at", "freelancer_feedback_removed", "freelancer_removal_basis",
    "freelancer_removal_scope", "freelancer_removed_at", "leaves_window_6", "leaves_window_12",
    "leaves_window_24", "last_event_at", "last_position",
]


def _contracts_select(where: str) -> str:
    return (
        f"SELECT {', '.join(_CONTRACT_COLUMNS)} FROM (SELECT a.*, {_CONTRACT_DERIVED} "
        f"FROM ({_CONTRACT_AGG.format(where=where)}) a)"
    )


def _star_score_macro(name: str, key: str, side: str, column: str, exact: str) -> str:
    """A star score per `key` at ts: `side`'s revealed, not profile-removed public stars,
    weighted by earnings (>= $1), rounded half up to 2 decimals (the feedback and client scores)."""
    return f"""CREATE OR REPLACE MACRO {name}(ts, known := NULL) AS TABLE
WITH f AS (
    SELECT {key},
           sum(round({side}_stars * 1000000)::HUGEINT * earnings_cents) FILTER (WHERE ok) AS num,
           sum(earnings_cents::HUGEINT) FILTER (WHERE ok) AS den,
           count(*) FILTER (WHERE ok) AS reviews
    FROM (SELECT *, {side}_stars IS NOT NULL AND {side}_revealed AND earnings_cents >= 100
                    AND coalesce({side}_removal_scope, '') <> 'jss_and_profile' AS ok
          FROM contract_state(ts, known := known))
    GROUP BY {key}
)
SELECT {key},
       CASE WHEN den > 0 THEN ((num * 200 + den * 1000000) // (den * 2000000))::DECIMAL(5, 0) / 100 END
           ::DECIMAL(3, 2) AS {column},
       CASE WHEN den > 0 THEN num::DOUBLE / (den::DOUBLE * 1000000) END AS {exact},
       reviews
FROM f;"""


def _macros_sql() -> str:
    in_force = _in_force_sql()
    cut = "occurred_at <= ts::TIMESTAMPTZ AND (known IS NULL OR position <= known)"
    return f"""
{_rule_sets_sql()}
CREATE OR REPLACE MACRO rules_in_force(ts) AS {in_force};

CREATE OR REPLACE VIEW engine_clock AS
SELECT greatest(max(occurred_at),
                max(CASE WHEN type = 'ClockAdvanced' THEN (payload->>'to')::TIMESTAMPTZ END)) AS clock,
       max(position) AS position
FROM events;

-- Every contract as of valid time ts (events with occurred_at <= ts), seen with what was
-- recorded up to log position `known` (NULL: everything).
CREATE OR REPLACE MACRO contract_state(ts, known := NULL) AS TABLE
SELECT c.*,
       timezone('UTC', ts::TIMESTAMPTZ) >= timezone('UTC', c.settled_at) AS settled,
       c.client_public_at IS NOT NULL AND (c.freelancer_public_at IS NOT NULL
           OR timezone('UTC', ts::TIMESTAMPTZ) >= timezone('UTC', c.feedback_window_ends))
           AS client_revealed,
       c.freelancer_public_at IS NOT NULL AND (c.client_public_at IS NOT NULL
           OR timezone('UTC', ts::TIMESTAMPTZ) >= timezone('UTC', c.feedback_window_ends))
           AS freelancer_revealed,
       (c.earnings * 100)::BIGINT AS earnings_cents,
       coalesce((epoch_us(c.last_payment_at) - epoch_us(c.first_payment_at)) // {_LONG_TERM_US}, 0)
           AS full_90_days
FROM ({_contracts_select(cut)}) c;

-- Each contract's outcome, whether it counts, its weight (in quarters) and the windows it is
-- in, at ts under a rule set (`rules`: a name, 'all', or NULL for the one in force at ts).
CREATE OR REPLACE MACRO contract_assessments(ts, rules := NULL, known := NULL) AS TABLE
WITH chosen AS (
    SELECT CASE WHEN rules IS NULL THEN [rules_in_force(ts)]
                WHEN rules = 'all' THEN {_ALL_RULES}
                WHEN rules IN {tuple(RULE_SETS)} THEN [rules]
                ELSE error('unknown rule set ' || rules || ' (known: {", ".join(RULE_SETS)})')
           END AS names
),
rs AS (SELECT * FROM rule_sets WHERE name IN (SELECT unnest(names) FROM chosen)),
flags AS (
    SELECT client_id, arg_max(type = 'ClientFlagged', position) AS flagged
    FROM events
    WHERE type IN ('ClientFlagged', 'ClientUnflagged') AND {cut}
    GROUP BY client_id
),
x AS (
    SELECT c.*, rs.name AS rule_set, rs.neutral_reasons, rs.weighted, rs.zero_only_if_negative,
           rs.needs_signal_or_long_term, rs.windows, rs.min_contracts, rs.min_clients,
           coalesce(f.flagged, false) AS client_flagged,
           c.client_removal_basis IS NOT NULL
               OR (rs.ignores_flagged_clients AND coalesce(f.flagged, false)) AS signals_stripped
    FROM contract_state(ts, known := known) c CROSS JOIN rs
    LEFT JOIN flags f ON f.client_id = c.client_id
),
s AS (
    SELECT *,
           CASE WHEN NOT signals_stripped THEN client_reason END AS s_reason,
           CASE WHEN NOT signals_stripped THEN client_recommend END AS s_recommend,
           CASE WHEN NOT signals_stripped THEN client_stars END AS s_stars
    FROM x
),
o AS (
    SELECT *,
           coalesce(s_reason IS NOT NULL OR s_recommend IS NOT NULL OR s_stars IS NOT NULL, false)
               AS has_signal,
           CASE WHEN NOT coalesce(settled, false) THEN NULL
                WHEN coalesce(s_reason IN ({_NEGATIVE}), false)
                     OR coalesce(NOT neutral_reasons AND s_reason <> 'completed_successfully', false)
                     OR coalesce(s_recommend <= 6, false)
                     OR coalesce(s_stars < 3.0, false) THEN 'negative'
                WHEN coalesce(s_recommend >= 9, false)
                     OR coalesce(s_stars >= 4.5 AND s_recommend IS NULL, false)
                     OR long_term THEN 'positive'
                ELSE 'neutral' END AS outcome
    FROM s
),
k AS (
    SELECT *,
           coalesce(settled, false)
               AND coalesce(client_removal_basis, '') <> 'top_rated_perk'
               AND CASE WHEN needs_signal_or_long_term THEN has_signal OR long_term
                        ELSE earnings_cents > 0 OR has_signal END
               AND NOT (zero_only_if_negative AND earnings_cents <= 0 AND outcome <> 'negative')
               AS counted
    FROM o
)
SELECT contract_id, freelancer_id, client_id, rule_set AS rules, ts::TIMESTAMPTZ AS as_of,
       opened_at, closed_at, settled_at, settled, earnings, long_term, client_flagged,
       signals_stripped, s_reason AS client_reason, s_recommend AS client_recommend,
       s_stars AS client_stars, has_signal, outcome, counted,
       CASE WHEN NOT counted THEN 0
            WHEN NOT weighted THEN 4
            ELSE least(32, CASE WHEN greatest(earnings_cents, 0) <= 25000 THEN 4
                                WHEN earnings_cents <= 100000 THEN 5 ELSE 6 END
                           + 4 * full_90_days) END AS weight4,
       counted AND timezone('UTC', ts::TIMESTAMPTZ) < timezone('UTC', leaves_window_6) AS in_6,
       counted AND timezone('UTC', ts::TIMESTAMPTZ) < timezone('UTC', leaves_window_12) AS in_12,
       counted AND timezone('UTC', ts::TIMESTAMPTZ) < timezone('UTC', leaves_window_24) AS in_24,
       leaves_window_6, leaves_window_12, leaves_window_24, windows, min_contracts, min_clients,
       -- the contract's part of the feedback score (the same under every rule set)
       CASE WHEN client_stars IS NOT NULL AND client_revealed AND earnings_cents >= 100
                 AND coalesce(client_removal_scope, '') <> 'jss_and_profile'
            THEN round(client_stars * 1000000)::HUGEINT * earnings_cents END AS feedback_num,
       CASE WHEN client_stars IS NOT NULL AND client_revealed AND earnings_cents >= 100
                 AND coalesce(client_removal_scope, '') <> 'jss_and_profile'
            THEN earnings_cents::HUGEINT END AS feedback_den
FROM k;

-- Feedback score of every freelancer at ts (rules.md): earnings-weighted mean of the latest
-- revealed, not profile-removed client stars on contracts with earnings >= $1; exact integer
-- arithmetic (stars to 1e-6), rounded half up to 2 decimals.
{_star_score_macro("feedback_as_of", "freelancer_id", "client", "feedback_score", "feedback_exact")}

-- Client score of every client at ts: the freelancers' public stars about the client,
-- weighted by what the client paid on the contract.
{_star_score_macro("client_score_as_of", "client_id", "freelancer", "client_score", "client_score_exact")}

-- The JSS of every freelancer at ts computed directly from `events` (rules.md): windows,
-- best of windows (tie -> shortest), visibility, half-up rounding; exact integer arithmetic
-- on weights in quarters.
CREATE OR REPLACE MACRO jss_sql(ts, rules := NULL, known := NULL) AS TABLE
WITH w AS (
    SELECT ca.freelancer_id, ca.rules AS rule_set, any_value(ca.windows) AS windows,
           count(*) FILTER (WHERE in_6) AS n6,
           count(*) FILTER (WHERE in_12) AS n12,
           count(*) FILTER (WHERE in_24) AS n24,
           coalesce(sum(weight4) FILTER (WHERE in_6), 0) AS t6,
           coalesce(sum(weight4) FILTER (WHERE in_12), 0) AS t12,
           coalesce(sum(weight4) FILTER (WHERE in_24), 0) AS t24,
           greatest(coalesce(sum(CASE outcome WHEN 'positive' THEN weight4 WHEN 'negative' THEN -weight4
                                 ELSE 0 END) FILTER (WHERE in_6), 0), 0) AS d6,
           greatest(coalesce(sum(CASE outcome WHEN 'positive' THEN weight4 WHEN 'negative' THEN -weight4
                                 ELSE 0 END) FILTER (WHERE in_12), 0), 0) AS d12,
           greatest(coalesce(sum(CASE outcome WHEN 'positive' THEN weight4 WHEN 'negative' THEN -weight4
                                 ELSE 0 END) FILTER (WHERE in_24), 0), 0) AS d24,
           count(DISTINCT client_id) FILTER (WHERE in_24) AS clients_24,
           count(*) FILTER (WHERE counted) AS counted_contracts,
           count(*) FILTER (WHERE counted AND outcome = 'positive') AS positive,
           count(*) FILTER (WHERE counted AND outcome = 'neutral') AS neutral,
           count(*) FILTER (WHERE counted AND outcome = 'negative') AS negative,
           any_value(ca.min_contracts) AS min_contracts, any_value(ca.min_clients) AS min_clients,
           sum(ca.feedback_num) AS fnum, sum(ca.feedback_den) AS fden
    FROM contract_assessments(ts, rules := rules, known := known) AS ca
    GROUP BY ca.freelancer_id, ca.rules
),
b AS (
    SELECT *,
           -- the best window (exact comparisons by cross-multiplication; tie -> shortest)
           CASE WHEN list_contains(windows, 6) AND n6 > 0
                     AND d6 * t12 >= d12 * t6 AND d6 * t24 >= d24 * t6 THEN 6
                WHEN list_contains(windows, 12) AND n12 > 0 AND d12 * t24 >= d24 * t12 THEN 12
                WHEN n24 > 0 THEN 24 END AS best
    FROM w
),
e AS (
    SELECT *,
           CASE best WHEN 6 THEN d6 WHEN 12 THEN d12 WHEN 24 THEN d24 END AS bd,
           CASE best WHEN 6 THEN t6 WHEN 12 THEN t12 WHEN 24 THEN t24 END AS bt,
           n24 >= min_contracts AND clients_24 >= min_clients AS visible
    FROM b
)
SELECT e.freelancer_id, rule_set AS rules, ts::TIMESTAMPTZ AS as_of,
       CASE WHEN visible AND best IS NOT NULL THEN ((200 * bd + bt) // (2 * bt))::INTEGER END AS jss,
       CASE WHEN best IS NOT NULL THEN 100.0 * bd / bt END AS jss_exact,
       best AS jss_window_months,
       CASE WHEN visible AND best IS NOT NULL THEN NULL ELSE 'insufficient_history' END
           AS jss_hidden_reason,
       CASE WHEN list_contains(windows, 6) AND n6 > 0 THEN 100.0 * d6 / t6 END AS score_6,
       CASE WHEN list_contains(windows, 12) AND n12 > 0 THEN 100.0 * d12 / t12 END AS score_12,
       CASE WHEN n24 > 0 THEN 100.0 * d24 / t24 END AS score_24,
       n6 AS contracts_6, n12 AS contracts_12, n24 AS contracts_24, clients_24,
       counted_contracts, positive, neutral, negative,
       CASE WHEN fden > 0 THEN ((fnum * 200 + fden * 1000000) // (fden * 2000000))::DECIMAL(5, 0) / 100 END
           ::DECIMAL(3, 2) AS feedback_score,
       CASE WHEN fden > 0 THEN fnum::DOUBLE / (fden::DOUBLE * 1000000) END AS feedback_exact
FROM e;

-- Every freelancer's displayed JSS and feedback score at ts, from the ledger: for each
-- freelancer the change with the greatest (effective_at, position, seq) at or before ts.
CREATE OR REPLACE MACRO jss_as_of(ts) AS TABLE
SELECT freelancer_id,
       rules_in_force(ts) AS rules,
       latest.jss_after AS jss,
       latest.jss_exact_after AS jss_exact,
       latest.feedback_after AS feedback_score,
       latest.effective_at AS changed_at,
       latest.change_id AS change_id,
       latest.seq AS seq
FROM (
    SELECT freelancer_id,
           arg_max_null({{'jss_after': jss_after, 'jss_exact_after': jss_exact_after,
                         'feedback_after': feedback_after, 'effective_at': effective_at,
                         'change_id': change_id, 'seq': seq}},
                        (effective_at, position, seq)) AS latest
    FROM score_changes
    WHERE effective_at <= ts::TIMESTAMPTZ
    GROUP BY freelancer_id
);

-- The feedback score part of the same (the ledger's displayed feedback score at ts).
CREATE OR REPLACE MACRO feedback_ledger_as_of(ts) AS TABLE
SELECT freelancer_id, feedback_score, changed_at, change_id FROM jss_as_of(ts);

-- Every contract's outcome under each rule set at the engine clock.
CREATE OR REPLACE VIEW contract_outcomes AS
SELECT * FROM contract_assessments((SELECT clock FROM engine_clock), rules := 'all');
"""


# -- connections -------------------------------------------------------------------


def _connect(path: str, read_only: bool = False, wait: float = 15.0) -> duckdb.DuckDBPyConnection:
    """Open the file, retrying while another process holds its lock."""
    deadline = time.monotonic() + wait
    while True:
        try:
            if read_only:
                con = duckdb.connect(
                    path,
                    read_only=True,
                    config={
                        "enable_external_access": False,
                        "autoload_known_extensions": False,
                        "autoinstall_known_extensions": False,
                        "python_enable_replacements": False,
                    },
                )
            else:
                con = duckdb.connect(path)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise AuditError(
                    f"cannot open the audit database {path}: {str(exc).splitlines()[0]}"
                ) from None
            time.sleep(0.2)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def _get(con: duckdb.DuckDBPyConnection, key: str) -> int:
    row = con.execute("SELECT value FROM _sync WHERE key = ?", [key]).fetchone()
    return int(row[0]) if row else 0


def _set(con: duckdb.DuckDBPyConnection, key: str, value: int) -> None:
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
        ).fetchone()
        tables = _get(con, "tables_version") if exists else None
        if tables is not None and tables != TABLES_VERSION:
            for (name, kind) in con.execute(
                "SELECT view_name, 'VIEW' FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
                "UNION ALL SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE schema_name = 'main'"
            ).fetchall():
                con.execute(f'DROP {kind} IF EXISTS "{name}" CASCADE')
            tables = None
        con.execute(TABLES)
        if tables is None or _get(con, "macros_version") != MACROS_VERSION:
            con.execute(_macros_sql())
            _set(con, "tables_version", TABLES_VERSION)
            _set(con, "macros_version", MACROS_VERSION)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# -- loading -----------------------------------------------------------------------

_envelope = msgspec.json.Decoder(tuple[msgspec.Raw, str])

_FIELDS = [
    "type", "event_id", "contract_id", "freelancer_id", "client_id", "occurred_at", "by", "of",
    "amount", "stars", "recommend", "reason", "end_reason", "closed_by", "basis", "scope",
]
_PATHS = "[" + ", ".join(f"'$.{f}'" for f in _FIELDS) + "]"
_F = {f: i + 1 for i, f in enumerate(_FIELDS)}  # 1-based list index

_INSERT_EVENTS = f"""
INSERT INTO events
WITH raw AS (
    SELECT position, recorded_at, payload, json_extract_string(payload, {_PATHS}) AS f
    FROM _batch
),
b AS (
    SELECT position, f[{_F['event_id']}] AS event_id, f[{_F['type']}] AS type,
           f[{_F['contract_id']}] AS contract_id, f[{_F['freelancer_id']}] AS freelancer_id,
           f[{_F['client_id']}] AS client_id, f[{_F['occurred_at']}]::TIMESTAMPTZ AS occurred_at,
           recorded_at::TIMESTAMPTZ AS recorded_at, payload::JSON AS payload,
           coalesce(f[{_F['by']}], f[{_F['of']}]) AS side,
           f[{_F['amount']}]::DECIMAL(18, 2) AS amount, f[{_F['stars']}]::DOUBLE AS stars,
           f[{_F['recommend']}]::INTEGER AS recommend,
           coalesce(f[{_F['reason']}], f[{_F['end_reason']}]) AS reason,
           f[{_F['closed_by']}] AS closed_by, f[{_F['basis']}] AS basis,
           CASE WHEN f[{_F['type']}] = 'FeedbackRemoved'
                THEN coalesce(f[{_F['scope']}], 'jss_and_profile') END AS scope
    FROM raw
),
parties AS (
    SELECT contract_id, freelancer_id, client_id FROM b WHERE type = 'ContractOpened'
    UNION ALL
    SELECT contract_id, freelancer_id, client_id FROM events
    WHERE type = 'ContractOpened'
      AND contract_id IN (SELECT contract_id FROM b WHERE type <> 'ContractOpened')
)
SELECT b.position, b.event_id, b.type, b.contract_id,
       coalesce(b.freelancer_id, p.freelancer_id), coalesce(b.client_id, p.client_id),
       b.occurred_at, b.recorded_at, b.payload, b.side, b.amount, b.stars, b.recommend,
       b.reason, b.closed_by, b.basis, b.scope
FROM b LEFT JOIN parties p
  ON b.contract_id = p.contract_id AND b.type <> 'ContractOpened'
ORDER BY b.position
"""


def _event_batch(rows: list[tuple[int, bytes]]) -> pa.Table:
    positions = []
    recorded = []
    payloads = []
    decode = _envelope.decode
    for position, state in rows:
        raw, recorded_at = decode(state)
        positions.append(position)
        recorded.append(recorded_at)
        payloads.append(bytes(raw).decode())
    return pa.table(
        {
            "position": pa.array(positions, pa.int64()),
            "recorded_at": pa.array(recorded, pa.string()),
            "payload": pa.array(payloads, pa.string()),
        }
    )


def _ledger_batch(changes: list[Any]) -> pa.Table:
    enc = msgspec.json.Encoder()
    cols: dict[str, list] = {k: [] for k in (
        "seq", "change_id", "freelancer_id", "rules", "effective_at", "recorded_at", "position",
        "jss_before", "jss_after", "jss_exact_before", "jss_exact_after", "feedback_before",
        "feedback_after", "causes")}
    for c in changes:
        for k, column in cols.items():
            column.append(enc.encode(c.causes).decode() if k == "causes" else getattr(c, k, None))
    types = {
        "seq": pa.int64(), "position": pa.int64(), "jss_before": pa.int32(), "jss_after": pa.int32(),
        "jss_exact_before": pa.float64(), "jss_exact_after": pa.float64(),
        "feedback_before": pa.float64(), "feedback_after": pa.float64(),
    }
    return pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in cols.items()})


_INSERT_LEDGER = """
INSERT INTO score_changes
SELECT seq, change_id, freelancer_id, rules, effective_at::TIMESTAMPTZ, recorded_at::TIMESTAMPTZ,
       position, jss_before, jss_after, jss_exact_before, jss_exact_after,
       round(feedback_before, 2)::DECIMAL(3, 2), round(feedback_after, 2)::DECIMAL(3, 2),
       causes::JSON
FROM _ledger ORDER BY seq
"""


class _Bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.bar = None
        if enabled and total > 0:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(label, total=total)

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _want_bar(progress: bool | None, behind: int) -> bool:
    if progress is None:
        return behind >= BAR_THRESHOLD and sys.stderr.isatty()
    return bool(progress) and behind > 0


def _read_pages(store: EventStore, after: int, upto: int, page: int) -> Iterable[list[tuple[int, bytes]]]:
    while after < upto:
        rows = store.read(after, page, upto)
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def sync(
    store: EventStore,
    proj: Any,
    path: str,
    progress: bool | None = None,
    *,
    catch_up: bool = True,
    chunk: int = CHUNK,
    page: int = PAGE,
    _fail_after_insert: Callable[[int], None] | None = None,
) -> SyncStats:
    """Bring the audit database at `path` up to date with the log (and the ledger of `proj`).

    Events go in chunks of `chunk` rows; each chunk's rows and the new position are committed
    in one transaction. The contract summaries of the touched contracts are refreshed in one
    transaction that also records the position they are valid for, and the ledger is synced by
    `seq` the same way. `progress`: None = a bar on a terminal for big catch-ups, True/False.
    `_fail_after_insert` is a test hook called inside each chunk's transaction.
    """
    started = time.perf_counter()
    if proj is not None and catch_up:
        proj.catch_up(store)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path)
    try:
        ensure_schema(con)
        position = _get(con, "position")
        target = store.max_position()
        if target < position:
            raise AuditError(
                f"the audit database {path} is at log position {position} but the event store "
                f"ends at {target}: it belongs to another store; delete the file to rebuild it"
            )
        bar = _Bar(_want_bar(progress, target - position), target - position, "audit sync: events")
        added = 0
        try:
            buffer: list[tuple[int, bytes]] = []
            for rows in _read_pages(store, position, target, page):
                buffer.extend(rows)
                if len(buffer) >= chunk:
                    added += _commit_events(con, buffer, _fail_after_insert)
                    bar.advance(len(buffer))
                    buffer = []
            if buffer:
                added += _commit_events(con, buffer, _fail_after_insert)
                bar.advance(len(buffer))
        finally:
            bar.close()
        refreshed = _refresh_contracts(con)
        changes, seq = _sync_ledger(con, proj, progress)
        return SyncStats(
            added, refreshed, changes, _get(con, "position"), seq, time.perf_counter() - started
        )
    finally:
        con.close()


def _commit_events(con, rows, hook) -> int:
    batch = _event_batch(rows)
    con.execute("BEGIN")
    try:
        con.register("_batch", batch)
        con.execute(_INSERT_EVENTS)
        if hook is not None:
            hook(rows[-1][0])
        _set(con, "position", rows[-1][0])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_batch")
    return len(rows)


def _refresh_contracts(con) -> int:
    done = _get(con, "contracts_position")
    position = _get(con, "position")
    if done >= position:
        return 0
    con.execute("BEGIN")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT contract_id FROM events "
            "WHERE position > ? AND contract_id IS NOT NULL",
            [done],
        )
        (count,) = con.execute("SELECT count(*) FROM _touched").fetchone()
        if done > 0:
            con.execute("DELETE FROM contracts WHERE contract_id IN (SELECT contract_id FROM _touched)")
            where = "contract_id IN (SELECT contract_id FROM _touched)"
        else:
            where = "true"
        con.execute(f"INSERT INTO contracts {_contracts_select(where)}")
        con.execute("DROP TABLE _touched")
        _set(con, "contracts_position", position)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(count)


def _sync_ledger(con, proj, progress) -> tuple[int, int]:
    seq = _get(con, "seq")
    if proj is None:
        return 0, seq
    target = proj.max_seq()
    if target < seq:  # the projections were rebuilt and are not this far yet: same ledger
        con.execute("BEGIN")
        con.execute("DELETE FROM score_changes WHERE seq > ?", [target])
        _set(con, "seq", target)
        con.execute("COMMIT")
        seq = target
    bar = _Bar(_want_bar(progress, target - seq), target - seq, "audit sync: ledger")
    added = 0
    try:
        while seq < target:
            changes = proj.ledger_after(seq, LEDGER_PAGE)
            if not changes:
                break
            table = _ledger_batch(changes)
            con.execute("BEGIN")
            try:
                con.register("_ledger", table)
                con.execute(_INSERT_LEDGER)
                seq = changes[-1].seq
                _set(con, "seq", seq)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.unregister("_ledger")
            added += len(changes)
            bar.advance(len(changes))
    finally:
        bar.close()
    return added, seq


# -- read-only queries -------------------------------------------------------------

ALLOWED = "only reads are allowed: SELECT (or WITH/FROM/VALUES/DESCRIBE/SHOW/SUMMARIZE) and EXPLAIN of one"


def open_readonly(path: str) -> duckdb.DuckDBPyConnection:
    """The audit file opened read-only, without access to any other file or database."""
    if not os.path.exists(path):
        raise AuditError(f"no audit database at {path}")
    con = _connect(path, read_only=True)
    con.execute("SET lock_configuration = true")
    return con


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The one statement of `sql` if it only reads; raise `Refused` otherwise."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise AuditError(f"the query does not parse: {_first_line(exc)}") from None
    except ValueError as exc:  # a statement type this client cannot name
        raise Refused(f"statement refused ({exc}); {ALLOWED}") from None
    if not statements:
        raise AuditError("no SQL statement given")
    if len(statements) > 1:
        raise Refused(f"one statement at a time please ({len(statements)} given)")
    st = statements[0]
    kind = st.type.name
    if kind == "EXPLAIN":
        inner = _strip_explain(st.query)
        try:
            inner_st = con.extract_statements(inner)
        except (duckdb.Error, ValueError):
            inner_st = []
        if len(inner_st) != 1 or inner_st[0].type.name != "SELECT":
            raise Refused(f"EXPLAIN is allowed only of a SELECT; {ALLOWED}")
    elif kind != "SELECT":
        raise Refused(
            f"{kind} statements are refused: the audit database is read-only and "
            f"`reputation audit` writes nothing anywhere; {ALLOWED}"
        )
    return sql


def _strip_explain(query: str) -> str:
    words = query.strip().split(None, 2)
    rest = query.strip()[len(words[0]):].lstrip()
    if rest[:7].upper() == "ANALYZE" or rest[:7].upper() == "ANALYSE":
        rest = rest[7:]
    return rest.lstrip()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _Errors:
    """Turns DuckDB errors into clean `AuditError`s / `Refused`s (no tracebacks)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, duckdb.Error):
            return False
        text = _first_line(exc)
        if isinstance(exc, duckdb.PermissionException):
            raise Refused(
                "reading or writing files and other databases is out of scope for `reputation audit` "
                f"({text}); query the audit tables instead"
            ) from None
        if isinstance(exc, duckdb.InvalidInputException) and ("read-only" in text or "configuration" in text):
            raise Refused(text) from None
        raise AuditError(text) from None


def stream(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None,
           batch: int = 10_000):
    """Run a checked read; return (column names, column type names, iterator of row batches)."""
    check_statement(con, sql)
    with _Errors():
        cur = con.execute(sql, params) if params else con.execute(sql)
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


def query(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None,
          limit: int | None = None):
    """Run a checked read; return (column names, column type names, rows), at most `limit`."""
    names, types, batches = stream(con, sql, params, batch=limit or 10_000)
    rows: list = []
    for chunk in batches:
        rows.extend(chunk)
        if limit is not None and len(rows) >= limit:
            return names, types, rows[:limit]
    return names, types, rows
