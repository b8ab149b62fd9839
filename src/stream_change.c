/*-------------------------------------------------------------------------
 *
 * stream_change.c
 *	  What every audited change of a stream's lifecycle shares (lifecycle.c,
 *	  retention.c, the archives): the stream's lock and state, the checks of
 *	  its state and of a reason, and the row of eventstore.lifecycle_log.
 *
 * Each such call is one transaction's worth of work: a crash or an error in
 * the middle leaves the stream as it was.  Every call that changes
 * something adds one row to eventstore.lifecycle_log.
 *
 * Locks: the stream's lock in AccessExclusiveLock mode
 * (es_lock_stream_delete) to the end of the transaction.  Tags and order:
 * eventstore.h.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

static SPIPlanPtr audit_plan = NULL;

/* An optional reason; required ones must be present and not blank. */
text *
es_reason_arg(FunctionCallInfo fcinfo, int argno, bool required)
{
	text	   *reason = PG_ARGISNULL(argno) ? NULL : PG_GETARG_TEXT_PP(argno);

	if (required && reason == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reason must not be null"),
				 errhint("An erasure records why it was done.")));
	if (required && VARSIZE_ANY_EXHDR(reason) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reason must not be empty")));
	return reason;
}

void
es_refuse_lifecycle_in_recovery(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot change the lifecycle of streams during recovery"),
				 errhint("Run it on the primary server.")));
}

/*
 * Lock the stream against appenders and snapshot savers, connect to SPI and
 * read its version and state with the latest snapshot (every append that
 * held the lock before us has ended).
 */
void
es_begin_stream_change(text *stream, EsLifecycleTarget *t)
{
	es_refuse_lifecycle_in_recovery();
	es_lock_stream_delete(stream);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	t->stream = stream;
	t->version = es_read_stream_version(stream, GetLatestSnapshot());
	es_read_stream_state(stream, GetLatestSnapshot(), &t->state);
}

void
es_error_tombstoned(text *stream)
{
	ereport(ERROR,
			(errcode(ERRCODE_ES_STREAM_TOMBSTONED),
			 errmsg("stream \"%s\" is deleted for ever", text_to_cstring(stream)),
			 errdetail("It was hard-deleted or erased; its name cannot be written again.")));
}

void
es_error_unknown_stream(text *stream)
{
	ereport(ERROR,
			(errcode(ERRCODE_ES_NOT_FOUND),
			 errmsg("stream \"%s\" does not exist", text_to_cstring(stream)),
			 errdetail("It has no events and no lifecycle state.")));
}

/*
 * Ensure the stream found by es_begin_stream_change has events: not
 * tombstoned (ES006), not soft-deleted (ES008, with the hint given), not
 * unknown (ES007).
 */
void
es_require_live_stream(EsLifecycleTarget *t, const char *hint)
{
	if (t->state.tombstoned)
		es_error_tombstoned(t->stream);
	if (t->version == 0 && t->state.deleted)
		ereport(ERROR,
				(errcode(ERRCODE_ES_WRONG_STATE),
				 errmsg("stream \"%s\" is deleted", text_to_cstring(t->stream)),
				 errhint("%s", hint)));
	if (t->version == 0)
		es_error_unknown_stream(t->stream);
}

/* Add the audit row of a call: detail is a JSON object's text. */
void
es_lifecycle_audit(const char *action, text *stream, text *handler, text *kind,
				   const char *detail, text *reason)
{
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	es_kept_plan(&audit_plan,
				 "INSERT INTO eventstore.lifecycle_log"
				 " (logged_at, action, stream, handler, kind, detail, reason,"
				 "  session_role, calling_role)"
				 " VALUES (pg_catalog.clock_timestamp(), $1, $2, $3, $4,"
				 "  CAST($5 AS pg_catalog.jsonb), $6,"
				 "  session_user, CAST($7 AS pg_catalog.name))",
				 7, types);
	values[0] = CStringGetTextDatum(action);
	values[1] = PointerGetDatum(stream);
	values[2] = PointerGetDatum(handler);
	values[3] = PointerGetDatum(kind);
	values[4] = CStringGetTextDatum(detail);
	values[5] = PointerGetDatum(reason);
	/* The role of the caller, outside this SECURITY DEFINER function. */
	values[6] = CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false));
	nulls[1] = stream ? ' ' : 'n';
	nulls[2] = handler ? ' ' : 'n';
	nulls[3] = kind ? ' ' : 'n';
	nulls[5] = reason ? ' ' : 'n';
	if (SPI_execute_plan(audit_plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write the lifecycle log");
}
