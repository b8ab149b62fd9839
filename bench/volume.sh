#!/usr/bin/env bash
# Flat costs at volume (issue 14 item 4): `make bench-volume` or
# `bench/volume.sh --quick`.  A long benchmark of its own, not part of
# `make bench` or `make test`.
#
# Builds three stores with one generator, in a throwaway cluster:
#   empty   no events;
#   small   1,000,000 events (--quick: 200,000) in a tenth as many streams;
#   big     --events N (default 50,000,000) in --streams M (default 5,000,000).
# Both loaded stores hold the same kinds of events: streams of ten events,
# interleaved (event v of every stream, then v + 1, ...), plus NLONG streams
# of 1,000 events spread evenly over the whole position range, time-ordered
# UUIDv7-like ids, five categories, typed events, a 150-byte JSON payload
# and metadata with a correlation and a causation id.  They are written
# straight into eventstore.events by INSERT ... SELECT as a superuser, in
# chunks, then VACUUM ANALYZE and CHECKPOINT.
#
# Then, in the same run, repetitions interleaved and the order rotated:
#   appends   pgbench tps of single-event es_append, empty store against big
#             store: to a new stream (expected version 0), to the client's own
#             stream (workload 1's exact expected version), and, in the big
#             store, to a random loaded stream (against the empty store's own-
#             stream figure: nothing old exists there);
#   reads     pgbench tps of es_load of a 1,000-event stream and of a feed page
#             of 1,000 events in the middle and at the head, small store
#             against big store;
#   disk      heap + toast + every index of eventstore.events per event, against
#             a table shaped like Message DB's message_store.messages holding
#             the same events (loaded after the big store is dropped);
# and prints each cost ratio against its target (1.2 x) with PASS or MISS.
# Cost ratio = tps of the reference store / tps of the big store.
#
# Options:
#   --events N         events in the big store (default 50000000)
#   --streams M        streams in the big store (default N / 10)
#   --quick            2,000,000 events, 200,000 streams, 3 s x 2 repetitions
#   --duration S       seconds per pgbench run (default 10)
#   --reps R           repetitions (default 3)
#   --clients C        pgbench clients for appends (default 4; reads use 2)
#   --layout L         plain, partitioned, both (default), or none (only the
#                      Message DB-shaped table's bytes per event): partitioned
#                      creates every store with eventstore.partition_size = P
#                      (docs/partitioning.md), makes its partitions before the
#                      load and times one es_archive_events of the oldest
#                      partition of the big store
#   --partition-size P positions per partition (default events / 10)
#   --mdb-store S      which store's events the Message DB-shaped table holds:
#                      big (default) or small (for a run short of time: per-
#                      event sizes hardly depend on the store's size, compare
#                      the two stores' figures)
#   --no-mdb           skip the Message DB-shaped table
#   --no-instructions  skip the instruction counts of appends (callgrind, as
#                      bench/profile.sh: machine noise does not move them)
#   --chunk K          events per loading transaction (default 2500000)
#   --jobs J           loading sessions at a time (default 1: two sessions
#                      interleave their inserts into the position-ordered
#                      indexes and leave their pages half full)
#   --quiet L          before each layout's measurements (after its loads),
#                      wait until the 1-minute load average is below L (at
#                      most 45 minutes): loads are not measured and may share
#                      the machine, measurements should not; off by default
#   --keep             leave the cluster running at the end
# Results: bench/results/volume-<time>/ (summary.txt, runs.tsv, sizes.tsv).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARGS="$*"

EVENTS=50000000; STREAMS=; DURATION=10; REPS=3; CLIENTS=4; READ_CLIENTS=2
LAYOUT=both; PSIZE=; MDB=1; MDB_STORE=big; INSTRUCTIONS=1; CHUNK=2500000; JOBS=1; KEEP=0; MODE=full
SMALL=1000000; NLONG=10; QUIET=
while [ $# -gt 0 ]; do
    case "$1" in
        --events) EVENTS=$2; shift ;;
        --streams) STREAMS=$2; shift ;;
        --quick) MODE=quick; EVENTS=2000000; STREAMS=200000; DURATION=3; REPS=2; SMALL=200000; CHUNK=500000 ;;
        --duration) DURATION=$2; shift ;;
        --reps) REPS=$2; shift ;;
        --clients) CLIENTS=$2; shift ;;
        --layout) LAYOUT=$2; shift ;;
        --partition-size) PSIZE=$2; shift ;;
        --mdb-store) MDB_STORE=$2; shift ;;
        --no-mdb) MDB=0 ;;
        --no-instructions) INSTRUCTIONS=0 ;;
        --chunk) CHUNK=$2; shift ;;
        --jobs) JOBS=$2; shift ;;
        --quiet) QUIET=$2; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
