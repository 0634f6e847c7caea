-- A batch of log rows (`_batch`: position, recorded_at, payload, chain) into `events`; each
-- field placeholder is the field's place in the one JSON extraction `f`.
INSERT INTO events
WITH raw AS (
    SELECT position, recorded_at, payload, chain, json_extract_string(payload, ${paths}) AS f
    FROM _batch
),
b AS (
    SELECT position, chain, ${event_id} AS event_id, ${type} AS type,
           ${contract_id} AS contract_id, ${freelancer_id} AS freelancer_id,
           ${client_id} AS client_id, ${occurred_at}::TIMESTAMPTZ AS occurred_at,
           recorded_at::TIMESTAMPTZ AS recorded_at, payload::JSON AS payload,
           coalesce(${by}, ${of}) AS side,
           ${amount}::DECIMAL(18, 2) AS amount, ${stars}::DOUBLE AS stars,
           ${recommend}::INTEGER AS recommend,
           coalesce(${reason}, ${end_reason}) AS reason,
           ${closed_by} AS closed_by, ${basis} AS basis,
           CASE WHEN ${type} = 'FeedbackRemoved'
                THEN coalesce(${scope}, 'jss_and_profile') END AS scope
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
       b.reason, b.closed_by, b.basis, b.scope, b.chain
FROM b LEFT JOIN parties p
  ON b.contract_id = p.contract_id AND b.type <> 'ContractOpened'
ORDER BY b.position
