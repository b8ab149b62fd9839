/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  Retention per stream: es_set_retention stores a stream's settings
 *	  (truncate-before, max count, max age) and applies them at once;
 *	  es_apply_retention enforces every stream's settings, for a scheduler
 *	  such as pg_cron (docs/lifecycle.md, "Retention").
 *
 * What is removed: the oldest events of a stream, a prefix, never its last
 * event (it carries the stream's version, so version numbering and
 * expected-version checks are untouched).  The first version kept is
 *	  greatest(truncate_before, version - max_count + 1,
 *			   first version created within max_age)
 * capped at the stream's version.  Removing what is already gone changes
 * nothing, so a cleanup can run any number of times (idempotent), and a run
 * that was interrupted leaves whole streams done or untouched.
 *
 * Safe under concurrent appends and reads: each stream is cleaned under its
 * lock in AccessExclusiveLock mode, like a deletion, so appenders of that
 * stream wait for the cleanup's transaction (and no append is half-seen); the
 * removed positions become gaps in the feed.  es_apply_retention takes the
 * locks without waiting (es_try_lock_stream_delete): a stream busy right
 * now is reported as skipped and cleaned by the next run, and the cleanup
 * can never deadlock with multi-stream appends.
 *
 * Locks: the stream's lock, AccessExclusiveLock, to the end of the
 * transaction (waiting in es_set_retention, never in es_apply_retention).
 * Tags and order: eventstore.h.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

static SPIPlanPtr cut_plan = NULL;
static SPIPlanPtr truncate_plan = NULL;
static SPIPlanPtr note_plan = NULL;
static SPIPlanPtr settings_plan = NULL;
static SPIPlanPtr due_plan = NULL;

/* A stream's retention settings; a NULL pointer or has_* false: not set. */
typedef struct Retention
{
	bool		has_truncate_before;
	int64		truncate_before;
	bool		has_max_count;
	int64		max_count;
	Interval   *max_age;
} Retention;

/*
 * The parameters $1 .. $5 of the statements below: the stream, its
 * settings (NULL when not set) and its version.
 */
static void
retention_params(text *stream, Retention *r, int64 version, Datum *values, char *nulls)
{
	values[0] = PointerGetDatum(stream);
	values[1] = Int64GetDatum(r->truncate_before);
	nulls[1] = r->has_truncate_before ? ' ' : 'n';
	values[2] = Int64GetDatum(r->max_count);
	nulls[2] = r->has_max_count ? ' ' : 'n';
	values[3] = PointerGetDatum(r->max_age);
	nulls[3] = r->max_age ? ' ' : 'n';
	values[4] = Int64GetDatum(version);
}

/*
 * Remove the events of a locked stream that its settings no longer keep;
 * returns how many, and the first version kept in *first_kept.
 */
