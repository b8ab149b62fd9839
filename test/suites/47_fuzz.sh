#!/usr/bin/env bash
# Fuzzing of the es_* functions (test/fuzz/fuzz.py): random arguments,
# boundary numbers and random batch documents; the backend must never crash,
# every error must carry a documented SQLSTATE (or a data exception of
# PostgreSQL's input functions), and a failed call must change nothing.
# Briefly in `make test`; ES_FUZZ_ITERATIONS=1000000 for a long run,
# ES_FUZZ_SEED=N to repeat one.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
db=es_fuzz
log=$TMP_CHECK/main.log
es_new_db "$db" || exit 1
offset=$(stat -c %s "$log")
seed_arg=; [ -n "${ES_FUZZ_SEED:-}" ] && seed_arg="--seed $ES_FUZZ_SEED"
/usr/bin/python3 test/fuzz/fuzz.py --db "$db" --iterations "${ES_FUZZ_ITERATIONS:-5000}" $seed_arg
rc=$?
# A crash shows in the server's log even when the client did not notice it
# (the postmaster restarts every backend after one dies by a signal).
if tail -c +$((offset + 1)) "$log" | grep -E "terminated by signal|server process .* was terminated|all server processes terminated"; then
    echo "not ok - the server log shows a crashed backend"; rc=1
fi
"$PGBIN/psql" -X -q -At -d "$db" -c "SELECT 1" >/dev/null || { echo "not ok - the server does not answer"; rc=1; }
exit $rc
