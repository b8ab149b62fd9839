/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *	  Snapshots of aggregates: es_snapshot (save), es_load_snapshot and
 *	  es_load_with_snapshot (load).
 *
 * A snapshot is the state of a stream's aggregate after the events up to
 * and including a version.  eventstore.snapshots keeps the newest one per
 * (stream, kind); the kind is the snapshot's schema, so old and new code can
 * run side by side, each reading only the kind it understands.
 *
 * Saving, and why it is safe while the stream is being appended to:
 *	1. The version is checked against the stream's version read with the
 *	   *latest* snapshot: a snapshot may only claim a version that is
 *	   committed (or appended by the saving transaction itself).  Committed
 *	   events are immutable, so once the check passes the claim stays true
 *	   whatever is appended afterwards; an append still in flight is not
 *	   counted, because it may yet roll back.
 *	2. The row is upserted with ON CONFLICT ... WHERE stored <= new: two
 *	   savers of one (stream, kind) are serialised by the row lock, and the
 *	   newer version wins in either order.  When the stored one is newer the
 *	   call writes nothing and reports the version kept.
 *	3. Saving needs a grant covering the stream's category (grants.c);
 *	   loading does not.
 *
 * Locks: AccessShareLock on the stream's lock (es_lock_stream_shared; tags
 * and order in eventstore.h), held to the end of the transaction.  It never waits for appenders (they take
 * ExclusiveLock) and never delays them; a stream deletion that takes
 * AccessExclusiveLock on the tag waits for savers, so a snapshot can never
 * be saved for events that are being deleted.  Plus the row lock of the
 * upsert.
 *
 * Loading reads with the caller's snapshot, like es_load, so the snapshot
 * and the events after it come from one consistent view of the database.
 * When retention or archival removed events between the snapshot and the
 * first one kept (or, with no snapshot, the stream's first versions), the
 * load fails with ES012 instead of returning a state with a hole
 * (read_gaps.c).
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

static SPIPlanPtr upsert_plan = NULL;
static SPIPlanPtr kept_plan = NULL;
static SPIPlanPtr load_plan = NULL;
static SPIPlanPtr load_with_events_plan = NULL;

/* Ensure a snapshot kind is present, non-empty and short enough. */
static text *
check_kind(FunctionCallInfo fcinfo, int argno)
{
	return es_check_name(PG_ARGISNULL(argno) ? NULL : PG_GETARG_TEXT_PP(argno),
						 "snapshot kind");
}

/* Ensure a snapshot carries exactly one payload, within the size limit. */
static void
check_state(FunctionCallInfo fcinfo, int data_arg, int bin_arg)
{
	bool		has_data = !PG_ARGISNULL(data_arg);
	bool		has_bin = !PG_ARGISNULL(bin_arg);
	Size		size;
	Size		limit = (Size) es_max_snapshot_size * 1024;

	if (has_data && has_bin)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a snapshot cannot have both a JSON and a binary state"),
				 errhint("Pass the state as data or as data_bin, not both.")));
	if (!has_data && !has_bin)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("snapshot state must not be null"),
				 errhint("Pass the state as data (jsonb) or as data_bin (bytea).")));

	/* Measured without detoasting: a huge value is refused before it is copied. */
	size = toast_raw_datum_size(PG_GETARG_DATUM(has_data ? data_arg : bin_arg)) - VARHDRSZ;
	if (size > limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("snapshot state is too large"),
				 errdetail("It has %zu bytes; eventstore.max_snapshot_size is %d kB.",
						   size, es_max_snapshot_size)));
}

/*
 * es_snapshot(stream, version, data, kind, data_bin)
 *		-> (version kept, saved)
 */
PG_FUNCTION_INFO_V1(es_snapshot);
Datum
es_snapshot(PG_FUNCTION_ARGS)
{
	text	   *stream;
	text	   *kind;
	int64		version;
	int64		current;
	int64		kept;
	bool		saved;
	TupleDesc	tupdesc;
	Datum		result[2];
	bool		result_nulls[2] = {false, false};
	Oid			types[5] = {TEXTOID, TEXTOID, INT8OID, JSONBOID, BYTEAOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	stream = es_check_stream_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("snapshot version must not be null")));
	version = PG_GETARG_INT64(1);
	if (version < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("snapshot version must be at least 1"),
				 errdetail("It is " INT64_FORMAT ".", version)));
	kind = check_kind(fcinfo, 3);
	check_state(fcinfo, 2, 4);
	es_check_category_grant(stream);

	/* Ensure no stream deletion runs while we save (see the header comment). */
	es_lock_stream_shared(stream);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	current = es_read_stream_version(stream, GetLatestSnapshot());
	if (current == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream \"%s\" does not exist", text_to_cstring(stream)),
				 errdetail("A snapshot can only be saved for a stream that has events.")));
	if (version > current)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream \"%s\" has not reached version " INT64_FORMAT,
						text_to_cstring(stream), version),
				 errdetail("Its committed version is " INT64_FORMAT ".", current),
				 errhint("Save a snapshot only of events that are committed, or in the transaction that appended them.")));

	es_kept_plan(&upsert_plan,
				 "INSERT INTO eventstore.snapshots AS s"
				 " (stream, kind, version, data, data_bin, created_at)"
				 " VALUES ($1, $2, $3, $4, $5, pg_catalog.now())"
				 " ON CONFLICT (stream, kind) DO UPDATE"
				 " SET version = excluded.version, data = excluded.data,"
				 " data_bin = excluded.data_bin, created_at = excluded.created_at"
				 " WHERE s.version OPERATOR(pg_catalog.<=) excluded.version"
				 " RETURNING s.version", 5, types);
	values[0] = PointerGetDatum(stream);
	values[1] = PointerGetDatum(kind);
	values[2] = Int64GetDatum(version);
	if (PG_ARGISNULL(2))
	{
		values[3] = (Datum) 0;
		nulls[3] = 'n';
	}
	else
		values[3] = PG_GETARG_DATUM(2);
	if (PG_ARGISNULL(4))
	{
		values[4] = (Datum) 0;
		nulls[4] = 'n';
	}
	else
		values[4] = PG_GETARG_DATUM(4);
	if (SPI_execute_plan(upsert_plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not save a snapshot");

	if (SPI_processed > 0)
	{
		kept = version;
		saved = true;
	}
	else
	{
		bool		isnull;

		/*
		 * A newer snapshot is stored.  The upsert locked it, so the latest
		 * snapshot shows the version that stays.
		 */
		es_kept_plan(&kept_plan,
					 "SELECT version FROM eventstore.snapshots"
					 " WHERE stream OPERATOR(pg_catalog.=) $1"
					 " AND kind OPERATOR(pg_catalog.=) $2", 2, types);
		if (SPI_execute_snapshot(kept_plan, values, nulls, GetLatestSnapshot(),
								 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not read the stored snapshot");
		kept = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
		saved = false;
	}
	SPI_finish();

	result[0] = Int64GetDatum(kept);
	result[1] = BoolGetDatum(saved);
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, result_nulls)));
}

