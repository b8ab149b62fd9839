# Shell helpers shared by the test suites, the demo and the benchmark.
# Source this file; it defines ES_ROOT, PGBIN and functions to build a private
# install of PostgreSQL + eventstore and to start throwaway clusters.
#
# Why a private install: the server finds its share/ and lib/ directories
# relative to its own binary, so a copy of Debian's PostgreSQL under
# tmp_install/ with eventstore installed into it lets tests run without
# touching (or depending on) what is installed system-wide.
#
# PG_CONFIG chooses the server: Debian's PostgreSQL 15 by default, or a
# tree that test/lib/fetch-pg.sh made (17, 18), whose pg_config is a
# stand-in.  Such a tree has no client programs: its tmp_install gets 15's
# psql, which talks to the later servers (test/suites/90_other_majors.sh).

ES_ROOT=${ES_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PG_CONFIG=${PG_CONFIG:-pg_config}
PG_MAJOR=$($PG_CONFIG --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')

# Where the private install and the clusters live: tmp_install/ and
# tmp_check/ of the clone, unless the servers could not reach them.  When we
# are root the servers run as "postgres", which must enter both; a clone in a
# directory postgres cannot enter (root's home is mode 700 on Debian) keeps
# them in /var/tmp instead, under a name derived from the clone's path, so
# that every suite of a run (each sources this file) finds the same place.
es_work_dir() {
    if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -r "$ES_ROOT" -a -x "$ES_ROOT"; then
        echo "$ES_ROOT"; return 0
    fi
    local d
    d=/var/tmp/eventstore-test-$(printf '%s' "$ES_ROOT" | cksum | cut -d' ' -f1)
    mkdir -p -m 755 "$d"
    # /var/tmp is writable by everyone: use only a directory root owns.
    if [ -L "$d" ] || [ "$(stat -c %u "$d")" != 0 ]; then
        echo "$d is not a directory owned by root; remove it and retry" >&2
        return 1
    fi
    chmod 755 "$d"
    echo "$d"
}
ES_WORK=${ES_WORK:-$(es_work_dir)} || return 1 2>/dev/null || exit 1
TMP_INSTALL=${TMP_INSTALL:-$ES_WORK/tmp_install}
TMP_CHECK=${TMP_CHECK:-$ES_WORK/tmp_check}
PGBIN=$TMP_INSTALL$($PG_CONFIG --bindir)
# Where psql comes from when the server's tree has none.
ES_CLIENT_BIN=${ES_CLIENT_BIN:-/usr/lib/postgresql/15/bin}
PGXS_DIR=$(cd "$(dirname "$($PG_CONFIG --pgxs)")/../.." && pwd)
PG_REGRESS=$PGXS_DIR/src/test/regress/pg_regress
PG_ISOLATION_REGRESS=$PGXS_DIR/src/test/isolation/pg_isolation_regress
export PGUSER=postgres
# Debian's JDBC driver (libpostgresql-jdbc-java), for the Java client.
ES_JDBC_JAR=/usr/share/java/postgresql.jar

# Servers refuse to run as root: when we are root, run them as "postgres",
# from the work directory when postgres cannot enter the clone (the server
# programs would complain that they cannot change back to it).
as_pg() {
    if [ "$(id -u)" != 0 ]; then
        "$@"
    elif [ "$ES_WORK" != "$ES_ROOT" ] && case "$PWD/" in "$ES_ROOT"/*) true ;; *) false ;; esac; then
        (cd "$ES_WORK" && runuser -u postgres -- "$@")
    else
        runuser -u postgres -- "$@"
    fi
}

# Copies the server's tree (its bin/ and lib/ parent, and its share/ when
# that lies elsewhere, as on Debian) under $TMP_INSTALL at the same path and
# installs eventstore into it, built in ES_BUILD_DIR (default: the clone).
es_build_tmp_install() {
    local top share d
    top=$(dirname "$($PG_CONFIG --bindir)")
    share=$($PG_CONFIG --sharedir)
    rm -rf "$TMP_INSTALL"
    for d in "$top" "$share"; do
        [ "$d" != "$top" ] && case "$d/" in "$top"/*) continue ;; esac
        mkdir -p "$TMP_INSTALL$(dirname "$d")"
        cp -a "$d" "$TMP_INSTALL$(dirname "$d")/"
    done
    for d in psql pgbench; do
        [ -e "$PGBIN/$d" ] || ln -s "$ES_CLIENT_BIN/$d" "$PGBIN/$d"
    done
    # Only this tree's files: an eventstore the system has (a package, or a
    # `make install` of another checkout) may hold files this tree does not,
    # e.g. a version's secondary control file, which would change what the
    # tests see.
    rm -rf "$TMP_INSTALL$share/extension/eventstore"* \
           "$TMP_INSTALL$($PG_CONFIG --pkglibdir)/eventstore.so" \
           "$TMP_INSTALL$($PG_CONFIG --pkglibdir)/bitcode/eventstore"*
    make -C "${ES_BUILD_DIR:-$ES_ROOT}" -s install PG_CONFIG="$PG_CONFIG" DESTDIR="$TMP_INSTALL" >/dev/null
}

# es_build_copy DIR: builds eventstore for $PG_CONFIG, warnings as errors,
# in DIR, a fresh copy of the clone's sources (the clone's own objects are
# for its default server), and points es_build_tmp_install at it.
es_build_copy() {
    local dir=$1
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$ES_ROOT" && cp -a Makefile ./*.control eventstore--*.sql releases.sha256 src "$dir/") || return 1
    make -s -C "$dir" PG_CONFIG="$PG_CONFIG" clean >/dev/null
    make -s -C "$dir" PG_CONFIG="$PG_CONFIG" WERROR=-Werror >/dev/null || return 1
    ES_BUILD_DIR=$dir
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
