# The one cluster start-up of every benchmark script (bench/run.sh,
# volume.sh, subscriptions.sh, correlation.sh, plproxy.sh, profile.sh):
# source it after setting TMP_CHECK (each script has a directory of its own,
# so that `make test` or another benchmark in the same tree does not remove
# its cluster).  It sources test/lib/cluster.sh (the private install and
# throwaway clusters the test suites use) and bench/lib/settings.sh, and
# defines PSQL, PGBENCH, the workloads' payload and:
#
#   bench_build                  build, install into tmp_install (always)
#   bench_build_if_missing       ... only when tmp_install has no server
#   bench_start_cluster NAME [postgresql.conf lines...]
#                                a fresh cluster in $TMP_CHECK/NAME, stopped
#                                on exit unless BENCH_KEEP=1
#   bench_new_db NAME            a database with the extension and the
#                                baselines (bench/setup.sql, sql_baseline.sql)
#   bench_message_db NAME        Message DB installed into a new database
#                                (bench/lib/message-db.sh)
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$BENCH_ROOT/test/lib/cluster.sh"
. "$BENCH_ROOT/bench/lib/settings.sh"
. "$BENCH_ROOT/bench/lib/message-db.sh"
PGBENCH=$PGBIN/pgbench
PSQL="$PGBIN/psql -X -q -v ON_ERROR_STOP=1"

# The payload of every append workload: a 90-byte JSON object and a 60-byte
# metadata object, the same for every contender (docs/benchmarks.md).
BENCH_DATA='{"amount": 100, "currency": "EUR", "account": "DE00 1234 5678", "note": "benchmark event"}'
BENCH_META='{"correlation_id": "4f9c3c1e-5d2a-4a41-9f41-8a2f7c1d0e55"}'

# The server is 15 unless the caller set PG_CONFIG to another major's tree
# (bench/run.sh --pg): that one is built in a copy of the sources, since the
# clone's objects are 15's.
bench_build() {
    if [ "$PG_MAJOR" = 15 ]; then
        make -s -C "$BENCH_ROOT" >/dev/null || return 1
    else
        es_build_copy "$BENCH_ROOT/tmp_pgver/build-bench-$PG_MAJOR" || return 1
    fi
    es_build_tmp_install
}

bench_build_if_missing() {
    [ -x "$PGBIN/postgres" ] || bench_build
}

bench_start_cluster() {
    local name=$1; shift
    mkdir -p "$TMP_CHECK"
    [ "$(id -u)" = 0 ] && chown postgres "$TMP_CHECK"
    es_start_cluster "$name" "$@" || return 1
    BENCH_CLUSTER=$name
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "   cluster kept: PGHOST=$PGHOST PGPORT=$PGPORT"
    else
        trap 'bench_stop_cluster' EXIT
    fi
}

# On exit: the cluster stops; BENCH_CLEANUP (a command) runs after it.
bench_stop_cluster() {
    es_stop_cluster "$BENCH_CLUSTER"
    [ -z "${BENCH_CLEANUP:-}" ] || eval "$BENCH_CLEANUP"
}

bench_new_db() {
    es_new_db "$1" &&
    $PSQL -d "$1" -f "$BENCH_ROOT/bench/setup.sql" -f "$BENCH_ROOT/bench/sql_baseline.sql" >/dev/null
}
