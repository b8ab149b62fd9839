#!/usr/bin/env bash
# The partitioned layout (docs/partitioning.md) under the tests of the plain
# one, on a cluster where every store is created with
# eventstore.partition_size = 7, so that streams and feed pages span many
# partitions:
#  - the isolation specs (test/isolation/specs) but direct_insert_counter, which
#    inserts a row at position 1,000,000 by hand: in the partitioned layout
#    that needs es_make_partitions first (pinned in the layout's checks);
#  - the stress run and the feed stress run, on stores that make their
#    partitions while they append;
#  - the layout's own checks (test/partitioned/sql) and specs
#    (test/partitioned/specs: archival while appending);
#  - pg_dump / pg_restore of a partitioned store, and the conversion of a
#    plain store to the partitioned layout by dump and restore;
#  - the crash, replica, pg_upgrade, feed-stall and append-hold TAP tests
#    with partitioned stores.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
es_start_cluster partitioned "shared_preload_libraries = 'eventstore'" "eventstore.partition_size = 7" || exit 1
trap 'es_stop_cluster partitioned' EXIT
fails=0
ok()     { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; fails=$((fails + 1)); }
q() { local db=$1; shift; "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }
out=$TMP_CHECK/output_partitioned
rm -rf "$out"; mkdir -p "$out"

# 1. Isolation specs.
es_new_db es_isolation_p
specs=$(make -s print-isolation | tr ' ' '\n' | grep -vx direct_insert_counter | tr '\n' ' ')
if "$PG_ISOLATION_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --inputdir=test/isolation --outputdir="$out/iso" --use-existing --dbname=es_isolation_p $specs >"$out/iso.log" 2>&1; then
    ok "isolation specs on a partitioned store"
else
    not_ok "isolation specs on a partitioned store"; cat "$out/iso.log"; head -80 "$out/iso/regression.diffs"
fi

# The layout's own specs (test/partitioned/specs): archival against appends.
pspecs=$(cd test/partitioned/specs && ls *.spec | sed 's/\.spec$//' | tr '\n' ' ')
es_new_db es_isolation_arch
if "$PG_ISOLATION_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --inputdir=test/partitioned --outputdir="$out/iso_arch" --use-existing --dbname=es_isolation_arch \
    $pspecs >"$out/iso_arch.log" 2>&1; then
    ok "partitioned layout's isolation specs ($pspecs)"
else
    not_ok "partitioned layout's isolation specs"; cat "$out/iso_arch.log"; head -80 "$out/iso_arch/regression.diffs"
fi

# 2. Stress runs (partitions made while appending).
if PGOPTIONS="-c eventstore.partition_size=50" es_new_db es_stress_p && /usr/bin/python3 test/stress/stress.py --db es_stress_p --clients 8 \
        --transactions 300 --out "$out/stress" >"$out/stress.log" 2>&1; then
    ok "stress run on a partitioned store ($(q es_stress_p -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'eventstore.events'::regclass") partitions)"
else
    not_ok "stress run on a partitioned store"; tail -30 "$out/stress.log"
fi
# With 7 positions a partition, this run makes a partition (a background
# worker's DDL) every few appends, and appenders past the last bound wait
# for it: it stores ~300 events in 6 s where the plain layout stores ~4000,
# well above feed_stress.py's floor of 50.  When the store's event triggers
# still ran for each partition (~25 times the DDL's cost), it stored ~60 and
# failed now and then ("too few events were appended: 32"); the layout's
# checks pin that they no longer do (es_making_own_partitions).
if es_new_db es_feed_stress_p && /usr/bin/python3 test/stress/feed_stress.py \
        "host=$PGHOST port=$PGPORT user=postgres dbname=es_feed_stress_p" 6 >"$out/feed.log" 2>&1; then
    ok "feed stress run on a partitioned store"
else
    not_ok "feed stress run on a partitioned store"; tail -30 "$out/feed.log"
fi
q es_stress_p -c "SELECT (SELECT count(*) FROM eventstore.events) = (SELECT count(*) FROM eventstore.event_ids)
                  AND NOT EXISTS (SELECT FROM eventstore.events e LEFT JOIN eventstore.event_ids i USING (event_id, position)
                                  WHERE i.event_id IS NULL)" | grep -qx t &&
    ok "every stored event has its event_ids row after the stress run" ||
    not_ok "event_ids does not match the events after the stress run"
