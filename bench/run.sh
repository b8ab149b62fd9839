#!/usr/bin/env bash
# The eventstore benchmark: `make bench` (full) or `bench/run.sh --quick`.
#
# Starts a throwaway cluster with default durability (fsync = on,
# synchronous_commit = on), runs every workload against its baselines in the
# same run, interleaved (A B C A B C ...) over several repetitions, and
# prints medians and ratios.  docs/benchmarks.md explains the workloads and
# their fairness; results go to bench/results/<time>/ and, unless --no-docs,
# into docs/benchmarks.md and docs/bench-throughput.png.
#
# Options:
#   --quick            short runs (1 s x 3 repetitions, growth store 1M
#                      events / 100k streams): under 5 minutes
#   --duration S       seconds per pgbench run (full: 10)
#   --reps N           repetitions (full: 3)
#   --clients "1 4 16" client counts
#   --only "w1 w5"     run only these workloads
#   --big-events N     events in the growth store (full: 10000000)
#   --no-docs          do not update docs/
#   --keep             leave the cluster running at the end
#   --pg 15|17|18      the PostgreSQL major (default 15, the machine's);
#                      17 and 18 come from test/lib/fetch-pg.sh, with 15's
#                      pgbench and psql as clients; they imply --no-docs
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=full; DURATION=10; REPS=3; CLIENTS="1 4 16"; ONLY="w1 w2 w3 w4 w5 w6 w7 w8"
BIG_EVENTS=10000000; WRITE_DOCS=1; KEEP=0; PG=15
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) MODE=quick; DURATION=1; REPS=3; BIG_EVENTS=1000000 ;;
        --duration) DURATION=$2; shift ;;
        --reps) REPS=$2; shift ;;
        --clients) CLIENTS=$2; shift ;;
        --only) ONLY=$2; shift ;;
        --big-events) BIG_EVENTS=$2; shift ;;
        --no-docs) WRITE_DOCS=0 ;;
        --keep) KEEP=1 ;;
        --pg) PG=$2; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
BIG_STREAMS=$((BIG_EVENTS / 10))      # 10 events per stream
LOAD_STREAMS=200                      # workload 5: 200 streams x 1,000 events
started=$(date +%s)

# A cluster directory of its own, so `make test` in the same tree does not
# remove it under our feet.
export TMP_CHECK=${BENCH_TMP:-$ROOT/tmp_bench}
if [ "$PG" != 15 ]; then
    # Another major: its own server tree and private install; the clone's
    # build stays 15's, so eventstore is built in a copy of the sources.
    export PG_CONFIG; PG_CONFIG=$(test/lib/fetch-pg.sh "$PG")
    export TMP_INSTALL=$TMP_CHECK.install
    WRITE_DOCS=0
fi
. test/lib/cluster.sh

test/install-deps.sh >/dev/null || { echo "could not install dependencies" >&2; exit 1; }
if ! command -v gnuplot >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null || true
    fi
fi

echo "== build and install into tmp_install"
if [ "$PG" = 15 ]; then
    make -s >/dev/null
else
    es_build_copy "$ROOT/tmp_pgver/build-bench-$PG" || exit 1
fi
es_build_tmp_install
PGBENCH=$PGBIN/pgbench
PSQL="$PGBIN/psql -X -q -v ON_ERROR_STOP=1"

. bench/settings.sh
SETTINGS=("${BENCH_SETTINGS[@]}")
rm -rf "$TMP_CHECK"; mkdir -p "$TMP_CHECK"
es_start_cluster bench "${SETTINGS[@]}"
[ "$KEEP" = 1 ] || trap 'es_stop_cluster bench' EXIT

OUT=$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT/logs"
[ "$(id -u)" = 0 ] && chown -R postgres "$TMP_CHECK" 2>/dev/null || true

new_bench_db() {
    es_new_db "$1"
    $PSQL -d "$1" -f bench/setup.sql -f bench/sql_baseline.sql >/dev/null
}

