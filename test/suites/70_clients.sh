#!/usr/bin/env bash
# Client drivers in our users' languages, each a small real program that
# runs the same checklist (docs/clients.md): JSON and binary appends,
# a conflict handled by its SQLSTATE and retried, an atomic multi-stream
# append, a stream read, feed paging, es_wait, and a server restart between
# two calls that the client survives by reconnecting and retrying.
#   Node (node-postgres: untyped parameters), Python (psycopg2: typed
#   literals), Go (pgx v4: server-inferred types), Java (JDBC: typed
#   parameters), Rust (tokio-postgres: server-inferred types, strictly
#   checked).
# The clients restart the server themselves (ES_RESTART_CMD), so they run on
# a cluster of their own, not on the shared one; it also listens on
# 127.0.0.1, since JDBC does not speak Unix sockets.  It is preloaded as the
# cluster this suite was given is (test/suites/80_serialized_mode.sh runs
# the suite against a server without the preload).
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
preload=$("$PGBIN/psql" -X -At -d postgres -c "SHOW shared_preload_libraries") || exit 1
es_start_cluster clients "shared_preload_libraries = '$preload'" "listen_addresses = '127.0.0.1'" || exit 1
echo "clients' cluster: shared_preload_libraries = '$preload'"
trap 'es_stop_cluster clients' EXIT
es_new_db es_clients 2>/dev/null || exit 1
export PGDATABASE=es_clients
pgctl="$PGBIN/pg_ctl -D $TMP_CHECK/clients -l $TMP_CHECK/clients.log -m fast -w restart"
if [ "$(id -u)" = 0 ]; then pgctl="runuser -u postgres -- $pgctl"; fi
export ES_RESTART_CMD="$pgctl >/dev/null"
build=$TMP_CHECK/clients-build
mkdir -p "$build"

rc=0
client() {  # client NAME COMMAND...: runs one client, records a failure
    local name=$1; shift
    if ! "$@"; then echo "FAILED: $name client"; rc=1; fi
}

if [ -d test/clients/node_modules/pg ]; then
    client node node test/clients/node_client.js
else
    echo "node-postgres is missing (test/install-deps.sh installs it)"; rc=1
fi

client python /usr/bin/python3 test/clients/python_client.py

test/clients/build.sh "$build" || rc=1
[ -x "$build/go_client" ] && client go "$build/go_client"
[ -f "$build/java/EventstoreClient.class" ] && client java java -cp "$build/java:$ES_JDBC_JAR" EventstoreClient
rust=test/clients/rust/target/debug/eventstore-client-test
[ -x "$rust" ] && client rust "$rust"
exit $rc
