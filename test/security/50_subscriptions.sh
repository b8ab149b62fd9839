#!/usr/bin/env bash
# Issue 25: managed subscriptions (docs/subscriptions.md, section 8).  The
# attackers are consumer roles of one service, each granted one
# subscription, and roles with no grant at all.  Their goals: consume,
# ack, nack or park another service's events, learn which subscriptions
# exist, read the pool, call the internal functions that skip the checks,
# make subscriptions or grants of their own, or keep a grant after it was
# revoked or its subscription dropped.  Every one must fail with 42501 and
# change nothing.
. "$(dirname "$0")/lib.sh"
stage_roles sec50_owner sec50_billing sec50_shipping sec50_anyone sec50_writer
stage_db sec50_db sec50_owner
as_role sec50_owner sec50_db -v ON_ERROR_STOP=1 -c "CREATE EXTENSION eventstore" >/dev/null
as_role sec50_owner sec50_db -v ON_ERROR_STOP=1 \
    -c "SELECT count(*) FROM generate_series(1, 4) g, eventstore.es_append('invoice-' || g, 'Issued', '{}'::jsonb)" \
    -c "SELECT eventstore.es_create_subscription('billing', category => 'invoice')" \
    -c "SELECT eventstore.es_create_subscription('shipping', category => 'invoice', strategy => 'pinned')" \
    -c "SELECT eventstore.es_grant_subscription('sec50_billing', 'billing')" \
    -c "SELECT eventstore.es_grant_subscription('sec50_shipping', 'shipping')" \
    -c "SELECT eventstore.es_grant_writer('sec50_writer')" >/dev/null
check "the database owner (the extension's owner) administers subscriptions" \
    "$(as_role sec50_owner sec50_db -c "SELECT count(*) FROM eventstore.subscription_stats")" "2"
# Shipping leases two events; billing tries to settle them through its own grant.
ship_pos=$(as_role sec50_shipping sec50_db -c "SELECT string_agg(position::text, ',') FROM eventstore.es_fetch('shipping', 's1', 2)")
check "shipping fetches its own subscription" "$(echo "$ship_pos" | tr ',' '\n' | grep -c .)" "2"

for call in "es_fetch('shipping', 'b1', 10)" "es_fetch('shipping', 's1', 10)" \
            "es_ack('shipping', 's1', ARRAY[$ship_pos]::bigint[])" \
            "es_nack('shipping', 's1', ARRAY[$ship_pos]::bigint[], 'park', 'x')" \
            "es_nack('shipping', 's1', ARRAY[$ship_pos]::bigint[], 'skip')" \
            "es_ack_ids('shipping', 's1', ARRAY[gen_random_uuid()])" \
            "es_subscription_checkpoint('shipping')"; do
    check "billing: $call is refused (42501)" "$(sqlstate sec50_billing sec50_db "SELECT eventstore.$call")" "42501"
done
check "billing cannot tell whether a subscription exists (42501, not ES022)" \
    "$(sqlstate sec50_billing sec50_db "SELECT eventstore.es_fetch('no_such_subscription', 'b1', 1)")" "42501"
check "billing's views show only its own subscription" \
    "$(as_role sec50_billing sec50_db -c "SELECT string_agg(subscription, ',') FROM eventstore.subscription_stats")" "billing"
check "billing sees no consumer of shipping" \
    "$(as_role sec50_billing sec50_db -c "SELECT count(*) FROM eventstore.subscription_consumer_stats WHERE subscription = 'shipping'")" "0"
for call in "es_create_subscription('mine')" "es_drop_subscription('shipping')" \
            "es_replay_parked('billing')" "es_grant_subscription('sec50_billing', 'shipping')" \
            "es_revoke_subscription('sec50_shipping', 'shipping')"; do
    check "billing: $call is refused (42501)" "$(sqlstate sec50_billing sec50_db "SELECT eventstore.$call")" "42501"
done
# The internal functions skip the grant check: nobody but the store may call them.
for call in "es_subscription_settle((SELECT s FROM eventstore.subscriptions s LIMIT 1), 's1', ARRAY[$ship_pos]::bigint[], 'ack', NULL, 0)" \
            "es_subscription_claim(NULL::eventstore.subscriptions, 'b1', 10)" \
            "es_subscription_pull(NULL::eventstore.subscriptions, 10, 0)" \
            "es_subscription_for_call('shipping')" "es_subscription_wake()" \
            "es_subscription_sleep(1)" "es_subscription_is_admin()"; do
    check "billing: $call is refused (42501)" "$(sqlstate sec50_billing sec50_db "SELECT eventstore.$call")" "42501"
