#!/usr/bin/env bash
# Bounded stress run (guarantees 1-4 under load): test/stress/stress.py.
# 8 clients append to a few hot streams, single- and multi-stream, with exact
# expected versions; the acknowledged appends, logged client-side, are then
# checked against the stored events.  Runs on the main cluster (concurrent
# mode, preloaded) in READ COMMITTED, then shorter in REPEATABLE READ and
# SERIALIZABLE (where 40001 is an accepted outcome), then on a cluster
# without preloading (serialized mode); and append conditions (DCB) in both
# modes.
# STRESS_CLIENTS / STRESS_TRANSACTIONS make it longer.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
clients=${STRESS_CLIENTS:-8}
txns=${STRESS_TRANSACTIONS:-1000}

run() {  # run LABEL DB TRANSACTIONS [stress.py options]
    local label=$1 db=$2 n=$3; shift 3
    echo "-- $label"
    es_new_db "$db" 2>/dev/null || return 1
    /usr/bin/python3 test/stress/stress.py --db "$db" --clients "$clients" \
        --transactions "$n" --out "$TMP_CHECK/stress/$db" "$@"
}

run "concurrent mode, read committed" es_stress "$txns" || exit 1
run "concurrent mode, repeatable read" es_stress_rr $((txns / 4)) --isolation "repeatable read" || exit 1
run "concurrent mode, serializable" es_stress_ser $((txns / 4)) --isolation serializable || exit 1

# Append conditions (guarantee 14, docs/dcb.md): dcb.events' commands from
# concurrent clients, each in a READ COMMITTED transaction, checked against
# their rules afterwards (test/stress/dcb_stress.py); in both modes.
dcb() {  # dcb LABEL
    echo "-- $1"
    es_new_db es_stress_dcb 2>/dev/null || return 1
    /usr/bin/python3 test/stress/dcb_stress.py "host=$PGHOST port=$PGPORT dbname=es_stress_dcb user=postgres" \
        $((txns / 5)) "$clients"
}
dcb "dynamic consistency boundaries, concurrent mode" || exit 1

es_start_cluster stress_serialized || exit 1
trap 'es_stop_cluster stress_serialized' EXIT
run "serialized mode (not preloaded), read committed" es_stress $((txns / 4)) || exit 1
dcb "dynamic consistency boundaries, serialized mode"

