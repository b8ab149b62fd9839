#!/usr/bin/env bash
# pg_regress: sql/*.sql against expected/*.out, SQLSTATEs visible.  The
# list is the Makefile's REGRESS (what `make installcheck` runs); a file in
# sql/ that the list misses fails the suite rather than going unrun.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
tests=$(make -s print-regress)
for f in sql/*.sql; do
    t=$(basename "$f" .sql)
    echo " $tests " | grep -q " $t " || { echo "sql/$t.sql is not in the Makefile's REGRESS list"; exit 1; }
done
rm -rf results regression.diffs regression.out
"$PG_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --inputdir=. --outputdir=. --dbname=es_regress --load-extension=eventstore $tests
rc=$?
[ $rc -ne 0 ] && [ -f regression.diffs ] && head -100 regression.diffs
exit $rc
