#!/usr/bin/env bash
# Perl TAP tests on PostgreSQL::Test::Cluster (crash, replicas, restarts):
# test/t/*.pl.  Each test starts its own clusters from tmp_install.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
files=$(ls test/t/*.pl 2>/dev/null)
[ -z "$files" ] && { echo "no TAP tests"; exit 0; }
dir=$TMP_CHECK/tap
rm -rf "$dir"; mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
# The tests run as the server's user; they find binaries on PATH.
as_pg env PATH="$PGBIN:$PATH" TESTDIR="$dir" PG_REGRESS="$PG_REGRESS" ES_ROOT="$ES_ROOT" \
    prove -I "$PGXS_DIR/src/test/perl" -I "$ES_ROOT/test/t" $files
