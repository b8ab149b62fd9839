/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *	  Handler checkpoints: es_advance_position, es_handler_position,
 *	  es_lock_handler, and the admin's audited way back, es_reset_checkpoint.
 *
 * A checkpoint is a row of eventstore.checkpoints keyed by (handler,
 * stream); stream is '' for a feed handler (position = global position) and
 * the stream name for a per-stream handler (position = stream version).
 *
 * Forward only.  es_advance_position upserts with ON CONFLICT ... WHERE
 * stored < new.  Two transactions advancing one checkpoint are serialised
 * by the row lock (or by the speculative insertion when the row is new);
 * the second one re-checks the WHERE against the row the first committed,
 * so in READ COMMITTED both orders end at the maximum.  (In REPEATABLE READ
 * or SERIALIZABLE the second one gets a serialization failure instead, as
 * any concurrent update does; retry.)  A call that would move backward, or
 * stay, writes nothing and reports the position kept.
 *
 * Never beyond what exists.  A feed handler cannot record a position past
 * the highest one allocated (the feed's safe position when preloaded, else
 * the highest stored, counting the caller's own appends), nor a per-stream
 * handler a version past the stream's (the highest it ever had, when its
 * events were deleted: docs/lifecycle.md): a checkpoint never moves back, so
 * a typo there would ruin the handler for good.  The check costs nothing
 * when the position is at or below the safe position.
 *
 * Exactly-once projections advance the checkpoint in the transaction that
 * writes the read model: both commit or neither does.  Two instances of one
 * projection must not process the same batch; es_lock_handler gives them a
 * transaction-level lock and returns the checkpoint read after the lock was
 * granted (the latest committed value, whatever the caller's snapshot).
 *
 * Writing a checkpoint or taking a handler's lock needs a grant covering
 * the handler (grants.c); reading a checkpoint does not.
 *
 * Forward only, except for es_reset_checkpoint: an admin moves a checkpoint
 * back (a rebuild), audited in eventstore.lifecycle_log (stream_change.c).
 *
 * Locks: the checkpoint row (upsert); for es_lock_handler and
 * es_reset_checkpoint the handler's lock (es_acquire_handler_lock; tags and
 * order in eventstore.h), to the end of the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

static SPIPlanPtr advance_plan = NULL;
static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr lock_checkpoint_plan = NULL;
static SPIPlanPtr set_checkpoint_plan = NULL;
static SPIPlanPtr drop_checkpoint_plan = NULL;

/* Ensure a handler name is present, non-empty and short enough. */
static text *
check_handler(FunctionCallInfo fcinfo, int argno)
{
	return es_check_name(PG_ARGISNULL(argno) ? NULL : PG_GETARG_TEXT_PP(argno),
						 "handler name");
}

/*
 * The checkpoint's stream: '' (the feed handler's row) for NULL, else a
 * checked stream name.  An empty name is refused like everywhere else: taken
 * as "the feed", it would let a per-stream handler write a stream version
 * into the feed checkpoint.
 */
static text *
checkpoint_stream(FunctionCallInfo fcinfo, int argno)
{
	text	   *stream;

	if (PG_ARGISNULL(argno))
		return cstring_to_text("");
	stream = PG_GETARG_TEXT_PP(argno);
	if (VARSIZE_ANY_EXHDR(stream) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream name must not be empty"),
				 errhint("Pass NULL as the stream for a feed handler's checkpoint.")));
	return es_check_stream_name(stream);
}