STREAMS=${STREAMS:-$((EVENTS / 10))}
case $MDB_STORE in big) MDB_EVENTS=$EVENTS; MDB_STREAMS=$STREAMS ;; small) MDB_EVENTS=$SMALL; MDB_STREAMS=$((SMALL / 10)) ;;
    *) echo "--mdb-store: big or small" >&2; exit 2 ;; esac
PSIZE=${PSIZE:-$((EVENTS / 10))}
case $LAYOUT in plain) LAYOUTS=plain ;; partitioned) LAYOUTS=partitioned ;; both) LAYOUTS="plain partitioned" ;;
    none) LAYOUTS=""; [ "$MDB" = 1 ] || { echo "--layout none measures the Message DB-shaped table only" >&2; exit 2; } ;;
    *) echo "--layout: plain, partitioned, both or none" >&2; exit 2 ;; esac
[ "$EVENTS" -ge $((NLONG * 1000 * 10)) ] && [ "$STREAMS" -gt "$NLONG" ] ||
    { echo "need at least $((NLONG * 10000)) events and more than $NLONG streams" >&2; exit 2; }
started=$(date +%s)
command -v valgrind >/dev/null || INSTRUCTIONS=0

export TMP_CHECK=${BENCH_TMP:-$ROOT/tmp_bench_volume}
BENCH_KEEP=$KEEP BENCH_CLEANUP='rm -rf "$TMP_CHECK"'
. bench/lib/cluster.sh
echo "== build and install into tmp_install"
bench_build

# run.sh's settings, plus memory for VACUUM and no autovacuum: every store is
# vacuumed once after its load, and an autovacuum of a 20 GB table in the
# middle of a measurement on two cores would measure the autovacuum.
SETTINGS=("${BENCH_SETTINGS[@]}"
    "maintenance_work_mem = 1GB"
    "autovacuum = off"
)
rm -rf "$TMP_CHECK"
bench_start_cluster vol "${SETTINGS[@]}"
OUT=$ROOT/bench/results/volume-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
say() { echo "$*" | tee -a "$SUMMARY"; }
RUNS=$OUT/runs.tsv; SIZES=$OUT/sizes.tsv; INSTR=$OUT/instructions.tsv
: > "$INSTR"
printf 'layout\trep\tworkload\tstore\tclients\ttps\n' > "$RUNS"
printf 'layout\tstore\trelation\tkind\tbytes\tevents\n' > "$SIZES"

need=$(( EVENTS * 750 / 1000000000 + 12 ))         # GB: the big store, WAL, headroom
free=$(df -BG --output=avail "$TMP_CHECK" | tail -1 | tr -dc 0-9)
say "== volume benchmark: $EVENTS events in $STREAMS streams (small store $SMALL), layout $LAYOUT, mode $MODE"
say "   $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB RAM, ${free} GB free on $(df --output=target "$TMP_CHECK" | tail -1), about ${need} GB needed at the peak"
[ "$free" -ge "$need" ] || { echo "not enough free disk" >&2; exit 1; }

CATS="ARRAY['account', 'order', 'payment', 'shipment', 'customer']"
VERBS="ARRAY['Opened', 'Updated', 'ItemAdded', 'Deposited', 'Withdrawn', 'Confirmed', 'Shipped', 'Closed']"

