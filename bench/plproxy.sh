#!/usr/bin/env bash
# What PL/Proxy costs per call: bench/plproxy.sh [SECONDS] [REPS] [CLIENTS]
#
# Single-event appends with an exact expected version (the scheme of
# bench/workloads/append-single/es.sql) against one unsharded database directly, and
# through a PL/Proxy router (docs/examples/plproxy.sql) to four shard
# databases of the same throwaway cluster.  Runs alternate (direct, proxy,
# direct, proxy, ...); prints the median transactions per second of each
# and the proxy's cost as a ratio of latencies.  Same server, same disks:
# the difference is the proxy's work plus its second connection (one more
# round trip per call on a local socket).  Not part of make test; the
# numbers are in docs/scale-out.md.  Uses tmp_install from `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5}; REPS=${2:-3}; CLIENTS=${3:-"1 4"}
export TMP_CHECK=$PWD/tmp_bench_plproxy
. bench/lib/cluster.sh
bench_build_if_missing
[ -f "$TMP_INSTALL/usr/share/postgresql/$PG_MAJOR/extension/plproxy.control" ] ||
    { echo "PL/Proxy is not in tmp_install: apt-get install postgresql-15-plproxy, then make test" >&2; exit 1; }

rm -rf "$TMP_CHECK"
bench_start_cluster pxbench "shared_preload_libraries = 'eventstore'" "max_connections = 100"
psql_q() { local db=$1; shift; "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }
conn() { echo "dbname=$1 host=$PGHOST port=$PGPORT user=postgres"; }
es_new_db direct >/dev/null 2>&1
for k in 0 1 2 3; do
    es_new_db "shard$k" >/dev/null 2>&1
    psql_q "shard$k" -c "SELECT eventstore.es_set_shard($k, 4)" >/dev/null
done
"$PGBIN/psql" -X -q -d postgres -c "CREATE DATABASE proxy" >/dev/null
psql_q proxy -v p0="$(conn shard0)" -v p1="$(conn shard1)" -v p2="$(conn shard2)" \
    -v p3="$(conn shard3)" -f docs/examples/plproxy.sql >/dev/null

DATA=$BENCH_DATA META=$BENCH_META
# The function name cannot be a pgbench variable (-M prepared makes every
# variable a parameter): one script per function.
for fn in eventstore.es_append es_proxy.es_append; do
    cat > "$TMP_CHECK/$fn.sql" <<SQL
\\set e :n % 100
\\set s :n / 100
SELECT * FROM $fn('acct-' || :run || '-' || :client_id || '-' || :s, 'Deposited', :data,
                  expected_version => :e, metadata => :meta);
\\set n :n + 1
SQL
done

# run DB FUNCTION CLIENTS TAG: prints tps
run() {
    "$PGBIN/pgbench" -n -M prepared -T "$DURATION" -c "$3" -j "$3" -f "$TMP_CHECK/$2.sql" -D n=0 \
        -D run="$4" -D data="$DATA" -D meta="$META" "$1" 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

printf '%-8s %14s %14s %18s\n' clients "direct tps" "proxy tps" "proxy/direct cost"
for c in $CLIENTS; do
    d=""; p=""
    for r in $(seq 1 "$REPS"); do
        d="$d $(run direct eventstore.es_append "$c" "d$c$r")"
        p="$p $(run proxy es_proxy.es_append "$c" "p$c$r")"
    done
    dm=$(echo $d | tr ' ' '\n' | median); pm=$(echo $p | tr ' ' '\n' | median)
    printf '%-8s %14s %14s %18s\n' "$c" "$dm" "$pm" "$(awk -v d="$dm" -v p="$pm" 'BEGIN {printf "%.2f", d / p}')"
done
