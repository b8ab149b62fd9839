/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  The privileged, audited functions that delete what the store holds:
 *	  es_delete_stream (soft), es_restore_stream, es_tombstone_stream (hard),
 *	  es_erase_stream (GDPR), es_delete_snapshots; and es_stream_info, which
 *	  reports a stream's lifecycle state.
 *
 * Semantics and the comparison with KurrentDB: docs/lifecycle.md.  What
 * these calls share with retention and the archives (the stream's lock and
 * state, the audit row) is in stream_change.c; how their DELETE passes the
 * immutability trigger, in delete_permit.c.  es_reset_checkpoint, audited
 * the same way, lives with the checkpoint rule in checkpoint.c.
 *
 * Each function is one transaction's worth of work: a crash or an error in
 * the middle leaves the stream as it was.  Every call that changes
 * something adds one row to eventstore.lifecycle_log.
 *
 * Locks: the stream's lock in AccessExclusiveLock mode
 * (es_lock_stream_delete) to the end of the transaction, for deleting,
 * restoring, tombstoning and erasing; a restore then allocates positions as
 * an append does (position.c).  Tags and order: eventstore.h.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "utils/array.h"
#include "utils/lsyscache.h"
#include "catalog/namespace.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

static SPIPlanPtr move_plan = NULL;
static SPIPlanPtr move_plan_1_1 = NULL;	/* deleted_events without tags */
static SPIPlanPtr delete_events_plan = NULL;
static SPIPlanPtr delete_aside_plan = NULL;
static SPIPlanPtr delete_stream_snapshots_plan = NULL;
static SPIPlanPtr delete_stream_checkpoints_plan = NULL;
static SPIPlanPtr mark_deleted_plan = NULL;
static SPIPlanPtr mark_tombstoned_plan = NULL;
static SPIPlanPtr record_start_plan = NULL;

/*
 * A partitioned store: the restored events' stream keeps (or gets) a
 * stream_starts row at or below their first position, the invariant
 * es_append's version read relies on (05_layout.sql).  A converted store
 * has no row for a stream that was soft-deleted when it was dumped.
 */
static void
record_stream_start(text *stream, int64 position)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	if (!OidIsValid(es_stream_starts_relid()))
		return;
	es_kept_plan(&record_start_plan,
				 "INSERT INTO eventstore.stream_starts AS s (stream, position) VALUES ($1, $2)"
				 " ON CONFLICT (stream) DO UPDATE SET position = excluded.position"
				 " WHERE excluded.position OPERATOR(pg_catalog.<) s.position", 2, types);
	values[0] = PointerGetDatum(stream);
	values[1] = Int64GetDatum(position);
	if (SPI_execute_plan(record_start_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the start of stream \"%s\"", text_to_cstring(stream));
}

static SPIPlanPtr read_aside_plan = NULL;
static SPIPlanPtr read_aside_plan_1_1 = NULL;

/* Has deleted_events 1.2's tags column?  Not before ALTER EXTENSION ... UPDATE. */
static bool
deleted_events_have_tags(void)
{
	Oid			relid = get_relname_relid("deleted_events",
										  get_namespace_oid("eventstore", false));

	return OidIsValid(relid) && get_attnum(relid, "tags") != InvalidAttrNumber;
}
static SPIPlanPtr mark_restored_plan = NULL;
static SPIPlanPtr delete_snapshots_plan = NULL;
static SPIPlanPtr info_plan = NULL;

static text *
stream_arg(FunctionCallInfo fcinfo, int argno)
{
	return es_check_name(PG_ARGISNULL(argno) ? NULL : PG_GETARG_TEXT_PP(argno),
						 "stream name");
}

static int64
expected_arg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? ES_EXPECT_ANY :
		es_check_expected_form(PG_GETARG_INT64(argno));
}

/* Run a plan of one text argument; returns the rows it processed. */
static uint64
run_on_stream(SPIPlanPtr plan, text *stream, int expect)
{
	Datum		arg = PointerGetDatum(stream);

	if (SPI_execute_plan(plan, &arg, NULL, false, 0) != expect)
		elog(ERROR, "a lifecycle statement failed");
	return SPI_processed;
}

