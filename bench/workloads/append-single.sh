# append-single: one event per call, every client writing streams of its own
# (100 events each) with the exact expected version; no read before the
# append.  The floor is a plain INSERT ... RETURNING of the same row into a
# table of the same shape, the version computed by the client, no check.
# Sourced by bench/run.sh (the variables are explained there).
WL_TITLE="one event, own streams, exact expected version"
WL_EVENTS=1
WL_CONTENDERS=(
    "es    bench append-single/es"
    "floor bench append-single/floor"
    "sql   bench append-single/sql"
)
WL_TARGETS=(
    "floor 0.90 es_append >= 0.90 x floor"
    "sql   1.30 es_append >= 1.3 x SQL baseline"
)
