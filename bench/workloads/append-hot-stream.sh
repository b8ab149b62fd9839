# append-hot-stream: every client appends to one hot stream, reading its
# version first and appending with it; a conflict (ES001) is caught by the
# same PL/pgSQL wrapper for both contenders.  Counted: successful appends
# (the stream's final version), and the share of conflicts.
WL_TITLE="one event, one hot stream (successful appends)"
WL_EVENTS=1
WL_CONTENDERS=(
    "es  bench append-hot-stream/es"
    "sql bench append-hot-stream/sql"
)
WL_TARGETS=()
# wl_successes DB SYSTEM RUN: the successful appends of one run
wl_successes() {
    if [ "$2" = es ]; then
        $PSQL -At -d "$1" -c "SELECT eventstore.es_stream_version('hot-$3')"
    else
        $PSQL -At -d "$1" -c "SELECT bench.sql_stream_version('hot-$3')"
    fi
}
