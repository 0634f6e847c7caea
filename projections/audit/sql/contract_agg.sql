-- The contract columns as of a cut, aggregated from `events`; the placeholder `where` filters the events.
-- One row per contract (completed by contract_derived.sql).
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
    WHERE contract_id IS NOT NULL AND (${where})
    GROUP BY contract_id