static uint64
apply_to_stream(text *stream, int64 version, Retention *r, text *reason,
				int64 *first_kept)
{
	Oid			types[5] = {TEXTOID, INT8OID, INT8OID, INTERVALOID, INT8OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	Oid			ntypes[2] = {TEXTOID, INT8OID};
	Oid			ntypes3[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		nvalues[2];
	bool		isnull;
	int64		cut;
	uint64		n;
	Datum		last_position;

	*first_kept = 0;
	if (version == 0 ||
		(!r->has_truncate_before && !r->has_max_count && r->max_age == NULL))
		return 0;
	es_kept_plan(&cut_plan,
				 "SELECT LEAST($5, GREATEST($2, ($5 OPERATOR(pg_catalog.-) $3) OPERATOR(pg_catalog.+) 1,"
				 "  CASE WHEN $4 IS NULL THEN NULL ELSE"
				 "   COALESCE((SELECT e.version FROM eventstore.events e"
				 "             WHERE e.stream OPERATOR(pg_catalog.=) $1"
				 "               AND e.created_at OPERATOR(pg_catalog.>=)"
				 "                   (pg_catalog.now() OPERATOR(pg_catalog.-) $4)"
				 "             ORDER BY e.version LIMIT 1), $5) END)),"
				 " (SELECT e.version FROM eventstore.events e"
				 "  WHERE e.stream OPERATOR(pg_catalog.=) $1 ORDER BY e.version LIMIT 1)",
				 5, types);
	retention_params(stream, r, version, values, nulls);
	if (SPI_execute_snapshot(cut_plan, values, nulls, GetLatestSnapshot(),
							 InvalidSnapshot, false, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not compute the retention of a stream");
	*first_kept = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull)
		*first_kept = 0;
	cut = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull || cut <= *first_kept)
		return 0;

	es_kept_plan(&truncate_plan,
				 "WITH gone AS ("
				 "  DELETE FROM eventstore.events"
				 "  WHERE stream OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.<) $2"
				 "  RETURNING position)"
				 " SELECT pg_catalog.count(*), pg_catalog.max(position) FROM gone", 2, ntypes);
	nvalues[0] = PointerGetDatum(stream);
	nvalues[1] = Int64GetDatum(cut);
	n = es_run_permitted_delete(truncate_plan, nvalues, &last_position);
	*first_kept = cut;

	/* The positions removed are never handed out again (used_positions.c). */
	es_kept_plan(&note_plan,
				 "UPDATE eventstore.stream_state"
				 " SET last_version = GREATEST(last_version, $2),"
				 "     last_position = GREATEST(last_position, $3), updated_at = pg_catalog.now()"
				 " WHERE stream OPERATOR(pg_catalog.=) $1", 3, ntypes3);
	values[0] = PointerGetDatum(stream);
	values[1] = Int64GetDatum(version);
	values[2] = last_position;
	if (SPI_execute_plan(note_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record a retention cleanup");

	es_lifecycle_audit("retention", stream, NULL, NULL,
					   psprintf("{\"events\": " UINT64_FORMAT ", \"first_version\": " INT64_FORMAT "}",
								n, cut),
					   reason);
	return n;
}

/* Ensure a retention setting is in range (22023); NULL means "not set". */
static void
check_settings(FunctionCallInfo fcinfo, Retention *r, int64 version)
{
	memset(r, 0, sizeof(Retention));
	if (!PG_ARGISNULL(1))
	{
		r->has_truncate_before = true;
		r->truncate_before = PG_GETARG_INT64(1);
		if (r->truncate_before < 1 || r->truncate_before > version)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("truncate_before must be between 1 and the stream's version"),
					 errdetail("It is " INT64_FORMAT "; the stream is at version " INT64_FORMAT ".",
							   r->truncate_before, version),
					 errhint("The last event is always kept: it carries the stream's version.")));
	}
	if (!PG_ARGISNULL(2))
	{
		r->has_max_count = true;
		r->max_count = PG_GETARG_INT64(2);
		if (r->max_count < 1 || r->max_count > PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_count must be between 1 and %d", PG_INT32_MAX),
					 errdetail("It is " INT64_FORMAT ".", r->max_count)));
	}
	if (!PG_ARGISNULL(3))
	{
		Interval   *zero = palloc0(sizeof(Interval));

		r->max_age = PG_GETARG_INTERVAL_P(3);
		if (DatumGetBool(DirectFunctionCall2(interval_le, IntervalPGetDatum(r->max_age),
											 IntervalPGetDatum(zero))) ||
			r->max_age->month < 0 || r->max_age->day < 0 || r->max_age->time < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_age must be positive"),
					 errdetail("It is %s.",
							   DatumGetCString(DirectFunctionCall1(interval_out,
																   IntervalPGetDatum(r->max_age))))));
	}
}

/*
 * es_set_retention(stream, truncate_before, max_count, max_age, reason)
 *		-> events removed now
 *
 * Stores the settings (all NULL: the stream has no retention any more) and
 * applies them to the stream at once, under its lock.
 */
