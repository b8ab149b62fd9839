#!/usr/bin/env bash
# Issue 21, item 1: a role with CREATE on a database pre-creates schema
# "eventstore" with a function the install script (run as a superuser)
# would call, then installs: it must not become superuser, the install must
# be refused (ES011), and nothing it planted may stay behind for a
# superuser to call.  Also: a pre-created EMPTY schema (what a restore
# makes) is taken over, and CREATE granted on it to others is taken back.
. "$(dirname "$0")/lib.sh"
stage_roles sec10_o sec10_m
stage_db sec10_d sec10_o
stage_db sec10_e sec10_o

planted="CREATE SCHEMA eventstore;
CREATE FUNCTION eventstore.es_grant_writer(role_name text) RETURNS void LANGUAGE plpgsql
  AS \$\$BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', session_user); END\$\$;"
as_role sec10_o sec10_d -c "$planted" >/dev/null
check "the install over a planted function is refused" \
    "$(sqlstate sec10_o sec10_d "CREATE EXTENSION eventstore")" ES011
check "the installing role did not become superuser" \
    "$(as_su postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'sec10_o'")" f
check "no extension was installed" \
    "$(as_su sec10_d -c "SELECT count(*) FROM pg_extension WHERE extname = 'eventstore'")" 0

# Every kind of object the claim looks at, one at a time.
for plant in \
    "CREATE FUNCTION eventstore.es_append(x text) RETURNS int LANGUAGE sql AS 'SELECT 1'" \
    "CREATE OPERATOR eventstore.= (LEFTARG = name, RIGHTARG = name, FUNCTION = pg_catalog.nameeq)" \
    "CREATE TYPE eventstore.planted AS (a int)" \
    "CREATE TABLE eventstore.planted (a int)" \
    "CREATE VIEW eventstore.planted AS SELECT 1 AS a" \
    "CREATE SEQUENCE eventstore.planted" \
    "CREATE DOMAIN eventstore.planted AS int" \
    "CREATE COLLATION eventstore.planted FROM \"C\"" \
    "CREATE TEXT SEARCH CONFIGURATION eventstore.planted (COPY = pg_catalog.simple)" \
    "CREATE EXTENSION pgcrypto SCHEMA eventstore"; do
    as_su postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS sec10_p" -c "CREATE DATABASE sec10_p OWNER sec10_o" >/dev/null
    as_role sec10_o sec10_p -c "CREATE SCHEMA eventstore" -c "$plant" >/dev/null
    check "refused over: $plant" "$(sqlstate sec10_o sec10_p "CREATE EXTENSION eventstore")" ES011
done
as_su postgres -c "DROP DATABASE sec10_p" >/dev/null

# The planted function stays out of reach of a superuser's later call: a
# superuser who installs over it is refused too.
check "a superuser's install over the planted function is refused" \
    "$(sqlstate postgres sec10_d "CREATE EXTENSION eventstore")" ES011

# An empty schema made by the owner (a restore does this) is taken over,
# and CREATE it gave to another role and to PUBLIC is taken back.
as_role sec10_o sec10_e -c "CREATE SCHEMA eventstore" \
    -c "GRANT CREATE ON SCHEMA eventstore TO sec10_m, PUBLIC" >/dev/null
check "the install over an empty pre-created schema succeeds" \
    "$(sqlstate sec10_o sec10_e "CREATE EXTENSION eventstore")" ""
check "the schema belongs to a superuser after the install" \
    "$(as_su sec10_e -c "SELECT r.rolsuper FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'eventstore'")" t
check "the schema's former owner cannot plant a function now" \
    "$(sqlstate sec10_o sec10_e "CREATE FUNCTION eventstore.es_grant_writer(role_name text) RETURNS void LANGUAGE sql AS ''")" 42501
check "a role given CREATE before the install cannot plant now" \
    "$(sqlstate sec10_m sec10_e "CREATE FUNCTION eventstore.es_grant_writer(role_name text) RETURNS void LANGUAGE sql AS ''")" 42501
check "the owner still uses its store" \
    "$(as_role sec10_o sec10_e -c "SELECT version FROM eventstore.es_append('sec-1', 'Created', '{}', 0)")" 1
finish
