#!/usr/bin/env bash
# Backup and restore by the owner of a trusted install (issue 21, item 9;
# docs/operations.md, "Backup and restore as the database owner"), with the
# commands the docs give:
#   1. the owner (no superuser) dumps its own store with pg_dump;
#   2. the owner restores it into a new database it owns (the schema and
#      extension as itself, the data inside es_restore_begin/end);
#   3. a superuser restores the same dump into a database the owner owns,
#      after the owner created the extension: the owner stays in charge.
# After each restore the owner appends, grants, reads and updates, and every
# event, snapshot, checkpoint and lifecycle row is what the source held.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
set -u
fails=0
check() {  # check NAME ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then echo "ok - $1"
    else echo "not ok - $1: got [$2], expected [$3]"; fails=$((fails + 1)); fi
}
su_q() { local db=$1; shift; "$PGBIN/psql" -X -q -At -d "$db" "$@" 2>&1; }
o_q() { local db=$1; shift; "$PGBIN/psql" -X -q -At -U es_bk_o -d "$db" "$@" 2>&1; }
dump=$TMP_CHECK/es_owner.dump

su_q postgres >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP DATABASE IF EXISTS es_bk_src;
DROP DATABASE IF EXISTS es_bk_own;
DROP DATABASE IF EXISTS es_bk_su;
DROP ROLE IF EXISTS es_bk_app;
DROP ROLE IF EXISTS es_bk_o;
CREATE ROLE es_bk_o LOGIN;
CREATE ROLE es_bk_app LOGIN;
CREATE DATABASE es_bk_src OWNER es_bk_o;
CREATE DATABASE es_bk_own OWNER es_bk_o;
CREATE DATABASE es_bk_su OWNER es_bk_o;
SQL

# The owner's store: events, a snapshot, a checkpoint, a grant; a
# superuser-made admin adds lifecycle state.
o_q es_bk_src >/dev/null <<'SQL'
CREATE EXTENSION eventstore;
SELECT eventstore.es_append('order-1', 'Placed', '{"n": 1}', 0);
SELECT eventstore.es_append('order-1', 'Paid', '{"n": 2}', 1);
SELECT eventstore.es_append('order-2', 'Placed', '{"n": 3}', 0);
SELECT eventstore.es_snapshot('order-1', 2, '{"total": 2}');
SELECT eventstore.es_advance_position('billing', 2);
SELECT eventstore.es_grant_writer('es_bk_app');
SQL
su_q es_bk_src -c "SELECT eventstore.es_tombstone_stream('order-2', NULL, 'test')" >/dev/null
fingerprint() {
    su_q "$1" -c "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
        SELECT format('%s %s %s %s %s', position, stream, version, event_id, data) x FROM eventstore.events
        UNION ALL SELECT format('s %s %s %s', stream, version, data) FROM eventstore.snapshots
        UNION ALL SELECT format('c %s %s', handler, position) FROM eventstore.checkpoints
        UNION ALL SELECT format('l %s %s %s', stream, last_version, tombstoned_at IS NOT NULL) FROM eventstore.stream_state) t"
}
want=$(fingerprint es_bk_src)

# 1. The owner's pg_dump.
"$PGBIN/pg_dump" -U es_bk_o -Fc -d es_bk_src -f "$dump" 2>"$dump.err"
check "the owner dumps its own store" "$?:$(cat "$dump.err")" "0:"

# 2. The owner's restore into a new database it owns.
"$PGBIN/pg_restore" -U es_bk_o -O --section=pre-data --exit-on-error -d es_bk_own "$dump" 2>&1
check "the owner restores the schema and the extension" "$?" 0
{ echo "BEGIN;"; echo "SELECT eventstore.es_restore_begin();"
  "$PGBIN/pg_restore" -O --section=data -f - "$dump"
  echo "SELECT eventstore.es_restore_end();"; echo "COMMIT;"; } \
    | "$PGBIN/psql" -X -q -U es_bk_o -v ON_ERROR_STOP=1 -d es_bk_own >/dev/null 2>"$dump.err"
check "the owner restores the data" "$?:$(grep -v '^$' "$dump.err")" "0:"
"$PGBIN/pg_restore" -U es_bk_o -O --section=post-data --exit-on-error -d es_bk_own "$dump" 2>&1
check "the owner restores the rest" "$?" 0
check "the owner's restore holds what the source held" "$(fingerprint es_bk_own)" "$want"
check "the restored store is the owner's" \
    "$(su_q es_bk_own -c "SELECT pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'eventstore'")" es_bk_o
check "the owner keeps no INSERT right after its restore" \
    "$(su_q es_bk_own -c "SELECT count(*) FROM eventstore.es_dumped_tables() t WHERE has_table_privilege('es_bk_o', t, 'INSERT')")" 0

# 3. A superuser's restore into a database the owner owns: the owner
# creates the extension first, the superuser restores everything but the
# schema entry.
o_q es_bk_su -c "CREATE EXTENSION eventstore" >/dev/null
"$PGBIN/pg_restore" -l "$dump" | grep -v ' SCHEMA - eventstore ' > "$dump.list"
"$PGBIN/pg_restore" --exit-on-error -L "$dump.list" -d es_bk_su "$dump" 2>&1
check "a superuser restores into the owner's database" "$?" 0
check "the superuser's restore holds what the source held" "$(fingerprint es_bk_su)" "$want"
check "the owner stays the store's owner" \
    "$(su_q es_bk_su -c "SELECT pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'eventstore'")" es_bk_o

for db in es_bk_own es_bk_su; do
    check "$db: the owner appends, versions continue" \
        "$(o_q $db -c "SELECT version FROM eventstore.es_append('order-1', 'Shipped', '{}', 2)")" 3
    check "$db: the owner grants an application role" \
        "$(o_q $db -c "SELECT eventstore.es_grant_writer('es_bk_app')")" ""
    check "$db: the application role appends" \
        "$(psql_app=$("$PGBIN/psql" -X -q -At -U es_bk_app -d $db -c "SELECT version FROM eventstore.es_append('order-3', 'Placed', '{}', 0)" 2>&1); echo "$psql_app")" 1
    check "$db: new positions are above every restored one" \
        "$(su_q $db -c "SELECT min(position) > (SELECT max(position) FROM eventstore.events WHERE stream <> 'order-3' AND version < 3) FROM eventstore.events WHERE stream = 'order-3' OR version = 3")" t
    check "$db: the tombstone holds" \
        "$(o_q $db -v VERBOSITY=sqlstate -c "SELECT eventstore.es_append('order-2', 'Again', '{}')" | sed -nE 's/^ERROR: +([0-9A-Z]{5}).*/\1/p')" ES006
    check "$db: the owner dumps the restored store" \
        "$("$PGBIN/pg_dump" -U es_bk_o -Fc -d $db -f "$dump.again" 2>&1; echo $?)" 0
done

su_q postgres >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP DATABASE es_bk_src WITH (FORCE);
DROP DATABASE es_bk_own WITH (FORCE);
DROP DATABASE es_bk_su WITH (FORCE);
DROP ROLE es_bk_app;
DROP ROLE es_bk_o;
SQL
[ "$fails" = 0 ]
