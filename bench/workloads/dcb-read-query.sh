# dcb-read-query: es_load_query of an item with an event type and two tags
# (the 50 events of one course in one term) against the plain SELECT of the
# same rows and columns through the same index (event_tags' primary key,
# then events by position).  The store: 20,000 tagged events, 200 courses x
# 2 terms, loaded with es_append (so event_tags is filled as in use).
WL_TITLE="read the 50 events of a two-tag query"
WL_EVENTS=50
WL_CONTENDERS=(
    "es     bench_dcb_read dcb-read-query/es"
    "select bench_dcb_read dcb-read-query/select"
)
WL_TARGETS=(
    "select 0.90 es_load_query of a two-tag query >= 0.9 x plain SELECT"
)
wl_setup() {
    bench_new_db bench_dcb_read
    $PSQL -d bench_dcb_read <<SQL
DO \$\$
BEGIN
    FOR c IN 0..199 LOOP
        PERFORM eventstore.es_append(pg_catalog.jsonb_build_object('stream', 'course-' || c, 'events',
            (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('type', 'StudentSubscribed',
                    'data', '$BENCH_DATA'::jsonb,
                    'tags', pg_catalog.jsonb_build_array('course:' || c, 'term:' || (s % 2), 'student:' || s)))
             FROM generate_series(1, 100) s)));
        COMMIT;
    END LOOP;
END
\$\$;
VACUUM ANALYZE;
SQL
}
