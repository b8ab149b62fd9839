-- Managed subscriptions (docs/subscriptions.md): the surface, the
-- strategies, leases, nacks, parking, the checkpoint and every bad input.
-- Other files' events share the database: the subscriptions here read the
-- categories subt, subp and subx only, and positions are shown as versions.
SET search_path = eventstore, public;
SELECT count(*) FROM generate_series(1, 3) g, es_append('subt-' || g, 'Placed', jsonb_build_object('n', g));
SELECT count(*) FROM generate_series(1, 2) g, es_append('subt-1', 'Paid', jsonb_build_object('n', g));

-- round robin: everything at once, in feed order
SELECT es_create_subscription('rr', category => 'subt', lease_ms => 60000);
CREATE TEMP TABLE got AS SELECT * FROM es_fetch('rr', 'c1', 10);
SELECT stream, version, type, delivery, lease_until > now() AS leased FROM got ORDER BY position;
-- nothing left for another consumer
SELECT count(*) FROM es_fetch('rr', 'c2', 10);
-- the checkpoint stays below the first event not done
SELECT es_subscription_checkpoint('rr') = (SELECT min(position) - 1 FROM got) AS below_first;
SELECT es_ack('rr', 'c1', ARRAY(SELECT position FROM got WHERE stream = 'subt-2'));
SELECT es_subscription_checkpoint('rr') = (SELECT min(position) - 1 FROM got) AS still_below_first;
-- ack the first: the checkpoint moves up to the next one not done
SELECT es_ack('rr', 'c1', ARRAY(SELECT min(position) FROM got));
SELECT es_subscription_checkpoint('rr') =
       (SELECT min(position) - 1 FROM got WHERE position > (SELECT min(position) FROM got) AND stream <> 'subt-2')
       AS next_not_done;
-- ack by event id
SELECT es_ack_ids('rr', 'c1', ARRAY(SELECT event_id FROM got WHERE stream = 'subt-3'));

-- errors change nothing: the same position twice in one call, one not
-- leased among leased ones, an acked one again
SELECT try($$SELECT es_ack('rr', 'c1', ARRAY(SELECT position FROM got WHERE stream = 'subt-1' AND version = 2) || ARRAY(SELECT position FROM got WHERE stream = 'subt-1' AND version = 2))$$);
SELECT try($$SELECT es_ack('rr', 'c1', ARRAY(SELECT position FROM got WHERE stream IN ('subt-1', 'subt-2')))$$) ~ 'ES024' AS refused;
SELECT count(*) AS still_leased FROM es_subscription_consumer_stats() WHERE subscription = 'rr' AND in_flight = 2;
-- another consumer cannot ack c1's events; an unknown consumer is named
SELECT try($$SELECT es_ack('rr', 'c2', ARRAY(SELECT position FROM got WHERE stream = 'subt-1' AND version = 2))$$) ~ 'ES024' AS other_consumer;
SELECT try($$SELECT es_ack('rr', 'nobody', ARRAY[1::bigint])$$);

-- nack: retry later (not before its time), then park, skip
SELECT es_nack('rr', 'c1', ARRAY(SELECT position FROM got WHERE stream = 'subt-1' AND version = 2), 'retry', 'db down', 3600000);
SELECT count(*) AS not_yet FROM es_fetch('rr', 'c2', 10);
SELECT es_nack('rr', 'c1', ARRAY(SELECT position FROM got WHERE stream = 'subt-1' AND version = 3), 'park', 'bad payload');
SELECT stream, type, tries, reason, consumer FROM subscription_parked_events WHERE subscription = 'rr';
-- parked events count as done for the checkpoint; the waiting retry does not
SELECT es_subscription_checkpoint('rr') = (SELECT position - 1 FROM got WHERE stream = 'subt-1' AND version = 2) AS at_retry;
-- replay brings the parked event back; the checkpoint does not pass it
SELECT es_replay_parked('rr');
SELECT count(*) AS parked FROM subscription_parked_events WHERE subscription = 'rr';
SELECT stream, version, delivery FROM es_fetch('rr', 'c2', 10);
SELECT es_nack('rr', 'c2', ARRAY(SELECT position FROM got WHERE stream = 'subt-1' AND version = 3), 'skip', 'not mine');

-- new events are pulled up to the feed's head; a fetch with a wait returns
-- at once when there are events
SELECT count(*) FROM es_append('subt-4', 'Placed', '{}');
SELECT stream, version FROM es_fetch('rr', 'c2', 10, 5000);
-- nothing: a short wait returns no rows
SELECT count(*) FROM es_fetch('rr', 'c2', 10, 50);

