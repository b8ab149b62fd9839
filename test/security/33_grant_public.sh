#!/usr/bin/env bash
# Issue 21, item 11: a grant function called with 'public' granted the
# store's rights to every role (GRANT ... TO public), while
# eventstore.grants recorded a name that matches no role.  The attacker is
# any role, hoping that an owner's typo or a script's default hands it a
# writer's or an admin's rights.  Every grant function now refuses 'public'
# in any case (22023) and grants nothing; es_grant_scope refuses an unknown
# kind with 22023 (not a check constraint's 23514); es_grant_cdc covers the
# partitioned layout's event_ids and stream_starts.
. "$(dirname "$0")/lib.sh"
stage_roles sec33_owner sec33_anyone sec33_cdc
stage_db sec33_db sec33_owner
as_su sec33_db -v ON_ERROR_STOP=1 -c "SET eventstore.partition_size = 4" -c "CREATE EXTENSION eventstore" >/dev/null

for call in "es_grant_admin('public')" "es_grant_writer('PUBLIC')" "es_grant_reader('Public')" \
            "es_grant_monitor('public')" "es_grant_cdc('pUbLiC')" \
            "es_grant_handler('public', '')" "es_grant_category('public', '')"; do
    check "$call is refused with 22023" "$(sqlstate postgres sec33_db "SELECT eventstore.$call")" "22023"
done
check "PUBLIC holds no right on the store's functions" \
    "$(as_su sec33_db -c "SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) a WHERE p.pronamespace = 'eventstore'::regnamespace AND a.grantee = 0 AND p.proname <> 'es_expected_version'")" "0"
check "PUBLIC holds no right on the store's tables and views" \
    "$(as_su sec33_db -c "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a WHERE c.relnamespace = 'eventstore'::regnamespace AND a.grantee = 0")" "0"
check "any role still cannot append" \
    "$(sqlstate sec33_anyone sec33_db "SELECT eventstore.es_append('x-1', 'T')")" "42501"
check "no grant row names public" \
    "$(as_su sec33_db -c "SELECT count(*) FROM eventstore.grants WHERE lower(grantee) = 'public'")" "0"
check "es_grant_scope with an unknown kind is 22023" \
    "$(sqlstate postgres sec33_db "SELECT eventstore.es_grant_scope('sec33_anyone', 'x-', 's')")" "22023"
check "es_grant_scope with an unknown kind grants nothing" \
    "$(as_su sec33_db -c "SELECT has_function_privilege('sec33_anyone', 'eventstore.es_append(jsonb)', 'EXECUTE')")" "f"
as_su sec33_db -c "SELECT eventstore.es_grant_cdc('sec33_cdc')" >/dev/null
check "es_grant_cdc covers events, event_ids and stream_starts (partitioned layout)" \
    "$(as_role sec33_cdc sec33_db -c "SELECT (SELECT count(*) FROM eventstore.events) + (SELECT count(*) FROM eventstore.event_ids) + (SELECT count(*) FROM eventstore.stream_starts)")" "0"
finish