# es_insert_events finds the leaf by itself (no tuple routing, no check of
# the partition constraint): every event must lie in its partition's range.
PLACED_WRONG="SELECT count(*) FROM eventstore.events e JOIN pg_catalog.pg_class c ON c.oid = e.tableoid
              WHERE e.position < (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''?(-?[0-9]+)'))[1]::bigint
                 OR e.position >= (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''?(-?[0-9]+)'))[1]::bigint"
[ "$(q es_stress_p -c "$PLACED_WRONG")" = 0 ] &&
    ok "every event lies in its partition's range after the stress run" ||
    not_ok "events stored outside their partition's range after the stress run"
# 05_layout.sql's invariant, which es_append's version read trusts: every
# stream with events has a stream_starts row at or below its lowest position.
STARTS_BROKEN="SELECT count(*) FROM (SELECT stream, min(position) AS lowest FROM eventstore.events GROUP BY stream) e
               LEFT JOIN eventstore.stream_starts s USING (stream) WHERE s.position IS NULL OR s.position > e.lowest"
[ "$(q es_stress_p -c "$STARTS_BROKEN")" = 0 ] &&
    [ "$(q es_stress_p -c "SELECT count(*) FROM eventstore.stream_starts")" = \
      "$(q es_stress_p -c "SELECT count(DISTINCT stream) FROM eventstore.events")" ] &&
    ok "every stream has its stream_starts row after the stress run, none more" ||
    not_ok "stream_starts does not match the streams after the stress run"

# 3. The layout's own checks.
es_new_db es_partitioned_checks
if "$PG_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --inputdir=test/partitioned --outputdir="$out/regress" --use-existing --dbname=es_partitioned_checks \
    partitioned >"$out/regress.log" 2>&1; then
    ok "partitioned layout checks"
else
    not_ok "partitioned layout checks"; cat "$out/regress.log"; head -80 "$out/regress/regression.diffs"
fi

# The position counter starts above the archive horizon after a restart:
# positions handed out to an aborted append at the end of an archived
# partition have no partition any more, and the counter, read again from
# the tables, must not hand them out (src/events_read.c).
es_new_db es_horizon_restart
q es_horizon_restart -c "SELECT count(*) FROM (SELECT eventstore.es_append('h-1', 'A', '{}') FROM generate_series(1, 3)) x" \
    -c "SELECT eventstore.es_make_partitions(20)" \
    -c "BEGIN" -c "SELECT count(*) FROM (SELECT eventstore.es_append('h-2', 'A', '{}') FROM generate_series(1, 4)) x" -c "ROLLBACK" \
    -c "SELECT eventstore.es_archive_events(8)" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$TMP_CHECK/partitioned" -l "$TMP_CHECK/partitioned.log" -w restart >/dev/null
p=$(q es_horizon_restart -c "SELECT position FROM eventstore.es_append('h-1', 'A', '{}')" 2>&1)
[ "$p" = 8 ] && ok "after a restart, appends start at the archive horizon (position $p)" ||
    not_ok "after a restart, the append got: $p (expected position 8)"

# An archive, dumped on its own and restored for an audit into a database
# with the extension and the archive schema (a partitioned store has it; a
# plain one gets it by hand): every event, still immutable.  The fullest
# archive: the checks erased a stream from the first ones.
arch=$(q es_partitioned_checks -c "SELECT table_name FROM eventstore.archives ORDER BY events DESC, from_position LIMIT 1")
n=$(q es_partitioned_checks -c "SELECT events FROM eventstore.archives ORDER BY events DESC, from_position LIMIT 1")
"$PGBIN/pg_dump" -d es_partitioned_checks -t "$arch" -f "$out/archive.sql"
es_new_db es_audit && q es_audit -c "CREATE SCHEMA IF NOT EXISTS eventstore_archive" &&
    q es_audit -f "$out/archive.sql" >/dev/null 2>"$out/audit.log"
[ "$(q es_audit -c "SELECT count(*) FROM $arch" 2>>"$out/audit.log")" = "$n" ] &&
    ok "an archive dumped with pg_dump -t restores for an audit ($n events)" ||
    { not_ok "archive restore for an audit"; cat "$out/audit.log"; }
q es_audit -c "UPDATE $arch SET type = 'X'" >/dev/null 2>"$out/audit_update.log"
grep -q "immutable" "$out/audit_update.log" && ok "the restored archive is immutable" ||
    { not_ok "the restored archive can be changed"; cat "$out/audit_update.log"; }

# 4. Dump and restore: the restoring session has eventstore.partition_size
#    set (here in postgresql.conf; ALTER DATABASE ... SET or PGOPTIONS work
#    too), so the dump's CREATE EXTENSION creates a partitioned store.
events_md5() {
    q "$1" -c "SELECT md5(string_agg(format('%s|%s|%s|%s|%s', position, stream, version, event_id, data), ',' ORDER BY position))
               FROM eventstore.events"
}
fingerprint() {
    echo "$(events_md5 "$1")/$(q "$1" -c "SELECT md5(string_agg(event_id || ':' || position, ',' ORDER BY event_id))
                                          FROM eventstore.event_ids")/$(q "$1" -c "SELECT md5(string_agg(stream || ':' || position, ',' ORDER BY stream))
                                          FROM eventstore.stream_starts")"
}
"$PGBIN/pg_dump" -Fc -d es_stress_p -f "$out/p.dump"
q postgres -c "CREATE DATABASE es_restored_p"
if "$PGBIN/pg_restore" -d es_restored_p --exit-on-error "$out/p.dump" 2>"$out/restore.log"; then
    ok "pg_restore of a partitioned store into a partitioned store: no error"
else
    not_ok "pg_restore of a partitioned store"; cat "$out/restore.log"
fi
[ "$(fingerprint es_stress_p)" = "$(fingerprint es_restored_p)" ] &&
    ok "restored events, event ids and stream starts equal the original" || not_ok "restored store differs"
before=$(q es_restored_p -c "SELECT max(position) FROM eventstore.events")
after=$(q es_restored_p -c "SELECT position FROM eventstore.es_append('after-restore', 'A', '{}')")
[ "$after" -gt "$before" ] && ok "appends continue after the restore ($before -> $after)" ||
    not_ok "append after restore: $before -> $after"
q es_restored_p -c "SELECT eventstore.es_append('x-1', 'A', '{}', NULL, NULL,
                    (SELECT event_id FROM eventstore.events ORDER BY position LIMIT 1))" >/dev/null 2>"$out/dup.log"
grep -q "ES002\|already used" "$out/dup.log" && ok "a restored id stays used (ES002)" ||
    { not_ok "a restored id was accepted again"; cat "$out/dup.log"; }

# 5. Converting a plain store: dump it; restore the schema (pre-data) with
#    eventstore.partition_size set, make the partitions up to the plain
#    store's highest position, restore the data and the rest.
q postgres -c "CREATE DATABASE es_plain"
PGOPTIONS="-c eventstore.partition_size=0" q es_plain -c "CREATE EXTENSION eventstore"
q es_plain -c "SELECT count(*) FROM (SELECT eventstore.es_append('plain-' || (g % 13), 'E', jsonb_build_object('g', g))
               FROM generate_series(1, 200) g) x" >/dev/null
