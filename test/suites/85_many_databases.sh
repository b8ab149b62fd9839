#!/usr/bin/env bash
# The shared position counters (concurrent mode) have room for 256
# databases.  Databases that were dropped must give their entry back: on a
# server where databases come and go (CI runs, a database per tenant),
# appends must keep working after more than 256 databases have ever
# appended.  Creates, appends to and drops 260 databases (cloned from a
# template that has the extension, so each costs little).
# The limit is the setting eventstore.max_databases (default 256): on a
# throwaway cluster with max_databases = 4, the fifth database that appends
# gets 54000 with a hint naming the setting, and dropping one makes room.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
set -u
n=260
psql_q() { local db=$1; shift; "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }
# FILE_COPY (PostgreSQL 15+) clones a small database faster than WAL_LOG.
strategy=; [ "$PG_MAJOR" -ge 15 ] && strategy="STRATEGY FILE_COPY"
es_new_db es_many_tmpl 2>/dev/null || exit 1
bad=0
for i in $(seq 1 $n); do
    db=es_many_$i
    psql_q postgres -c "CREATE DATABASE $db TEMPLATE es_many_tmpl $strategy" || { bad=1; break; }
    out=$(psql_q "$db" -c "SELECT version FROM eventstore.es_append('s-1', 'X')" 2>&1)
    psql_q postgres -c "DROP DATABASE $db"
    if [ "$out" != 1 ]; then echo "database $i: $out"; bad=1; break; fi
done
# A database that is still there keeps its counter through all this.
out=$(psql_q es_many_tmpl -c "SELECT version FROM eventstore.es_append('s-1', 'X')" 2>&1)
[ "$out" = 1 ] || { echo "template database: $out"; bad=1; }
psql_q postgres -c "DROP DATABASE es_many_tmpl"
[ "$bad" = 0 ] && echo "ok - $n databases created, appended to and dropped"

# eventstore.max_databases = 4 on a cluster of its own.
es_start_cluster maxdb "shared_preload_libraries = 'eventstore'" "eventstore.max_databases = 4" || exit 1
trap 'es_stop_cluster maxdb' EXIT
[ "$(psql_q postgres -c "SHOW eventstore.max_databases")" = 4 ] || { echo "max_databases not set"; bad=1; }
es_new_db es_max_tmpl || exit 1
for i in 1 2 3 4 5; do
    psql_q postgres -c "CREATE DATABASE es_max_$i TEMPLATE es_max_tmpl $strategy" || bad=1
done
for i in 1 2 3 4; do
    out=$(psql_q "es_max_$i" -c "SELECT version FROM eventstore.es_append('s-1', 'X')" 2>&1)
    [ "$out" = 1 ] || { echo "database $i of 4: $out"; bad=1; }
done
out=$("$PGBIN/psql" -X -q -At -d es_max_5 -v VERBOSITY=verbose \
    -c "SELECT version FROM eventstore.es_append('s-1', 'X')" 2>&1)
if echo "$out" | grep -q "ERROR:  54000: too many databases use eventstore" &&
   echo "$out" | grep -q "HINT:  Raise eventstore.max_databases"; then
    echo "ok - the fifth database is refused with 54000 and a hint"
else
    echo "the fifth database: $out"; bad=1
fi
psql_q postgres -c "DROP DATABASE es_max_1"
out=$(psql_q es_max_5 -c "SELECT version FROM eventstore.es_append('s-1', 'X')" 2>&1)
if [ "$out" = 1 ]; then echo "ok - a dropped database makes room"; else echo "after a drop: $out"; bad=1; fi
exit $bad
