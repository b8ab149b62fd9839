#!/usr/bin/env bash
# The eventstore benchmark: `make bench` (full) or `bench/run.sh --quick`.
#
# Starts a throwaway cluster with default durability (fsync = on,
# synchronous_commit = on), runs every workload against its baselines in the
# same run, interleaved (A B C A B C ...) over several repetitions, and
# prints medians and ratios.  Each workload is a file bench/workloads/<name>.sh
# (its contenders, their pgbench scripts in bench/workloads/<name>/, the
# databases it needs, its targets); docs/benchmarks.md explains them and
# their fairness.  Results go to bench/results/<time>/ and, unless
# --no-docs, into docs/benchmarks.md and docs/bench-throughput.png.
#
# Options:
#   --quick            short runs (1 s x 3 repetitions, growth store 1M
#                      events / 100k streams): under 5 minutes
#   --duration S       seconds per pgbench run (full: 10)
#   --reps N           repetitions (full: 3)
#   --clients "1 4 16" client counts
#   --only "append-single read-stream"
#                      run only these workloads (names of bench/workloads/)
#   --big-events N     events in append-growth's store (full: 10000000)
#   --no-docs          do not update docs/
#   --keep             leave the cluster running at the end
#   --pg 15|17|18      the PostgreSQL major (default 15, the machine's);
#                      17 and 18 come from test/lib/fetch-pg.sh, with 15's
#                      pgbench and psql as clients; they imply --no-docs
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=full; DURATION=10; REPS=3; CLIENTS="1 4 16"; ONLY="append-single append-hot-stream append-batch append-multi-stream read-stream read-feed-page append-growth append-partitioned"
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
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
BIG_STREAMS=$((BIG_EVENTS / 10))      # 10 events per stream
LOAD_STREAMS=200                      # read-stream: 200 streams x 1,000 events
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# A cluster directory of its own, so `make test` in the same tree does not
# remove it under our feet.
export TMP_CHECK=${BENCH_TMP:-$ROOT/tmp_bench}
if [ "$PG" != 15 ]; then
    # Another major: its own server tree and private install.
    export PG_CONFIG; PG_CONFIG=$(test/lib/fetch-pg.sh "$PG")
    export TMP_INSTALL=$TMP_CHECK.install
    WRITE_DOCS=0
fi
for wl in $ONLY; do
    [ -f "bench/workloads/$wl.sh" ] || { echo "no workload $wl (bench/workloads/)" >&2; exit 2; }
done
BENCH_KEEP=$KEEP
. bench/lib/cluster.sh

test/install-deps.sh >/dev/null || { echo "could not install dependencies" >&2; exit 1; }
if ! command -v gnuplot >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null || true
    fi
fi

echo "== build and install into tmp_install"
bench_build

SETTINGS=("${BENCH_SETTINGS[@]}")
rm -rf "$TMP_CHECK"
bench_start_cluster bench "${SETTINGS[@]}"

OUT=$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT/logs"
[ "$(id -u)" = 0 ] && chown -R postgres "$TMP_CHECK" 2>/dev/null || true

echo "== databases"
bench_new_db bench
# The read workloads read from LOAD_STREAMS streams of 1,000 events whose
# events are interleaved in the heap (event i of every stream, then event
# i + 1, ...) as in a store where streams are written concurrently.
$PSQL -d bench <<SQL
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, data, metadata, created_at)
SELECT g + 1, 'load-' || (g % $LOAD_STREAMS + 1), g / $LOAD_STREAMS + 1,
       ('00000000-0000-7000-8000-' || lpad(to_hex(g + 1), 12, '0'))::uuid, 'Deposited', 'load',
       '$BENCH_DATA'::jsonb, '$BENCH_META'::jsonb, now()
FROM generate_series(0, $LOAD_STREAMS * 1000 - 1) AS g;
VACUUM ANALYZE eventstore.events;
SQL
MAXPOS=$(( LOAD_STREAMS * 1000 ))

