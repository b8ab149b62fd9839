-- Projections run in the server (docs/subscriptions.md, section 7): a
-- subscription with a handler, one batch by es_run_projection (the worker
-- calls it; here it is called by hand), a failing event retried and parked
-- while the others go on, the handler's signature checked (ES027), consumers
-- kept out (ES028).  Events of category subj only.
SET search_path = eventstore, public;
CREATE TABLE public.subj_totals (stream text PRIMARY KEY, n integer NOT NULL);
CREATE FUNCTION public.subj_project(e eventstore.events) RETURNS void
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
    IF e.data->>'poison' = 'yes' THEN
        RAISE EXCEPTION 'poison event in %', e.stream;
    END IF;
    INSERT INTO subj_totals VALUES (e.stream, 1)
    ON CONFLICT (stream) DO UPDATE SET n = subj_totals.n + 1;
END
$$;
SELECT es_create_subscription('subj', category => 'subj', handler => 'subj_project(eventstore.events)',
                              max_retries => 1);
SELECT count(*) FROM generate_series(1, 4) g, es_append('subj-' || (g % 2), 'Placed', jsonb_build_object('n', g));
SELECT count(*) FROM es_append('subj-9', 'Placed', '{"poison": "yes"}');
-- one batch: four handled, the poison event failed (retried later)
SELECT es_run_projection('subj', 100);
SELECT * FROM subj_totals ORDER BY stream;
SELECT consumer, acked, nacked FROM subscription_consumer_stats WHERE subscription = 'subj';
-- a rolled-back batch leaves nothing applied and nothing acked
BEGIN;
SELECT count(*) FROM es_append('subj-1', 'Placed', '{}');
COMMIT;
BEGIN;
SELECT es_run_projection('subj', 100);
ROLLBACK;
SELECT * FROM subj_totals ORDER BY stream;
SELECT es_run_projection('subj', 100);
SELECT * FROM subj_totals ORDER BY stream;
-- the poison event: retried after its delay, then parked; the rest goes on
UPDATE subscription_events SET available_at = '-infinity' WHERE subscription = 'subj';
SELECT es_run_projection('subj', 100);
SELECT stream, tries, reason FROM subscription_parked_events WHERE subscription = 'subj';
SELECT es_run_projection('subj', 100);
SELECT es_subscription_checkpoint('subj') = es_feed_head() AS checkpoint_at_head;
-- consumers cannot fetch a projection's events
SELECT try($$SELECT es_fetch('subj', 'x', 1)$$);
-- handlers of the wrong signature
CREATE FUNCTION public.subj_two(e eventstore.events, x integer) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION public.subj_int(e eventstore.events) RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.subj_text(e text) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION public.subj_set(e eventstore.events) RETURNS SETOF void LANGUAGE sql AS 'SELECT';
CREATE PROCEDURE public.subj_proc(e eventstore.events) LANGUAGE sql AS 'SELECT';
SELECT try($$SELECT es_create_subscription('b', handler => 'subj_two(eventstore.events, integer)')$$);
SELECT try($$SELECT es_create_subscription('b', handler => 'subj_int(eventstore.events)')$$);
SELECT try($$SELECT es_create_subscription('b', handler => 'subj_text(text)')$$);
SELECT try($$SELECT es_create_subscription('b', handler => 'subj_set(eventstore.events)')$$);
SELECT try($$SELECT es_create_subscription('b', handler => 'subj_proc(eventstore.events)')$$);
SELECT try($$SELECT es_create_subscription('b', handler => 'no_such_function(eventstore.events)')$$);
SELECT try($$SELECT es_run_projection('nope')$$);
SELECT try($$SELECT es_run_projection('subj', 0)$$);
SELECT count(*) AS none_made FROM subscriptions WHERE name = 'b';
SELECT es_drop_subscription('subj');
DROP TABLE public.subj_totals;
DROP FUNCTION subj_project(eventstore.events), subj_two(eventstore.events, integer),
    subj_int(eventstore.events), subj_text(text), subj_set(eventstore.events);
DROP PROCEDURE subj_proc(eventstore.events);
