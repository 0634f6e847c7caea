-- A batch of ledger rows (`_ledger`, from Arrow) into `score_changes`.
INSERT INTO score_changes
SELECT seq, change_id, freelancer_id, rules, effective_at::TIMESTAMPTZ, recorded_at::TIMESTAMPTZ,
       position, jss_before, jss_after, jss_exact_before, jss_exact_after,
       round(feedback_before, 2)::DECIMAL(3, 2), round(feedback_after, 2)::DECIMAL(3, 2),
       causes::JSON, top_rated_before, top_rated_after
FROM _ledger ORDER BY seq