# The workloads: each file sets WL_TITLE, WL_EVENTS (events per
# transaction), WL_CONTENDERS ("system database script", eventstore first,
# then its baselines), WL_TARGETS ("baseline minimum text": the median
# ratio at 16 clients must reach the minimum), WL_COST=1 when ratios are
# shown as costs (the baseline's rate over the contender's, the target then
# a maximum), and may define wl_setup (databases, loads: once, before the
# runs), wl_skip (prints why the workload cannot run in this build) and
# wl_successes DB SYSTEM RUN (the transactions that count, when not all).
# A setup may drop contenders it cannot serve (wl_drop_contenders SYSTEM...,
# e.g. Message DB when npm cannot fetch it); their targets are then skipped.
# run.sh writes them to workloads.tsv and targets.tsv for report.py.
WORKLOADS=()
declare -A SUCCESS_OF
printf 'workload\ttitle\tevents\tcost\tcontender\tbaselines\tskipped\tcounted\n' > "$OUT/workloads.tsv"
printf 'workload\tcontender\tbaseline\tminimum\ttext\n' > "$OUT/targets.tsv"
wl_drop_contenders() {
    local keep=() entry sys drop
    for entry in "${WL_CONTENDERS[@]}"; do
        sys=${entry%% *}; drop=0
        for d in "$@"; do [ "$sys" = "$d" ] && drop=1; done
        [ "$drop" = 1 ] || keep+=("$entry")
    done
    WL_CONTENDERS=("${keep[@]}")
}
RAN=""
for wl in $ONLY; do
    unset -f wl_setup wl_skip wl_successes
    WL_COST=0; WL_TARGETS=()
    . "bench/workloads/$wl.sh"
    skipped="" counted=0
    declare -F wl_skip >/dev/null && skipped=$(wl_skip)
    declare -F wl_successes >/dev/null && counted=1
    [ -z "$skipped" ] && declare -F wl_setup >/dev/null && wl_setup
    contender=${WL_CONTENDERS[0]%% *}; bases=""
    for entry in "${WL_CONTENDERS[@]:1}"; do bases="$bases ${entry%% *}"; done
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$WL_TITLE" "$WL_EVENTS" "$WL_COST" "$contender" "${bases# }" "$skipped" "$counted" \
        >> "$OUT/workloads.tsv"
    for t in "${WL_TARGETS[@]}"; do
        set -- $t; base=$1 min=$2; shift 2
        printf '%s\t%s\t%s\t%s\t%s\n' "$wl" "$contender" "$base" "$min" "$*" >> "$OUT/targets.tsv"
    done
    if [ -n "$skipped" ]; then echo "   $wl skipped: $skipped"; continue; fi
    if declare -F wl_successes >/dev/null; then
        # Kept under the workload's name, since the next file redefines it.
        eval "successes_$(echo "$wl" | tr - _)() $(declare -f wl_successes | tail -n +2)"
        SUCCESS_OF[$wl]=successes_$(echo "$wl" | tr - _)
    fi
    for entry in "${WL_CONTENDERS[@]}"; do WORKLOADS+=("$wl $entry"); done
    RAN="$RAN $wl"
done

# append-batch's 100 events as one JSON array.
DATA=$BENCH_DATA META=$BENCH_META
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

RESULTS=$OUT/runs.tsv
printf 'rep\tworkload\tsystem\tclients\ttps\ttxns\tok\tlog\n' > "$RESULTS"
echo "== runs: $REPS repetitions x ${DURATION}s, clients: $CLIENTS (mode $MODE)"

run_one() {     # rep workload system db script clients
    local rep=$1 wl=$2 sys=$3 db=$4 script=$5 c=$6
    # The run's tag names its streams: the workload's initials keep them as
    # short as they always were (append-single: "as").
    local short tag j=2 out ok
    short=$(echo "$wl" | sed -E 's/(^|-)([a-z])[a-z]*/\2/g')
    tag="${short}${sys//-/}r${rep}c${c}"
    [ "$c" -lt 2 ] && j=1
    out=$("$PGBENCH" -n -M prepared -c "$c" -j "$j" -T "$DURATION" -d "$db" \
        -f "bench/workloads/$script.sql" --log --log-prefix="$OUT/logs/$wl-$tag" \
        -D n=0 -D run="$tag" -D data="$BENCH_DATA" -D meta="$BENCH_META" -D events="$EVENTS" \
        -D nstreams="$LOAD_STREAMS" -D maxpos="$MAXPOS" 2>&1) || {
        echo "$out" | tail -5 >&2; echo "pgbench failed: $tag" >&2; return 1; }
    if echo "$out" | grep -q "aborted"; then
        echo "$out" | grep -m3 -E "aborted|ERROR" >&2; echo "client aborted: $tag" >&2; return 1
    fi
    local tps txns
    tps=$(echo "$out" | sed -nE 's/^tps = ([0-9.]+) .*/\1/p')
    txns=$(echo "$out" | sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p')
    ok=$txns
    [ -n "${SUCCESS_OF[$wl]:-}" ] && ok=$(${SUCCESS_OF[$wl]} "$db" "$sys" "$tag")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$wl" "$sys" "$c" "$tps" "$txns" "$ok" "$wl-$tag" >> "$RESULTS"
    printf '   rep %s %-19s %-9s c=%-3s tps=%s\n' "$rep" "$wl" "$sys" "$c" "$tps"
}

for rep in $(seq 1 "$REPS"); do
    for wl in $RAN; do
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
    echo "elapsed=$(( $(date +%s) - started ))"
    # The machine may be shared: how busy it was says how far to trust the
    # absolute rates (the ratios are measured back to back).
    echo "load=$load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
} > "$OUT/machine.txt"

docs_args=()
[ "$WRITE_DOCS" = 1 ] && docs_args=(--docs "$ROOT/docs")
/usr/bin/env python3 bench/report.py "$OUT" "${docs_args[@]}"
echo "== results in $OUT ($(( $(date +%s) - started )) s)"
