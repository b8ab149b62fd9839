#!/usr/bin/env bash
# Perl TAP tests on PostgreSQL::Test::Cluster (crash, replicas, restarts):
# test/t/*.pl.  Each test starts its own clusters from tmp_install.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
files=$(ls test/t/*.pl 2>/dev/null)
[ -z "$files" ] && { echo "no TAP tests"; exit 0; }
dir=$TMP_CHECK/tap
rm -rf "$dir"; mkdir -p "$dir"
# The tests run as the server's user, which may not be able to read the
# clone (test/lib/cluster.sh): they run from a copy in the work directory.
cp -r test/t "$dir/t"
[ "$(id -u)" = 0 ] && chown -R postgres "$dir"
cd "$dir" || exit 1
files=$(ls t/*.pl)
# They find binaries on PATH.
as_pg env PATH="$PGBIN:$PATH" TESTDIR="$dir" PG_REGRESS="$PG_REGRESS" \
    prove -I "$PGXS_DIR/src/test/perl" -I "$dir/t" $files
