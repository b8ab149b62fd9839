#!/usr/bin/env bash
# The shared position counters (concurrent mode) have room for 256
# databases.  Databases that were dropped must give their entry back: on a
# server where databases come and go (CI runs, a database per tenant),
# appends must keep working after more than 256 databases have ever
# appended.  Creates, appends to and drops 300 databases (cloned from a
# template that has the extension, so each costs little).
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
exit $bad
