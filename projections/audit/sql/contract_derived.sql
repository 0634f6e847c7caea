-- Columns derived from one aggregated contract row `a`, all in naive UTC arithmetic.
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
        coalesce(epoch_us(a.last_payment_at) - epoch_us(a.first_payment_at) >= ${long_term_us}, false)
            AS long_term,
        a.client_removal_basis IS NOT NULL AS client_feedback_removed,
        a.freelancer_removal_basis IS NOT NULL AS freelancer_feedback_removed,
        timezone('UTC', timezone('UTC', a.closed_at) + INTERVAL 6 MONTH + INTERVAL 1 DAY)
            AS leaves_window_6,
        timezone('UTC', timezone('UTC', a.closed_at) + INTERVAL 12 MONTH + INTERVAL 1 DAY)
            AS leaves_window_12,
        timezone('UTC', timezone('UTC', a.closed_at) + INTERVAL 24 MONTH + INTERVAL 1 DAY)
            AS leaves_window_24
