    -- as_of_account (included by the staging models that resolve accounts): a row of
    -- ${rows} without an account takes the account of its user's (${user}) group call in
    -- force at ${at}, through identity_spans; with none it keeps a null account (an orphan).
    -- The spans are the hash join's build side (the left one of a right join): the rows
    -- stream past them, never held. A row with an account looks up none: its null key
    -- matches no span.
    from identity_spans
    right join ${rows}
        on identity_spans.user_id = case when ${rows}.account_id is null then ${rows}.${user} end
        and identity_spans.valid_from <= ${rows}.${at}
        and (identity_spans.valid_to is null or ${rows}.${at} < identity_spans.valid_to)