-- leases run out; an ack after that is refused (ES025); max_retries parks
SELECT es_create_subscription('short', category => 'subx', lease_ms => 100, max_retries => 1);
SELECT count(*) FROM es_append('subx-1', 'Placed', '{}');
CREATE TEMP TABLE gx AS SELECT * FROM es_fetch('short', 'a', 10);
SELECT delivery FROM gx;
SELECT pg_sleep(0.2);
SELECT try($$SELECT es_ack('short', 'a', ARRAY(SELECT position FROM gx))$$) ~ 'ES025' AS lease_ran_out;
-- delivered again (to another consumer), the old holder's ack is refused
SELECT delivery FROM es_fetch('short', 'b', 10);
SELECT try($$SELECT es_ack('short', 'a', ARRAY(SELECT position FROM gx))$$) ~ 'ES024' AS taken;
SELECT pg_sleep(0.2);
-- out of tries: parked at the next fetch
SELECT count(*) FROM es_fetch('short', 'a', 10);
SELECT tries, reason FROM subscription_parked_events WHERE subscription = 'short';
-- a nack with retry on the last allowed try parks too
SELECT es_replay_parked('short');
SELECT delivery FROM es_fetch('short', 'a', 10);
SELECT es_nack('short', 'a', ARRAY(SELECT position FROM gx), 'retry', 'boom');
SELECT delivery FROM es_fetch('short', 'a', 10);
SELECT es_nack('short', 'a', ARRAY(SELECT position FROM gx), 'retry', 'boom again');
SELECT tries, reason FROM subscription_parked_events WHERE subscription = 'short';

-- an ack rolled back with the projection's writes leaves the event leased
SELECT es_replay_parked('short', ARRAY(SELECT position FROM gx));
SELECT delivery FROM es_fetch('short', 'a', 10);
BEGIN;
SELECT es_ack('short', 'a', ARRAY(SELECT position FROM gx));
ROLLBACK;
SELECT in_flight FROM subscription_consumer_stats WHERE subscription = 'short' AND consumer = 'a';
SELECT es_ack('short', 'a', ARRAY(SELECT position FROM gx));

-- pinned: one event per stream in flight, in version order
SELECT count(*) FROM generate_series(1, 3) g, es_append('subp-1', 'Step', jsonb_build_object('n', g));
SELECT count(*) FROM es_append('subp-2', 'Step', '{}');
SELECT es_create_subscription('pin', category => 'subp', strategy => 'pinned');
CREATE TEMP TABLE p1 AS SELECT * FROM es_fetch('pin', 'x', 10);
SELECT stream, version FROM p1 ORDER BY position;
SELECT count(*) AS nothing_while_heads_leased FROM es_fetch('pin', 'y', 10);
SELECT es_ack('pin', 'x', ARRAY(SELECT position FROM p1 WHERE stream = 'subp-1'));
SELECT stream, version FROM es_fetch('pin', 'y', 10);
SELECT count(*) AS one_at_a_time FROM es_fetch('pin', 'x', 10);

-- stats (the columns that do not depend on the clock or other files)
SELECT subscription, strategy, in_flight, waiting, parked, consumers
FROM subscription_stats WHERE subscription IN ('rr', 'short', 'pin') ORDER BY 1;
SELECT subscription, consumer, in_flight, acked, nacked, skipped, parked
FROM subscription_consumer_stats WHERE subscription IN ('rr', 'short', 'pin') ORDER BY 1, 2;
SELECT lag_events, lag_seconds >= 0 AS has_age FROM subscription_stats WHERE subscription = 'pin';

-- max_in_flight: a fetch leases no more than the room left
SELECT es_create_subscription('narrow', category => 'subt', max_in_flight => 2);
SELECT count(*) AS leased FROM es_fetch('narrow', 'x', 10);
SELECT count(*) AS no_room FROM es_fetch('narrow', 'y', 10);
SELECT es_ack('narrow', 'x', ARRAY(SELECT e.position FROM subscription_events e WHERE e.subscription = 'narrow' AND e.consumer = 'x' ORDER BY e.position LIMIT 1));
SELECT count(*) AS room_for_one FROM es_fetch('narrow', 'y', 10);
SELECT es_drop_subscription('narrow');

-- start_after: only later events
SELECT es_create_subscription('late', category => 'subp', start_after => es_feed_head());
SELECT count(*) FROM es_fetch('late', 'x', 10);
SELECT count(*) FROM es_append('subp-3', 'Step', '{}');
SELECT stream FROM es_fetch('late', 'x', 10);

