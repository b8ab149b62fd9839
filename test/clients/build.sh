#!/usr/bin/env bash
# Builds the compiled client programs into $1 (default $TMP_CHECK/clients-build),
# offline, from Debian's packaged drivers: go_client (pgx v4, GOPATH mode
# against /usr/share/gocode), java/EventstoreClient.class (JDBC jar on the
# classpath), and the Rust client (tokio-postgres, Debian's crates through
# test/clients/rust/.cargo/config.toml; its target directory stays in the
# tree so that later runs rebuild only what changed).  Used by the client
# suite and the pooler suite.  Prints one line per client that fails to build
# and exits non-zero if any did.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
build=${1:-$TMP_CHECK/clients-build}
mkdir -p "$build"
rc=0
(cd test/clients/go && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$build/gocache" \
    go build -o "$build/go_client" .) || { echo "the go client does not build"; rc=1; }
javac -d "$build/java" -cp "$ES_JDBC_JAR" test/clients/java/EventstoreClient.java ||
    { echo "the java client does not build"; rc=1; }
(cd test/clients/rust && CARGO_TARGET_DIR="$ES_ROOT/test/clients/rust/target" \
    /usr/bin/cargo build --offline --quiet) || { echo "the rust client does not build"; rc=1; }
exit $rc