# gen_select LO HI TOTAL NSTREAMS: the SELECT of events LO..HI (0-based) of a
# store of TOTAL events in NSTREAMS streams, NLONG of them 1,000 events long.
# Every K-th position belongs to a long stream (stream j % NLONG, version
# j / NLONG + 1 for the j-th such position); the others go round the short
# streams (stream i % S, version i / S + 1 for the i-th), so every stream's
# versions are dense and streams are interleaved.  Positions start at 1;
# created_at advances 10 ms per event from 2025-01-01, and the event id's
# first 48 bits are that time in ms, as in a UUIDv7.
gen_select() {
    local lo=$1 hi=$2 total=$3 nstreams=$4
    local k=$(( total / (NLONG * 1000) )) s=$(( nstreams - NLONG ))
    cat <<SQL
SELECT g + 1 AS position, c.cat || '-' || c.no AS stream, c.version,
       (lpad(to_hex(1735689600000 + g * 10), 12, '0') || '7' || substr(c.h, 1, 3) || '8' || substr(c.h, 4, 15))::uuid AS event_id,
       initcap(c.cat) || ($VERBS)[c.version % 8 + 1] AS type, c.cat AS category,
       jsonb_build_object('amount', ((g * 7919) % 100000) / 100.0, 'currency', 'EUR',
                          'account', 'DE' || lpad((g % 99991)::text, 8, '0'), 'reference', 'INV-' || substr(c.h, 20, 10),
                          'note', 'volume benchmark event') AS data,
       jsonb_build_object('correlation_id', md5(c.cat || c.no)::uuid,
                          'causation_id', (lpad(to_hex(1735689600000 + (g - 1) * 10), 12, '0') || '7' || substr(md5((g - 1)::text), 1, 3) || '8' || substr(md5((g - 1)::text), 4, 15))::uuid,
                          'user', 'user-' || (g % 1000), 'source', 'web') AS metadata,
       timestamptz '2025-01-01 00:00:00+00' + g * interval '10 ms' AS created_at
FROM generate_series($lo::bigint, $hi::bigint) AS g,
LATERAL (SELECT md5(g::text) AS h,
                CASE WHEN g % $k = 0 THEN 'ledger' ELSE ($CATS)[(g - g / $k - 1) % $s % 5 + 1] END AS cat,
                CASE WHEN g % $k = 0 THEN (g / $k) % $NLONG ELSE (g - g / $k - 1) % $s END AS no,
                CASE WHEN g % $k = 0 THEN (g / $k) / $NLONG + 1 ELSE (g - g / $k - 1) / $s + 1 END AS version) AS c
SQL
}

