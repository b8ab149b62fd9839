# Message DB in a benchmark cluster: sourced by bench/lib/cluster.sh.
#
# bench_message_db DB: installs Message DB (bench/fetch-message-db.sh) into a
# new database DB of the running cluster with its own install script
# (database/install.sh: the message_store role, schema, pgcrypto, table,
# functions, indexes, views, privileges), once per run; returns 1, with a
# note, when it cannot be fetched.  Message DB's functions call one another
# unqualified and expect the session's search_path to start with
# message_store (its clients set it on connect), so the database gets that
# search_path.
bench_message_db() {
    local db=$1 dir
    [ "${BENCH_MDB_READY:-}" = "$db" ] && return 0
    dir=$("$BENCH_ROOT/bench/fetch-message-db.sh") || { echo "   Message DB not available: its contenders are skipped"; return 1; }
    # install.sh runs psql and createdb from PATH, connecting through
    # PGHOST, PGPORT and PGUSER as set for the cluster.
    if ! (cd "$TMP_CHECK" && PATH=$PGBIN:$PATH DATABASE_NAME=$db bash "$dir/install.sh") \
            > "$TMP_CHECK/message-db-install.log" 2>&1; then
        tail -5 "$TMP_CHECK/message-db-install.log" >&2
        echo "   Message DB's install failed: its contenders are skipped"
        return 1
    fi
    $PSQL -d postgres -c "ALTER DATABASE $db SET search_path = message_store, public" >/dev/null
    echo "   Message DB $(cat "$dir/VERSION.txt") installed into database $db (npm @eventide/message-db)"
    BENCH_MDB_READY=$db
}
