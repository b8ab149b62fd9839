#!/usr/bin/env bash
# Subscriptions under load (issue 14): `make bench-subscriptions` (full) or
# `bench/subscriptions.sh --quick`.  A benchmark, not part of `make test`.
#
# Starts a throwaway cluster with default durability (fsync = on,
# synchronous_commit = on) and the settings of bench/run.sh, then
#  1. live: 16 writers append single events (one transaction each) while 8
#     subscribers follow the global feed, woken by es_wait, by LISTEN/NOTIFY
#     (the writers call pg_notify in their append transaction) or by a 10 ms
#     poll; plus the writers alone with and without pg_notify, and one writer
#     with one es_wait subscriber.  Phases interleaved over repetitions, in a
#     rotating order.  Reports commit-to-subscriber latency (p50, p99, max;
#     defined in bench/subscriptions/main.go and docs/benchmarks.md), writer
#     throughput and the cost of NOTIFY as a ratio.  Every subscriber must
#     see every appended position, in order, once: the run fails otherwise.
#  2. catch-up: a backlog loaded straight into eventstore.events (as
#     bench/run.sh's growth store), read whole in pages with es_load_feed and
#     with the plain SELECT ... WHERE position > $1 ORDER BY position LIMIT n,
#     in A B / B A order after a warm-up read; events/s and the ratio.  Each read must return
#     positions 1..N without a gap.
# The client is bench/subscriptions/main.go (Go, Debian's pgx v4, built
# offline).  Results: bench/results/subs-<time>/ (summary.md, phases.tsv,
# output.txt).
#
# Options:
#   --quick              3 s phases x 2 repetitions, backlog 200,000 events read
#                        twice: 1 to 2 minutes
#   --duration S         writing time per live phase in seconds (full: 15)
#   --reps N             repetitions of the live phases (full: 4)
#   --writers N          appending clients (16)
#   --subscribers N      subscribers (8)
#   --backlog N          events in the catch-up backlog (full: 10000000; 0 skips it)
#   --catchup-reps N     catch-up repetitions, each reads the backlog with both readers,
#                        after one read that is not counted (4)
#   --page N             page size of feed reads, live and catch-up (1000)
#   --rate N             live phases: the writers together append at most N
#                        events a second, paced (default 0: as fast as they
#                        can, which saturates two cores); the one-writer phase
#                        stays unpaced
#   --keep               leave the cluster running at the end
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ARGS="$*"
MODE=full; DURATION=15; REPS=4; WRITERS=16; SUBSCRIBERS=8; BACKLOG=10000000
CATCHUP_REPS=4; PAGE=1000; KEEP=0; RATE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) MODE=quick; DURATION=3; REPS=2; BACKLOG=200000; CATCHUP_REPS=2 ;;
        --duration) DURATION=$2; shift ;;
        --reps) REPS=$2; shift ;;
        --writers) WRITERS=$2; shift ;;
        --subscribers) SUBSCRIBERS=$2; shift ;;
        --backlog) BACKLOG=$2; shift ;;
        --catchup-reps) CATCHUP_REPS=$2; shift ;;
        --page) PAGE=$2; shift ;;
        --rate) RATE=$2; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
started=$(date +%s)

# A directory of its own (cluster, client build and Go cache), so that
# `make test` or bench/run.sh in the same tree do not remove it under our feet.
export TMP_CHECK=${BENCH_TMP:-$ROOT/tmp_bench_subs}
BENCH_KEEP=$KEEP BENCH_CLEANUP='rm -rf "$TMP_CHECK/subs"'
. bench/lib/cluster.sh
mkdir -p "$TMP_CHECK/build"

test/install-deps.sh >/dev/null || { echo "could not install dependencies" >&2; exit 1; }

echo "== build and install into tmp_install; build the client"
bench_build
CLIENT=$TMP_CHECK/build/subscriptions
(cd bench/subscriptions && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= \
    GOCACHE="$TMP_CHECK/build/gocache" go build -o "$CLIENT" .)

SETTINGS=("${BENCH_SETTINGS[@]}")
bench_start_cluster subs "${SETTINGS[@]}"

OUT=$ROOT/bench/results/subs-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
exec > >(tee -a "$OUT/output.txt") 2>&1