HAS_PARTITION=0
layout_available() {     # layout_available DB: sets HAS_PARTITION (0 or 1)
    HAS_PARTITION=$($PSQL -At -d "$1" -c "SELECT count(*) FROM pg_proc
        WHERE proname = 'es_make_partitions' AND pronamespace = 'eventstore'::regnamespace")
}

# new_store DB LAYOUT: a fresh database with the extension, partitioned on request
new_store() {
    if [ "$2" = partitioned ]; then
        PGOPTIONS="-c eventstore.partition_size=$PSIZE" es_new_db "$1"
    else
        es_new_db "$1"
    fi
}

# load_chunks DB TOTAL NSTREAMS PREFIX SUFFIX: the generator's events in
# chunks of CHUNK per transaction, JOBS sessions at a time (each takes every
# JOBS-th chunk), wrapped by PREFIX (the INSERT INTO ... line) and SUFFIX
load_chunks() {
    local db=$1 total=$2 nstreams=$3 prefix=$4 suffix=$5 job pids=() pid failed=0
    for (( job = 0; job < JOBS; job++ )); do
        (
            local lo hi t1
            for (( lo = job * CHUNK; lo < total; lo += JOBS * CHUNK )); do
                hi=$(( lo + CHUNK - 1 )); [ "$hi" -ge "$total" ] && hi=$(( total - 1 ))
                t1=$(date +%s)
                { echo "$prefix"; gen_select "$lo" "$hi" "$total" "$nstreams"; echo "$suffix;"; } | $PSQL -d "$db"
                echo "   $db: events $((lo + 1)) to $((hi + 1)) of $total ($(( $(date +%s) - t1 )) s, $(date -u +%H:%M:%S) UTC)"
            done
        ) &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [ "$failed" = 0 ] || { echo "loading $db failed" >&2; exit 1; }
}

# load_store DB TOTAL NSTREAMS: a store's events, then VACUUM ANALYZE, CHECKPOINT
load_store() {
    local db=$1 total=$2 nstreams=$3 t0 t1
    # A partitioned store needs its partitions before rows are inserted by hand.
    if [ "$($PSQL -At -d "$db" -c "SELECT relkind FROM pg_class WHERE oid = 'eventstore.events'::regclass")" = p ]; then
        # At most 100 partitions a call (docs/partitioning.md, "Bulk loads"), each its own transaction.
        local upto
        for (( upto = 100 * PSIZE; ; upto += 100 * PSIZE )); do
            [ "$upto" -gt $(( total + 1000 )) ] && upto=$(( total + 1000 ))
            $PSQL -d "$db" -c "SELECT eventstore.es_make_partitions($upto)" >/dev/null
            [ "$upto" -ge $(( total + 1000 )) ] && break
        done
    fi
    t0=$(date +%s)
    load_chunks "$db" "$total" "$nstreams" \
        "INSERT INTO eventstore.events (position, stream, version, event_id, type, category, data, metadata, created_at)" ""
    t1=$(date +%s)
    $PSQL -d "$db" -c "VACUUM ANALYZE eventstore.events" -c "CHECKPOINT"
    say "   $db: $total events in $nstreams streams loaded in $(( t1 - t0 )) s ($JOBS sessions), VACUUM ANALYZE + CHECKPOINT $(( $(date +%s) - t1 )) s"
}

# sizes DB LAYOUT STORE: every relation of schema eventstore that holds data
# (the partitions of eventstore.events count as the table), with its indexes
sizes() {
    local db=$1 layout=$2 store=$3 n
    n=$($PSQL -At -d "$db" -c "SELECT count(*) FROM eventstore.events")
    $PSQL -At -F $'\t' -d "$db" <<SQL | sed "s/^/$layout\t$store\t/; s/\$/\t$n/" >> "$SIZES"
WITH tabs AS (
    SELECT c.oid, c.relname,
           coalesce((SELECT 'events' FROM pg_partition_ancestors(c.oid) a
                     WHERE a.relid = 'eventstore.events'::regclass LIMIT 1), c.relname) AS tab
    FROM pg_class c
    WHERE c.relnamespace = 'eventstore'::regnamespace AND c.relkind IN ('r', 'p')
)
SELECT t.tab, 'heap+toast', sum(pg_table_size(t.oid)) FROM tabs t GROUP BY t.tab
UNION ALL
SELECT t.tab, 'index ' || regexp_replace(i.relname, '^' || t.relname || '_', ''), pg_relation_size(x.indexrelid)
FROM tabs t JOIN pg_index x ON x.indrelid = t.oid JOIN pg_class i ON i.oid = x.indexrelid
ORDER BY 1, 2;
SQL
}

# pgbench run: LAYOUT REP WORKLOAD STORE DB SCRIPT CLIENTS EXTRA...
bench_one() {
    local layout=$1 rep=$2 wl=$3 store=$4 db=$5 script=$6 c=$7; shift 7
    local out tps j=2
    [ "$c" -lt 2 ] && j=1
    out=$("$PGBENCH" -n -M prepared -c "$c" -j "$j" -T "$DURATION" -d "$db" -f "bench/volume/$script.sql" \
        -D n=0 -D run="${layout:0:1}$rep$store" -D data="$DATA" -D meta="$META" "$@" 2>&1) || {
        echo "$out" | tail -5 >&2; echo "pgbench failed: $wl $store" >&2; return 1; }
    if echo "$out" | grep -q "aborted"; then
        echo "$out" | grep -m3 -E "aborted|ERROR" >&2; echo "client aborted: $wl $store" >&2; return 1
    fi
    tps=$(echo "$out" | sed -nE 's/^tps = ([0-9.]+) .*/\1/p')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$layout" "$rep" "$wl" "$store" "$c" "$tps" >> "$RUNS"
    printf '   %-11s rep %s %-12s %-6s c=%s tps=%s\n' "$layout" "$rep" "$wl" "$store" "$c" "$tps"
}

DATA='{"amount": 100.00, "currency": "EUR", "account": "DE00012345", "reference": "INV-4f9c3c1e5d", "note": "volume benchmark event"}'
META='{"correlation_id": "4f9c3c1e-5d2a-4a41-9f41-8a2f7c1d0e55", "causation_id": "0194f5c3-2a10-7b3c-8d4e-5f6a7b8c9d0e", "user": "user-42", "source": "web"}'

median() {      # median LAYOUT WORKLOAD STORE
    awk -F'\t' -v l="$1" -v w="$2" -v s="$3" '$1 == l && $3 == w && $4 == s {print $6}' "$RUNS" | sort -g |
        awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# verdict LABEL REF BIG TARGET [cost]: a cost ratio against its target; REF
# and BIG are rates (tps: ratio REF / BIG), or costs with "cost" (BIG / REF)
verdict() {
    awk -v lab="$1" -v a="$2" -v b="$3" -v t="$4" -v cost="${5:-}" 'BEGIN {
        if (a == "nan" || b == "nan" || a == 0 || b == 0) { printf "%-58s not measured\n", lab; exit }
        r = (cost == "cost") ? b / a : a / b; printf "%-58s %9.1f %9.1f   %5.2f x  (target <= %.1f x) %s\n", lab, a, b, r, t, (r <= t ? "PASS" : "MISS") }' |
        tee -a "$SUMMARY"
}

bytes_of() {    # bytes_of LAYOUT STORE TABLE [KIND-PREFIX]
    awk -F'\t' -v l="$1" -v s="$2" -v t="$3" -v k="${4:-}" '$1 == l && $2 == s && $3 == t && index($4, k) == 1 {b += $5}
        END {printf "%.0f\n", b}' "$SIZES"
}

# instructions DB KIND N TAG: callgrind's total for a single-user backend
# that runs N prepared single-event appends of KIND (new, own, old), one
# transaction each, as bench/profile.sh does; the cluster must be stopped.
instructions() {
    local db=$1 kind=$2 n=$3 tag=$4 i k f=$TMP_CHECK/cg.$1.$2.$3
    {
        case $kind in
            new) echo "PREPARE a(text, bigint) AS SELECT * FROM eventstore.es_append(\$1, 'AccountOpened', '$DATA', expected_version => \$2, metadata => '$META');" ;;
            own) echo "PREPARE a(text, bigint) AS SELECT * FROM eventstore.es_append(\$1, 'Deposited', '$DATA', expected_version => \$2, metadata => '$META');" ;;
            old) echo "PREPARE a(text, bigint) AS SELECT * FROM eventstore.es_append(\$1, 'Deposited', '$DATA', metadata => '$META');" ;;
        esac
        for (( i = 0; i < n; i++ )); do
            case $kind in
                new) echo "EXECUTE a('fresh-$tag-$i', 0);" ;;
                own) echo "EXECUTE a('acct-$tag-$(( i / 100 ))', $(( i % 100 )));" ;;
                old) k=$(( (RANDOM * 32768 + RANDOM) % (STREAMS - NLONG) ))
                     echo "EXECUTE a('$(echo account order payment shipment customer | cut -d' ' -f$(( k % 5 + 1 )))-$k', NULL);" ;;
            esac
        done
    } > "$f.in"
    chmod 644 "$f.in"
    as_pg valgrind --tool=callgrind --callgrind-out-file="$f.out" --trace-children=no \
        "$PGBIN/postgres" --single -D "$TMP_CHECK/vol" -c shared_preload_libraries=eventstore -c shared_buffers=1GB "$db" \
        < "$f.in" > "$f.log" 2>&1
    if grep -q ERROR "$f.log"; then grep -m3 ERROR "$f.log" >&2; return 1; fi
    callgrind_annotate "$f.out" 2>/dev/null | sed -nE 's/^([0-9,]+) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
}

