#!/usr/bin/env bash
# Stress test of the global feed: concurrent appenders that commit out of
# order and roll back, readers and consumer-group members paging the feed.
# test/stress/feed_stress.py says what is checked.  Bounded: ~10 s.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
es_new_db es_feed_stress || exit 1
/usr/bin/python3 test/stress/feed_stress.py \
    "host=$PGHOST port=$PGPORT user=postgres dbname=es_feed_stress" "${ES_FEED_STRESS_SECONDS:-8}"
