# read-feed-page: a feed page of 1,000 events after a random position of the
# same 200,000-event store, against the plain SELECT of the same page and
# against Message DB's get_category_messages of the same events (loaded
# into its messages table the same way).
WL_TITLE="feed page of 1,000 events"
WL_EVENTS=1000
WL_CONTENDERS=(
    "es     bench read-feed-page/es"
    "select bench read-feed-page/select"
    "mdb    message_store read-feed-page/mdb"
)
WL_TARGETS=(
    "select 0.90 es_load feed page >= 0.90 x plain SELECT"
)
wl_setup() {
    bench_message_db message_store || { wl_drop_contenders mdb; return 0; }
    # The events of bench/run.sh's load, as Message DB stores them: stream
    # positions from 0, global positions the store's positions.
    $PSQL -d message_store <<SQL
INSERT INTO message_store.messages (global_position, position, id, time, stream_name, type, data, metadata)
SELECT position, version - 1, event_id, created_at AT TIME ZONE 'utc', stream, type, data, metadata
FROM (SELECT g + 1 AS position, 'load-' || (g % $LOAD_STREAMS + 1) AS stream, g / $LOAD_STREAMS + 1 AS version,
             ('00000000-0000-7000-8000-' || lpad(to_hex(g + 1), 12, '0'))::uuid AS event_id, 'Deposited' AS type,
             '$BENCH_DATA'::jsonb AS data, '$BENCH_META'::jsonb AS metadata, now() AS created_at
      FROM generate_series(0, $LOAD_STREAMS * 1000 - 1) AS g) AS e;
SELECT setval('message_store.messages_global_position_seq', $MAXPOS);
VACUUM ANALYZE message_store.messages;
SQL
}
# A build without the feed form of es_load skips it (bench/run.sh --pg
# against an older tree).
wl_skip() {
    local n
    n=$($PSQL -At -d bench -c "SELECT count(*) FROM pg_proc WHERE proname = 'es_load'
        AND pronamespace = 'eventstore'::regnamespace AND 'after_position' = ANY (proargnames)")
    [ "$n" = 0 ] && echo "this build has no es_load(after_position => ...)"
    return 0
}