# Instructions per append (the difference between 1,200 and 200 appends, so
# start-up and the first calls' catalog loading drop out): layout INSTR.tsv
instruction_counts() {
    local layout=$1 kind store db a b
    es_stop_cluster vol
    for kind in new own old; do
        for store in empty big; do
            [ "$kind" = old ] && [ "$store" = empty ] && continue
            db=vol_$store
            a=$(instructions "$db" "$kind" 200 "i${layout:0:1}a") && b=$(instructions "$db" "$kind" 1200 "i${layout:0:1}b") || {
                say "   instructions: valgrind run failed ($kind, $store)"; continue; }
            printf '%s\t%s\t%s\t%s\n' "$layout" "append-$kind" "$store" $(( (b - a) / 1000 )) >> "$INSTR"
            printf '   %-11s instructions per append %-10s %-6s %d\n' "$layout" "$kind" "$store" $(( (b - a) / 1000 ))
        done
    done
    rm -f "$TMP_CHECK"/cg.*
    as_pg "$PGBIN/pg_ctl" -D "$TMP_CHECK/vol" -l "$TMP_CHECK/vol.log" -w start >/dev/null
}

# Wait for a quiet machine (--quiet): the load average the measurements
# start at goes into the summary either way.
wait_quiet() {
    local waited=0 load
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [ -n "$QUIET" ]; then
        while awk -v l="$load" -v q="$QUIET" 'BEGIN {exit !(l >= q)}' && [ "$waited" -lt 2700 ]; do
            sleep 15; waited=$((waited + 15)); load=$(cut -d' ' -f1 /proc/loadavg)
        done
    fi
    say "   measurements start at load average $load (waited ${waited} s for a quiet machine)"
}

