# append-multi-stream: one event to each of three streams in one call
# (es_append of a JSON array), each with an exact expected version, against
# the PL/pgSQL batch append of the same JSON.
WL_TITLE="three streams, one event each, one call"
WL_EVENTS=3
WL_CONTENDERS=(
    "es  bench append-multi-stream/es"
    "sql bench append-multi-stream/sql"
)
WL_TARGETS=(
    "sql 1.30 multi-stream es_append >= 1.3 x SQL baseline"
)