es_new_db subs
# The machine is shared: how busy it is before we start says how much of it
# others take (the live phases report the same figure while they run).
idle_busy=$("$CLIENT" cpu 5s)
echo "== machine CPU busy before the live phases (our cluster idle): $idle_busy %"
mode=$($PSQL -At -d subs -c "SELECT eventstore.es_feed_mode()")
[ "$mode" = concurrent ] || { echo "feed mode is $mode, not concurrent: is eventstore preloaded?" >&2; exit 1; }
echo "== live: $WRITERS writers, $SUBSCRIBERS subscribers, $REPS repetitions x ${DURATION}s per phase (feed mode: $mode)"
# The client shares the two cores with the server: its CPU time is reported.
/usr/bin/time -f "%U %S %e" -o "$OUT/client-live.time" "$CLIENT" live -db subs -writers "$WRITERS" -subscribers "$SUBSCRIBERS" -reps "$REPS" \
    -duration "${DURATION}s" -page "$PAGE" -rate "$RATE" -out "$OUT"
read -r cu cs ce < "$OUT/client-live.time"
client_cpu=$(awk -v u="$cu" -v s="$cs" -v e="$ce" 'BEGIN {printf "%.0f s user + %.0f s system in %.0f s, %.0f %% of one core", u, s, e, 100 * (u + s) / e}')
echo "   store after the live phases: $($PSQL -At -d subs -c "SELECT count(*) FROM eventstore.events") events; client CPU: $client_cpu"

if [ "$BACKLOG" -gt 0 ]; then
    es_new_db backlog
    echo "== catch-up: loading a backlog of $BACKLOG events"
    t0=$(date +%s)
    # Straight into the table as superuser, as bench/run.sh's growth store:
    # streams of 10 events, interleaved; time-ordered event ids; positions
    # 1..N without a gap.
    $PSQL -d backlog <<SQL
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, data, metadata, created_at)
SELECT g + 1, 'grow-' || (g % $(( (BACKLOG + 9) / 10 ))), g / $(( (BACKLOG + 9) / 10 )) + 1,
       ('00000000-0000-7000-8000-' || lpad(to_hex(g + 1), 12, '0'))::uuid, 'Deposited', 'grow',
       '{"amount": 100, "currency": "EUR", "account": "DE00 1234 5678", "note": "benchmark event"}'::jsonb,
       '{"correlation_id": "4f9c3c1e-5d2a-4a41-9f41-8a2f7c1d0e55"}'::jsonb, now()
FROM generate_series(0, $BACKLOG - 1) AS g;
VACUUM ANALYZE eventstore.events;
CHECKPOINT;
SQL
    load_s=$(( $(date +%s) - t0 ))
    size=$($PSQL -At -d backlog -c "SELECT pg_size_pretty(pg_total_relation_size('eventstore.events'))")
    catchup_busy=$("$CLIENT" cpu 5s)
    echo "   loaded in $load_s s; $size on disk; machine CPU busy before the reads (our idle cluster included): $catchup_busy %"
    echo "   reading it whole, $CATCHUP_REPS repetitions"
    "$CLIENT" catchup -db backlog -expect "$BACKLOG" -page "$PAGE" -reps "$CATCHUP_REPS" -out "$OUT"
fi

elapsed=$(( $(date +%s) - started ))
{
    echo "# Subscriptions under load, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- Command: \`bench/subscriptions.sh${ARGS:+ $ARGS}\`"
    echo "- Machine: $(nproc) CPUs ($(sed -nE 's/^model name\s*: (.*)/\1/p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/ {print $2}') GB memory, $(. /etc/os-release; echo "$PRETTY_NAME"), $(uname -sr)"
    echo "- PostgreSQL $($PSQL -At -d subs -c 'SHOW server_version'); settings: $(printf '%s; ' "${SETTINGS[@]}")max_connections = 60; everything else initdb's default"
    echo "- Live: $WRITERS writers, $SUBSCRIBERS subscribers, $REPS repetitions x ${DURATION} s per phase, feed pages of $PAGE, writers paced at $RATE appends/s in all (0: unpaced); the client (writers and subscribers) used $client_cpu; machine CPU busy before the live phases, our cluster idle: $idle_busy %"
    [ "$BACKLOG" -gt 0 ] && echo "- Catch-up: backlog of $BACKLOG events ($size, loaded in $load_s s), $CATCHUP_REPS repetitions, pages of $PAGE; machine CPU busy before the reads (our idle cluster included): $catchup_busy %"
    echo "- The whole run took $(( elapsed / 60 )) min $(( elapsed % 60 )) s"
    echo
    cat "$OUT/summary-live.md"
    if [ -f "$OUT/summary-catchup.md" ]; then echo; cat "$OUT/summary-catchup.md"; fi
} > "$OUT/summary.md"
echo "== results in $OUT ($elapsed s)"
