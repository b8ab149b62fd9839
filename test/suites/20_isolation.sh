#!/usr/bin/env bash
# Isolation specs (PostgreSQL's isolation tester): test/specs/*.spec,
# expected output in test/expected/*.out.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
specs=$(ls test/specs/*.spec 2>/dev/null | sed -E 's#test/specs/(.*)\.spec#\1#' | sort)
[ -z "$specs" ] && { echo "no isolation specs"; exit 0; }
out=$TMP_CHECK/output_iso
rm -rf "$out"; mkdir -p "$out"
"$PG_ISOLATION_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --inputdir=test --outputdir="$out" --dbname=es_isolation --load-extension=eventstore $specs
rc=$?
[ $rc -ne 0 ] && [ -f "$out/regression.diffs" ] && head -150 "$out/regression.diffs"
exit $rc
