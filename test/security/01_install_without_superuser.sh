#!/usr/bin/env bash
# Installing without a superuser (docs/security.md): eventstore is a trusted
# extension.  A database owner (no superuser) creates it, uses it through the
# functions and grants application roles; it may read the tables (for
# pg_dump) but not write them, cannot add objects to the store's schema, cannot drop a
# store that holds data and cannot switch the guard off.  A role without
# CREATE on the database cannot install it.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
set -u
fails=0
check() {  # check NAME ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then echo "ok - $1"
    else echo "not ok - $1: got [$2], expected [$3]"; fails=$((fails + 1)); fi
}
as_role() { local role=$1 db=$2; shift 2; "$PGBIN/psql" -X -q -At -U "$role" -d "$db" "$@" 2>&1; }
sqlstate() { "$PGBIN/psql" -X -q -At -U "$1" -d "$2" -v VERBOSITY=sqlstate -c "$3" 2>&1 | sed -nE 's/^ERROR: +([0-9A-Z]{5}).*/\1/p'; }

"$PGBIN/psql" -X -q -d postgres >/dev/null 2>&1 <<'SQL'
SET client_min_messages = warning;
DROP DATABASE IF EXISTS es_owned;
DROP DATABASE IF EXISTS es_owned_old;
DROP ROLE IF EXISTS es_dbo;
DROP ROLE IF EXISTS es_app;
DROP ROLE IF EXISTS es_nobody;
CREATE ROLE es_dbo LOGIN;
CREATE ROLE es_app LOGIN;
CREATE ROLE es_nobody LOGIN;
CREATE DATABASE es_owned OWNER es_dbo;
CREATE DATABASE es_owned_old OWNER es_dbo;
REVOKE CREATE ON DATABASE es_owned FROM PUBLIC;
SQL

check "a role without CREATE on the database cannot install" \
    "$(sqlstate es_nobody es_owned "CREATE EXTENSION eventstore")" 42501
check "the database owner installs the head version" \
    "$(as_role es_dbo es_owned -c "CREATE EXTENSION eventstore" -c "SELECT extversion, pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'eventstore'")" \
    "$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" eventstore.control)|es_dbo"
check "the owner appends and reads through the functions" \
    "$(as_role es_dbo es_owned -c "SELECT version FROM eventstore.es_append('own-1', 'Created', '{}', 0)" -c "SELECT count(*) FROM eventstore.es_load('own-1')")" "1
1"
check "the owner reads the tables (pg_dump does)" "$(sqlstate es_dbo es_owned "SELECT count(*) FROM eventstore.events")" ""
check "the owner cannot write the tables" \
    "$(sqlstate es_dbo es_owned "INSERT INTO eventstore.stream_state (stream, deleted_at, updated_at) VALUES ('own-1', now(), now())")" 42501
check "the owner cannot add objects to the store's schema" \
    "$(sqlstate es_dbo es_owned "CREATE FUNCTION eventstore.es_append(x int) RETURNS int LANGUAGE sql AS 'SELECT 1'")" 42501
check "the store's objects belong to a superuser" \
    "$("$PGBIN/psql" -X -q -At -d es_owned -c "SELECT bool_and(r.rolsuper) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.relnamespace = 'eventstore'::regnamespace")" t
check "the owner grants an application role" \
    "$(as_role es_dbo es_owned -c "SELECT eventstore.es_grant_writer('es_app')")" ""
check "the application role appends" \
    "$(as_role es_app es_owned -c "SELECT version FROM eventstore.es_append('own-1', 'Changed', '{}', 1)")" 2
check "the application role has no table rights" "$(sqlstate es_app es_owned "SELECT count(*) FROM eventstore.events")" 42501
check "the owner cannot drop a store that holds data" "$(sqlstate es_dbo es_owned "DROP EXTENSION eventstore CASCADE")" ES005
check "the owner cannot say destroying is intended" "$(sqlstate es_dbo es_owned "SET eventstore.allow_destroy = on")" 42501
check "the owner cannot reset the position counter" \
    "$(sqlstate es_dbo es_owned "SELECT eventstore.es_reset_position_counter()")" 42501
check "the owner cannot delete streams" \
    "$(sqlstate es_dbo es_owned "SELECT eventstore.es_delete_stream('own-1')")" 42501
check "the owner cannot make itself an admin" \
    "$(sqlstate es_dbo es_owned "SELECT eventstore.es_grant_admin('es_dbo')")" 42501
check "a superuser makes a role an admin, who may then delete" \
    "$("$PGBIN/psql" -X -q -At -d es_owned -c "SELECT eventstore.es_grant_admin('es_app')" >/dev/null && as_role es_app es_owned -c "SELECT eventstore.es_delete_stream('own-1')")" 2

# 1.0 is not trusted (eventstore--1.0.control): its script leaves the
# schema to the installer.  The owner cannot install it; a superuser's 1.0
# store, updated by the superuser, ends with the schema a superuser's.
check "the owner cannot install 1.0" \
    "$(sqlstate es_dbo es_owned_old "CREATE EXTENSION eventstore VERSION '1.0'")" 42501
"$PGBIN/psql" -X -q -d es_owned_old -c "CREATE EXTENSION eventstore VERSION '1.0'" \
    -c "SELECT eventstore.es_append('old-1', 'Created', '{}', 0)" >/dev/null
check "a superuser updates 1.0, appends continue, the schema stays a superuser's" \
    "$("$PGBIN/psql" -X -q -At -d es_owned_old -c "ALTER EXTENSION eventstore UPDATE" \
        -c "SELECT version FROM eventstore.es_append('old-1', 'Changed', '{}', 1)" \
        -c "SELECT r.rolsuper FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'eventstore'")" "2
t"

"$PGBIN/psql" -X -q -d postgres >/dev/null 2>&1 <<'SQL'
SET client_min_messages = warning;
DROP DATABASE es_owned;
DROP DATABASE es_owned_old;
DROP ROLE es_app;
DROP ROLE es_nobody;
DROP ROLE es_dbo;
SQL
[ "$fails" = 0 ]
