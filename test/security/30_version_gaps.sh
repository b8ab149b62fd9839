#!/usr/bin/env bash
# Issue 21, item 8: silent version gaps.  After archival (partitioned store)
# or retention removed versions between a snapshot and the first event kept,
# a rebuild from es_load_with_snapshot must fail with ES012 instead of
# returning the snapshot followed by a later version: an aggregate folded
# from that would be silently wrong.  The same for a read from a removed
# version (es_load from 1, es_load_until).  Goal of the "attack": get a
# state with a hole from a reader's ordinary calls.
. "$(dirname "$0")/lib.sh"
stage_roles sec30_admin sec30_app
stage_db sec30_part postgres
stage_db sec30_plain postgres

# The partitioned store of the issue: 4 positions per partition.
as_su sec30_part -v ON_ERROR_STOP=1 -c "SET eventstore.partition_size = 4" -c "CREATE EXTENSION eventstore" \
    -c "SELECT eventstore.es_grant_admin('sec30_admin')" -c "SELECT eventstore.es_grant_writer('sec30_app')" >/dev/null
as_role sec30_app sec30_part -v ON_ERROR_STOP=1 \
    -c "SELECT count(*) FROM eventstore.es_append('{\"stream\": \"order-1\", \"events\": [{\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}]}')" \
    -c "SELECT * FROM eventstore.es_snapshot('order-1', 2, '{\"n\": 2}')" >/dev/null
check "archival moved the first partition" \
    "$(as_role sec30_admin sec30_part -c "SELECT eventstore.es_archive_events(before_position => 5)")" "1"
check "archived: es_load_with_snapshot fails with ES012" \
    "$(sqlstate sec30_app sec30_part "SELECT * FROM eventstore.es_load_with_snapshot('order-1')")" "ES012"
check "archived: the message names the stream and the versions" \
    "$(as_role sec30_app sec30_part -c "SELECT * FROM eventstore.es_load_with_snapshot('order-1')" | grep -c 'stream "order-1": versions 3 to 4 no longer stored')" "1"
check "archived: es_load from version 1 fails with ES012" \
    "$(sqlstate sec30_app sec30_part "SELECT * FROM eventstore.es_load('order-1', 1)")" "ES012"
check "archived: es_load_until fails with ES012" \
    "$(sqlstate sec30_app sec30_part "SELECT * FROM eventstore.es_load_until('order-1', now())")" "ES012"
check "archived: es_load from_version NULL reads what is kept, explicitly from its first version" \
    "$(as_role sec30_app sec30_part -c "SELECT string_agg(version::text, ',') FROM eventstore.es_load('order-1')")" "5"
# A stream archived whole, then appended to: the snapshot is below the gap.
as_role sec30_app sec30_part -v ON_ERROR_STOP=1 \
    -c "SELECT count(*) FROM eventstore.es_append('{\"stream\": \"cart-1\", \"events\": [{\"type\": \"T\"}, {\"type\": \"T\"}]}')" \
    -c "SELECT * FROM eventstore.es_snapshot('cart-1', 1, '{\"n\": 1}')" \
    -c "SELECT count(*) FROM eventstore.es_append('{\"stream\": \"fill-1\", \"events\": [{\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}]}')" >/dev/null
as_role sec30_admin sec30_part -c "SELECT eventstore.es_archive_events(before_position => 13)" >/dev/null
check "archived whole: es_load_with_snapshot fails with ES012" \
    "$(sqlstate sec30_app sec30_part "SELECT * FROM eventstore.es_load_with_snapshot('cart-1')")" "ES012"
as_role sec30_app sec30_part -c "SELECT eventstore.es_append('cart-1', 'T')" >/dev/null
check "archived whole, appended again: es_load_with_snapshot still fails with ES012" \
    "$(sqlstate sec30_app sec30_part "SELECT * FROM eventstore.es_load_with_snapshot('cart-1')")" "ES012"

# Retention: truncate_before => 3 after a snapshot at 1.
as_su sec30_plain -v ON_ERROR_STOP=1 -c "CREATE EXTENSION eventstore" \
    -c "SELECT eventstore.es_grant_admin('sec30_admin')" -c "SELECT eventstore.es_grant_writer('sec30_app')" >/dev/null
as_role sec30_app sec30_plain -v ON_ERROR_STOP=1 \
    -c "SELECT count(*) FROM eventstore.es_append('{\"stream\": \"order-1\", \"events\": [{\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}, {\"type\": \"T\"}]}')" \
    -c "SELECT * FROM eventstore.es_snapshot('order-1', 1, '{\"n\": 1}')" >/dev/null
as_role sec30_admin sec30_plain -c "SELECT eventstore.es_set_retention('order-1', truncate_before => 3)" >/dev/null
check "retention: es_load_with_snapshot fails with ES012" \
    "$(sqlstate sec30_app sec30_plain "SELECT * FROM eventstore.es_load_with_snapshot('order-1')")" "ES012"
check "retention: without a snapshot of the kind, ES012 too" \
    "$(sqlstate sec30_app sec30_plain "SELECT * FROM eventstore.es_load_with_snapshot('order-1', 'v2')")" "ES012"
check "retention: es_load from version 2 fails with ES012" \
    "$(sqlstate sec30_app sec30_plain "SELECT * FROM eventstore.es_load('order-1', 2)")" "ES012"
check "retention: a snapshot at the first kept version - 1 completes the stream" \
    "$(as_role sec30_app sec30_plain -c "SELECT * FROM eventstore.es_snapshot('order-1', 2, '{\"n\": 2}', kind => 'v3')" -c "SELECT string_agg(version::text, ',') FROM eventstore.es_load_with_snapshot('order-1', 'v3')" | tail -n 1)" "2,3,4,5"
finish