/* Delete a stream's snapshots; returns how many. */
static uint64
delete_stream_snapshots(text *stream)
{
	Oid			types[1] = {TEXTOID};

	es_kept_plan(&delete_stream_snapshots_plan,
				 "DELETE FROM eventstore.snapshots"
				 " WHERE stream OPERATOR(pg_catalog.=) $1", 1, types);
	return run_on_stream(delete_stream_snapshots_plan, stream, SPI_OK_DELETE);
}

/*
 * es_delete_stream(stream, expected_version, reason) -> the version it had
 *
 * Moves the stream's events to eventstore.deleted_events in one statement,
 * marks the stream deleted and deletes its snapshots.
 */
PG_FUNCTION_INFO_V1(es_delete_stream);
Datum
es_delete_stream(PG_FUNCTION_ARGS)
{
	text	   *stream = stream_arg(fcinfo, 0);
	int64		expected = expected_arg(fcinfo, 1);
	text	   *reason = es_reason_arg(fcinfo, 2, false);
	Oid			types[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3];
	EsLifecycleTarget t;
	uint64		moved;
	uint64		snapshots;
	Datum		last_position;

	es_begin_stream_change(stream, &t);
	es_require_live_stream(&t, "Restore it with es_restore_stream, or hard-delete it with es_tombstone_stream.");
	es_require_expected_version(stream, expected, t.version);

	/* A database still at 1.1 has no tags columns (docs/releasing.md). */
	if (deleted_events_have_tags())
		es_kept_plan(&move_plan,
					 "WITH moved AS ("
					 "  DELETE FROM eventstore.events"
					 "  WHERE stream OPERATOR(pg_catalog.=) $1"
					 "  RETURNING position, stream, version, event_id, type, category,"
					 "            data, data_bin, metadata, created_at, occurred_at, tags),"
					 " kept AS ("
					 "  INSERT INTO eventstore.deleted_events"
					 "   (position, stream, version, event_id, type, category,"
					 "    data, data_bin, metadata, created_at, deleted_at, occurred_at, tags)"
					 "  SELECT m.position, m.stream, m.version, m.event_id, m.type, m.category,"
					 "         m.data, m.data_bin, m.metadata, m.created_at, pg_catalog.now(),"
					 "         m.occurred_at, m.tags FROM moved m)"
					 " SELECT pg_catalog.count(*), pg_catalog.max(position) FROM moved", 1, types);
	else
		es_kept_plan(&move_plan_1_1,
					 "WITH moved AS ("
					 "  DELETE FROM eventstore.events"
					 "  WHERE stream OPERATOR(pg_catalog.=) $1"
					 "  RETURNING position, stream, version, event_id, type, category,"
					 "            data, data_bin, metadata, created_at, occurred_at),"
					 " kept AS ("
					 "  INSERT INTO eventstore.deleted_events"
					 "   (position, stream, version, event_id, type, category,"
					 "    data, data_bin, metadata, created_at, deleted_at, occurred_at)"
					 "  SELECT m.position, m.stream, m.version, m.event_id, m.type, m.category,"
					 "         m.data, m.data_bin, m.metadata, m.created_at, pg_catalog.now(),"
					 "         m.occurred_at FROM moved m)"
					 " SELECT pg_catalog.count(*), pg_catalog.max(position) FROM moved", 1, types);

	values[0] = PointerGetDatum(stream);
	moved = es_run_permitted_delete(deleted_events_have_tags() ? move_plan : move_plan_1_1,
									 values, &last_position);

	es_kept_plan(&mark_deleted_plan,
				 "INSERT INTO eventstore.stream_state AS s"
				 " (stream, last_version, last_position, deleted_at, updated_at)"
				 " VALUES ($1, $2, $3, pg_catalog.now(), pg_catalog.now())"
				 " ON CONFLICT (stream) DO UPDATE"
				 " SET last_version = GREATEST(s.last_version, excluded.last_version),"
				 "     last_position = GREATEST(s.last_position, excluded.last_position),"
				 "     deleted_at = excluded.deleted_at, updated_at = excluded.updated_at",
				 3, types);
	values[0] = PointerGetDatum(stream);
	values[1] = Int64GetDatum(t.version);
	values[2] = last_position;
	if (SPI_execute_plan(mark_deleted_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not mark a stream deleted");

	snapshots = delete_stream_snapshots(stream);
	es_lifecycle_audit("delete", stream, NULL, NULL,
		  psprintf("{\"version\": " INT64_FORMAT ", \"events\": " UINT64_FORMAT
				   ", \"snapshots\": " UINT64_FORMAT "}", t.version, moved, snapshots),
		  reason);
	SPI_finish();
	PG_RETURN_INT64(t.version);
}

/*
 * es_restore_stream(stream, reason) -> the stream's version
 *
 * Re-appends the events kept aside, in version order, at new positions
 * allocated as an append allocates them (so the feed never skips them),
 * keeping their versions, ids, payloads and created_at.
 */
PG_FUNCTION_INFO_V1(es_restore_stream);
Datum
es_restore_stream(PG_FUNCTION_ARGS)
{
	text	   *stream = stream_arg(fcinfo, 0);
	text	   *reason = es_reason_arg(fcinfo, 1, false);
	Oid			types[1] = {TEXTOID};
	EsLifecycleTarget t;
	SPITupleTable *tuptable;
	uint64		n;
	uint64		i;
	int64		pos;
	int64		first;
	int64		version = 0;

	es_begin_stream_change(stream, &t);
	if (t.state.tombstoned)
		es_error_tombstoned(stream);
	if (!t.state.deleted)
	{
		if (t.version == 0 && !t.state.found)
			es_error_unknown_stream(stream);
		ereport(ERROR,
				(errcode(ERRCODE_ES_WRONG_STATE),
				 errmsg("stream \"%s\" is not deleted", text_to_cstring(stream)),
				 errdetail("Only a soft-deleted stream that nothing was appended to since can be restored.")));
	}

	if (deleted_events_have_tags())
		es_kept_plan(&read_aside_plan,
					 "SELECT stream, version, event_id, type, category, data, data_bin,"
					 "       metadata, created_at, occurred_at, tags"
					 " FROM eventstore.deleted_events"
					 " WHERE stream OPERATOR(pg_catalog.=) $1 ORDER BY version", 1, types);
	else
		es_kept_plan(&read_aside_plan_1_1,
					 "SELECT stream, version, event_id, type, category, data, data_bin,"
					 "       metadata, created_at, occurred_at, NULL::text[]"
					 " FROM eventstore.deleted_events"
					 " WHERE stream OPERATOR(pg_catalog.=) $1 ORDER BY version", 1, types);

	n = run_on_stream(deleted_events_have_tags() ? read_aside_plan : read_aside_plan_1_1,
					   stream, SPI_OK_SELECT);
	tuptable = SPI_tuptable;
	if (n > (uint64) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stream \"%s\" has too many events to restore in one call",
						text_to_cstring(stream))));
	/* The tags' keys and the table, as an append takes them: before positions. */
	es_lock_restored_tags(tuptable, (int) n, 4, 11);
	pos = n > 0 ? es_allocate_positions((int) n) : 0;
	first = pos;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = tuptable->vals[i];
		TupleDesc	desc = tuptable->tupdesc;
		EsEventRow	row;
		bool		isnull;
		Datum		d;
		TimestampTz created_at;
		TimestampTz occurred_at;

		row.position = pos++;
		row.stream = stream;
		row.records_start = false;	/* recorded above */
		row.version = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		row.event_id = DatumGetUUIDP(SPI_getbinval(tup, desc, 3, &isnull));
		row.type = DatumGetTextPP(SPI_getbinval(tup, desc, 4, &isnull));
		row.category = DatumGetTextPP(SPI_getbinval(tup, desc, 5, &isnull));
		d = SPI_getbinval(tup, desc, 6, &isnull);
		row.data = isnull ? NULL : DatumGetJsonbP(d);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		row.data_bin = isnull ? NULL : DatumGetByteaPP(d);
		d = SPI_getbinval(tup, desc, 8, &isnull);
		row.metadata = isnull ? NULL : DatumGetJsonbP(d);
		created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 9, &isnull));
		occurred_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 10, &isnull));
		row.occurred_at = isnull ? NULL : &occurred_at;
		d = SPI_getbinval(tup, desc, 11, &isnull);
		row.tags = isnull ? NULL : es_tags_from_array(DatumGetArrayTypeP(d));
		es_insert_events(&row, 1, created_at);
		if (row.tags != NULL)
			es_store_event_tags(&row, 1);
		version = row.version;
	}
	/* After the loop: another SPI statement would free tuptable. */
	if (n > 0)
		record_stream_start(stream, first);

	es_kept_plan(&delete_aside_plan,
				 "DELETE FROM eventstore.deleted_events"
				 " WHERE stream OPERATOR(pg_catalog.=) $1", 1, types);
	(void) run_on_stream(delete_aside_plan, stream, SPI_OK_DELETE);
	es_kept_plan(&mark_restored_plan,
				 "UPDATE eventstore.stream_state"
				 " SET deleted_at = NULL, updated_at = pg_catalog.now()"
				 " WHERE stream OPERATOR(pg_catalog.=) $1", 1, types);
	(void) run_on_stream(mark_restored_plan, stream, SPI_OK_UPDATE);

	es_lifecycle_audit("restore", stream, NULL, NULL,
		  psprintf("{\"version\": " INT64_FORMAT ", \"events\": " UINT64_FORMAT "}",
				   version, n),
		  reason);
	SPI_finish();
	PG_RETURN_INT64(version);
}