echo "== databases"
new_bench_db bench
# Workloads 5 and 6 read from LOAD_STREAMS streams of 1,000 events whose
# events are interleaved in the heap (event i of every stream, then event
# i + 1, ...) as in a store where streams are written concurrently.
$PSQL -d bench <<SQL
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, data, metadata, created_at)
SELECT g + 1, 'load-' || (g % $LOAD_STREAMS + 1), g / $LOAD_STREAMS + 1,
       ('00000000-0000-7000-8000-' || lpad(to_hex(g + 1), 12, '0'))::uuid, 'Deposited', 'load',
       '{"amount": 100, "currency": "EUR", "account": "DE00 1234 5678", "note": "benchmark event"}'::jsonb,
       '{"correlation_id": "4f9c3c1e-5d2a-4a41-9f41-8a2f7c1d0e55"}'::jsonb, now()
FROM generate_series(0, $LOAD_STREAMS * 1000 - 1) AS g;
VACUUM ANALYZE eventstore.events;
SQL
MAXPOS=$(( LOAD_STREAMS * 1000 ))
FEED=$($PSQL -At -d bench -c "SELECT count(*) FROM pg_proc WHERE proname = 'es_load'
    AND pronamespace = 'eventstore'::regnamespace AND 'after_position' = ANY (proargnames)")
case " $ONLY " in *" w7 "*)
    new_bench_db bench_empty
    new_bench_db bench_big
    echo "== growth store: $BIG_EVENTS events in $BIG_STREAMS streams"
    t0=$(date +%s)
    # Straight into the table as superuser (the insert guard only makes the
    # next append reread max(position)).  Event ids are time-ordered like the
    # UUIDv7 ids es_append generates; streams are interleaved.
    $PSQL -d bench_big <<SQL
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, data, metadata, created_at)
SELECT g + 1, 'grow-' || (g % $BIG_STREAMS), g / $BIG_STREAMS + 1,
       ('00000000-0000-7000-8000-' || lpad(to_hex(g + 1), 12, '0'))::uuid, 'Deposited', 'grow',
       '{"amount": 100, "currency": "EUR", "account": "DE00 1234 5678", "note": "benchmark event"}'::jsonb,
       '{"correlation_id": "4f9c3c1e-5d2a-4a41-9f41-8a2f7c1d0e55"}'::jsonb, now()
FROM generate_series(0, $BIG_EVENTS - 1) AS g;
VACUUM ANALYZE eventstore.events;
CHECKPOINT;
SQL
    echo "   loaded in $(( $(date +%s) - t0 )) s"
    ;;
esac

case " $ONLY " in *" w8 "*)
    # Workload 8: the same appends into a plain store and into a store in
    # the partitioned layout (docs/partitioning.md), 1,000,000 positions per
    # partition, both new.
    new_bench_db bench_plain
    PGOPTIONS="-c eventstore.partition_size=1000000" new_bench_db bench_part
    ;;
esac

DATA='{"amount": 100, "currency": "EUR", "account": "DE00 1234 5678", "note": "benchmark event"}'
META='{"correlation_id": "4f9c3c1e-5d2a-4a41-9f41-8a2f7c1d0e55"}'
EVENTS=$(/usr/bin/env python3 - "$DATA" "$META" <<'PY' 2>/dev/null || true
import json, sys
d, m = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps([{"type": "ItemAdded", "data": d, "metadata": m} for _ in range(100)]))
PY
)
if [ -z "$EVENTS" ]; then      # no python: build the array in the shell
    EVENTS="["; for i in $(seq 1 100); do
        [ $i -gt 1 ] && EVENTS="$EVENTS, "
        EVENTS="$EVENTS{\"type\": \"ItemAdded\", \"data\": $DATA, \"metadata\": $META}"
    done; EVENTS="$EVENTS]"
fi

# Workload table: name, system, database, script, events per transaction.
# The first system of a workload is eventstore; the others are baselines.
WORKLOADS=(
    "w1 es bench w1_es 1"          "w1 floor bench w1_floor 1"   "w1 sql bench w1_sql 1"
    "w2 es bench w2_es 1"          "w2 sql bench w2_sql 1"
    "w3 es bench w3_es 100"        "w3 insert bench w3_insert 100" "w3 sql bench w3_sql 100"
    "w4 es bench w4_es 3"          "w4 sql bench w4_sql 3"
    "w5 es bench w5_es 1000"       "w5 select bench w5_select 1000"
    "w6 es bench w6_es 1000"       "w6 select bench w6_select 1000"
    "w7 es-empty bench_empty w1_es 1" "w7 es-big bench_big w1_es 1"
    "w8 es-plain bench_plain w1_es 1" "w8 es-part bench_part w1_es 1"
)