[ "$(q es_plain -c "SELECT relkind FROM pg_class WHERE oid = 'eventstore.events'::regclass")" = r ] &&
    ok "partition_size = 0 creates a plain store" || not_ok "plain store is not plain"
"$PGBIN/pg_dump" -Fc -d es_plain -f "$out/plain.dump"
q postgres -c "CREATE DATABASE es_converted"
if "$PGBIN/pg_restore" -d es_converted --exit-on-error --section=pre-data "$out/plain.dump" 2>"$out/convert.log" &&
   q es_converted -c "SELECT eventstore.es_make_partitions($(q es_plain -c "SELECT max(position) FROM eventstore.events"))" >/dev/null &&
   "$PGBIN/pg_restore" -d es_converted --exit-on-error --section=data --section=post-data "$out/plain.dump" 2>>"$out/convert.log"; then
    ok "a plain store's dump restores into a partitioned store"
else
    not_ok "conversion restore failed"; cat "$out/convert.log"
fi
[ "$(events_md5 es_plain)" = "$(events_md5 es_converted)" ] &&
    ok "converted store holds the same events at the same positions" || not_ok "converted events differ"
q es_converted -c "SELECT (SELECT count(*) FROM eventstore.event_ids) = (SELECT count(*) FROM eventstore.events)" | grep -qx t &&
    ok "conversion recorded every event id" || not_ok "conversion left event ids out"
[ "$(q es_converted -c "$STARTS_BROKEN")" = 0 ] &&
    [ "$(q es_converted -c "SELECT count(*) FROM eventstore.stream_starts")" = 13 ] &&
    ok "conversion recorded every stream's first position" || not_ok "conversion left stream starts out"
v=$(q es_converted -c "SELECT version FROM eventstore.es_append('plain-1', 'E', '{}')")
[ "$v" = "$(( $(q es_plain -c "SELECT max(version) FROM eventstore.events WHERE stream = 'plain-1'") + 1 ))" ] &&
    ok "versions continue in the converted store" || not_ok "version after conversion: $v"
# 6. The TAP tests of the plain layout, on clusters whose stores are
#    partitioned (TEMP_CONFIG is appended to every node's postgresql.conf).
#    020_logical_replication and 072_lifecycle publish the way the layout
#    needs when they find it (test/t/080_partitioned.pl covers a subscriber
#    taking over).
tap=$TMP_CHECK/tap_partitioned
rm -rf "$tap"; mkdir -p "$tap"
cp -r test/t "$tap/t"
echo "eventstore.partition_size = 50" > "$tap/partitioned.conf"
[ "$(id -u)" = 0 ] && chown -R postgres "$tap"
if (cd "$tap" && as_pg env PATH="$PGBIN:$PATH" TESTDIR="$tap" PG_REGRESS="$PG_REGRESS" \
        TEMP_CONFIG="$tap/partitioned.conf" prove -I "$PGXS_DIR/src/test/perl" -I "$tap/t" \
        t/010_crash_and_replica.pl t/020_logical_replication.pl t/030_pg_upgrade.pl t/060_feed_stall.pl \
        t/070_crash_cycles.pl t/072_lifecycle.pl t/075_append_hold.pl) >"$out/tap.log" 2>&1; then
    ok "TAP tests 010, 020, 030, 060, 070_crash_cycles, 072_lifecycle, 075 on partitioned stores"
else
    not_ok "TAP tests on partitioned stores"; tail -40 "$out/tap.log"
fi
exit $fails
