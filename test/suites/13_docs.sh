#!/usr/bin/env bash
# Docs that run: every ```sql block of README.md and docs/*.md, in order,
# each document on a fresh database "app" of a cluster of its own, and the
# output each shows compared with what the server prints; then every path,
# link and section the documents name, README's layout table against
# the source files, and test/README.md's map against the folders of test/
# and the suites (no two of which share a number); and that no performance
# figure stands outside docs/benchmarks.md but in a block a bench/ script
# generates (test/README.md, "Figures").  The convention:
# test/docs/run_docs.py (and README.md, "Examples that run").
# The cluster preloads pg_cron beside eventstore, as docs/lifecycle.md's
# retention recipe asks (cron.database_name = 'app').
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
set -u
[ -f "$PGBIN/../lib/pg_cron.so" ] || { echo "not ok - pg_cron is not installed (apt-get install postgresql-15-cron)"; exit 1; }
docs="README.md $(ls docs/*.md)"
fails=0
/usr/bin/python3 test/docs/run_docs.py refs $docs test/README.md || fails=1

main_host=$PGHOST; main_port=$PGPORT
es_start_cluster docs "shared_preload_libraries = 'eventstore,pg_cron'" \
    "cron.database_name = 'app'" "cron.use_background_workers = on" || exit 1
trap 'es_stop_cluster docs; export PGHOST=$main_host PGPORT=$main_port' EXIT
PGBIN=$PGBIN /usr/bin/python3 test/docs/run_docs.py run $docs || fails=1
# The layout the table describes: no two src/ files call each other, even
# round a longer loop, and eventstore.h files each declaration under its
# file (from the build's objects; issue 22).
/usr/bin/python3 test/lib/file_calls.py || fails=1
exit $fails
