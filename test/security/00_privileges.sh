#!/usr/bin/env bash
# Privileges and search_path safety: test/privileges/sql/*.sql (pg_regress,
# expected output in test/privileges/expected/).  Errors show only their
# SQLSTATE (42501 = insufficient privilege).
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
out=$TMP_CHECK/privileges
rm -rf "$out"; mkdir -p "$out"
tests=$(ls test/privileges/sql/*.sql | sed -E 's#.*/(.*)\.sql#\1#' | sort)
"$PG_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --inputdir=test/privileges --outputdir="$out" --dbname=es_priv --load-extension=eventstore $tests
rc=$?
[ $rc -ne 0 ] && [ -f "$out/regression.diffs" ] && head -150 "$out/regression.diffs"
exit $rc
