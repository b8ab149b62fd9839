/*-------------------------------------------------------------------------
 *
 * stream_read.c
 *	  The read side of reads that stream (the scan is stream_scan.c): a
 *	  read function called by the custom scan starts its kept plan's
 *	  executor for the scan instead of running it into a tuplestore, and
 *	  reads ahead the two rows the start check of read_gaps.c needs.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/snapmgr.h"

#include "stream_read.h"

/* The scan whose function is being called (stream_scan.c, step 2). */
static EsStreamTarget *current_target = NULL;

void
es_stream_read_call(EsStreamTarget *t, FunctionCallInfo fcinfo)
{
	current_target = t;
	PG_TRY();
	{
		(void) FunctionCallInvoke(fcinfo);
	}
	PG_FINALLY();
	{
		current_target = NULL;
	}
	PG_END_TRY();
}

/* Note a row of a stream read in *seen, up to its second (srf_result.c too). */
void
es_note_read_start(EsReadStart *seen, TupleTableSlot *slot, AttrNumber version_att)
{
	if (seen->rows < 2)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, version_att, &isnull);

		seen->version[seen->rows] = isnull ? 0 : DatumGetInt64(d);
		seen->flag[seen->rows] = false;
		if (seen->flag_att > 0)
		{
			d = slot_getattr(slot, seen->flag_att, &isnull);
			seen->flag[seen->rows] = !isnull && DatumGetBool(d);
		}
		seen->rows++;
	}
}

/* The column "version" of a stream read's rows. */
AttrNumber
es_version_att(TupleDesc typeinfo)
{
	int			i;

	for (i = 0; i < typeinfo->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(typeinfo, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), "version") == 0)
			return i + 1;
	}
	elog(ERROR, "a stream read has no column \"version\"");
	return InvalidAttrNumber;	/* keep the compiler quiet */
}

/*
 * Called by srf_result.c for every read: true when the read belongs to the
 * scan being started, and then started here (step 2 of the file header):
 * the kept plan's executor, with a copy of the parameters and the active
 * snapshot, rows read ahead into seen when the caller checks its start.
 */
bool
es_stream_read(FunctionCallInfo fcinfo, struct _SPI_plan *plan, int nargs,
			   Oid *types, Datum *values, bool *nulls, EsReadStart *seen)
{
	EsStreamTarget *t = current_target;
	ParamListInfo params;
	CachedPlanSource *src;
	PlannedStmt *stmt;
	MemoryContext old;
	int			i;

	if (t == NULL || (void *) t->rsinfo != fcinfo->resultinfo || t->materialise || t->qd != NULL)
		return false;
	src = linitial(SPI_plan_get_plan_sources(plan));
	old = MemoryContextSwitchTo(t->cxt);
	params = makeParamList(nargs);
	for (i = 0; i < nargs; i++)
	{
		int16		len;
		bool		byval;

		get_typlenbyval(types[i], &len, &byval);
		params->params[i].value = nulls[i] ? (Datum) 0 : datumCopy(values[i], byval, len);
		params->params[i].isnull = nulls[i];
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = types[i];
	}
	t->cplan = GetCachedPlan(src, params, CurrentResourceOwner, NULL);
	if (list_length(t->cplan->stmt_list) != 1)
		elog(ERROR, "a stream read must be one statement");
	stmt = linitial_node(PlannedStmt, t->cplan->stmt_list);
	if (stmt->commandType != CMD_SELECT || stmt->hasModifyingCTE)
		elog(ERROR, "a stream read must be a SELECT");
	t->qd = CreateQueryDesc(stmt, src->query_string, GetActiveSnapshot(), InvalidSnapshot,
							None_Receiver, params, NULL, 0);
	ExecutorStart(t->qd, 0);
	if (seen != NULL)
	{
		TupleTableSlot *row;
		AttrNumber	version_att = es_version_att(ExecGetResultType(t->qd->planstate));

		seen->rows = 0;
		MemoryContextSwitchTo(t->qd->estate->es_query_cxt);
		row = ExecProcNode(t->qd->planstate);
		if (!TupIsNull(row))
		{
			es_note_read_start(seen, row, version_att);
			/* The copy lives with the call, not with the executor. */
			MemoryContextSwitchTo(t->cxt);
			t->ahead_first = MakeSingleTupleTableSlot(CreateTupleDescCopy(row->tts_tupleDescriptor),
													  &TTSOpsMinimalTuple);
			ExecCopySlot(t->ahead_first, row);
			t->ahead = 1;
			MemoryContextSwitchTo(t->qd->estate->es_query_cxt);
			row = ExecProcNode(t->qd->planstate);
			if (!TupIsNull(row))
			{
				es_note_read_start(seen, row, version_att);
				t->ahead_second = row;
				t->ahead = 2;
			}
			else
				t->exhausted = true;
		}
		else
			t->exhausted = true;
	}
	MemoryContextSwitchTo(old);
	return true;
}
