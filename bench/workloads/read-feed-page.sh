# read-feed-page: a feed page of 1,000 events after a random position of the
# same 200,000-event store, against the plain SELECT of the same page.
WL_TITLE="feed page of 1,000 events"
WL_EVENTS=1000
WL_CONTENDERS=(
    "es     bench read-feed-page/es"
    "select bench read-feed-page/select"
)
WL_TARGETS=(
    "select 0.90 es_load feed page >= 0.90 x plain SELECT"
)
# A build without the feed form of es_load skips it (bench/run.sh --pg
# against an older tree).
wl_skip() {
    local n
    n=$($PSQL -At -d bench -c "SELECT count(*) FROM pg_proc WHERE proname = 'es_load'
        AND pronamespace = 'eventstore'::regnamespace AND 'after_position' = ANY (proargnames)")
    [ "$n" = 0 ] && echo "this build has no es_load(after_position => ...)"
    return 0
}
