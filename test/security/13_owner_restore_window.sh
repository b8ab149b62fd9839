#!/usr/bin/env bash
# Issue 21, item 9: the owner's restore lends it INSERT on the store's
# tables (es_restore_begin).  The loan must never outlive its transaction,
# never open on a store that holds data (the owner could then hide streams
# or forge the audit trail), and never reach a role that is not the owner.
. "$(dirname "$0")/lib.sh"
stage_roles sec13_o sec13_w
stage_db sec13_d sec13_o
stage_db sec13_e sec13_o
as_role sec13_o sec13_d -c "CREATE EXTENSION eventstore" -c "SELECT eventstore.es_grant_writer('sec13_w')" >/dev/null
as_role sec13_o sec13_e -c "CREATE EXTENSION eventstore" -c "SELECT eventstore.es_append('kept-1', 'Created', '{}', 0)" >/dev/null

check "a restore opened outside a transaction block is refused at commit" \
    "$(sqlstate sec13_o sec13_d "SELECT eventstore.es_restore_begin()")" ES015
check "a transaction that opens a restore and does not close it cannot commit" \
    "$(sqlstate sec13_o sec13_d "BEGIN; SELECT eventstore.es_restore_begin(); INSERT INTO eventstore.stream_state (stream, updated_at) VALUES ('x', now()); COMMIT;")" ES015
check "... and leaves the owner no INSERT right" \
    "$(as_su sec13_d -c "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'eventstore'::regnamespace AND has_table_privilege('sec13_o', c.oid, 'INSERT')")" 0
check "a restore cannot be opened on a store that holds events" \
    "$(sqlstate sec13_o sec13_e "BEGIN; SELECT eventstore.es_restore_begin(); SELECT eventstore.es_restore_end(); COMMIT;")" ES008
check "so the owner cannot hide a stream by writing lifecycle state" \
    "$(sqlstate sec13_o sec13_e "INSERT INTO eventstore.stream_state (stream, deleted_at, updated_at) VALUES ('kept-1', now(), now())")" 42501
check "a writer cannot open a restore" \
    "$(sqlstate sec13_w sec13_d "BEGIN; SELECT eventstore.es_restore_begin(); ROLLBACK;")" 42501
check "the owner cannot take the check off the restore" \
    "$(sqlstate sec13_o sec13_d "ALTER TABLE eventstore.restore_window DISABLE TRIGGER restore_window_must_close")" ES005
check "a closed restore commits and leaves no INSERT right" \
    "$(sqlstate sec13_o sec13_d "BEGIN; SELECT eventstore.es_restore_begin(); SELECT eventstore.es_restore_end(); COMMIT;")" ""
check "... none at all" \
    "$(as_su sec13_d -c "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'eventstore'::regnamespace AND has_table_privilege('sec13_o', c.oid, 'INSERT')")" 0
finish
