# append-single: one event per call, every client writing streams of its own
# (100 events each) with the exact expected version; no read before the
# append.  The floor is a plain INSERT ... RETURNING of the same row into a
# table of the same shape, the version computed by the client, no check.
# Message DB's write_message writes the same event with the same claim, each
# client in a category of its own (mdb-own) or all in one (mdb-shared).
# Sourced by bench/run.sh (the variables are explained there).
WL_TITLE="one event, own streams, exact expected version"
WL_EVENTS=1
WL_CONTENDERS=(
    "es    bench append-single/es"
    "floor bench append-single/floor"
    "sql   bench append-single/sql"
    "mdb-own    message_store append-single/mdb-own"
    "mdb-shared message_store append-single/mdb-shared"
)
WL_TARGETS=(
    "floor 0.90 es_append >= 0.90 x floor"
    "sql   1.30 es_append >= 1.3 x SQL baseline"
    "mdb-own    2.0 es_append >= 2 x Message DB write_message, a category per client"
    "mdb-shared 5.0 es_append >= 5 x Message DB write_message, one shared category"
)
wl_setup() {
    bench_message_db message_store || wl_drop_contenders mdb-own mdb-shared
}
