# append-growth: append-single's es_append in an empty store against the same
# in a store of --big-events events (full: 10,000,000 in 1,000,000 streams),
# loaded with INSERT ... SELECT straight into eventstore.events (time-ordered
# event ids, streams interleaved), then VACUUM ANALYZE and CHECKPOINT.
# Shown as a cost: the empty store's rate over the large store's.
WL_TITLE="append-single in an empty store vs a large store"
WL_EVENTS=1
WL_COST=1
WL_CONTENDERS=(
    "es-big   bench_big   append-single/es"
    "es-empty bench_empty append-single/es"
)
WL_TARGETS=(
    "es-empty 1.2 append cost in the large store within 1.2 x the empty store"
)
wl_setup() {
    local t0
    bench_new_db bench_empty
    bench_new_db bench_big
    echo "== growth store: $BIG_EVENTS events in $BIG_STREAMS streams"
    t0=$(date +%s)
    # Straight into the table as superuser (the insert guard only makes the
    # next append reread max(position)).
    $PSQL -d bench_big <<SQL
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, data, metadata, created_at)
SELECT g + 1, 'grow-' || (g % $BIG_STREAMS), g / $BIG_STREAMS + 1,
       ('00000000-0000-7000-8000-' || lpad(to_hex(g + 1), 12, '0'))::uuid, 'Deposited', 'grow',
       '$BENCH_DATA'::jsonb, '$BENCH_META'::jsonb, now()
FROM generate_series(0, $BIG_EVENTS - 1) AS g;
VACUUM ANALYZE eventstore.events;
CHECKPOINT;
SQL
    echo "   loaded in $(( $(date +%s) - t0 )) s"
}
