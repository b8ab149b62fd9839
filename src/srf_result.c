/*-------------------------------------------------------------------------
 *
 * srf_result.c
 *	  Running a read plan straight into a set-returning function's result.
 *
 * Every read function of the store (es_load in both forms, the snapshot
 * loads) returns rows through this one path: the executor sends each row
 * into the function's result tuplestore as it is produced, with no copy
 * into SPI's tuple table and no second pass; or, when the function is read
 * by stream_read.c's scan, the scan runs the plan and takes each row as it
 * comes, with no tuplestore at all.  A stream read that checks
 * where its result starts (read_gaps.c) has the first rows' versions noted
 * on the way through.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/tupdesc.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
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
	es_run_into_result_watched(fcinfo, plan, nargs, types, values, nulls, NULL);
}

/*
 * A receiver in front of the tuplestore's that notes the versions of the
 * first two rows on their way through (EsReadStart, eventstore.h): a stream
 * read checks its start against them (read_gaps.c) without reading its
 * result back.
 */
typedef struct StartWatch
{
	DestReceiver pub;
	DestReceiver *inner;
	EsReadStart *seen;
	AttrNumber	version_att;
} StartWatch;

static bool
watch_receive(TupleTableSlot *slot, DestReceiver *self)
{
	StartWatch *w = (StartWatch *) self;

	es_note_read_start(w->seen, slot, w->version_att);
	return w->inner->receiveSlot(slot, w->inner);
}

static void
watch_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	StartWatch *w = (StartWatch *) self;

	w->version_att = es_version_att(typeinfo);
	w->inner->rStartup(w->inner, operation, typeinfo);
}

static void
watch_shutdown(DestReceiver *self)
{
	StartWatch *w = (StartWatch *) self;

	w->inner->rShutdown(w->inner);
}

static void
watch_destroy(DestReceiver *self)
{
	StartWatch *w = (StartWatch *) self;

	w->inner->rDestroy(w->inner);
	pfree(w);
}

/* es_run_into_result, noting the first rows' versions in *seen when given. */
void
es_run_into_result_watched(FunctionCallInfo fcinfo, SPIPlanPtr plan, int nargs,
						   Oid *types, Datum *values, bool *nulls, EsReadStart *seen)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ParamListInfo params = makeParamList(nargs);
	SPIExecuteOptions options;
	DestReceiver *dest;
	int			i;

	/* Called by a scan that streams (stream_read.c): it runs the plan itself. */
	if (es_stream_read(fcinfo, plan, nargs, types, values, nulls, seen))
		return;
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
	if (seen != NULL)
	{
		StartWatch *w = palloc0(sizeof(StartWatch));

		w->pub.receiveSlot = watch_receive;
		w->pub.rStartup = watch_startup;
		w->pub.rShutdown = watch_shutdown;
		w->pub.rDestroy = watch_destroy;
		w->pub.mydest = DestTuplestore;
		w->inner = dest;
		w->seen = seen;
		seen->rows = 0;
		dest = &w->pub;
	}
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
