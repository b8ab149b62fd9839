#!/usr/bin/env bash
# Issue 21, item 2: 1.0's script leaves the schema to whoever installed it.
# 1.0 is not trusted (eventstore--1.0.control): a database owner cannot
# install it.  A superuser's 1.0 install into a schema the owner created
# first lets the owner plant functions; the update to the head must refuse
# (ES011) rather than run them as a superuser.
. "$(dirname "$0")/lib.sh"
stage_roles sec11_o
stage_db sec11_d sec11_o
stage_db sec11_e sec11_o

check "a database owner cannot install 1.0" \
    "$(sqlstate sec11_o sec11_d "CREATE EXTENSION eventstore VERSION '1.0'")" 42501

as_role sec11_o sec11_d -c "CREATE SCHEMA eventstore" >/dev/null
as_su sec11_d -c "CREATE EXTENSION eventstore VERSION '1.0'" >/dev/null
as_role sec11_o sec11_d -c "CREATE FUNCTION eventstore.es_grant_writer(role_name text) RETURNS void LANGUAGE plpgsql
  AS \$\$BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', session_user); END\$\$" >/dev/null
check "the update over a planted function is refused" \
    "$(sqlstate postgres sec11_d "ALTER EXTENSION eventstore UPDATE")" ES011
check "the schema's owner did not become superuser" \
    "$(as_su postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'sec11_o'")" f
check "the store stays at 1.0" \
    "$(as_su sec11_d -c "SELECT extversion FROM pg_extension WHERE extname = 'eventstore'")" 1.0

# Without a planted object the update takes the schema over.
as_role sec11_o sec11_e -c "CREATE SCHEMA eventstore" >/dev/null
as_su sec11_e -c "CREATE EXTENSION eventstore VERSION '1.0'" -c "SELECT eventstore.es_append('old-1', 'Created', '{}', 0)" >/dev/null
check "the update of a clean 1.0 store succeeds" "$(sqlstate postgres sec11_e "ALTER EXTENSION eventstore UPDATE")" ""
check "after it, the schema belongs to a superuser" \
    "$(as_su sec11_e -c "SELECT r.rolsuper FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'eventstore'")" t
check "the former schema owner cannot plant a function" \
    "$(sqlstate sec11_o sec11_e "CREATE FUNCTION eventstore.es_grant_writer(role_name text) RETURNS void LANGUAGE sql AS ''")" 42501
finish
