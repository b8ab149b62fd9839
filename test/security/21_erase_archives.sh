#!/usr/bin/env bash
# Issue 21, item 7 (GDPR): an erasure missed the archives.  Partitioned
# store (partition_size 4): person-7f3a's events carry an e-mail address,
# es_archive_events(before_position => 5) archives the first partition,
# es_erase_stream('person-7f3a', 'GDPR request') succeeded and the stream
# read as tombstoned, but the archive still held the address.
# Goal of the attack (keeping personal data past an erasure): it must
# fail: no row of the stream, and no address, is left in any table of the
# store or its archives; the audit row says what went from where; the
# archive stays immutable for everyone else.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stage_roles sec21_o sec21_admin
stage_db sec21_d sec21_o
PGOPTIONS='-c eventstore.partition_size=4' as_role sec21_o sec21_d -c "CREATE EXTENSION eventstore" >/dev/null
as_su sec21_d -c "SELECT eventstore.es_grant_admin('sec21_admin')" >/dev/null
as_role sec21_admin sec21_d \
    -c "SELECT count(*) FROM (SELECT eventstore.es_append('person-7f3a', 'EmailChanged',
                              jsonb_build_object('email', 'jane' || g || '@example.org')) FROM generate_series(1, 3) g) x" \
    -c "SELECT count(*) FROM (SELECT eventstore.es_append('order-' || g, 'Placed', '{}') FROM generate_series(1, 4) g) x" \
    -c "SELECT eventstore.es_append('person-7f3a', 'EmailChanged', '{\"email\": \"jane4@example.org\"}')" \
    -c "SELECT eventstore.es_archive_events(before_position => 5)" >/dev/null
arch=eventstore_archive.events_0000000000000000001
check "the address is in the archive before the erasure" \
    "$(as_su sec21_d -c "SELECT count(*) FROM $arch WHERE data::text LIKE '%@example.org%'")" 3
check "the admin's erasure succeeds" \
    "$(as_role sec21_admin sec21_d -c "SELECT eventstore.es_erase_stream('person-7f3a', 'GDPR request')")" 4
# Every table of the database, the archives included: no row mentions the address.
left=$(as_su sec21_d -c "SELECT string_agg(format('%s.%s', n.nspname, c.relname), ',')
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.relkind = 'r' AND n.nspname IN ('eventstore', 'eventstore_archive')" | tr ',' '\n' |
       while read -r t; do
           as_su sec21_d -c "SELECT '$t' FROM $t x WHERE x::text LIKE '%@example.org%' LIMIT 1"
       done)
check "no table of the store or its archives holds the address" "$left" ""
check "the archive kept the other streams' events" \
    "$(as_su sec21_d -c "SELECT count(*), count(*) FILTER (WHERE stream = 'person-7f3a') FROM $arch")" "1|0"
check "the audit row says what went from where" \
    "$(as_su sec21_d -c "SELECT detail->>'events', detail->>'archived_events', detail->'archives'->>'$arch', reason
                         FROM eventstore.lifecycle_log WHERE action = 'erase'")" "1|3|3|GDPR request"
check "the stream reads as tombstoned" \
    "$(as_su sec21_d -c "SELECT state FROM eventstore.es_stream_info('person-7f3a')")" tombstoned
check "DELETE on the archive is still refused, even for a superuser (ES003)" \
    "$(sqlstate postgres sec21_d "DELETE FROM $arch")" ES003
check "... and for the admin (42501: no table rights)" \
    "$(sqlstate sec21_admin sec21_d "DELETE FROM $arch")" 42501
finish
