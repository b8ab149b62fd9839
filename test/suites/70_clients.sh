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
# 127.0.0.1, since JDBC does not speak Unix sockets.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
es_start_cluster clients "shared_preload_libraries = 'eventstore'" "listen_addresses = '127.0.0.1'" || exit 1
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

# Go: GOPATH mode against Debian's packaged sources, no module proxy.
if (cd test/clients/go && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$build/gocache" \
        go build -o "$build/go_client" .); then
    client go "$build/go_client"
else
    echo "FAILED: go client does not build"; rc=1
fi

# Java: plain javac/java with Debian's JDBC jar on the classpath.
jdbc=/usr/share/java/postgresql.jar
if javac -d "$build/java" -cp "$jdbc" test/clients/java/EventstoreClient.java; then
    client java java -cp "$build/java:$jdbc" EventstoreClient
else
    echo "FAILED: java client does not build"; rc=1
fi

# Rust: Debian's cargo and crates, offline (test/clients/rust/.cargo/config.toml).
if (cd test/clients/rust && CARGO_TARGET_DIR="$ES_ROOT/test/clients/rust/target" \
        /usr/bin/cargo build --offline --quiet); then
    client rust test/clients/rust/target/debug/eventstore-client-test
else
    echo "FAILED: rust client does not build"; rc=1
fi
exit $rc
