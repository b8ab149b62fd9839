# Shell helpers shared by the test suites, the demo and the benchmark.
# Source this file; it defines ES_ROOT, PGBIN and functions to build a private
# install of PostgreSQL + eventstore and to start throwaway clusters.
#
# Why a private install: the server finds its share/ and lib/ directories
# relative to its own binary, so a copy of Debian's PostgreSQL under
# tmp_install/ with eventstore installed into it lets tests run without
# touching (or depending on) what is installed system-wide.

ES_ROOT=${ES_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PG_CONFIG=${PG_CONFIG:-pg_config}
PG_MAJOR=$($PG_CONFIG --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
TMP_INSTALL=${TMP_INSTALL:-$ES_ROOT/tmp_install}
TMP_CHECK=${TMP_CHECK:-$ES_ROOT/tmp_check}
PGBIN=$TMP_INSTALL/usr/lib/postgresql/$PG_MAJOR/bin
PGXS_DIR=$(cd "$(dirname "$($PG_CONFIG --pgxs)")/../.." && pwd)
PG_REGRESS=$PGXS_DIR/src/test/regress/pg_regress
PG_ISOLATION_REGRESS=$PGXS_DIR/src/test/isolation/pg_isolation_regress
export PGUSER=postgres
# Debian's JDBC driver (libpostgresql-jdbc-java), for the Java client.
ES_JDBC_JAR=/usr/share/java/postgresql.jar

# Servers refuse to run as root: when we are root, run them as "postgres".
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

es_build_tmp_install() {
    rm -rf "$TMP_INSTALL"
    mkdir -p "$TMP_INSTALL/usr/lib/postgresql" "$TMP_INSTALL/usr/share/postgresql"
    cp -a "/usr/lib/postgresql/$PG_MAJOR" "$TMP_INSTALL/usr/lib/postgresql/"
    cp -a "/usr/share/postgresql/$PG_MAJOR" "$TMP_INSTALL/usr/share/postgresql/"
    make -C "$ES_ROOT" -s install DESTDIR="$TMP_INSTALL" >/dev/null
}

es_free_port() {
    local p
    for p in $(seq 54330 54399); do
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && [ ! -e "$TMP_CHECK/sock/.s.PGSQL.$p" ]; then
            echo "$p"; return
        fi
    done
    echo "no free port" >&2; return 1
}

# es_start_cluster NAME [postgresql.conf lines...]
# Starts a cluster in $TMP_CHECK/NAME; sets PGHOST and PGPORT.
es_start_cluster() {
    local name=$1; shift
    local dir=$TMP_CHECK/$name
    mkdir -p "$TMP_CHECK/sock"
    [ "$(id -u)" = 0 ] && chown postgres "$TMP_CHECK" "$TMP_CHECK/sock"
    rm -rf "$dir"
    as_pg "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$TMP_CHECK/$name.initdb.log" 2>&1 || {
        cat "$TMP_CHECK/$name.initdb.log"; return 1; }
    PGPORT=$(es_free_port)
    {
        echo "port = $PGPORT"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$TMP_CHECK/sock'"
        echo "max_connections = 60"
        echo "max_prepared_transactions = 5"
        echo "fsync = off"
        echo "log_line_prefix = '%m [%p] %d '"
        for line in "$@"; do echo "$line"; done
    } | as_pg tee -a "$dir/postgresql.conf" >/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$TMP_CHECK/$name.log" -w start >/dev/null || {
        tail -20 "$TMP_CHECK/$name.log"; return 1; }
    export PGHOST=$TMP_CHECK/sock PGPORT
}

es_stop_cluster() {
    as_pg "$PGBIN/pg_ctl" -D "$TMP_CHECK/$1" -m fast -w stop >/dev/null 2>&1 || true
}

# A fresh database with the extension: es_new_db NAME
es_new_db() {
    "$PGBIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$1\"" -c "CREATE DATABASE \"$1\"" >/dev/null &&
    "$PGBIN/psql" -X -q -d "$1" -c "CREATE EXTENSION eventstore" >/dev/null
}