done
for t in subscriptions subscription_events subscription_parked subscription_consumers subscription_grants; do
    check "billing cannot read eventstore.$t" "$(sqlstate sec50_billing sec50_db "SELECT count(*) FROM eventstore.$t")" "42501"
    check "billing cannot write eventstore.$t" "$(sqlstate sec50_billing sec50_db "DELETE FROM eventstore.$t")" "42501"
done
check "shipping's events are still leased to shipping" \
    "$(as_su sec50_db -c "SELECT count(*) FROM eventstore.subscription_events WHERE subscription = 'shipping' AND consumer = 's1' AND lease_until > now()")" "2"
# Roles without a subscription grant.
check "a role with no grant cannot fetch" "$(sqlstate sec50_anyone sec50_db "SELECT eventstore.es_fetch('billing', 'x', 1)")" "42501"
check "a writer (es_grant_writer) is no consumer" "$(sqlstate sec50_writer sec50_db "SELECT eventstore.es_fetch('billing', 'x', 1)")" "42501"
check "a grant to PUBLIC is refused (22023)" \
    "$(sqlstate sec50_owner sec50_db "SELECT eventstore.es_grant_subscription('public', 'billing')")" "22023"
check "PUBLIC holds no right on the subscription functions and views" \
    "$(as_su sec50_db -c "SELECT (SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) a WHERE p.pronamespace = 'eventstore'::regnamespace AND p.proname LIKE '%subscription%' AND a.grantee = 0) + (SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a WHERE c.relnamespace = 'eventstore'::regnamespace AND c.relname LIKE 'subscription%' AND a.grantee = 0)")" "0"
# A caller's search_path cannot redirect the functions.
as_su sec50_db -c "CREATE SCHEMA sec50_evil AUTHORIZATION sec50_billing" >/dev/null
check "billing's own operators on its search_path change nothing" \
    "$(as_role sec50_billing sec50_db -c "CREATE FUNCTION sec50_evil.eq(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true'" \
        -c "CREATE OPERATOR sec50_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sec50_evil.eq)" \
        -c "SET search_path = sec50_evil, pg_catalog" -c "SELECT count(*) FROM eventstore.es_fetch('billing', 'b1', 10)" | tail -1)" "4"
# Projections: the handler runs as the admin that made the subscription,
# never as a superuser, and nobody else may run it.
as_role sec50_owner sec50_db -v ON_ERROR_STOP=1 \
    -c "CREATE TABLE public.sec50_seen (who name, su boolean)" \
    -c "CREATE FUNCTION public.sec50_handler(e eventstore.events) RETURNS void LANGUAGE sql
        AS 'INSERT INTO public.sec50_seen SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)'" \
    -c "SELECT eventstore.es_create_subscription('sec50_proj', category => 'invoice', handler => 'public.sec50_handler(eventstore.events)')" >/dev/null
check "billing cannot run the owner's projection" \
    "$(sqlstate sec50_billing sec50_db "SELECT eventstore.es_run_projection('sec50_proj')")" "42501"
as_role sec50_owner sec50_db -c "SELECT eventstore.es_run_projection('sec50_proj')" >/dev/null
check "the handler ran as the subscription's admin, not as a superuser" \
    "$(as_su sec50_db -c "SELECT string_agg(DISTINCT who || ':' || su, ',') FROM public.sec50_seen")" "sec50_owner:false"
check "billing cannot make a projection that would run its code as the admin" \
    "$(sqlstate sec50_billing sec50_db "SELECT eventstore.es_create_subscription('mine', handler => 'public.sec50_handler(eventstore.events)')")" "42501"
# Revoked, or dropped and made again: the grant is gone.
as_role sec50_owner sec50_db -c "SELECT eventstore.es_revoke_subscription('sec50_billing', 'billing')" >/dev/null
check "after es_revoke_subscription billing's fetch is refused" \
    "$(sqlstate sec50_billing sec50_db "SELECT eventstore.es_fetch('billing', 'b1', 1)")" "42501"
as_role sec50_owner sec50_db -c "SELECT eventstore.es_drop_subscription('shipping')" \
    -c "SELECT eventstore.es_create_subscription('shipping')" >/dev/null
check "a subscription dropped and made again under its name keeps no old grant" \
    "$(sqlstate sec50_shipping sec50_db "SELECT eventstore.es_fetch('shipping', 's1', 1)")" "42501"
finish
