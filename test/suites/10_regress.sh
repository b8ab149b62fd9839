#!/usr/bin/env bash
# pg_regress: sql/*.sql against expected/*.out, SQLSTATEs visible.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
tests=$(ls sql/*.sql | sed -E 's#sql/(.*)\.sql#\1#' | sort)
rm -rf results regression.diffs regression.out
"$PG_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --inputdir=. --outputdir=. --dbname=es_regress --load-extension=eventstore $tests
rc=$?
[ $rc -ne 0 ] && [ -f regression.diffs ] && head -100 regression.diffs
exit $rc
