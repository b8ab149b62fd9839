# append-batch: 100 events to one new stream (expected version 0) per call,
# against a multi-row INSERT of the same rows (payloads as parameters,
# versions precomputed) and the PL/pgSQL batch append.
WL_TITLE="batch of 100 events to one stream"
WL_EVENTS=100
WL_CONTENDERS=(
    "es     bench append-batch/es"
    "insert bench append-batch/insert"
    "sql    bench append-batch/sql"
)
WL_TARGETS=(
    "insert 0.85 batch es_append >= 0.85 x multi-row INSERT"
)
