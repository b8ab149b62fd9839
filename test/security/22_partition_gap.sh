#!/usr/bin/env bash
# Issue 21, item 12: a gap between partitions stopped every append for
# good.  partition_size = 500; es_make_partitions(3000, 2001) after the
# first partition left positions 501-2000 without a partition; at 501
# every append failed with 23514, and neither the partition worker nor
# es_make_partitions(1501) (it returned 0) filled the gap.
# Goal (stopping the store's appends): it must fail: es_make_partitions
# never leaves a gap, and a gap made otherwise (an empty partition
# detached by hand) is filled by the next append that reaches it, or by
# es_make_partitions.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stage_roles sec22_o
stage_db sec22_d sec22_o
PGOPTIONS='-c eventstore.partition_size=500' as_role sec22_o sec22_d -c "CREATE EXTENSION eventstore" >/dev/null
GAPS="SELECT count(*) FROM (SELECT from_position, lag(to_position) OVER (ORDER BY from_position) AS prev
                            FROM eventstore.es_partitions()) p WHERE p.prev <> p.from_position"
as_su sec22_d -c "SELECT eventstore.es_append('a-1', 'A', '{}')" >/dev/null
check "es_make_partitions(3000, 2001) makes 501-3000, no gap" \
    "$(as_su sec22_d -c "SELECT eventstore.es_make_partitions(3000, 2001)" -c "$GAPS")" "5
0"
check "appends cross position 501" \
    "$(as_su sec22_d -c "SELECT count(*) FROM (SELECT eventstore.es_append('a-1', 'A', '{}') FROM generate_series(1, 600)) x")" 600
# A gap above the head made by hand: the empty partitions at 1001 and 1501 detached.
as_su sec22_d -c "ALTER TABLE eventstore.events DETACH PARTITION eventstore.events_0000000000000001001" \
              -c "ALTER TABLE eventstore.events DETACH PARTITION eventstore.events_0000000000000001501" >/dev/null
check "the gap is there" "$(as_su sec22_d -c "$GAPS")" 1
check "appends cross it: the worker fills it" \
    "$(as_su sec22_d -c "SELECT count(*) FROM (SELECT eventstore.es_append('a-1', 'A', '{}') FROM generate_series(1, 500)) x")" 500
check "no gap left, no append failed" "$(as_su sec22_d -c "$GAPS" -c "SELECT max(version) FROM eventstore.events")" "0
1101"
as_su sec22_d -c "ALTER TABLE eventstore.events DETACH PARTITION eventstore.events_0000000000000002001" >/dev/null
check "es_make_partitions(1501) fills a gap above it" \
    "$(as_su sec22_d -c "SELECT eventstore.es_make_partitions(1501)" -c "$GAPS")" "1
0"
finish
