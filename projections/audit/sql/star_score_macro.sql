-- A star score per key at ts: side's revealed, not profile-removed public stars,
-- weighted by earnings (>= $$1), rounded half up to 2 decimals (feedback and client scores).
CREATE OR REPLACE MACRO ${name}(ts, known := NULL) AS TABLE
WITH f AS (
    SELECT ${key},
           sum(round(${side}_stars * 1000000)::HUGEINT * earnings_cents) FILTER (WHERE ok) AS num,
           sum(earnings_cents::HUGEINT) FILTER (WHERE ok) AS den,
           count(*) FILTER (WHERE ok) AS reviews
    FROM (SELECT *, ${side}_stars IS NOT NULL AND ${side}_revealed AND earnings_cents >= 100
                    AND coalesce(${side}_removal_scope, '') <> 'jss_and_profile' AS ok
          FROM contract_state(ts, known := known))
    GROUP BY ${key}
)
SELECT ${key},
       CASE WHEN den > 0 THEN ((num * 200 + den * 1000000) // (den * 2000000))::DECIMAL(5, 0) / 100 END
           ::DECIMAL(3, 2) AS ${column},
       CASE WHEN den > 0 THEN num::DOUBLE / (den::DOUBLE * 1000000) END AS ${exact},
       reviews
FROM f;