ARCHIVE_S=""
run_layout() {
    local layout=$1 rep big_tail feed_mid
    say ""
    say "== layout: $layout"
    if [ "$layout" = partitioned ]; then
        es_new_db vol_probe
        layout_available vol_probe
        $PSQL -d postgres -c "DROP DATABASE vol_probe" >/dev/null
        if [ "$HAS_PARTITION" = 0 ]; then
            say "partitioned layout: not available in this build"
            return 0
        fi
    fi
    new_store vol_empty "$layout"
    new_store vol_small "$layout"
    load_store vol_small "$SMALL" $(( SMALL / 10 ))
    new_store vol_big "$layout"
    load_store vol_big "$EVENTS" "$STREAMS"
    sizes vol_small "$layout" small
    sizes vol_big "$layout" big
    wait_quiet

    # Reads first, while the heads are where the loads left them.
    big_tail=$(( EVENTS - 1000 ))
    for rep in $(seq 1 "$REPS"); do
        for wl in stream feed-middle feed-head; do
            local order=("small vol_small $SMALL" "big vol_big $EVENTS")
            [ $(( rep % 2 )) = 0 ] && order=("big vol_big $EVENTS" "small vol_small $SMALL")
            for entry in "${order[@]}"; do
                set -- $entry
                case $wl in
                    stream) bench_one "$layout" "$rep" "$wl" "$1" "$2" read-stream "$READ_CLIENTS" -D nlong="$NLONG" ;;
                    # The same 100,000 positions' worth of pages in the middle of either store.
                    feed-middle) bench_one "$layout" "$rep" "$wl" "$1" "$2" read-feed-page "$READ_CLIENTS" \
                        -D lo=$(( $3 / 2 )) -D hi=$(( $3 / 2 + 100000 )) ;;
                    feed-head) bench_one "$layout" "$rep" "$wl" "$1" "$2" read-feed-page "$READ_CLIENTS" \
                        -D lo=$(( $3 - 1000 )) -D hi=$(( $3 - 1000 )) ;;
                esac
            done
        done
    done
    # Appends: empty store against the big one.
    for rep in $(seq 1 "$REPS"); do
        for wl in new own; do
            local order=("empty vol_empty" "big vol_big")
            [ $(( rep % 2 )) = 0 ] && order=("big vol_big" "empty vol_empty")
            for entry in "${order[@]}"; do
                set -- $entry
                bench_one "$layout" "$rep" "append-$wl" "$1" "$2" "append-$wl-stream" "$CLIENTS"
            done
        done
        bench_one "$layout" "$rep" append-old big vol_big append-old-stream "$CLIENTS" -D nshort=$(( STREAMS - NLONG ))
    done
    [ "$INSTRUCTIONS" = 1 ] && instruction_counts "$layout"

    if [ "$layout" = partitioned ]; then
        # The oldest partition's upper bound (FOR VALUES FROM (a) TO (b)).
        local bound t0
        bound=$($PSQL -At -d vol_big -c "SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''?(-?[0-9]+)'))[1]::bigint AS hi
            FROM pg_partition_tree('eventstore.events') t JOIN pg_class c ON c.oid = t.relid
            WHERE t.isleaf AND c.relpartbound IS NOT NULL ORDER BY hi LIMIT 1")
        t0=$(date +%s.%N)
        $PSQL -d vol_big -c "SELECT eventstore.es_archive_events(before_position => $bound)"
        ARCHIVE_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
        say "   es_archive_events(before_position => $bound): $ARCHIVE_S s"
    fi
    $PSQL -d postgres -c "DROP DATABASE vol_empty" -c "DROP DATABASE vol_small" -c "DROP DATABASE vol_big" >/dev/null
}