-- bad input: each its SQLSTATE, nothing created
SELECT try($$SELECT es_create_subscription('rr')$$);
SELECT try($$SELECT es_create_subscription(NULL)$$);
SELECT try($$SELECT es_create_subscription('')$$);
SELECT try($$SELECT es_create_subscription(' x')$$);
SELECT try($$SELECT es_create_subscription(repeat('x', 256))$$);
SELECT try($$SELECT es_create_subscription('b', strategy => 'random')$$);
SELECT try($$SELECT es_create_subscription('b', strategy => NULL)$$);
SELECT try($$SELECT es_create_subscription('b', category => 'a-b')$$);
SELECT try($$SELECT es_create_subscription('b', types => '{}')$$);
SELECT try($$SELECT es_create_subscription('b', types => ARRAY['A', NULL])$$);
SELECT try($$SELECT es_create_subscription('b', lease_ms => 0)$$);
SELECT try($$SELECT es_create_subscription('b', lease_ms => -1)$$);
SELECT try($$SELECT es_create_subscription('b', max_retries => -1)$$);
SELECT try($$SELECT es_create_subscription('b', max_retries => 1000000)$$);
SELECT try($$SELECT es_create_subscription('b', max_in_flight => 0)$$);
SELECT try($$SELECT es_create_subscription('b', max_in_flight => NULL)$$);
SELECT try($$SELECT es_create_subscription('b', start_after => -1)$$);
SELECT try($$SELECT es_create_subscription('b', start_after => 9223372036854775807)$$);
SELECT try($$SELECT es_create_subscription('b', start_after => NULL)$$);
SELECT try($$SELECT es_create_subscription('b', category => '')$$);
SELECT count(*) AS none_made FROM subscriptions WHERE name = 'b';
SELECT try($$SELECT es_fetch('nope', 'c', 1)$$);
SELECT try($$SELECT es_fetch(NULL, 'c', 1)$$);
SELECT try($$SELECT es_fetch('rr', NULL, 1)$$);
SELECT try($$SELECT es_fetch('rr', '', 1)$$);
SELECT try($$SELECT es_fetch('rr', 'c', 0)$$);
SELECT try($$SELECT es_fetch('rr', 'c', -5)$$);
SELECT try($$SELECT es_fetch('rr', 'c', 10001)$$);
SELECT try($$SELECT es_fetch('rr', 'c', NULL)$$);
SELECT try($$SELECT es_fetch('rr', 'c', 1, -1)$$);
SELECT try($$SELECT es_fetch('rr', 'c', 1, 3600001)$$);
SELECT try($$SELECT es_ack('nope', 'c1', ARRAY[1::bigint])$$);
SELECT try($$SELECT es_ack('rr', 'c1', NULL)$$);
SELECT try($$SELECT es_ack('rr', 'c1', ARRAY[NULL::bigint])$$);
SELECT try($$SELECT es_ack('rr', 'c1', ARRAY[[1, 2]]::bigint[])$$);
SELECT try($$SELECT es_ack_ids('rr', 'c1', ARRAY[[gen_random_uuid()]])$$);
SELECT try($$SELECT es_ack_ids('rr', 'c1', ARRAY[NULL::uuid])$$);
SELECT try($$SELECT es_ack('rr', 'c1', ARRAY(SELECT generate_series(1, 10001)::bigint))$$);
SELECT try($$SELECT es_ack('rr', 'c1', ARRAY[-1::bigint])$$);
SELECT es_ack('rr', 'c1', '{}');
SELECT try($$SELECT es_ack_ids('rr', 'c1', NULL)$$);
SELECT try($$SELECT es_ack_ids('rr', 'c1', ARRAY[gen_random_uuid()])$$) ~ 'ES024' AS unknown_id;
SELECT try($$SELECT es_nack('rr', 'c1', ARRAY[1::bigint], 'drop')$$);
SELECT try($$SELECT es_nack('rr', 'c1', ARRAY[1::bigint], NULL)$$);
SELECT try($$SELECT es_nack('rr', 'c1', ARRAY[1::bigint], 'retry', 'x', -1)$$);
SELECT try($$SELECT es_nack('rr', 'c1', ARRAY[1::bigint], 'retry', repeat('x', 10001))$$);
SELECT try($$SELECT es_replay_parked('nope')$$);
SELECT try($$SELECT es_subscription_checkpoint('nope')$$);
SELECT try($$SELECT es_grant_subscription('public', 'rr')$$);
SELECT try($$SELECT es_grant_subscription('PUBLIC', 'rr')$$);
SELECT try($$SELECT es_grant_subscription(NULL, 'rr')$$);
SELECT try($$SELECT es_grant_subscription('no_such_role_x', 'rr')$$);
SELECT try($$SELECT es_grant_subscription(current_user, 'nope')$$);

-- drop: gone with its pool, parked events and consumers
SELECT es_drop_subscription('short');
SELECT es_drop_subscription('short');
SELECT (SELECT count(*) FROM subscription_events WHERE subscription = 'short')
     + (SELECT count(*) FROM subscription_parked WHERE subscription = 'short')
     + (SELECT count(*) FROM subscription_consumers WHERE subscription = 'short') AS left_over;
SELECT try($$SELECT es_fetch('short', 'a', 1)$$);
SELECT es_drop_subscription('rr'), es_drop_subscription('pin'), es_drop_subscription('late');
