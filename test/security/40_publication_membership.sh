#!/usr/bin/env bash
# Issue 21, item 4: a publication membership that a superuser recorded is
# never replayed into another role's publication of the same name.
# docs/operations.md, "What users add to the store's tables".
. "$(dirname "$0")/lib.sh"
stage_roles s40_o s40_mallory
stage_db s40_d s40_o
as_su s40_d -c "GRANT CREATE ON DATABASE s40_d TO s40_mallory" >/dev/null
as_role s40_o s40_d -c "CREATE EXTENSION eventstore" >/dev/null

# A superuser publishes the store, then renames the publication.
as_su s40_d -c "SET client_min_messages = error" \
    -c "CREATE PUBLICATION cdc FOR TABLE eventstore.events, eventstore.snapshots" \
    -c "ALTER PUBLICATION cdc RENAME TO cdc_v2" >/dev/null
check "the renamed membership is recorded under its new name only" \
    "$(as_su s40_d -c "SELECT string_agg(name || ':' || table_name || ':' || state, ',' ORDER BY name, table_name) FROM eventstore.table_additions")" \
    "cdc_v2:events:present,cdc_v2:snapshots:present"
# Mallory, with CREATE on the database only, takes the old name.
as_role s40_mallory s40_d -c "SET client_min_messages = error" -c "CREATE PUBLICATION cdc" >/dev/null
check "mallory's publication of the old name holds no store table" \
    "$(as_su s40_d -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'cdc'")" 0

# Removing a table from a publication forgets its membership too.
as_su s40_d -c "SET client_min_messages = error" -c "ALTER PUBLICATION cdc_v2 DROP TABLE eventstore.snapshots" \
    -c "ALTER PUBLICATION cdc_v2 RENAME TO cdc_snap" >/dev/null
as_role s40_mallory s40_d -c "SET client_min_messages = error" -c "CREATE PUBLICATION cdc_v2" >/dev/null
check "mallory's publication of a dropped membership's name holds no store table" \
    "$(as_su s40_d -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'cdc_v2'")" 0

# A membership that a restore loaded waits for its publication (a row
# loaded like a restore loads it), and is not added to one mallory owns.
as_su s40_d -c "INSERT INTO eventstore.table_additions (kind, table_name, name, definition)
                VALUES ('publication', 'events', 'cdc_restored', 'ALTER PUBLICATION cdc_restored ADD TABLE ONLY eventstore.events')" >/dev/null
check "a restored membership without its publication waits" \
    "$(as_su s40_d -c "SELECT state FROM eventstore.table_additions WHERE name = 'cdc_restored'")" pending
as_role s40_mallory s40_d -c "SET client_min_messages = error" -c "CREATE PUBLICATION cdc_restored" >/dev/null
check "mallory's publication does not get the waiting membership" \
    "$(as_su s40_d -c "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'cdc_restored'")" 0
check "the membership is refused, not left waiting for the next publication of that name" \
    "$(as_su s40_d -c "SELECT state FROM eventstore.table_additions WHERE name = 'cdc_restored'")" refused
check "applying it by hand is refused (ES014)" \
    "$(sqlstate postgres s40_d "SELECT eventstore.es_apply_table_addition('publication', 'events', 'cdc_restored')")" ES014
# A superuser's publication of that name does get it.
as_su s40_d -c "SET client_min_messages = error" -c "DROP PUBLICATION cdc_restored" -c "CREATE PUBLICATION cdc_restored" \
    -c "SELECT eventstore.es_apply_table_addition('publication', 'events', 'cdc_restored')" >/dev/null
check "a superuser's publication gets the restored membership" \
    "$(as_su s40_d -c "SELECT string_agg(tablename, ',') FROM pg_publication_tables WHERE pubname = 'cdc_restored'")" events
finish
