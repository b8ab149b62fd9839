#!/usr/bin/env bash
# Reads of one correlation id in a large store (issue 13's budget: under
# 10 ms of server time in a store of 10,000,000 events): bench/correlation.sh [EVENTS] [READS]
#
# Loads EVENTS events (default 10,000,000) straight into the table as a
# superuser, ten events per correlation id spread over the whole position
# range (a saga touches streams written at different times), then reads READS
# random correlation ids (default 200) with es_load_correlated and, as the
# baseline in the same run, with the plain indexed SELECT an operator would
# write, and prints the server time (EXPLAIN ANALYZE's execution time) of
# each: p50, p99 and max, and the ratio of the medians.  A benchmark, not a
# test: nothing is asserted.  Uses tmp_install from `make test` (or builds it);
# the cluster lives in tmp_bench_corr/ and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
EVENTS=${1:-10000000}
READS=${2:-200}
export TMP_CHECK=$ROOT/tmp_bench_corr
BENCH_CLEANUP='rm -rf "$TMP_CHECK"'
. bench/lib/cluster.sh
bench_build_if_missing

# Server time is what is measured, not commits: initdb's fsync = off of the
# test clusters stays, which makes the load faster.
rm -rf "$TMP_CHECK"
bench_start_cluster corr "shared_preload_libraries = 'eventstore'" "max_wal_size = '8GB'" \
    "shared_buffers = '1GB'" "maintenance_work_mem = '512MB'"
es_new_db corr
NCORR=$(( EVENTS / 10 ))

echo "== loading $EVENTS events, $NCORR correlation ids of 10 events each"
t0=$(date +%s)
$PSQL -d corr <<SQL
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, data, metadata, created_at)
SELECT g + 1, 'corr-' || (g % 1000000), g / 1000000 + 1,
       ('00000000-0000-7000-8000-' || lpad(to_hex(g + 1), 12, '0'))::uuid, 'Deposited', 'corr',
       '{"amount": 100, "currency": "EUR", "note": "benchmark event"}'::jsonb,
       jsonb_build_object('correlation_id', 'saga-' || (g % $NCORR)), now()
FROM generate_series(0, $EVENTS - 1) AS g;
VACUUM ANALYZE eventstore.events;
SQL
echo "   loaded in $(( $(date +%s) - t0 )) s; $($PSQL -At -d corr -c "SELECT pg_size_pretty(pg_total_relation_size('eventstore.events'))") on disk"

stats() {  # stats FILE: p50 p99 max of a column of numbers
    /usr/bin/env python3 -c 'import sys
v = sorted(float(x) for x in open(sys.argv[1]))
q = lambda p: v[min(len(v) - 1, int(len(v) * p))]
print("%.3f %.3f %.3f" % (q(0.5), q(0.99), v[-1]))' "$1"
}

# One session for all reads, so that es_load_correlated's kept plan is
# prepared once, as in an application's connection; the first read of each
# is a warm-up and not counted.
es=$TMP_CHECK/es.ms; sel=$TMP_CHECK/select.ms; sqlf=$TMP_CHECK/reads.sql
# Each read gets an id of its own, so neither warms the cache for the other.
for i in $(seq 0 "$READS"); do
    id="saga-$(( (RANDOM * 32768 + RANDOM) % NCORR ))"
    id2="saga-$(( (RANDOM * 32768 + RANDOM) % NCORR ))"
    echo "EXPLAIN (ANALYZE, TIMING OFF) SELECT * FROM eventstore.es_load_correlated('$id');"
    echo "EXPLAIN (ANALYZE, TIMING OFF) SELECT * FROM eventstore.events WHERE substr(metadata ->> 'correlation_id', 1, 200) = '$id2' AND (metadata ->> 'correlation_id') IS NOT NULL ORDER BY position LIMIT 1000;"
done >"$sqlf"
$PSQL -At -d corr -f "$sqlf" | sed -nE 's/^Execution Time: ([0-9.]+) ms$/\1/p' >"$TMP_CHECK/all.ms"
awk 'NR > 2 && NR % 2 == 1' "$TMP_CHECK/all.ms" >"$es"
awk 'NR > 2 && NR % 2 == 0' "$TMP_CHECK/all.ms" >"$sel"
read -r e50 e99 emax < <(stats "$es")
read -r s50 s99 smax < <(stats "$sel")
rows=$($PSQL -At -d corr -c "SELECT count(*) FROM eventstore.es_load_correlated('saga-1')")
echo
echo "reads of one correlation id ($rows events each), $READS random ids, store of $EVENTS events, server time in ms"
printf '%-22s %8s %8s %8s\n' system p50 p99 max
printf '%-22s %8s %8s %8s\n' es_load_correlated "$e50" "$e99" "$emax"
printf '%-22s %8s %8s %8s\n' "plain indexed SELECT" "$s50" "$s99" "$smax"
echo "ratio of medians: $(awk -v a="$e50" -v b="$s50" 'BEGIN {printf "%.2f", a / b}') x the plain SELECT"
