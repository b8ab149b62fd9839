#!/usr/bin/env bash
# Instructions per transaction on a real backend: bench/profile_server.sh SCRIPT:N ...
#
# Starts the profile cluster (made by bench/profile.sh; run that first) under
# valgrind --tool=callgrind and drives it with pgbench, one client,
# `-M prepared`, N transactions of bench/workloads/SCRIPT.sql (or
# bench/SCRIPT.sql, e.g. volume/append-new-stream) per entry; each
# pgbench run is one backend, so one callgrind file.  Unlike profile.sh's
# single-user backend this counts the protocol, text output and commit
# path too.  Prints the backend's total instructions per entry; the
# difference between two entries of one script, divided by the difference
# in N, is the cost of one transaction, e.g.
#   bench/profile_server.sh append-single/es:200 append-single/es:1200 \
#       read-feed-page/es:5 read-feed-page/es:25
set -euo pipefail
cd "$(dirname "$0")/.."
export TMP_CHECK=$PWD/tmp_profile
. bench/lib/cluster.sh
DIR=$TMP_CHECK/prof
[ -d "$DIR" ] || { echo "no profile cluster: run bench/profile.sh first" >&2; exit 1; }
CG=$TMP_CHECK/server
rm -rf "$CG"; mkdir -p "$CG"; chmod 777 "$CG"
DATA=$BENCH_DATA META=$BENCH_META
PORT=$(es_free_port)

as_pg valgrind --tool=callgrind --callgrind-out-file="$CG/cg.%p" "$PGBIN/postgres" -D "$DIR" \
    -c shared_preload_libraries=eventstore -c fsync=off -c port="$PORT" \
    -c listen_addresses='' -c unix_socket_directories="$CG" > "$CG/server.log" 2>&1 &
for _ in $(seq 1 120); do [ -e "$CG/.s.PGSQL.$PORT" ] && break; sleep 1; done
sleep 2
for entry in "$@"; do
    script=${entry%:*}; n=${entry#*:}
    file=bench/workloads/$script.sql; [ -f "$file" ] || file=bench/$script.sql
    before=$(ls "$CG"/cg.* 2>/dev/null | wc -l)
    "$PGBIN/pgbench" -n -M prepared -c 1 -t "$n" -h "$CG" -p "$PORT" -U postgres \
        -f "$file" -D nstreams=20 -D maxpos=20000 -D n=0 \
        -D run="p$RANDOM" -D data="$DATA" -D meta="$META" bench > "$CG/${script//\//.}.$n.out" 2>&1
    grep -q "aborted" "$CG/${script//\//.}.$n.out" && { grep -m3 ERROR "$CG/${script//\//.}.$n.out" >&2; exit 1; }
    echo "$entry" >> "$CG/order"
done
as_pg "$PGBIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null
sleep 2
# Each entry's backend is the largest callgrind file started after the previous entry's.
i=0
for f in $(ls -tr "$CG"/cg.*); do
    t=$(callgrind_annotate "$f" 2>/dev/null | sed -nE 's/^([0-9,]+) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
    echo "$t $f"
done | awk '$1 > 60000000' | while read -r t f; do
    i=$((i + 1)); printf '%-16s %12d\n' "$(sed -n "${i}p" "$CG/order")" "$t"
done
