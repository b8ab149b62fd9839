#!/usr/bin/env bash
# PostgreSQL 17 and 18 (issue 24): for each, test/lib/fetch-pg.sh brings the
# pinned server and headers into tmp_pgver/; eventstore is built against
# them with warnings as errors, in a copy of the sources (the clone's own
# build is 15's), installed into a private tmp_install, and the suites below
# run against a preloaded cluster of that server, with 15's psql and the
# clients' drivers talking to it.
#
# The other suites stay on 15 (docs/testing-guarantees.md, "PostgreSQL 17
# and 18"): the Perl TAP tests (crashes, replicas, logical replication,
# pg_upgrade), dump and restore, serialized mode (which reruns dump and
# restore) and the partitioned layout's suite (TAP and dumps) need programs
# the fetched trees do not have (pg_dump, pg_basebackup, pg_upgrade,
# PostgreSQL::Test::Cluster); pgTAP, pg_cron and PL/Proxy are Debian
# packages built for 15 alone; 85_many_databases (260 databases, minutes)
# tests bookkeeping that does not depend on the server's version.
#
# ES_OTHER_MAJORS (default "17 18") and ES_OTHER_SUITES choose what runs.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
majors=${ES_OTHER_MAJORS:-17 18}
suites=${ES_OTHER_SUITES:-10_regress 15_upgrade 20_isolation 40_stress 45_feed_stress 46_projection 47_fuzz 67_security 70_clients 72_import_history 75_pgbouncer}
outer_check=$TMP_CHECK

rc=0
for major in $majors; do
    echo "-- PostgreSQL $major"
    if ! pg_config=$(test/lib/fetch-pg.sh "$major"); then
        echo "FAILED: PostgreSQL $major could not be fetched"; rc=1; continue
    fi
    (
        export PG_CONFIG=$pg_config
        export TMP_INSTALL=$ES_WORK/tmp_install/pg$major TMP_CHECK=$outer_check/pg$major
        unset PGHOST PGPORT
        . test/lib/cluster.sh
        rm -rf "$TMP_CHECK"; mkdir -p "$TMP_CHECK"
        es_build_copy "$TMP_CHECK/build" || { echo "FAILED: build against PostgreSQL $major"; exit 1; }
        es_build_tmp_install || { echo "FAILED: install into $TMP_INSTALL"; exit 1; }
        es_start_cluster main "shared_preload_libraries = 'eventstore'" || exit 1
        trap 'es_stop_cluster main' EXIT
        server=$("$PGBIN/psql" -X -At -d postgres -c "SELECT current_setting('server_version_num')::int / 10000")
        [ "$server" = "$major" ] || { echo "FAILED: the server is $server, not $major"; exit 1; }
        echo "server: $("$PGBIN/psql" -X -At -d postgres -c "SELECT version()")"
        failed=""
        for s in $suites; do
            start=$(date +%s)
            if bash "test/suites/$s.sh" >"$TMP_CHECK/$s.out" 2>&1; then
                echo "ok: $s on $major ($(( $(date +%s) - start ))s)"
            else
                echo "FAILED: $s on $major"; tail -60 "$TMP_CHECK/$s.out"; failed="$failed $s"
            fi
        done
        [ -z "$failed" ]
    ) || rc=1
done
exit $rc
