/*-------------------------------------------------------------------------
 *
 * load.c
 *	  Reading streams: es_load (stream form), es_load_until and
 *	  es_stream_version.
 *
 * Reads use the caller's snapshot, so a load inside a transaction is
 * consistent with the rest of it, and work on a hot standby.  Rows are
 * streamed by the executor straight into the function's result tuplestore.
 * A read from a version, and a read as of a time, fail with ES012 rather
 * than start past versions that retention or archival removed
 * (read_gaps.c); es_load(stream) with from_version NULL starts at the
 * first version kept.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/*
 * Every column, in the table's order: the scan then hands its stored tuples
 * to the result tuplestore as they are (no projection), a copy instead of
 * taking each row apart and rebuilding it.
 */
#define LOAD_COLUMNS \
	"SELECT * FROM eventstore.events WHERE stream OPERATOR(pg_catalog.=) $1"

static SPIPlanPtr forward_plan = NULL;
static SPIPlanPtr backward_plan = NULL;
static SPIPlanPtr until_recorded_plan = NULL;
static SPIPlanPtr until_occurred_plan = NULL;

/*
 * es_load(stream, from_version, max_count, backward).  max_count NULL reads
 * to the end of the stream (or to its start, backward) in one call.
 */
PG_FUNCTION_INFO_V1(es_load_stream);
Datum
es_load_stream(PG_FUNCTION_ARGS)
{
	text	   *stream;
	bool		backward;
	int64		from;
	Oid			types[3] = {TEXTOID, INT8OID, INT4OID};
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	SPIPlanPtr	plan;

	InitMaterializedSRF(fcinfo, 0);

	stream = es_check_stream_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	es_limit_param(fcinfo, 2, &values[2], &nulls[2]);
	backward = PG_ARGISNULL(3) ? false : PG_GETARG_BOOL(3);
	if (PG_ARGISNULL(1))
		from = backward ? PG_INT64_MAX : 1;
	else
	{
		from = PG_GETARG_INT64(1);
		if (from < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("from_version must not be negative"),
					 errdetail("It is " INT64_FORMAT ".", from)));
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = backward
		? es_kept_plan(&backward_plan, LOAD_COLUMNS
					   " AND version OPERATOR(pg_catalog.<=) $2 ORDER BY version DESC LIMIT $3",
					   3, types)
					   : es_kept_plan(&forward_plan, LOAD_COLUMNS
					   " AND version OPERATOR(pg_catalog.>=) $2 ORDER BY version LIMIT $3",
					   3, types);
	values[0] = PointerGetDatum(stream);
	values[1] = Int64GetDatum(from);
	if (PG_ARGISNULL(1))
		es_run_into_result(fcinfo, plan, 3, types, values, nulls);
	else
	{
		/* A read from a version must not start past removed ones (read_gaps.c). */
		EsReadStart seen = {0};

		es_run_into_result_watched(fcinfo, plan, 3, types, values, nulls, &seen);
		es_check_read_from(stream, from, backward, &seen);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * es_load_until(stream, until, by_occurrence, max_count): the stream's
 * events recorded (created_at) at or before until, or with by_occurrence
 * those whose occurrence time (occurred_at, else created_at) is, in version
 * order; max_count NULL (the default) reads them all.
 */
PG_FUNCTION_INFO_V1(es_load_until);
Datum
es_load_until(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	bool		by_occurrence;
	text	   *stream;
	SPIPlanPtr	plan;
	EsReadStart seen = {0};

	InitMaterializedSRF(fcinfo, 0);
	stream = es_check_stream_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	values[0] = PointerGetDatum(stream);
	values[1] = TimestampTzGetDatum(es_check_time_arg(fcinfo, 1, "until"));
	by_occurrence = PG_ARGISNULL(2) ? false : PG_GETARG_BOOL(2);
	es_limit_param(fcinfo, 3, &values[2], &nulls[2]);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (by_occurrence)
		plan = es_kept_plan(&until_occurred_plan, LOAD_COLUMNS
							" AND COALESCE(occurred_at, created_at) OPERATOR(pg_catalog.<=) $2"
							" ORDER BY version LIMIT $3", 3, types);
	else
		plan = es_kept_plan(&until_recorded_plan, LOAD_COLUMNS
							" AND created_at OPERATOR(pg_catalog.<=) $2"
							" ORDER BY version LIMIT $3", 3, types);
	es_run_into_result_watched(fcinfo, plan, 3, types, values, nulls, &seen);
	/* The stream as of a time starts at its first version (read_gaps.c). */
	es_check_read_until(stream, &seen);
	SPI_finish();
	return (Datum) 0;
}

/*
 * es_stream_version(stream): the stream's version, 0 if it has no events
 * (or is deleted: docs/lifecycle.md), in the caller's snapshot.
 */
PG_FUNCTION_INFO_V1(es_stream_version);
Datum
es_stream_version(PG_FUNCTION_ARGS)
{
	text	   *stream;

	stream = es_check_stream_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	PG_RETURN_INT64(es_stream_current_version(stream, GetActiveSnapshot()));
}