RESULTS=$OUT/runs.tsv
printf 'rep\tworkload\tsystem\tclients\ttps\ttxns\tok\tlog\n' > "$RESULTS"
echo "== runs: $REPS repetitions x ${DURATION}s, clients: $CLIENTS (mode $MODE)"
[ "$FEED" = 0 ] && echo "   workload 6 skipped: es_load(after_position => ...) does not exist in this build"

run_one() {     # rep workload system db script clients
    local rep=$1 wl=$2 sys=$3 db=$4 script=$5 c=$6
    local tag="${wl}${sys//-/}r${rep}c${c}" j=2 out ok
    [ "$c" -lt 2 ] && j=1
    out=$("$PGBENCH" -n -M prepared -c "$c" -j "$j" -T "$DURATION" -d "$db" \
        -f "bench/scripts/$script.sql" --log --log-prefix="$OUT/logs/$tag" \
        -D n=0 -D run="$tag" -D data="$DATA" -D meta="$META" -D events="$EVENTS" \
        -D nstreams="$LOAD_STREAMS" -D maxpos="$MAXPOS" 2>&1) || {
        echo "$out" | tail -5 >&2; echo "pgbench failed: $tag" >&2; return 1; }
    if echo "$out" | grep -q "aborted"; then
        echo "$out" | grep -m3 -E "aborted|ERROR" >&2; echo "client aborted: $tag" >&2; return 1
    fi
    local tps txns
    tps=$(echo "$out" | sed -nE 's/^tps = ([0-9.]+) .*/\1/p')
    txns=$(echo "$out" | sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p')
    ok=$txns
    if [ "$wl" = w2 ]; then     # successful appends = the hot stream's final version
        if [ "$sys" = es ]; then
            ok=$($PSQL -At -d "$db" -c "SELECT eventstore.es_stream_version('hot-$tag')")
        else
            ok=$($PSQL -At -d "$db" -c "SELECT bench.sql_stream_version('hot-$tag')")
        fi
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$wl" "$sys" "$c" "$tps" "$txns" "$ok" "$tag" >> "$RESULTS"
    printf '   rep %s %-3s %-9s c=%-3s tps=%s\n' "$rep" "$wl" "$sys" "$c" "$tps"
}

for rep in $(seq 1 "$REPS"); do
    for wl in $ONLY; do
        [ "$wl" = w6 ] && [ "$FEED" = 0 ] && continue
        for c in $CLIENTS; do
            # This workload's contenders, started at a rotating offset (rep 1:
            # A B C, rep 2: B C A, ...) so that none always runs first.
            group=()
            for entry in "${WORKLOADS[@]}"; do
                [ "${entry%% *}" = "$wl" ] && group+=("$entry")
            done
            for i in $(seq 0 $(( ${#group[@]} - 1 ))); do
                set -- ${group[$(( (i + rep - 1) % ${#group[@]} ))]}
                run_one "$rep" "$1" "$2" "$3" "$4" "$c"
            done
        done
    done
done

# Describe the machine and the settings for the report.
{
    echo "cpus=$(nproc)"
    echo "cpu=$(sed -nE 's/^model name\s*: (.*)/\1/p' /proc/cpuinfo | head -1)"
    echo "memory=$(free -g | awk '/^Mem:/ {print $2}') GB"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "postgres=$($PSQL -At -d bench -c 'SHOW server_version')"
    echo "settings=$(printf '%s; ' "${SETTINGS[@]}")max_connections = 60; everything else initdb's default"
    echo "mode=$MODE"
    echo "duration=$DURATION"
    echo "reps=$REPS"
    echo "clients=$CLIENTS"
    echo "big_events=$BIG_EVENTS"
    echo "big_streams=$BIG_STREAMS"
    echo "load_streams=$LOAD_STREAMS"
    echo "feed=$FEED"
    echo "elapsed=$(( $(date +%s) - started ))"
} > "$OUT/machine.txt"

docs_args=()
[ "$WRITE_DOCS" = 1 ] && docs_args=(--docs "$ROOT/docs")
/usr/bin/env python3 bench/report.py "$OUT" "${docs_args[@]}"
echo "== results in $OUT ($(( $(date +%s) - started )) s)"