PG_FUNCTION_INFO_V1(es_set_retention);
Datum
es_set_retention(PG_FUNCTION_ARGS)
{
	text	   *stream = es_check_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0),
									   "stream name");
	text	   *reason = es_reason_arg(fcinfo, 4, false);
	Oid			types[5] = {TEXTOID, INT8OID, INT8OID, INTERVALOID, INT8OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	EsLifecycleTarget t;
	Retention	r;
	uint64		n;
	int64		first_kept;

	es_begin_stream_change(stream, &t);
	es_require_live_stream(&t, "Restore it first with es_restore_stream.");
	check_settings(fcinfo, &r, t.version);

	es_kept_plan(&settings_plan,
				 "INSERT INTO eventstore.stream_state AS s"
				 " (stream, last_version, truncate_before, max_count, max_age, updated_at)"
				 " VALUES ($1, $5, $2, $3, $4, pg_catalog.now())"
				 " ON CONFLICT (stream) DO UPDATE"
				 " SET truncate_before = excluded.truncate_before,"
				 "     max_count = excluded.max_count, max_age = excluded.max_age,"
				 "     updated_at = excluded.updated_at", 5, types);
	retention_params(stream, &r, t.version, values, nulls);
	if (SPI_execute_plan(settings_plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store retention settings");
	es_lifecycle_audit("set_retention", stream, NULL, NULL,
					   psprintf("{\"truncate_before\": %s, \"max_count\": %s, \"max_age\": %s}",
								r.has_truncate_before ? psprintf(INT64_FORMAT, r.truncate_before) : "null",
								r.has_max_count ? psprintf(INT64_FORMAT, r.max_count) : "null",
								r.max_age ? psprintf("\"%s\"", DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(r.max_age)))) : "null"),
					   reason);

	n = apply_to_stream(stream, t.version, &r, reason, &first_kept);
	SPI_finish();
	PG_RETURN_INT64((int64) n);
}

/*
 * es_apply_retention(max_streams) -> (stream, deleted, first_version) per
 * stream that lost events, or was busy (deleted NULL: skipped, for the next
 * run).  At most max_streams streams lose events in one call (NULL: no
 * limit), so that one transaction stays short; the next call finds the
 * streams done so far with nothing left to remove and goes on.
 */
PG_FUNCTION_INFO_V1(es_apply_retention);
Datum
es_apply_retention(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller = CurrentMemoryContext;
	text	  **streams;
	Retention  *settings;
	int			nstreams;
	int			i;
	int64		limit = PG_INT64_MAX;
	int64		cleaned = 0;

	if (!PG_ARGISNULL(0))
	{
		limit = PG_GETARG_INT32(0);
		if (limit < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_streams must be at least 1"),
					 errdetail("It is " INT64_FORMAT ".", limit)));
	}
	InitMaterializedSRF(fcinfo, 0);
	es_refuse_lifecycle_in_recovery();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&due_plan,
				 "SELECT stream, truncate_before, max_count, max_age"
				 " FROM eventstore.stream_state"
				 " WHERE deleted_at IS NULL AND tombstoned_at IS NULL"
				 "   AND (truncate_before IS NOT NULL OR max_count IS NOT NULL"
				 "        OR max_age IS NOT NULL)"
				 " ORDER BY stream", 0, NULL);
	if (SPI_execute_plan(due_plan, NULL, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read retention settings");

	/* Copied out: the statements below reuse SPI_tuptable. */
	nstreams = (int) SPI_processed;
	streams = palloc(sizeof(text *) * Max(nstreams, 1));
	settings = palloc0(sizeof(Retention) * Max(nstreams, 1));
	for (i = 0; i < nstreams; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		streams[i] = DatumGetTextPCopy(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		settings[i].has_truncate_before = !isnull;
		settings[i].truncate_before = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		settings[i].has_max_count = !isnull;
		settings[i].max_count = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		if (!isnull)
		{
			settings[i].max_age = palloc(sizeof(Interval));
			memcpy(settings[i].max_age, DatumGetIntervalP(d), sizeof(Interval));
		}
	}

	for (i = 0; i < nstreams && cleaned < limit; i++)
	{
		Datum		row[3];
		bool		row_nulls[3] = {false, false, false};
		uint64		n;
		int64		first_kept;
		MemoryContext old;

		if (!es_try_lock_stream_delete(streams[i]))
		{
			row_nulls[1] = row_nulls[2] = true;
		}
		else
		{
			int64		version = es_read_stream_version(streams[i], GetLatestSnapshot());

			n = apply_to_stream(streams[i], version, &settings[i], NULL, &first_kept);
			if (n == 0)
				continue;
			cleaned++;
			row[1] = Int64GetDatum((int64) n);
			row[2] = Int64GetDatum(first_kept);
		}
		old = MemoryContextSwitchTo(caller);
		row[0] = PointerGetDatum(DatumGetTextPCopy(PointerGetDatum(streams[i])));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, row_nulls);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return (Datum) 0;
}
