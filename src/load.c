/*-------------------------------------------------------------------------
 *
 * load.c
 *	  Reading streams: es_load (stream form) and es_stream_version.
 *
 * Reads use the caller's snapshot, so a load inside a transaction is
 * consistent with the rest of it, and work on a hot standby.  Rows are
 * streamed by the executor straight into the function's result tuplestore.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "nodes/params.h"
#include "executor/tstoreReceiver.h"
#include "utils/builtins.h"

/*
 * Every column, in the table's order: the scan then hands its stored tuples
 * to the result tuplestore as they are (no projection), a copy instead of
 * taking each row apart and rebuilding it.
 */
#define LOAD_COLUMNS \
	"SELECT * FROM eventstore.events WHERE stream OPERATOR(pg_catalog.=) $1"

static SPIPlanPtr forward_plan = NULL;
static SPIPlanPtr backward_plan = NULL;
static SPIPlanPtr stream_version_plan = NULL;

/* Ensure a page size is present and within limits. */
int32
es_check_max_count(FunctionCallInfo fcinfo, int argno)
{
	int32		n;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_count must not be null")));
	n = PG_GETARG_INT32(argno);
	if (n < 1 || n > ES_MAX_COUNT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_count must be between 1 and %d", ES_MAX_COUNT),
				 errdetail("It is %d.", n)));
	return n;
}

/*
 * Run a kept plan with the caller's snapshot and send its rows straight into
 * the SRF's result tuplestore.  Rows whose shape is the result type's are
 * stored as they come; any other shape (the table has a dropped column, a
 * plan with NULLs for the payload) is converted by position, and a plan
 * whose columns do not fit the result type is an error, never bad data.
 * Caller is connected to SPI.
 */
void
es_run_into_result(FunctionCallInfo fcinfo, SPIPlanPtr plan, int nargs,
				   Oid *types, Datum *values, bool *nulls)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ParamListInfo params = makeParamList(nargs);
	SPIExecuteOptions options;
	DestReceiver *dest;
	int			i;

	for (i = 0; i < nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = nulls[i];
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = types[i];
	}
	dest = CreateDestReceiver(DestTuplestore);
	SetTuplestoreDestReceiverParams(dest, rsinfo->setResult,
									rsinfo->econtext->ecxt_per_query_memory,
									false, rsinfo->setDesc,
									"the columns of table \"eventstore.events\" do not match what es_load returns");
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = dest;
	if (SPI_execute_plan_extended(plan, &options) != SPI_OK_SELECT)
		elog(ERROR, "could not read events");
	dest->rDestroy(dest);
}

/* es_load(stream, from_version, max_count, backward) */
PG_FUNCTION_INFO_V1(es_load_stream);
Datum
es_load_stream(PG_FUNCTION_ARGS)
{
	text	   *stream;
	bool		backward;
	int64		from;
	int32		max_count;
	Oid			types[3] = {TEXTOID, INT8OID, INT4OID};
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	SPIPlanPtr	plan;

	InitMaterializedSRF(fcinfo, 0);

	stream = es_check_stream_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	max_count = es_check_max_count(fcinfo, 2);
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
	values[2] = Int32GetDatum(max_count);
	es_run_into_result(fcinfo, plan, 3, types, values, nulls);
	SPI_finish();
	return (Datum) 0;
}

/* es_stream_version(stream): the stream's version, 0 if it has no events. */
PG_FUNCTION_INFO_V1(es_stream_version);
Datum
es_stream_version(PG_FUNCTION_ARGS)
{
	text	   *stream;
	Oid			types[1] = {TEXTOID};
	Datum		arg;
	int64		version = 0;

	stream = es_check_stream_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&stream_version_plan,
				 "SELECT version FROM eventstore.events WHERE stream OPERATOR(pg_catalog.=) $1"
				 " ORDER BY version DESC LIMIT 1", 1, types);
	arg = PointerGetDatum(stream);
	if (SPI_execute_plan(stream_version_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the version of a stream");
	if (SPI_processed > 0)
	{
		bool		isnull;

		version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	PG_RETURN_INT64(version);
}
