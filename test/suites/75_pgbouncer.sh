#!/usr/bin/env bash
# Behind a connection pooler: pgbouncer (Debian's) in transaction mode, with
# fewer server connections than clients, in front of a cluster of its own.
# Through it:
#  - the stress run of appends (test/stress/stress.py: exact expected
#    versions, multi-stream appends, retries; guarantees 1-4 checked against
#    the stored events);
#  - the feed stress run (test/stress/feed_stress.py: readers and
#    consumer-group members paging the feed never skip, guarantee 5);
#  - es_wait: several waiters wake when an append commits;
#  - the client programs whose drivers work in transaction mode (Node,
#    Python, Go with statement_cache_mode=describe, Java with
#    prepareThreshold=0), and the Rust one (tokio-postgres) in a session
#    pool, each with a server restart behind the pooler.
# What needs session mode is in docs/clients.md.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
command -v pgbouncer >/dev/null || { echo "pgbouncer is missing (test/install-deps.sh installs it)"; exit 1; }
es_start_cluster pooled "shared_preload_libraries = 'eventstore'" || exit 1
server_port=$PGPORT
bdir=$TMP_CHECK/pgbouncer
mkdir -p "$bdir"
bport=$(es_free_port) || exit 1
cat >"$bdir/pgbouncer.ini" <<INI
[databases]
; tokio-postgres names its prepared statements, which pgbouncer 1.18 cannot
; carry across transactions: the Rust client goes through a session pool.
es_session = host=$TMP_CHECK/sock port=$server_port dbname=es_pooled_clients pool_mode=session
* = host=$TMP_CHECK/sock port=$server_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir = $bdir
auth_type = trust
auth_file = $bdir/users.txt
pool_mode = transaction
; pgJDBC sends extra_float_digits at startup, which pgbouncer refuses otherwise.
ignore_startup_parameters = extra_float_digits
; While the server restarts, a failed server login makes pgbouncer refuse
; clients for server_login_retry seconds (15 by default): keep that short.
server_login_retry = 1
default_pool_size = 5
max_client_conn = 100
logfile = $bdir/pgbouncer.log
pidfile = $bdir/pgbouncer.pid
INI
echo '"postgres" ""' >"$bdir/users.txt"
[ "$(id -u)" = 0 ] && chown -R postgres "$bdir"
as_pg pgbouncer -d "$bdir/pgbouncer.ini" || { cat "$bdir/pgbouncer.log"; exit 1; }
trap 'kill "$(cat "$bdir/pgbouncer.pid")" 2>/dev/null; es_stop_cluster pooled' EXIT

# Everything below connects to pgbouncer, not to the server.
export PGHOST=$bdir PGPORT=$bport
rc=0
step() { echo "-- $1"; }

step "append stress through the pooler (8 clients, 5 server connections)"
es_new_db es_pooled_stress 2>/dev/null || exit 1
out=$(/usr/bin/python3 test/stress/stress.py --db es_pooled_stress --clients 8 \
    --transactions "${STRESS_TRANSACTIONS:-300}" --out "$TMP_CHECK/stress/pooled" 2>&1)
status=$?
echo "$out" | tail -9
[ $status = 0 ] || rc=1

step "feed stress through the pooler"
es_new_db es_pooled_feed 2>/dev/null || exit 1
/usr/bin/python3 test/stress/feed_stress.py \
    "host=$bdir port=$bport user=postgres dbname=es_pooled_feed" "${ES_FEED_STRESS_SECONDS:-5}" || rc=1

step "es_wait through the pooler"
es_new_db es_pooled_wait 2>/dev/null || exit 1
/usr/bin/python3 - es_pooled_wait <<'PY' || rc=1
import sys, threading
import psycopg2
db = sys.argv[1]
def connect():
    c = psycopg2.connect(dbname=db)
    c.autocommit = True
    return c
main = connect()
cur = main.cursor()
cur.execute("SELECT eventstore.es_feed_head()")
head = cur.fetchone()[0]
results = []
def wait():
    c = connect()
    w = c.cursor()
    w.execute("SELECT eventstore.es_wait(%s, 60000)", (head,))
    results.append(w.fetchone()[0])
    c.close()
waiters = [threading.Thread(target=wait) for _ in range(3)]
for t in waiters:
    t.start()
cur.execute("SELECT count(*) FROM eventstore.es_append('[{\"stream\": \"w-1\", \"events\": [{\"type\": \"A\"}]},"
            " {\"stream\": \"w-2\", \"events\": [{\"type\": \"B\"}]}]'::jsonb)")
for t in waiters:
    t.join()
cur.execute("SELECT count(*) FROM eventstore.es_load(after_position => %s)", (head,))
seen = cur.fetchone()[0]
if results != [True, True, True] or seen != 2:
    print("FAILED: es_wait results %r, feed after the head has %d events" % (results, seen))
    sys.exit(1)
print("ok: three waiters woke when a multi-stream append committed")
PY

step "clients through the pooler, the server restarting behind it"
build=$TMP_CHECK/clients-build
test/clients/build.sh "$build" >/dev/null || rc=1
es_new_db es_pooled_clients 2>/dev/null || exit 1
pgctl="$PGBIN/pg_ctl -D $TMP_CHECK/pooled -l $TMP_CHECK/pooled.log -m fast -w restart"
[ "$(id -u)" = 0 ] && pgctl="runuser -u postgres -- $pgctl"
export ES_RESTART_CMD="$pgctl >/dev/null" ES_POOLED=1 PGDATABASE=es_pooled_clients
node test/clients/node_client.js || rc=1
/usr/bin/python3 test/clients/python_client.py || rc=1
ES_CONNINFO="statement_cache_mode=describe" "$build/go_client" || rc=1
ES_JDBC_OPTIONS="prepareThreshold=0" java -cp "$build/java:$ES_JDBC_JAR" EventstoreClient || rc=1
PGDATABASE=es_session test/clients/rust/target/debug/eventstore-client-test || rc=1
exit $rc