/* es_load_snapshot(stream, kind): the newest snapshot of that kind, if any. */
PG_FUNCTION_INFO_V1(es_load_snapshot);
Datum
es_load_snapshot(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		nulls[2] = {false, false};

	InitMaterializedSRF(fcinfo, 0);
	values[0] = PointerGetDatum(es_check_stream_name(PG_ARGISNULL(0) ? NULL :
													 PG_GETARG_TEXT_PP(0)));
	values[1] = PointerGetDatum(check_kind(fcinfo, 1));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&load_plan,
				 "SELECT stream, kind, version, data, data_bin, created_at"
				 " FROM eventstore.snapshots"
				 " WHERE stream OPERATOR(pg_catalog.=) $1"
				 " AND kind OPERATOR(pg_catalog.=) $2", 2, types);
	es_run_into_result(fcinfo, load_plan, 2, types, values, nulls);
	SPI_finish();
	return (Datum) 0;
}

/*
 * es_load_with_snapshot(stream, kind, max_count): the snapshot row (if any),
 * then up to max_count events after its version (every one when max_count
 * is NULL).  One statement, so both come from one database snapshot.  The
 * snapshot's version is below every event's, so ordering by version puts it
 * first.
 */
PG_FUNCTION_INFO_V1(es_load_with_snapshot);
Datum
es_load_with_snapshot(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	EsReadStart seen = {0};

	InitMaterializedSRF(fcinfo, 0);
	values[0] = PointerGetDatum(es_check_stream_name(PG_ARGISNULL(0) ? NULL :
													 PG_GETARG_TEXT_PP(0)));
	values[1] = PointerGetDatum(check_kind(fcinfo, 1));
	es_limit_param(fcinfo, 2, &values[2], &nulls[2]);
	seen.flag_att = 1;			/* is_snapshot */

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&load_with_events_plan,
				 "WITH s AS ("
				 "  SELECT version, kind, data, data_bin, created_at"
				 "  FROM eventstore.snapshots"
				 "  WHERE stream OPERATOR(pg_catalog.=) $1"
				 "  AND kind OPERATOR(pg_catalog.=) $2)"
				 " SELECT true, NULL::pg_catalog.int8, $1, s.version, NULL::pg_catalog.uuid,"
				 "  s.kind, s.data, s.data_bin, NULL::pg_catalog.jsonb, s.created_at"
				 " FROM s"
				 " UNION ALL"
				 " (SELECT false, e.position, e.stream, e.version, e.event_id, e.type,"
				 "  e.data, e.data_bin, e.metadata, e.created_at"
				 "  FROM eventstore.events e"
				 "  WHERE e.stream OPERATOR(pg_catalog.=) $1"
				 "  AND e.version OPERATOR(pg_catalog.>)"
				 "   COALESCE((SELECT s.version FROM s), 0)"
				 "  ORDER BY e.version LIMIT $3)"
				 " ORDER BY 4", 3, types);
	es_run_into_result_watched(fcinfo, load_with_events_plan, 3, types, values, nulls, &seen);
	/* The events must follow the snapshot without a hole (read_gaps.c). */
	es_check_snapshot_read(DatumGetTextPP(values[0]), DatumGetTextPP(values[1]), &seen);
	SPI_finish();
	return (Datum) 0;
}

/*
 * Entry points bound by released install scripts.  eventstore--1.0.sql
 * binds the three functions above under these names; a database still on
 * 1.0's SQL calls them until ALTER EXTENSION eventstore UPDATE rebinds it,
 * so they stay exported for good.
 */

/* Bound by 1.0 as eventstore.es_snapshot. */
PG_FUNCTION_INFO_V1(es_snapshot_save);
Datum
es_snapshot_save(PG_FUNCTION_ARGS)
{
	return es_snapshot(fcinfo);
}

/* Bound by 1.0 as eventstore.es_load_snapshot. */
PG_FUNCTION_INFO_V1(es_snapshot_load);
Datum
es_snapshot_load(PG_FUNCTION_ARGS)
{
	return es_load_snapshot(fcinfo);
}

/* Bound by 1.0 as eventstore.es_load_with_snapshot. */
PG_FUNCTION_INFO_V1(es_snapshot_load_with_events);
Datum
es_snapshot_load_with_events(PG_FUNCTION_ARGS)
{
	return es_load_with_snapshot(fcinfo);
}
