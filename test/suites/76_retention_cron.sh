#!/usr/bin/env bash
# The retention recipe of docs/lifecycle.md, run as written: pg_cron
# (Debian's postgresql-15-cron) calls es_apply_retention every minute on a
# cluster of its own (shared_preload_libraries = 'eventstore,pg_cron',
# cron.database_name, cron.use_background_workers).  A stream keeps at most
# 3 events; events appended after the setting are removed by the scheduled
# run, not by the appender.
# Waits for the first run (at most about a minute: pg_cron 1.4 schedules
# by the minute), polling, without asserting on elapsed time.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
set -u
fails=0
check() {  # check NAME ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then echo "ok - $1"
    else echo "not ok - $1: got [$2], expected [$3]"; fails=$((fails + 1)); fi
}
[ -f "$PGBIN/../lib/pg_cron.so" ] || { echo "not ok - pg_cron is not installed (apt-get install postgresql-15-cron)"; exit 1; }

main_host=$PGHOST; main_port=$PGPORT
es_start_cluster cron "shared_preload_libraries = 'eventstore,pg_cron'" "cron.database_name = 'es_cron'" "cron.use_background_workers = on" || exit 1
trap 'es_stop_cluster cron; export PGHOST=$main_host PGPORT=$main_port' EXIT
psql_q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d es_cron "$@"; }

es_new_db es_cron || exit 1
psql_q <<'SQL' >/dev/null || { echo "not ok - setup"; exit 1; }
CREATE EXTENSION pg_cron;
CREATE ROLE retention_admin LOGIN;
SELECT eventstore.es_grant_admin('retention_admin');
GRANT USAGE ON SCHEMA cron TO retention_admin;
SELECT count(*) FROM generate_series(1, 5) g, LATERAL eventstore.es_append('sensor-1', 'Reading', jsonb_build_object('n', g));
SELECT eventstore.es_set_retention('sensor-1', max_count => 3, reason => 'keep the last 3 readings');
SQL
check "setting the retention applies it at once" \
    "$(psql_q -c "SELECT string_agg(version::text, ',' ORDER BY version) FROM eventstore.es_load('sensor-1')")" "3,4,5"

# The recipe: the job is scheduled by (and runs as) the admin role.
psql_q -U retention_admin -c "SELECT cron.schedule('eventstore-retention', '* * * * *',
    'SELECT count(*) FROM eventstore.es_apply_retention()')" >/dev/null ||
    { echo "not ok - cron.schedule"; exit 1; }
psql_q -c "SELECT count(*) FROM generate_series(6, 9) g, LATERAL eventstore.es_append('sensor-1', 'Reading', jsonb_build_object('n', g))" >/dev/null
check "appends are not slowed by retention: all stored until the job runs" \
    "$(psql_q -c "SELECT count(*) FROM eventstore.events WHERE stream = 'sensor-1'")" 7

# Wait for a successful run of the job (pg_cron starts jobs at minute boundaries).
for _ in $(seq 1 150); do
    done_runs=$(psql_q -c "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                           WHERE j.jobname = 'eventstore-retention' AND d.status IN ('succeeded', 'failed')")
    [ "$done_runs" -gt 0 ] && break
    sleep 1
done
check "the scheduled cleanup ran and succeeded" \
    "$(psql_q -c "SELECT string_agg(d.status, ',') FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'eventstore-retention' AND d.status IN ('succeeded', 'failed')" | cut -d, -f1)" succeeded
check "the stream keeps its last 3 events" \
    "$(psql_q -c "SELECT string_agg(version::text, ',' ORDER BY version) FROM eventstore.es_load('sensor-1')")" "7,8,9"
check "es_stream_info says where reads start" \
    "$(psql_q -c "SELECT first_version || '/' || version FROM eventstore.es_stream_info('sensor-1')")" "7/9"
check "the run is audited as the admin role" \
    "$(psql_q -c "SELECT string_agg(action || ':' || calling_role || ':' || coalesce(detail->>'events', ''), ',' ORDER BY logged_at) FROM eventstore.lifecycle_log WHERE stream = 'sensor-1'")" \
    "set_retention:postgres:,retention:postgres:2,retention:retention_admin:4"
psql_q -U retention_admin -c "SELECT cron.unschedule('eventstore-retention')" >/dev/null
[ "$fails" = 0 ]
