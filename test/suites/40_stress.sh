#!/usr/bin/env bash
# Bounded stress run (guarantees 1-4 under load): test/stress/stress.py.
# 8 clients append to a few hot streams, single- and multi-stream, with exact
# expected versions; the acknowledged appends, logged client-side, are then
# checked against the stored events.  Runs on the main cluster (concurrent
# mode, preloaded) and, shorter, on a cluster without preloading (serialized
# mode).  STRESS_CLIENTS / STRESS_TRANSACTIONS make it longer.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
clients=${STRESS_CLIENTS:-8}
txns=${STRESS_TRANSACTIONS:-1000}

echo "-- concurrent mode"
es_new_db es_stress || exit 1
/usr/bin/python3 test/stress/stress.py --db es_stress --clients "$clients" \
    --transactions "$txns" --out "$TMP_CHECK/stress" || exit 1

echo "-- serialized mode (not preloaded)"
es_start_cluster stress_serialized || exit 1
trap 'es_stop_cluster stress_serialized' EXIT
es_new_db es_stress 2>/dev/null || exit 1
/usr/bin/python3 test/stress/stress.py --db es_stress --clients "$clients" \
    --transactions $((txns / 4)) --out "$TMP_CHECK/stress_serialized"
