#!/usr/bin/env bash
# Issue 21, item 10: a writer must not be able to stall every subscriber of
# its database.  eventstore.max_append_hold is on by default (1min) and only
# a superuser can change it: the writer's goal, holding the feed without a
# deadline, fails through every door a non-superuser has to a setting (SET,
# SET LOCAL, set_config, ALTER ROLE ... SET, the database owner's ALTER
# DATABASE ... SET, PGOPTIONS at connection, a function's SET clause,
# GRANT SET ON PARAMETER).  That a holder past the default is ended and the
# feed moves on is shown by test/t/075_append_hold.pl (it waits a minute).
. "$(dirname "$0")/lib.sh"
stage_roles sec31_owner sec31_app
stage_db sec31_db sec31_owner
as_su sec31_db -v ON_ERROR_STOP=1 -c "CREATE EXTENSION eventstore" \
    -c "SELECT eventstore.es_grant_writer('sec31_app')" -c "GRANT CREATE ON SCHEMA public TO sec31_app" >/dev/null

check "the default is on: 1min" \
    "$(as_role sec31_app sec31_db -c "SHOW eventstore.max_append_hold")" "1min"
check "a writer's SET is refused (42501)" \
    "$(sqlstate sec31_app sec31_db "SET eventstore.max_append_hold = 0")" "42501"
check "a writer's SET LOCAL is refused (42501)" \
    "$(sqlstate sec31_app sec31_db "BEGIN; SET LOCAL eventstore.max_append_hold = 0; COMMIT")" "42501"
check "a writer's set_config is refused (42501)" \
    "$(sqlstate sec31_app sec31_db "SELECT set_config('eventstore.max_append_hold', '0', false)")" "42501"
check "a writer's ALTER ROLE ... SET for itself is refused (42501)" \
    "$(sqlstate sec31_app sec31_db "ALTER ROLE sec31_app SET eventstore.max_append_hold = 0")" "42501"
check "the database owner's ALTER DATABASE ... SET is refused (42501)" \
    "$(sqlstate sec31_owner sec31_db "ALTER DATABASE sec31_db SET eventstore.max_append_hold = 0")" "42501"
check "the database owner's ALTER ROLE ... IN DATABASE ... SET is refused (42501)" \
    "$(sqlstate sec31_owner sec31_db "ALTER ROLE sec31_app IN DATABASE sec31_db SET eventstore.max_append_hold = 0")" "42501"
check "a function with SET eventstore.max_append_hold is refused (42501)" \
    "$(sqlstate sec31_app sec31_db "CREATE FUNCTION public.sec31_lift() RETURNS bigint LANGUAGE sql SET eventstore.max_append_hold = 0 RETURN 1")" "42501"
check "GRANT SET ON PARAMETER by the database owner is refused (42501)" \
    "$(sqlstate sec31_owner sec31_db "GRANT SET ON PARAMETER eventstore.max_append_hold TO sec31_app")" "42501"
check "PGOPTIONS at connection is refused (the connection fails)" \
    "$(PGOPTIONS="-c eventstore.max_append_hold=0" as_role sec31_app sec31_db -c "SHOW eventstore.max_append_hold" | grep -c 'permission denied to set parameter "eventstore.max_append_hold"')" "1"
check "nothing stored a lifted value" \
    "$(as_su sec31_db -c "SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%max_append_hold%'")" "0"

# A writer that appends and stays in its transaction (after switching its
# own idle timeout off) holds the feed with the default deadline.
fifo=$(mktemp -u); mkfifo "$fifo"
"$PGBIN/psql" -X -q -At -U sec31_app -d sec31_db <"$fifo" >/dev/null 2>&1 &
holder=$!
exec 7>"$fifo"
echo "SET idle_in_transaction_session_timeout = 0; BEGIN; SELECT eventstore.es_append('hold-1', 'E');" >&7
for _ in $(seq 1 50); do
    n=$(as_su sec31_db -c "SELECT count(*) FROM eventstore.feed_holders WHERE role = 'sec31_app'")
    [ "$n" = 1 ] && break; sleep 0.1
done
check "the writer's hold has the default deadline: 1 minute after it began" \
    "$(as_su sec31_db -c "SELECT deadline - held_since FROM eventstore.feed_holders WHERE role = 'sec31_app'")" "00:01:00"
exec 7>&-
wait "$holder" 2>/dev/null
rm -f "$fifo"
finish
