#!/usr/bin/env bash
# Scale-out by stream through PL/Proxy (issue 16): four shard databases
# and a proxy database on this throwaway cluster, the proxy set up by the
# recipe docs/examples/plproxy.sql, then test/stress/plproxy_stress.py
# (what it checks is written there).
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
set -u
psql_q() { local db=$1; shift; "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }
conn() { echo "dbname=$1 host=$PGHOST port=$PGPORT user=postgres"; }
for k in 0 1 2 3; do
    es_new_db "es_px_shard$k" || exit 1
    psql_q "es_px_shard$k" -c "SELECT eventstore.es_set_shard($k, 4)" >/dev/null || exit 1
done
"$PGBIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS es_px_proxy" -c "CREATE DATABASE es_px_proxy" >/dev/null || exit 1
psql_q es_px_proxy -v p0="$(conn es_px_shard0)" -v p1="$(conn es_px_shard1)" \
    -v p2="$(conn es_px_shard2)" -v p3="$(conn es_px_shard3)" \
    -f docs/examples/plproxy.sql >/dev/null || { echo "not ok - the recipe docs/examples/plproxy.sql"; exit 1; }
echo "ok - the recipe docs/examples/plproxy.sql sets up the proxy"
/usr/bin/python3 test/stress/plproxy_stress.py "$(conn es_px_proxy)" \
    "$(conn es_px_shard0)" "$(conn es_px_shard1)" "$(conn es_px_shard2)" "$(conn es_px_shard3)"
rc=$?
# The shard identity is data: a dump of a shard restores as the same shard.
dump=$TMP_CHECK/es_px_shard1.dump
"$PGBIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS es_px_restored" -c "CREATE DATABASE es_px_restored" >/dev/null 2>&1
if "$PGBIN/pg_dump" -Fc -d es_px_shard1 -f "$dump" && "$PGBIN/pg_restore" --exit-on-error -d es_px_restored "$dump" &&
   [ "$(psql_q es_px_restored -c "SELECT shard || '/' || shard_count || '/' || shard_by FROM eventstore.es_shard_info()")" = 1/4/stream ]
then echo "ok - a restored shard keeps its identity"
else echo "not ok - a restored shard keeps its identity"; rc=1; fi
other=$(psql_q es_px_restored -c "SELECT s FROM (VALUES ('acct-0'), ('acct-1'), ('acct-2'), ('acct-3'), ('acct-4')) v(s) WHERE eventstore.es_shard_of(s, 4) <> 1 LIMIT 1")
out=$("$PGBIN/psql" -X -q -At -d es_px_restored -c "\\set VERBOSITY sqlstate" -c "SELECT version FROM eventstore.es_append('$other', 'X')" 2>&1)
case "$out" in *ES020*) echo "ok - a restored shard refuses streams of other shards" ;;
    *) echo "not ok - a restored shard refuses streams of other shards: $out"; rc=1 ;; esac
rm -f "$dump"
for db in es_px_restored es_px_proxy es_px_shard0 es_px_shard1 es_px_shard2 es_px_shard3; do
    "$PGBIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ||
        PGOPTIONS='-c eventstore.allow_destroy=on' "$PGBIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
done
exit $rc
