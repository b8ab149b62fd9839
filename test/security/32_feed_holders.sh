#!/usr/bin/env bash
# Issue 21, item 11: eventstore.feed_holders in database B must not show
# database A's holders (their pids, database, role, positions, query).
# The attacker is a reader of store B; the holder a writer of store A, idle
# in its transaction after an append.  Checked in concurrent mode (the
# slots in shared memory); the view's serialized-mode part (feed locks in
# pg_locks) is checked by test/t/075_append_hold.pl on a cluster without
# the preload.
. "$(dirname "$0")/lib.sh"
stage_roles sec32_writer_a sec32_reader_b
stage_db sec32_a postgres
stage_db sec32_b postgres
as_su sec32_a -v ON_ERROR_STOP=1 -c "CREATE EXTENSION eventstore" -c "SELECT eventstore.es_grant_writer('sec32_writer_a')" >/dev/null
as_su sec32_b -v ON_ERROR_STOP=1 -c "CREATE EXTENSION eventstore" -c "SELECT eventstore.es_grant_reader('sec32_reader_b')" >/dev/null

fifo=$(mktemp -u); mkfifo "$fifo"
"$PGBIN/psql" -X -q -At -U sec32_writer_a -d sec32_a <"$fifo" >/dev/null 2>&1 &
holder=$!
exec 7>"$fifo"
echo "SET idle_in_transaction_session_timeout = 0; BEGIN; SELECT eventstore.es_append('hold-a', 'E');" >&7
for _ in $(seq 1 50); do
    n=$(as_su sec32_a -c "SELECT count(*) FROM eventstore.feed_holders WHERE role = 'sec32_writer_a'")
    [ "$n" = 1 ] && break; sleep 0.1
done
check "database A's feed_holders shows its holder" "$n" "1"
check "database B's feed_holders shows nothing of A's holder (reader of B)" \
    "$(as_role sec32_reader_b sec32_b -c "SELECT count(*) FROM eventstore.feed_holders")" "0"
check "database B's es_feed_holders() shows nothing of A's holder (superuser in B)" \
    "$(as_su sec32_b -c "SELECT count(*) FROM eventstore.es_feed_holders()")" "0"
exec 7>&-
wait "$holder" 2>/dev/null

rm -f "$fifo"
finish
