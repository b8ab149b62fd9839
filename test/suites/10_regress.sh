#!/usr/bin/env bash
# pg_regress: test/regress/sql/*.sql against test/regress/expected/*.out,
# SQLSTATEs visible.  The list is the Makefile's REGRESS (what `make
# installcheck` runs); a file in test/regress/sql/ that the list misses
# fails the suite rather than going unrun.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
tests=$(make -s print-regress)
for f in test/regress/sql/*.sql; do
    t=$(basename "$f" .sql)
    echo " $tests " | grep -q " $t " || { echo "test/regress/sql/$t.sql is not in the Makefile's REGRESS list"; exit 1; }
done
out=$TMP_CHECK/output_regress
rm -rf "$out"; mkdir -p "$out"
"$PG_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --inputdir=test/regress --outputdir="$out" --dbname=es_regress --load-extension=eventstore $tests
rc=$?
[ $rc -ne 0 ] && [ -f "$out/regression.diffs" ] && head -100 "$out/regression.diffs"
exit $rc
