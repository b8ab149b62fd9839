# subscription-fetch-ack: consumers of a managed subscription (docs/
# subscriptions.md), each fetching a batch of 100 events with es_fetch and
# acking it with es_ack (two statements, as an at-least-once consumer
# does), against the best hand-written loop over the same events: one
# transaction that reads the consumer's checkpoint, loads the next 100
# events of its consumer-group share (es_load_feed, member client_id of as
# many members as clients) and advances the checkpoint (es_advance_position).
# Both read the payloads; the "handler" is the client receiving them.
# Every run consumes from a fresh start: wl_setup makes, in database
# subbench (1,000,000 events of category sb in 10,000 streams), one
# subscription per run tag (round robin, and pinned) and the loop's
# handlers are named by the run tag too.  Sourced by bench/run.sh (the
# variables are explained there).  Events per second = tps x 100.
WL_TITLE="fetch and ack 100 events (managed subscription) vs the hand-written loop"
WL_EVENTS=100
WL_CONTENDERS=(
    "sub    subbench subscription-fetch-ack/sub"
    "pinned subbench subscription-fetch-ack/pinned"
    "loop   subbench subscription-fetch-ack/loop"
)
WL_TARGETS=(
    "loop 0.80 es_fetch + es_ack >= 0.8 x es_load_feed + es_advance_position loop"
)
wl_setup() {
    local rep c
    $PSQL -d postgres -c "DROP DATABASE IF EXISTS subbench" -c "CREATE DATABASE subbench"
    $PSQL -d subbench <<SQL
CREATE EXTENSION eventstore;
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, data, metadata, created_at)
SELECT g + 1, 'sb-' || (g % 10000 + 1), g / 10000 + 1,
       ('00000000-0000-7000-9000-' || lpad(to_hex(g + 1), 12, '0'))::uuid, 'Deposited', 'sb',
       '$BENCH_DATA'::jsonb, '$BENCH_META'::jsonb, now()
FROM generate_series(0, 999999) AS g;
VACUUM ANALYZE eventstore.events;
SQL
    # One subscription of each kind per run (bench/run.sh's run tags).
    for rep in $(seq 1 "$REPS"); do
        for c in $CLIENTS; do
            $PSQL -d subbench -c "SELECT eventstore.es_create_subscription('sfasubr${rep}c${c}', category => 'sb', lease_ms => 60000, max_in_flight => 100000)" \
                  -c "SELECT eventstore.es_create_subscription('sfapinnedr${rep}c${c}', category => 'sb', strategy => 'pinned', lease_ms => 60000, max_in_flight => 100000)" >/dev/null
        done
    done
}
wl_skip() {
    local n
    n=$($PSQL -At -d bench -c "SELECT count(*) FROM pg_proc WHERE proname = 'es_fetch' AND pronamespace = 'eventstore'::regnamespace")
    [ "$n" = 0 ] && echo "this build has no managed subscriptions (es_fetch)"
    return 0
}
