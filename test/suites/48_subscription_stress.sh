#!/usr/bin/env bash
# Stress test of managed subscriptions: appenders committing out of order,
# round-robin and pinned consumers applying an exactly-once projection while
# their backends are ended at random; then nothing lost, nothing applied
# twice, and in pinned mode never two events of a stream in flight and
# per-stream order.  test/stress/subscription_stress.py says what is
# checked.  Bounded: ~30 s.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
es_new_db es_subscription_stress || exit 1
/usr/bin/python3 test/stress/subscription_stress.py \
    "host=$PGHOST port=$PGPORT user=postgres dbname=es_subscription_stress" "${ES_SUBSCRIPTION_STRESS_SECONDS:-5}"
