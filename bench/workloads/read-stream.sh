# read-stream: es_load of a whole 1,000-event stream (a random one of the
# 200 streams of the database bench/run.sh loads, their events interleaved
# in the heap) against the plain SELECT of the same rows.
WL_TITLE="load a 1,000-event stream"
WL_EVENTS=1000
WL_CONTENDERS=(
    "es     bench read-stream/es"
    "select bench read-stream/select"
)
WL_TARGETS=(
    "select 0.90 es_load stream >= 0.90 x plain SELECT"
)
