#!/usr/bin/env bash
# Issue 21, item 11 (partitions): the database owner's
# ALTER DATABASE d SET standard_conforming_strings = off made es_partitions()
# return NULL bounds, es_make_partitions fail with 42P07 and every append
# past the last partition fail; es_make_partitions(9223372036854775807)
# made partitions until statement_timeout.
# Goals (stopping appends with a setting; filling the catalogue): both
# must fail: the functions pin the settings they rely on (es_streams too:
# its collation test is a regular expression with a backslash), and
# es_make_partitions refuses (22023) to make more than 100 partitions in
# one call, making none.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stage_roles sec23_o
stage_db sec23_d sec23_o
PGOPTIONS='-c eventstore.partition_size=4' as_role sec23_o sec23_d -c "CREATE EXTENSION eventstore" >/dev/null
as_role sec23_o sec23_d -c "ALTER DATABASE sec23_d SET standard_conforming_strings = off" >/dev/null
check "the owner's setting is in effect" \
    "$(as_role sec23_o sec23_d -c "SHOW standard_conforming_strings")" off
check "appends cross several partitions" \
    "$(as_role sec23_o sec23_d -c "SELECT count(*) FROM (SELECT eventstore.es_append('a-1', 'A', '{}') FROM generate_series(1, 30)) x")" 30
check "es_partitions() reads every bound" \
    "$(as_su sec23_d -c "SELECT count(*) FILTER (WHERE from_position IS NULL OR to_position IS NULL), count(*) > 7
                         FROM eventstore.es_partitions()" 2>&1 | grep -v WARNING)" "0|t"
check "es_streams() reads its collation test the same way (no escape warning)" \
    "$(as_su sec23_d -c "SELECT count(*) FROM eventstore.es_streams(prefix => 'a')")" 1
check "es_make_partitions makes the next ones" \
    "$(as_su sec23_d -c "SELECT eventstore.es_make_partitions(60) > 0")" t
before=$(as_su sec23_d -c "SELECT count(*) FROM eventstore.es_partitions()")
check "es_make_partitions(9223372036854775807) is refused (22023)" \
    "$(sqlstate postgres sec23_d "SELECT eventstore.es_make_partitions(9223372036854775807)")" 22023
check "... and made no partition" "$(as_su sec23_d -c "SELECT count(*) FROM eventstore.es_partitions()")" "$before"
top=$(as_su sec23_d -c "SELECT max(to_position) FROM eventstore.es_partitions()")
check "100 partitions in one call are made, 101 are refused" \
    "$(sqlstate postgres sec23_d "SELECT eventstore.es_make_partitions($((top + 400)))")|$(sqlstate postgres sec23_d "BEGIN; SELECT eventstore.es_make_partitions($((top + 399))); ROLLBACK")" \
    "22023|"
finish