/*
 * The common body of es_tombstone_stream and es_erase_stream: remove the
 * stream's events (stored and kept aside) and snapshots, for an erasure its
 * per-stream checkpoints too, and record the tombstone.
 */
static int64
tombstone(FunctionCallInfo fcinfo, text *stream, int64 expected, text *reason, bool erase)
{
	Oid			types[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	EsLifecycleTarget t;
	Datum		last_position;
	uint64		events;
	uint64		aside;
	uint64		snapshots;
	uint64		checkpoints = 0;
	int64		archived = -1;
	StringInfoData archives;
	int64		last;

	es_begin_stream_change(stream, &t);
	if (t.state.tombstoned)
		ereport(ERROR,
				(errcode(ERRCODE_ES_WRONG_STATE),
				 errmsg("stream \"%s\" is already deleted for ever", text_to_cstring(stream))));
	if (t.version == 0 && !t.state.found)
		es_error_unknown_stream(stream);
	/* A soft-deleted stream answers version 0, as to an append. */
	es_require_expected_version(stream, expected, t.version);
	last = Max(t.version, t.state.last_version);

	es_kept_plan(&delete_events_plan,
				 "WITH gone AS ("
				 "  DELETE FROM eventstore.events"
				 "  WHERE stream OPERATOR(pg_catalog.=) $1 RETURNING position)"
				 " SELECT pg_catalog.count(*), pg_catalog.max(position) FROM gone", 1, types);
	values[0] = PointerGetDatum(stream);
	events = es_run_permitted_delete(delete_events_plan, values, &last_position);
	if (events == 0)
		nulls[2] = 'n';
	es_kept_plan(&delete_aside_plan,
				 "DELETE FROM eventstore.deleted_events"
				 " WHERE stream OPERATOR(pg_catalog.=) $1", 1, types);
	aside = run_on_stream(delete_aside_plan, stream, SPI_OK_DELETE);
	snapshots = delete_stream_snapshots(stream);
	if (erase)
	{
		es_kept_plan(&delete_stream_checkpoints_plan,
					 "DELETE FROM eventstore.checkpoints"
					 " WHERE stream OPERATOR(pg_catalog.=) $1", 1, types);
		checkpoints = run_on_stream(delete_stream_checkpoints_plan, stream, SPI_OK_DELETE);
	}
	/* An erasure reaches the archives too (archive_erase.c); a tombstone keeps history. */
	initStringInfo(&archives);
	if (erase)
		archived = es_erase_archived_events(stream, &archives);

	es_kept_plan(&mark_tombstoned_plan,
				 "INSERT INTO eventstore.stream_state AS s"
				 " (stream, last_version, last_position, tombstoned_at, updated_at)"
				 " VALUES ($1, $2, $3, pg_catalog.now(), pg_catalog.now())"
				 " ON CONFLICT (stream) DO UPDATE"
				 " SET last_version = GREATEST(s.last_version, excluded.last_version),"
				 "     last_position = GREATEST(s.last_position, excluded.last_position),"
				 "     deleted_at = NULL, tombstoned_at = excluded.tombstoned_at,"
				 "     updated_at = excluded.updated_at",
				 3, types);
	values[0] = PointerGetDatum(stream);
	values[1] = Int64GetDatum(last);
	values[2] = last_position;
	if (SPI_execute_plan(mark_tombstoned_plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record a tombstone");

	/*
	 * What was removed where: counts per table, each archive by name (the
	 * archive keys only in the partitioned layout, which has archives).
	 */
	es_lifecycle_audit(erase ? "erase" : "tombstone", stream, NULL, NULL,
		  psprintf("{\"version\": " INT64_FORMAT ", \"events\": " UINT64_FORMAT
				   ", \"deleted_events\": " UINT64_FORMAT ", \"snapshots\": " UINT64_FORMAT
				   ", \"checkpoints\": " UINT64_FORMAT "%s}",
				   last, events, aside, snapshots, checkpoints,
				   archived >= 0 ? psprintf(", \"archived_events\": " INT64_FORMAT ", \"archives\": {%s}",
											archived, archives.data) : ""),
		  reason);
	SPI_finish();
	return last;
}

/* es_tombstone_stream(stream, expected_version, reason) -> the version it had */
PG_FUNCTION_INFO_V1(es_tombstone_stream);
Datum
es_tombstone_stream(PG_FUNCTION_ARGS)
{
	text	   *stream = stream_arg(fcinfo, 0);
	int64		expected = expected_arg(fcinfo, 1);
	text	   *reason = es_reason_arg(fcinfo, 2, false);

	PG_RETURN_INT64(tombstone(fcinfo, stream, expected, reason, false));
}

/* es_erase_stream(stream, reason) -> the version it had */
PG_FUNCTION_INFO_V1(es_erase_stream);
Datum
es_erase_stream(PG_FUNCTION_ARGS)
{
	text	   *stream = stream_arg(fcinfo, 0);
	text	   *reason = es_reason_arg(fcinfo, 1, true);

	PG_RETURN_INT64(tombstone(fcinfo, stream, ES_EXPECT_ANY, reason, true));
}

/* es_delete_snapshots(stream, kind, reason) -> how many were deleted */
PG_FUNCTION_INFO_V1(es_delete_snapshots);
Datum
es_delete_snapshots(PG_FUNCTION_ARGS)
{
	text	   *stream = PG_ARGISNULL(0) ? NULL : es_check_name(PG_GETARG_TEXT_PP(0), "stream name");
	text	   *kind = PG_ARGISNULL(1) ? NULL : es_check_name(PG_GETARG_TEXT_PP(1), "snapshot kind");
	text	   *reason = es_reason_arg(fcinfo, 2, false);
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2];
	uint64		n;

	if (stream == NULL && kind == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stream and kind must not both be null"),
				 errhint("Give a stream, a kind, or both.")));
	es_refuse_lifecycle_in_recovery();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&delete_snapshots_plan,
				 "DELETE FROM eventstore.snapshots"
				 " WHERE ($1 IS NULL OR stream OPERATOR(pg_catalog.=) $1)"
				 " AND ($2 IS NULL OR kind OPERATOR(pg_catalog.=) $2)", 2, types);
	values[0] = PointerGetDatum(stream);
	values[1] = PointerGetDatum(kind);
	nulls[0] = stream ? ' ' : 'n';
	nulls[1] = kind ? ' ' : 'n';
	if (SPI_execute_plan(delete_snapshots_plan, values, nulls, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete snapshots");
	n = SPI_processed;
	es_lifecycle_audit("delete_snapshots", stream, NULL, kind,
		  psprintf("{\"snapshots\": " UINT64_FORMAT "}", n), reason);
	SPI_finish();
	PG_RETURN_INT64((int64) n);
}

/*
 * es_stream_info(stream) -> (stream, state, version, first_version,
 *							  last_version, deleted_at, tombstoned_at)
 * in the caller's snapshot.
 */
PG_FUNCTION_INFO_V1(es_stream_info);
Datum
es_stream_info(PG_FUNCTION_ARGS)
{
	text	   *stream = stream_arg(fcinfo, 0);
	Oid			types[1] = {TEXTOID};
	Datum		arg = PointerGetDatum(stream);
	TupleDesc	tupdesc;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		result[10];
	bool		nulls[10];
	bool		first_null,
				max_null,
				state_null,
				deleted_null,
				tomb_null;
	int64		max_version;
	int64		state_last;
	const char *state;
	Interval   *age_copy = NULL;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&info_plan,
				 "SELECT (SELECT e.version FROM eventstore.events e"
				 "        WHERE e.stream OPERATOR(pg_catalog.=) $1 ORDER BY e.version LIMIT 1),"
				 "       (SELECT e.version FROM eventstore.events e"
				 "        WHERE e.stream OPERATOR(pg_catalog.=) $1 ORDER BY e.version DESC LIMIT 1),"
				 "       s.last_version, s.deleted_at, s.tombstoned_at,"
				 "       s.truncate_before, s.max_count, s.max_age"
				 " FROM (SELECT) x"
				 " LEFT JOIN eventstore.stream_state s ON s.stream OPERATOR(pg_catalog.=) $1",
				 1, types);
	if (SPI_execute_plan(info_plan, &arg, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the state of a stream");
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	memset(nulls, 0, sizeof(nulls));
	result[0] = PointerGetDatum(stream);
	result[3] = SPI_getbinval(tup, desc, 1, &first_null);
	result[7] = SPI_getbinval(tup, desc, 6, &nulls[7]);
	result[8] = SPI_getbinval(tup, desc, 7, &nulls[8]);
	result[9] = SPI_getbinval(tup, desc, 8, &nulls[9]);
	if (!nulls[9])
	{
		/* Copied out of SPI's memory, which SPI_finish frees. */
		Interval   *age = SPI_palloc(sizeof(Interval));

		memcpy(age, DatumGetIntervalP(result[9]), sizeof(Interval));
		age_copy = age;
	}
	max_version = DatumGetInt64(SPI_getbinval(tup, desc, 2, &max_null));
	state_last = DatumGetInt64(SPI_getbinval(tup, desc, 3, &state_null));
	result[5] = SPI_getbinval(tup, desc, 4, &deleted_null);
	result[6] = SPI_getbinval(tup, desc, 5, &tomb_null);
	if (max_null)
		max_version = 0;
	if (state_null)
		state_last = 0;
	/* Every value kept is passed by value (or copied): built outside SPI. */
	SPI_finish();
	if (!nulls[9])
		result[9] = IntervalPGetDatum(age_copy);

	if (!tomb_null)
		state = "tombstoned";
	else if (!deleted_null && max_null)
		state = "deleted";
	else if (!max_null || !state_null)
		state = "active";
	else
		state = "unknown";
	result[1] = CStringGetTextDatum(state);
	/* As es_stream_version answers. */
	result[2] = Int64GetDatum(!max_null ? max_version :
							  (!tomb_null || !deleted_null) ? 0 : state_last);
	nulls[3] = first_null;
	result[4] = Int64GetDatum(Max(max_version, state_last));
	nulls[5] = deleted_null;
	nulls[6] = tomb_null;

	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls)));
}