/* The stored position, read with the given snapshot; -1 when there is no row. */
static int64
read_position(Datum *keys, Snapshot snapshot)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	bool		isnull;
	int			rc;

	es_kept_plan(&read_plan,
				 "SELECT position FROM eventstore.checkpoints"
				 " WHERE handler OPERATOR(pg_catalog.=) $1"
				 " AND stream OPERATOR(pg_catalog.=) $2", 2, types);
	if (snapshot == InvalidSnapshot)
		rc = SPI_execute_plan(read_plan, keys, NULL, true, 1);
	else
		rc = SPI_execute_snapshot(read_plan, keys, NULL, snapshot,
								  InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read a checkpoint");
	if (SPI_processed == 0)
		return -1;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/* Ensure a checkpoint does not claim a position or version that does not exist. */
static void
check_not_beyond_head(text *stream, int64 position)
{
	int64		head;

	if (VARSIZE_ANY_EXHDR(stream) == 0)
	{
		if (es_preloaded)
		{
			int64		safe = es_feed_safe_position();

			/* As every reader of the safe position does (feed.c). */
			es_enforce_append_hold(NULL);
			if (position <= safe)
				return;
		}
		head = es_read_highest_used_position();
		if (position <= head)
			return;
		ereport(ERROR,
				(errcode(ERRCODE_ES_BEYOND_HEAD),
				 errmsg("position " INT64_FORMAT " is beyond the head of the feed", position),
				 errdetail("The highest position is " INT64_FORMAT ".", head),
				 errhint("A checkpoint records a position the handler has processed.")));
	}
	head = es_read_stream_version(stream, GetLatestSnapshot());
	if (position <= head)
		return;
	if (head == 0)
	{
		EsStreamState state;

		es_read_stream_state(stream, GetLatestSnapshot(), &state);
		head = state.last_version;
		if (position <= head)
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_ES_BEYOND_HEAD),
			 errmsg("version " INT64_FORMAT " is beyond the version of stream \"%s\"",
					position, text_to_cstring(stream)),
			 errdetail("The stream is at version " INT64_FORMAT ".", head),
			 errhint("A per-stream checkpoint records a version the handler has processed.")));
}

/* es_advance_position(handler, position, stream) -> (position kept, advanced) */
PG_FUNCTION_INFO_V1(es_advance_position);
Datum
es_advance_position(PG_FUNCTION_ARGS)
{
	int64		position;
	int64		kept;
	bool		advanced;
	TupleDesc	tupdesc;
	Datum		result[2];
	bool		result_nulls[2] = {false, false};
	Oid			types[3] = {TEXTOID, TEXTOID, INT8OID};
	Datum		values[3];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	values[0] = PointerGetDatum(check_handler(fcinfo, 0));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("position must not be null")));
	position = PG_GETARG_INT64(1);
	if (position < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("position must not be negative"),
				 errdetail("It is " INT64_FORMAT ".", position)));
	values[1] = PointerGetDatum(checkpoint_stream(fcinfo, 2));
	values[2] = Int64GetDatum(position);
	es_check_handler_grant(DatumGetTextPP(values[0]));
	check_not_beyond_head((text *) DatumGetPointer(values[1]), position);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&advance_plan,
				 "INSERT INTO eventstore.checkpoints AS c"
				 " (handler, stream, position, updated_at)"
				 " VALUES ($1, $2, $3, pg_catalog.now())"
				 " ON CONFLICT (handler, stream) DO UPDATE"
				 " SET position = excluded.position, updated_at = excluded.updated_at"
				 " WHERE c.position OPERATOR(pg_catalog.<) excluded.position"
				 " RETURNING c.position", 3, types);
	if (SPI_execute_plan(advance_plan, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not advance a checkpoint");
	if (SPI_processed > 0)
	{
		kept = position;
		advanced = true;
	}
	else
	{
		/*
		 * The stored position is not older.  The upsert locked the row, so
		 * the latest snapshot shows the position that stays.
		 */
		kept = read_position(values, GetLatestSnapshot());
		if (kept < 0)
			elog(ERROR, "could not read a checkpoint that was just locked");
		advanced = false;
	}
	SPI_finish();

	result[0] = Int64GetDatum(kept);
	result[1] = BoolGetDatum(advanced);
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, result_nulls)));
}

/* es_handler_position(handler, stream): the checkpoint, 0 when there is none. */
PG_FUNCTION_INFO_V1(es_handler_position);
Datum
es_handler_position(PG_FUNCTION_ARGS)
{
	Datum		keys[2];
	int64		position;

	keys[0] = PointerGetDatum(check_handler(fcinfo, 0));
	keys[1] = PointerGetDatum(checkpoint_stream(fcinfo, 1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	position = read_position(keys, InvalidSnapshot);
	SPI_finish();
	PG_RETURN_INT64(position < 0 ? 0 : position);
}

/*
 * es_lock_handler(handler, stream, wait): lock the handler for this
 * transaction, then return its latest committed checkpoint (0 when none);
 * NULL when wait is false and another transaction holds the lock.
 */
PG_FUNCTION_INFO_V1(es_lock_handler);
Datum
es_lock_handler(PG_FUNCTION_ARGS)
{
	text	   *handler = check_handler(fcinfo, 0);
	text	   *stream = checkpoint_stream(fcinfo, 1);
	bool		wait;
	Datum		keys[2];
	int64		position;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("wait must not be null")));
	wait = PG_GETARG_BOOL(2);
	es_check_handler_grant(handler);

	if (!es_acquire_handler_lock(handler, stream, wait))
		PG_RETURN_NULL();

	/* Read after the lock: a previous holder's advance is committed by now. */
	keys[0] = PointerGetDatum(handler);
	keys[1] = PointerGetDatum(stream);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	position = read_position(keys, GetLatestSnapshot());
	SPI_finish();
	PG_RETURN_INT64(position < 0 ? 0 : position);
}

