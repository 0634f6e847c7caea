-- The rule-set table, the macros and the views. A change: bump MACROS_VERSION (schema.py).
${rule_sets}
CREATE OR REPLACE MACRO rules_in_force(ts) AS ${in_force};

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
       coalesce((epoch_us(c.last_payment_at) - epoch_us(c.first_payment_at)) // ${long_term_us}, 0)
           AS full_90_days
FROM (${contracts_as_of_cut}) c;

-- Each contract's outcome, whether it counts, its weight (in quarters) and the windows it is
-- in, at ts under a rule set (`rules`: a name, 'all', or NULL for the one in force at ts).
CREATE OR REPLACE MACRO contract_assessments(ts, rules := NULL, known := NULL) AS TABLE
WITH RECURSIVE chosen AS (
    SELECT CASE WHEN rules IS NULL THEN [rules_in_force(ts)]
                WHEN rules = 'all' THEN ${all_rules}
                WHEN rules IN ${rule_set_names} THEN [rules]
                ELSE error('unknown rule set ' || rules || ' (known: ${rule_set_list})')
           END AS names
),
rs AS (SELECT * FROM rule_sets WHERE name IN (SELECT unnest(names) FROM chosen)),
flags AS (
    SELECT client_id, arg_max(type = 'ClientFlagged', position) AS flagged
    FROM events
    WHERE type IN ('ClientFlagged', 'ClientUnflagged') AND ${cut}
    GROUP BY client_id
),
base AS (SELECT * FROM contract_state(ts, known := known)),
-- fair-2026 engagements: the root of each contract's `continues` chain among those seen
chain(contract_id, root) AS (
    SELECT contract_id, contract_id FROM base
    WHERE continues IS NULL OR continues NOT IN (SELECT contract_id FROM base)
    UNION ALL
    SELECT b.contract_id, chain.root FROM base b JOIN chain ON b.continues = chain.contract_id
),
cb AS (
    SELECT base.*, chain.root,
           base.contract_id IN (SELECT continues FROM base WHERE continues IS NOT NULL) AS continued,
           (coalesce(base.closed_at, 'infinity'::TIMESTAMPTZ), base.opened_at, base.contract_id) AS latest
    FROM base JOIN chain USING (contract_id)
),
-- one engagement as one contract (rules.md, fair-2026)
eng AS (
    SELECT root,
           bool_and(coalesce(settled, false)) AS settled,
           sum(earnings_cents) AS earnings_cents,
           coalesce((epoch_us(max(last_payment_at)) - epoch_us(min(first_payment_at))) // ${long_term_us}, 0)
               AS full_90_days,
           coalesce(epoch_us(max(last_payment_at)) - epoch_us(min(first_payment_at)) >= ${long_term_us}, false)
               AS long_term,
           CASE WHEN bool_or(client_removal_basis = 'top_rated_perk') THEN 'top_rated_perk'
                WHEN bool_and(client_removal_basis IS NOT NULL) THEN any_value(client_removal_basis) END
               AS client_removal_basis,
           arg_max_null(client_reason, latest) FILTER (WHERE client_removal_basis IS NULL AND NOT continued)
               AS client_reason,
           arg_max(client_recommend, latest) FILTER (WHERE client_removal_basis IS NULL AND client_recommend IS NOT NULL)
               AS client_recommend,
           arg_max(client_stars, latest) FILTER (WHERE client_removal_basis IS NULL AND client_stars IS NOT NULL)
               AS client_stars,
           max(leaves_window_6) AS leaves_window_6, max(leaves_window_12) AS leaves_window_12,
           max(leaves_window_24) AS leaves_window_24
    FROM cb GROUP BY root
),
-- fair-2026 rater leniency: the client's rated, settled, not removed contracts outside the engagement
hist AS (
    SELECT c.contract_id, count(*) AS n,
           list_sort(list(o.client_recommend) FILTER (WHERE o.client_recommend IS NOT NULL)) AS recs,
           list_sort(list(o.client_stars) FILTER (WHERE o.client_stars IS NOT NULL)) AS stars
    FROM cb c JOIN cb o ON o.client_id = c.client_id AND o.root <> c.root
    WHERE c.contract_id = c.root AND coalesce(o.settled, false) AND o.client_removal_basis IS NULL
          AND (o.client_recommend IS NOT NULL OR o.client_stars IS NOT NULL)
    GROUP BY c.contract_id
),
x AS (
    SELECT c.* REPLACE (
               CASE WHEN rs.engagements THEN e.settled ELSE c.settled END AS settled,
               CASE WHEN rs.engagements THEN e.earnings_cents ELSE c.earnings_cents END AS earnings_cents,
               CASE WHEN rs.engagements THEN e.full_90_days ELSE c.full_90_days END AS full_90_days,
               CASE WHEN rs.engagements THEN e.long_term ELSE c.long_term END AS long_term,
               CASE WHEN rs.engagements THEN e.client_removal_basis ELSE c.client_removal_basis END
                   AS client_removal_basis,
               CASE WHEN rs.engagements THEN e.client_reason ELSE c.client_reason END AS client_reason,
               CASE WHEN rs.engagements THEN e.client_recommend ELSE c.client_recommend END AS client_recommend,
               CASE WHEN rs.engagements THEN e.client_stars ELSE c.client_stars END AS client_stars,
               CASE WHEN rs.engagements THEN e.leaves_window_6 ELSE c.leaves_window_6 END AS leaves_window_6,
               CASE WHEN rs.engagements THEN e.leaves_window_12 ELSE c.leaves_window_12 END AS leaves_window_12,
               CASE WHEN rs.engagements THEN e.leaves_window_24 ELSE c.leaves_window_24 END AS leaves_window_24),
           rs.name AS rule_set, rs.neutral_reasons, rs.weighted, rs.zero_only_if_negative,
           rs.needs_signal_or_long_term, rs.windows, rs.min_contracts, rs.min_clients,
           rs.neutral_closes, rs.engagements AND c.contract_id <> c.root AS engagement_part,
           c.client_stars AS own_stars, c.earnings_cents AS own_cents,  -- the feedback score's
           CASE WHEN rs.lenient_raters AND h.n >= ${lenient_min} AND len(h.recs) > 0
                     AND list_max(h.recs) <= ${harsh_recommend}
                THEN h.recs[(len(h.recs) - 1) // 2 + 1] END AS usual_recommend,
           CASE WHEN rs.lenient_raters AND h.n >= ${lenient_min} AND len(h.stars) > 0
                     AND list_max(h.stars) < ${harsh_stars}
                THEN h.stars[(len(h.stars) - 1) // 2 + 1] END AS usual_stars,
           coalesce(f.flagged, false) AS client_flagged,
           (CASE WHEN rs.engagements THEN e.client_removal_basis ELSE c.client_removal_basis END) IS NOT NULL
               OR (rs.ignores_flagged_clients AND coalesce(f.flagged, false)) AS signals_stripped
    FROM cb c CROSS JOIN rs
    JOIN eng e ON e.root = c.root
    LEFT JOIN hist h ON h.contract_id = c.contract_id
    LEFT JOIN flags f ON f.client_id = c.client_id
),
s AS (
    SELECT *,
           CASE WHEN NOT signals_stripped
                     AND NOT (neutral_closes AND coalesce(client_reason IN (${neutral_closes}), false))
                THEN client_reason END AS s_reason,
           CASE WHEN NOT signals_stripped THEN client_recommend END AS s_recommend,
           CASE WHEN NOT signals_stripped THEN client_stars END AS s_stars
    FROM x
),
o AS (
    SELECT *,
           coalesce(s_reason IS NOT NULL OR s_recommend IS NOT NULL OR s_stars IS NOT NULL, false)
               AS has_signal,
           CASE WHEN NOT coalesce(settled, false) OR engagement_part THEN NULL
                WHEN coalesce(s_reason IN (${negative_reasons}), false)
                     OR coalesce(NOT neutral_reasons AND s_reason <> 'completed_successfully', false)
                     OR coalesce(s_recommend <= 6 AND NOT coalesce(s_recommend >= usual_recommend, false), false)
                     OR coalesce(s_stars < 3.0 AND NOT coalesce(s_stars >= usual_stars, false), false)
                     THEN 'negative'
                WHEN coalesce(s_recommend >= 9, false)
                     OR coalesce(s_stars >= 4.5 AND s_recommend IS NULL, false)
                     OR long_term THEN 'positive'
                ELSE 'neutral' END AS outcome
    FROM s
),
k AS (
    SELECT *,
           coalesce(settled, false) AND NOT engagement_part
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
       CASE WHEN own_stars IS NOT NULL AND client_revealed AND own_cents >= 100
                 AND coalesce(client_removal_scope, '') <> 'jss_and_profile'
            THEN round(own_stars * 1000000)::HUGEINT * own_cents END AS feedback_num,
       CASE WHEN own_stars IS NOT NULL AND client_revealed AND own_cents >= 100
                 AND coalesce(client_removal_scope, '') <> 'jss_and_profile'
            THEN own_cents::HUGEINT END AS feedback_den
FROM k;

-- Feedback score of every freelancer at ts (rules.md): earnings-weighted mean of the latest
-- revealed, not profile-removed client stars on contracts with earnings >= $$1; exact integer
-- arithmetic (stars to 1e-6), rounded half up to 2 decimals.
${feedback_as_of}

-- Client score of every client at ts: the freelancers' public stars about the client,
-- weighted by what the client paid on the contract.
${client_score_as_of}

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
           arg_max_null({'jss_after': jss_after, 'jss_exact_after': jss_exact_after,
                         'feedback_after': feedback_after, 'effective_at': effective_at,
                         'change_id': change_id, 'seq': seq},
                        (effective_at, position, seq)) AS latest
    FROM score_changes
    WHERE effective_at <= ts::TIMESTAMPTZ
    GROUP BY freelancer_id
);

-- The publication days the projections were built with (REPUTATION_PUBLISH_DAYS, recorded by
-- the sync: a bit per day of the month; before any sync, the default 1 and 15).
CREATE OR REPLACE VIEW publication_days AS
SELECT d AS day FROM range(1, 29) AS days(d)
WHERE ((SELECT coalesce(max(value), (1 << 1) | (1 << 15)) FROM _sync WHERE key = 'publish_days') >> d) & 1 = 1;

-- The latest publication instant at or before ts: 00:00 UTC on one of those days, this month or
-- the one before (the days are 1-28, so every month has each of them).
CREATE OR REPLACE MACRO published_at(ts) AS timezone('UTC', (
    SELECT max(p) FROM (
        SELECT date_trunc('month', timezone('UTC', ts::TIMESTAMPTZ)) - to_months(m) + to_days(day - 1) AS p
        FROM publication_days, range(0, 2) AS back(m))
    WHERE p <= timezone('UTC', ts::TIMESTAMPTZ)));

-- What the freelancer (and the public) saw at ts: the displayed JSS and feedback score as
-- published at the latest publication instant at or before ts (never ahead of the engine clock).
-- No exact value, no change id, no instant of change: those belong to the trust audience.
CREATE OR REPLACE MACRO jss_published_as_of(ts) AS TABLE
SELECT freelancer_id, rules, published AS published_at, jss, feedback_score
FROM (SELECT published_at(least(ts::TIMESTAMPTZ, (SELECT clock FROM engine_clock))) AS published),
     jss_as_of(published);

-- The feedback score part of the same (the ledger's displayed feedback score at ts).
CREATE OR REPLACE MACRO feedback_ledger_as_of(ts) AS TABLE
SELECT freelancer_id, feedback_score, changed_at, change_id FROM jss_as_of(ts);

-- Every contract's outcome under each rule set at the engine clock.
CREATE OR REPLACE VIEW contract_outcomes AS
SELECT * FROM contract_assessments((SELECT clock FROM engine_clock), rules := 'all');
