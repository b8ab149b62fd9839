#!/usr/bin/env bash
# Isolation specs (PostgreSQL's isolation tester): test/isolation/specs/*.spec,
# expected output in test/isolation/expected/*.out.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
# The list is the Makefile's ISOLATION (what `make installcheck` runs); a
# spec that the list misses fails the suite rather than going unrun.
specs=$(make -s print-isolation)
for f in test/isolation/specs/*.spec; do
    t=$(basename "$f" .spec)
    echo " $specs " | grep -q " $t " || { echo "test/isolation/specs/$t.spec is not in the Makefile's ISOLATION list"; exit 1; }
done
out=$TMP_CHECK/output_iso
rm -rf "$out"; mkdir -p "$out"
"$PG_ISOLATION_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --inputdir=test/isolation --outputdir="$out" --dbname=es_isolation --load-extension=eventstore $specs
rc=$?
[ $rc -ne 0 ] && [ -f "$out/regression.diffs" ] && head -150 "$out/regression.diffs"
exit $rc