for layout in $LAYOUTS; do run_layout "$layout"; done

# The Message DB-shaped table: the same events, Message DB's columns and
# indexes (database/tables/messages.sql and database/indexes/ of
# message-db/message-db): a primary key on global_position, unique on id,
# unique on (stream_name, position, category of metadata's
# correlationStreamName), and (category(stream_name), global_position,
# category of correlationStreamName).  Message DB's category() is PL/pgSQL;
# an SQL function gives the same index entries and loads faster.  Message DB
# counts stream positions from 0.  In a database without the extension.
if [ "$MDB" = 1 ]; then
    say ""
    say "== Message DB-shaped table, the same $MDB_EVENTS events as the $MDB_STORE store"
    $PSQL -d postgres -c "CREATE DATABASE vol_mdb" >/dev/null
    $PSQL -d vol_mdb <<'SQL'
CREATE SCHEMA message_store;
CREATE FUNCTION message_store.category(stream_name text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT split_part(stream_name, '-', 1) $$;
CREATE TABLE message_store.messages (
    global_position bigserial NOT NULL,
    position        bigint    NOT NULL,
    id              uuid      NOT NULL DEFAULT gen_random_uuid(),
    time            timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    stream_name     text      NOT NULL,
    type            text      NOT NULL,
    data            jsonb,
    metadata        jsonb,
    PRIMARY KEY (global_position)
);
CREATE UNIQUE INDEX messages_id ON message_store.messages (id);
CREATE UNIQUE INDEX messages_stream ON message_store.messages
    (stream_name, position, message_store.category(metadata ->> 'correlationStreamName'));
CREATE INDEX messages_category ON message_store.messages
    (message_store.category(stream_name), global_position, message_store.category(metadata ->> 'correlationStreamName'));
SQL
    t0=$(date +%s)
    load_chunks vol_mdb "$MDB_EVENTS" "$MDB_STREAMS" \
        "INSERT INTO message_store.messages (global_position, position, id, time, stream_name, type, data, metadata)
         SELECT position, version - 1, event_id, created_at AT TIME ZONE 'utc', stream, type, data, metadata FROM (" ") AS e"
    t1=$(date +%s)
    $PSQL -d vol_mdb -c "SELECT setval('message_store.messages_global_position_seq', $MDB_EVENTS)" \
        -c "VACUUM ANALYZE message_store.messages" -c "CHECKPOINT" >/dev/null
    say "   loaded in $(( t1 - t0 )) s, VACUUM ANALYZE + CHECKPOINT $(( $(date +%s) - t1 )) s"
    $PSQL -At -F $'\t' -d vol_mdb <<SQL | sed "s/^/mdb\t$MDB_STORE\tmessages\t/; s/\$/\t$MDB_EVENTS/" >> "$SIZES"
SELECT 'heap+toast', pg_table_size('message_store.messages')
UNION ALL
SELECT 'index ' || i.relname, pg_relation_size(x.indexrelid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = 'message_store.messages'::regclass;
SQL
    $PSQL -d postgres -c "DROP DATABASE vol_mdb" >/dev/null
fi

# Report.
say ""
say "== results: median tps of $REPS x ${DURATION} s; cost ratio = reference tps / big-store tps ($(nproc) shared cores: expect noise)"
for layout in $LAYOUTS; do
    [ -n "$(awk -F'\t' -v l="$layout" '$1 == l' "$RUNS")" ] || continue
    say ""
    say "layout $layout                                                   reference       big   ratio"
    verdict "append, new stream (empty store vs $EVENTS events)" "$(median "$layout" append-new empty)" "$(median "$layout" append-new big)" 1.2
    verdict "append, own stream (empty store vs $EVENTS events)" "$(median "$layout" append-own empty)" "$(median "$layout" append-own big)" 1.2
    verdict "append, random old stream (vs empty store's own stream)" "$(median "$layout" append-own empty)" "$(median "$layout" append-old big)" 1.2
    for kind in new own old; do
        [ "$kind" = old ] && ref_kind=own || ref_kind=$kind
        a=$(awk -F'\t' -v l="$layout" -v w="append-$ref_kind" '$1 == l && $2 == w && $3 == "empty" {print $4}' "$INSTR")
        b=$(awk -F'\t' -v l="$layout" -v w="append-$kind" '$1 == l && $2 == w && $3 == "big" {print $4}' "$INSTR")
        [ -n "$a" ] && [ -n "$b" ] && verdict "  instructions per append, $kind stream (callgrind)" "$a" "$b" 1.2 cost
    done
    verdict "es_load of a 1,000-event stream ($SMALL vs $EVENTS)" "$(median "$layout" stream small)" "$(median "$layout" stream big)" 1.2
    verdict "feed page of 1,000, middle ($SMALL vs $EVENTS)" "$(median "$layout" feed-middle small)" "$(median "$layout" feed-middle big)" 1.2
    verdict "feed page of 1,000, head ($SMALL vs $EVENTS)" "$(median "$layout" feed-head small)" "$(median "$layout" feed-head big)" 1.2
done
say ""
if [ -n "$(awk -F'\t' '$1 == "partitioned"' "$RUNS")" ] && [ -n "$(awk -F'\t' '$1 == "plain"' "$RUNS")" ]; then
    # Throughput ratio: partitioned tps / unpartitioned tps, at least 0.9.
    for wl in new own; do
        awk -v lab="appends ($wl stream), partitioned / unpartitioned, big store" \
            -v a="$(median partitioned append-$wl big)" -v b="$(median plain append-$wl big)" 'BEGIN {
            r = a / b; printf "%-58s %9.1f %9.1f   %5.2f x  (target >= 0.9 x) %s\n", lab, a, b, r, (r >= 0.9 ? "PASS" : "MISS") }' | tee -a "$SUMMARY"
    done
else
    say "appends, partitioned / unpartitioned (target >= 0.9 x): not measured"
fi
[ -n "$ARCHIVE_S" ] && say "archive one partition (es_archive_events): $ARCHIVE_S s" || say "archive one partition: not measured"

say ""
say "bytes on disk per event (heap + toast + indexes; pg_table_size + pg_relation_size of each index)"
for layout in $LAYOUTS mdb; do
    for store in small big; do
        if [ "$layout" = mdb ]; then tab=messages; else tab=events; fi
        n=$(awk -F'\t' -v l="$layout" -v s="$store" '$1 == l && $2 == s {print $6; exit}' "$SIZES")
        [ -n "$n" ] || continue
        heap=$(bytes_of "$layout" "$store" "$tab" heap); idx=$(bytes_of "$layout" "$store" "$tab" index)
        awk -v lab="$layout $store ($tab, $n events)" -v h="$heap" -v i="$idx" -v n="$n" 'BEGIN {
            printf "%-44s heap %6.1f  indexes %6.1f  total %6.1f bytes/event = %6.0f GB per billion events\n",
                   lab, h / n, i / n, (h + i) / n, (h + i) / n}' | tee -a "$SUMMARY"
        # One line per index, a partitioned table's partitions summed.
        awk -F'\t' -v l="$layout" -v s="$store" -v t="$tab" -v n="$n" '$1 == l && $2 == s && $3 == t && $4 ~ /^index/ {
            if (!($4 in b)) order[++k] = $4; b[$4] += $5 }
            END {for (i = 1; i <= k; i++) printf "      %-40s %6.1f bytes/event\n", order[i], b[order[i]] / n}' "$SIZES" | tee -a "$SUMMARY"
        # Everything else of the schema (empty here unless a layout adds
        # tables that grow with the events, such as an event id table).
        [ "$tab" = events ] && awk -F'\t' -v l="$layout" -v s="$store" -v n="$n" '$1 == l && $2 == s {b += $5}
            END {printf "      %-40s %6.1f bytes/event\n", "all of schema eventstore", b / n}' "$SIZES" | tee -a "$SUMMARY"
    done
done
{
    echo "command: bench/volume.sh $ARGS"
    echo "postgres: $($PGBIN/postgres --version)"
    echo "settings: $(printf '%s; ' "${SETTINGS[@]}")"
    echo "wall time: $(( $(date +%s) - started )) s"
} | tee -a "$SUMMARY"
echo "== results in $OUT"
