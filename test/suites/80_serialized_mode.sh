#!/usr/bin/env bash
# Serialized mode: eventstore NOT in shared_preload_libraries.
#  - CREATE EXTENSION says so (WARNING), es_feed_mode() = 'serialized';
#  - the regression tests (test/regress/), the privileges test and the dump/restore and
#    client suites pass on such a server too;
#  - two transactions appending to different streams of one database run one
#    at a time: the second waits for the first one's commit.
# The contrast on the main (preloaded) cluster: the second does not wait.
# Waiting is detected from pg_stat_activity / pg_blocking_pids, never by
# measuring time; every poll loop is bounded.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
set -u
fails=0
ok()     { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; fails=$((fails + 1)); }
psql_q() { local db=$1; shift; "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }
work=$TMP_CHECK/serialized_work
rm -rf "$work"; mkdir -p "$work"

# poll CMD...: run CMD every 0.1 s until it succeeds, at most 300 times.
poll() { local i; for i in $(seq 300); do "$@" && return 0; sleep 0.1; done; return 1; }

# two_appenders DB EXPECT (wait|nowait): session A appends to stream a-N and
# keeps its transaction open; session B appends to b-N.  With "wait", B must
# be seen blocked by A until A commits, then succeed with a higher position.
# With "nowait", B must finish while A is still open.
two_appenders() {
    local db=$1 expect=$2 tag=$RANDOM
    local fifo=$work/a.in.$tag aout=$work/a.out.$tag bout=$work/b.out.$tag
    mkfifo "$fifo"
    PGAPPNAME=es_ser_a_$tag "$PGBIN/psql" -X -At -d "$db" <"$fifo" >"$aout" 2>&1 &
    local apid=$!
    exec 7>"$fifo"
    echo "BEGIN; SELECT 'A:' || position FROM eventstore.es_append('a-$tag', 'A', '{}', 0);" >&7
    poll grep -q '^A:' "$aout" || { not_ok "$expect: session A did not append"; cat "$aout"; }
    PGAPPNAME=es_ser_b_$tag "$PGBIN/psql" -X -At -d "$db" \
        -c "SELECT 'B:' || position FROM eventstore.es_append('b-$tag', 'B', '{}', 0)" >"$bout" 2>&1 &
    local bpid=$!
    if [ "$expect" = wait ]; then
        # B is blocked, and it is A that blocks it.
        blocked() {
            [ "$(psql_q postgres -c "SELECT count(*) FROM pg_stat_activity b, pg_stat_activity a
                  WHERE b.application_name = 'es_ser_b_$tag' AND a.application_name = 'es_ser_a_$tag'
                    AND b.wait_event_type = 'Lock' AND a.pid = ANY (pg_blocking_pids(b.pid))")" = 1 ]
        }
        if poll blocked; then ok "second appender (other stream) waits for the first one's transaction"
        else not_ok "second appender was not seen waiting for the first"; fi
        grep -q '^B:' "$bout" && not_ok "second appender finished while the first was open"
    else
        if poll bash -c "! kill -0 $bpid 2>/dev/null"; then
            grep -q '^B:' "$bout" && ok "second appender (other stream) finishes while the first is open" ||
                { not_ok "second appender failed"; cat "$bout"; }
        else
            not_ok "second appender did not finish while the first was open"
        fi
    fi
    echo "COMMIT;" >&7
    exec 7>&-
    wait "$apid"; wait "$bpid"
    local pa pb
    pa=$(sed -n 's/^A://p' "$aout"); pb=$(sed -n 's/^B://p' "$bout")
    if [ -n "$pa" ] && [ -n "$pb" ]; then
        ok "$expect: both committed (A at $pa, B at $pb)"
        if [ "$expect" = wait ]; then
            [ "$pb" -gt "$pa" ] && ok "the waiting appender got the higher position" ||
                not_ok "positions out of commit order: A $pa, B $pb"
        fi
    else
        not_ok "$expect: an appender failed"; cat "$aout" "$bout"
    fi
    rm -f "$fifo"
}

# Contrast on the main cluster (preloaded): appenders do not serialize.
es_new_db es_ser_contrast 2>/dev/null || exit 1
[ "$(psql_q es_ser_contrast -c "SELECT eventstore.es_feed_mode()")" = concurrent ] &&
    ok "main cluster runs in concurrent mode" || not_ok "main cluster is not in concurrent mode"
two_appenders es_ser_contrast nowait

# The serialized cluster, in a subshell so that PGHOST/PGPORT of the main
# cluster stay as they were for the suites that follow.
(
    fails=0
    es_start_cluster serialized || exit 1
    trap 'es_stop_cluster serialized' EXIT
    echo "# serialized cluster on port $PGPORT"

    psql_q postgres -c "CREATE DATABASE es_ser" >/dev/null
    notice=$(psql_q es_ser -c "CREATE EXTENSION eventstore" 2>&1)
    echo "$notice" | grep -q 'WARNING:  eventstore is not in shared_preload_libraries: appends run in serialized mode' &&
        ok "CREATE EXTENSION warns about serialized mode (a NOTICE would be hidden: CREATE EXTENSION raises client_min_messages to WARNING)" || not_ok "no serialized-mode WARNING: [$notice]"
    [ "$(psql_q es_ser -c "SELECT eventstore.es_feed_mode()")" = serialized ] &&
        ok "es_feed_mode() = serialized" || not_ok "es_feed_mode() is not serialized"

    two_appenders es_ser wait

    # Appends in serialized mode keep positions increasing across sessions
    # and transactions, gaps only from rollbacks.
    psql_q es_ser -c "BEGIN" -c "SELECT eventstore.es_append('g-1', 'X')" -c "ROLLBACK" >/dev/null
    psql_q es_ser -c "SELECT eventstore.es_append('g-1', 'Y')" >/dev/null
    [ "$(psql_q es_ser -c "SELECT bool_and(p > prev) FROM (SELECT position p, lag(position) OVER (ORDER BY position) prev FROM eventstore.events) s WHERE prev IS NOT NULL")" = t ] &&
        ok "positions increase" || not_ok "positions not increasing"

    # The regression tests (test/regress/), expecting the serialized mode in 00_setup.
    rdir=$work/regress
    mkdir -p "$rdir"
    cp -r test/regress/sql test/regress/expected "$rdir/"
    sed -i 's/^ concurrent$/ serialized/' "$rdir/expected/00_setup.out"
    tests=$(make -s print-regress)
    if "$PG_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --inputdir="$rdir" --outputdir="$rdir" --dbname=es_ser_regress --load-extension=eventstore \
        $tests >"$rdir/log" 2>&1; then
        ok "regression tests (test/regress/) pass in serialized mode"
    else
        not_ok "regression tests in serialized mode"; grep -E '^test|FAILED' "$rdir/log"; head -80 "$rdir/regression.diffs"
    fi
    # Privileges and search_path attack (the serialized path reads max(position) each time).
    if "$PG_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --inputdir=test/privileges --outputdir="$work/privileges" --dbname=es_priv --load-extension=eventstore \
        $(ls test/privileges/sql/*.sql | sed -E 's#.*/(.*)\.sql#\1#') >"$work/privileges.log" 2>&1; then
        ok "privileges test passes in serialized mode"
    else
        not_ok "privileges test in serialized mode"; head -80 "$work/privileges/regression.diffs"
    fi
    # The DDL guard without preload: the event trigger loads the library, and
    # a non-superuser's SET of eventstore.allow_destroy made before the
    # library was loaded in its session is refused when it loads.
    psql_q postgres -c "DROP ROLE IF EXISTS es_ser_user" -c "CREATE ROLE es_ser_user LOGIN" >/dev/null
    out=$("$PGBIN/psql" -X -q -At -U es_ser_user -d es_ser -v VERBOSITY=sqlstate \
        -c "SET eventstore.allow_destroy = on" -c "DROP EXTENSION eventstore" 2>&1)
    echo "$out" | grep -q '^ERROR: *ES005' && [ "$(psql_q es_ser -c "SELECT count(*) FROM pg_extension WHERE extname = 'eventstore'")" = 1 ] &&
        ok "without preload, DROP EXTENSION of a store holding data is refused, also after a non-superuser's early SET" ||
        { not_ok "DDL guard without preload: $out"; }
    psql_q postgres -c "DROP ROLE es_ser_user" >/dev/null
    for suite in 60_dump_restore 70_clients; do
        if bash "test/suites/$suite.sh" >"$work/$suite.log" 2>&1; then ok "$suite passes in serialized mode"
        else not_ok "$suite in serialized mode"; grep -v '^ok' "$work/$suite.log"; fi
    done
    [ "$fails" = 0 ]
) || fails=$((fails + 1))

[ "$fails" = 0 ]
