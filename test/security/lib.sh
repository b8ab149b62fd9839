# Shared helpers of the security suite (test/suites/67_security.sh).
# Each attack script in test/security/ sources this file, sets the stage as
# the attacker would (a role with CREATE on a database, the database's
# owner, an application role, ...), runs the attack, and checks with
# `check` that the attack's goal was NOT reached and, where the store
# refuses, that it refuses with the documented SQLSTATE.
# Runs against the cluster that test/run-all.sh started (PGHOST, PGPORT).
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. test/lib/cluster.sh
set -u
fails=0
check() {  # check NAME ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then echo "ok - $1"
    else echo "not ok - $1: got [$2], expected [$3]"; fails=$((fails + 1)); fi
}
# psql as a role (-At, errors to stdout); as_su: as the bootstrap superuser.
as_role() { local role=$1 db=$2; shift 2; "$PGBIN/psql" -X -q -At -U "$role" -d "$db" "$@" 2>&1; }
as_su() { local db=$1; shift; "$PGBIN/psql" -X -q -At -d "$db" "$@" 2>&1; }
# sqlstate ROLE DB SQL: the SQLSTATE of the first error the SQL raises
# (empty when it succeeds).  A script of several statements stops at the
# first error.
sqlstate() {
    "$PGBIN/psql" -X -q -At -U "$1" -d "$2" -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$3" 2>&1 \
        | sed -nE 's/^(psql:[^ ]* )?ERROR: +([0-9A-Z]{5}).*/\2/p' | head -n 1
}
# The stage: fresh roles and databases, dropped again by `finish`.
# stage_roles ROLE...: create LOGIN roles (dropped first if left over).
# stage_db DB OWNER: a database owned by OWNER.
ES_STAGE_DBS=""; ES_STAGE_ROLES=""
stage_roles() {
    local r
    for r in "$@"; do
        as_su postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS $r" -c "CREATE ROLE $r LOGIN" >/dev/null
        ES_STAGE_ROLES="$r $ES_STAGE_ROLES"
    done
}
stage_db() {
    as_su postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 OWNER $2" >/dev/null
    ES_STAGE_DBS="$1 $ES_STAGE_DBS"
}
# finish: drop the stage (a store that holds data needs allow_destroy) and
# exit 0 when every check passed.
finish() {
    local d r
    for d in $ES_STAGE_DBS; do
        as_su postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null
    done
    for r in $ES_STAGE_ROLES; do
        as_su postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS $r" >/dev/null
    done
    [ "$fails" = 0 ]
}