/*
 * es_reset_checkpoint(handler, stream, position, reason) -> previous position
 *
 * Waits for the handler's lock, so a projection instance that holds it
 * finishes its batch first; then moves the checkpoint back (position 0
 * removes it).
 */
PG_FUNCTION_INFO_V1(es_reset_checkpoint);
Datum
es_reset_checkpoint(PG_FUNCTION_ARGS)
{
	text	   *handler = es_check_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0),
										"handler name");
	text	   *stream;
	text	   *reason = es_reason_arg(fcinfo, 3, false);
	int64		position;
	int64		previous;
	Oid			types[3] = {TEXTOID, TEXTOID, INT8OID};
	Datum		values[3];
	bool		isnull;

	if (PG_ARGISNULL(1) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		stream = cstring_to_text("");
	else
		stream = es_check_name(PG_GETARG_TEXT_PP(1), "stream name");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("position must not be null")));
	position = PG_GETARG_INT64(2);
	if (position < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("position must not be negative"),
				 errdetail("It is " INT64_FORMAT ".", position)));
	es_refuse_lifecycle_in_recovery();

	(void) es_acquire_handler_lock(handler, stream, true);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = PointerGetDatum(handler);
	values[1] = PointerGetDatum(stream);
	values[2] = Int64GetDatum(position);
	es_kept_plan(&lock_checkpoint_plan,
				 "SELECT position FROM eventstore.checkpoints"
				 " WHERE handler OPERATOR(pg_catalog.=) $1"
				 " AND stream OPERATOR(pg_catalog.=) $2 FOR UPDATE", 2, types);
	if (SPI_execute_plan(lock_checkpoint_plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read a checkpoint");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ES_NOT_FOUND),
				 errmsg("handler \"%s\" has no checkpoint%s%s%s", text_to_cstring(handler),
						VARSIZE_ANY_EXHDR(stream) ? " for stream \"" : "",
						text_to_cstring(stream),
						VARSIZE_ANY_EXHDR(stream) ? "\"" : "")));
	previous = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	if (position > previous)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a checkpoint can only be reset to an earlier position"),
				 errdetail("Handler \"%s\" is at " INT64_FORMAT "; the reset asked for " INT64_FORMAT ".",
						   text_to_cstring(handler), previous, position),
				 errhint("Use es_advance_position to move a checkpoint forward.")));

	if (position == 0)
	{
		es_kept_plan(&drop_checkpoint_plan,
					 "DELETE FROM eventstore.checkpoints"
					 " WHERE handler OPERATOR(pg_catalog.=) $1"
					 " AND stream OPERATOR(pg_catalog.=) $2", 2, types);
		if (SPI_execute_plan(drop_checkpoint_plan, values, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not reset a checkpoint");
	}
	else
	{
		es_kept_plan(&set_checkpoint_plan,
					 "UPDATE eventstore.checkpoints"
					 " SET position = $3, updated_at = pg_catalog.now()"
					 " WHERE handler OPERATOR(pg_catalog.=) $1"
					 " AND stream OPERATOR(pg_catalog.=) $2", 3, types);
		if (SPI_execute_plan(set_checkpoint_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not reset a checkpoint");
	}
	es_lifecycle_audit("reset_checkpoint", VARSIZE_ANY_EXHDR(stream) ? stream : NULL, handler, NULL,
		  psprintf("{\"from\": " INT64_FORMAT ", \"to\": " INT64_FORMAT "}", previous, position),
		  reason);
	SPI_finish();
	PG_RETURN_INT64(previous);
}
