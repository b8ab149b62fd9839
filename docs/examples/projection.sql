-- An exactly-once projection written in PL/pgSQL (see docs/projections.md).
-- test/suites/46_projection.sh loads this file as it is, kills the projection
-- at random points and checks the read model against a from-scratch
-- computation.
--
-- Read model: one row per cart stream.  Events of category "cart":
--   Added   {"qty": n}   items + n
--   Removed {"qty": n}   items - n

CREATE TABLE cart_totals (
    stream        text   PRIMARY KEY,
    items         bigint NOT NULL,	-- Added qty minus Removed qty
    events        bigint NOT NULL,	-- events applied
    last_version  bigint NOT NULL	-- version of the last applied event
);

-- One batch, in the caller's transaction: lock the handler, read the events
-- after its checkpoint, update the read model, advance the checkpoint.  The
-- read-model writes and the checkpoint commit together or not at all, so a
-- crash, a kill or an error anywhere leaves both as they were: the batch is
-- simply done again.  Returns the number of events applied (0: caught up).
CREATE FUNCTION project_cart_totals(batch_size integer DEFAULT 500)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    after_position bigint;
    last_position  bigint;
    applied        integer := 0;
    ev             record;
BEGIN
    -- A second instance of the projection waits here, then continues from
    -- the position this one committed.
    after_position := eventstore.es_lock_handler('cart_totals');

    -- The feed never returns an event while a lower position is still in
    -- flight, so no event that commits late is ever skipped.
    FOR ev IN
        SELECT e.position, e.stream, e.version, e.type, e.data
        FROM eventstore.es_load(after_position => after_position, category => 'cart',
                                max_count => batch_size) e
    LOOP
        INSERT INTO cart_totals AS t (stream, items, events, last_version)
        VALUES (ev.stream,
                CASE ev.type WHEN 'Added'   THEN  (ev.data->>'qty')::bigint
                             WHEN 'Removed' THEN -(ev.data->>'qty')::bigint
                             ELSE 0 END,
                1, ev.version)
        ON CONFLICT (stream) DO UPDATE
            SET items        = t.items + excluded.items,
                events       = t.events + 1,
                last_version = excluded.last_version;
        last_position := ev.position;
        applied := applied + 1;
    END LOOP;

    IF applied > 0 THEN
        PERFORM eventstore.es_advance_position('cart_totals', last_position);
    END IF;
    RETURN applied;
END
$$;

-- The runner: one transaction per batch until caught up.  Run it with CALL
-- (outside an explicit transaction block), from cron, a worker, or a loop.
CREATE PROCEDURE run_cart_totals(batch_size integer DEFAULT 500)
LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        EXIT WHEN project_cart_totals(batch_size) = 0;
        COMMIT;
    END LOOP;
END
$$;
