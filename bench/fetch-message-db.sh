#!/usr/bin/env bash
# Fetches Message DB, the PostgreSQL event store our users would pick
# instead, from the npm registry (package @eventide/message-db) into
# tmp_message_db/ and prints the directory of its install scripts
# (database/install.sh).  Only the benchmark needs it (bench/run.sh calls
# this, bench/lib/message-db.sh installs it into a benchmark cluster): it is
# not part of the project's sources, of test/install-deps.sh or of CI.
#   bench/fetch-message-db.sh [VERSION]     (default 1.3.1)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${1:-${MESSAGE_DB_VERSION:-1.3.1}}
DIR=$PWD/tmp_message_db/$VERSION
if [ ! -x "$DIR/package/database/install.sh" ]; then
    command -v npm >/dev/null || { echo "npm is not installed (apt-get install npm)" >&2; exit 1; }
    rm -rf "$DIR"; mkdir -p "$DIR"
    # npm pack: the registry's tarball as it is, no install scripts run and
    # nothing added to a package.json.
    (cd "$DIR" && npm pack --silent "@eventide/message-db@$VERSION" >/dev/null) ||
        { echo "could not fetch @eventide/message-db@$VERSION from the npm registry" >&2; exit 1; }
    tar -xzf "$DIR"/eventide-message-db-*.tgz -C "$DIR"
    chmod -R a+rX "$DIR"
fi
echo "$DIR/package/database"
