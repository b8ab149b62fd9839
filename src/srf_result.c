/*-------------------------------------------------------------------------
 *
 * srf_result.c
 *	  Running a read plan straight into a set-returning function's result.
 *
 * Every read function of the store (es_load in both forms, the snapshot
 * loads) returns rows through this one path: the executor sends each row
 * into the function's result tuplestore as it is produced, with no copy
 * into SPI's tuple table and no second pass.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "funcapi.h"
#include "nodes/params.h"

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

/*
 * The whole of a simple read: connect to SPI, prepare the statement once per
 * backend (kept in *slot), run it into the SRF's result, disconnect.
 */
void
es_read_into_result(FunctionCallInfo fcinfo, struct _SPI_plan **slot, const char *sql,
					int nargs, Oid *types, Datum *values, bool *nulls)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(slot, sql, nargs, types);
	es_run_into_result(fcinfo, *slot, nargs, types, values, nulls);
	SPI_finish();
}
