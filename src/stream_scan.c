/*-------------------------------------------------------------------------
 *
 * stream_scan.c
 *	  Reads that hand their rows to the executor as they are read: the
 *	  planner hook and the custom scan (the read side is stream_read.c).
 *
 * PostgreSQL runs every set-returning function in FROM to completion into a
 * tuplestore before the first row goes up the plan (nodeFunctionscan.c, for
 * value-per-call functions too): a page of 1,000 events is copied once
 * more, and a reader far behind holds the whole page in memory before the
 * first row reaches the client.  A plain SELECT streams.  So the planner
 * hook here replaces the function scan of the store's read functions
 * (es_load in both forms, es_load_feed, es_load_until, the snapshot loads,
 * the correlation and event-id reads) by a custom scan that:
 *
 *	1. on its first row, calls the function through fmgr as a function scan
 *	   would (EXECUTE privilege checked, SECURITY DEFINER and its settings
 *	   applied by fmgr), so every argument check, lock, snapshot choice and
 *	   plan choice of the function stays where it is;
 *	2. the function's read (es_run_into_result_watched, srf_result.c) sees
 *	   that this scan is its caller and, instead of running the kept plan
 *	   into the result tuplestore, starts the plan's executor here, with the
 *	   snapshot and parameters the function chose;
 *	3. each row the executor returns goes up the plan as it is, with no copy.
 *
 * A stream read that checks where it starts (read_gaps.c) needs its first
 * two rows before it returns: those two are read ahead, the first copied.
 * When the function does not read through srf_result.c, or the scan may be
 * rewound (a rescan without new arguments must return the same rows), the
 * function runs as before and the scan reads its tuplestore.
 *
 * A function scan whose arguments refer to other tables of the query
 * (LATERAL), WITH ORDINALITY, ROWS FROM with several functions, or a
 * reference to the whole row stays a function scan.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/htup_details.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#endif
#include "executor/execdesc.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/value.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

/* The C functions whose reads stream: each runs one read through srf_result.c. */
static const char *const streamable[] = {
	"es_load_stream", "es_load_feed", "es_load_until",
	"es_load_correlated", "es_load_causes", "es_load_effects",
	"es_load_event", "es_load_events",
	"es_snapshot_load", "es_load_snapshot", "es_load_with_snapshot",
};

#include "stream_read.h"


typedef struct StreamScanState
{
	CustomScanState css;
	Oid			funcid;
	Oid			collation;
	List	   *args;			/* ExprStates of the function's arguments */
	MemoryContext cxt;			/* the current call's memory, reset by a rescan */
	bool		called;
	EsStreamTarget target;
	/* materialised: the function's own tuplestore */
	Tuplestorestate *tstore;
	TupleTableSlot *tslot;
	/* streaming: rows read ahead for the start check */
	TupleTableSlot *first;		/* copy of the first row */
	TupleTableSlot *second;		/* the executor's slot, holding the second */
	bool		done;
	AttrNumber *map;			/* scan column i comes from source column map[i] */
	TupleDesc	map_for;
} StreamScanState;

static set_rel_pathlist_hook_type prev_rel_pathlist = NULL;
static CustomPathMethods stream_path_methods;
static CustomScanMethods stream_scan_methods;
static CustomExecMethods stream_exec_methods;


/* Is this function one of the store's streamable reads? */
static bool
streamable_function(Oid funcid)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	bool		result = false;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (!HeapTupleIsValid(tup))
		return false;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->prolang == ClanguageId && proc->proretset && proc->prokind == PROKIND_FUNCTION)
	{
		bool		isnull;
		Datum		bin = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &isnull);

		if (!isnull && strcmp(TextDatumGetCString(bin), "$libdir/eventstore") == 0)
		{
			char	   *src = TextDatumGetCString(SysCacheGetAttr(PROCOID, tup,
																  Anum_pg_proc_prosrc, &isnull));
			int			i;

			for (i = 0; i < (int) lengthof(streamable) && !result; i++)
				result = strcmp(src, streamable[i]) == 0;
		}
	}
	ReleaseSysCache(tup);
	return result;
}

/* Does the scan have to deliver anything but plain columns of its row? */
static bool
needs_whole_row(RelOptInfo *rel)
{
	ListCell   *lc;

	foreach(lc, rel->reltarget->exprs)
	{
		Var		   *var = (Var *) lfirst(lc);

		if (!IsA(var, Var) || (Index) var->varno != rel->relid || var->varattno <= 0)
			return true;
	}
	return false;
}

static void
stream_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	RangeTblFunction *rtfunc;
	FuncExpr   *fexpr;
	CustomPath *cp;
	Path	   *fs;

	if (prev_rel_pathlist)
		prev_rel_pathlist(root, rel, rti, rte);
	if (rte->rtekind != RTE_FUNCTION || rte->funcordinality ||
		list_length(rte->functions) != 1 || rel->reloptkind != RELOPT_BASEREL ||
		!bms_is_empty(rel->lateral_relids) || rel->pathlist == NIL)
		return;
	rtfunc = linitial_node(RangeTblFunction, rte->functions);
	if (!IsA(rtfunc->funcexpr, FuncExpr) || rtfunc->funccolnames != NIL)
		return;
	fexpr = (FuncExpr *) rtfunc->funcexpr;
	if (!fexpr->funcretset || needs_whole_row(rel) || !streamable_function(fexpr->funcid))
		return;

	fs = (Path *) linitial(rel->pathlist);
	cp = makeNode(CustomPath);
	cp->path.pathtype = T_CustomScan;
	cp->path.parent = rel;
	cp->path.pathtarget = rel->reltarget;
	cp->path.param_info = NULL;
	cp->path.parallel_aware = false;
	cp->path.parallel_safe = false;
	cp->path.parallel_workers = 0;
	cp->path.rows = fs->rows;
	/* The first row comes after one call, not after the whole result. */
	cp->path.startup_cost = 0;
	cp->path.total_cost = fs->total_cost;
	cp->path.pathkeys = NIL;
	cp->methods = &stream_path_methods;
	/* The only way to scan it: the function scan's path would be dominated anyway. */
	rel->pathlist = NIL;
	rel->partial_pathlist = NIL;
	add_path(rel, &cp->path);
}

/* One Var per column of the function's row type, dropped columns left out. */
static List *
scan_tlist(Index relid, Oid funcid)
{
	Oid			rettype;
	TupleDesc	desc;
	List	   *tlist = NIL;
	int			i;

	if (get_func_result_type(funcid, &rettype, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function %u does not return a row type", funcid);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		tlist = lappend(tlist,
						makeTargetEntry((Expr *) makeVar(relid, i + 1, att->atttypid,
														 att->atttypmod, att->attcollation, 0),
										list_length(tlist) + 1, NameStr(att->attname), false));
	}
	return tlist;
}

static Plan *
stream_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
			List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cs = makeNode(CustomScan);
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	FuncExpr   *fexpr = (FuncExpr *) linitial_node(RangeTblFunction, rte->functions)->funcexpr;

	cs->scan.plan.targetlist = tlist;
	cs->scan.plan.qual = extract_actual_clauses(clauses, false);
	/* No relation to open: the columns are described by custom_scan_tlist. */
	cs->scan.scanrelid = 0;
	cs->custom_scan_tlist = scan_tlist(rel->relid, fexpr->funcid);
	cs->custom_exprs = copyObject(fexpr->args);
	cs->custom_private = list_make2(makeInteger((int) fexpr->funcid),
									makeInteger((int) fexpr->inputcollid));
	cs->flags = best_path->flags;
	cs->methods = &stream_scan_methods;
	return &cs->scan.plan;
}

static Node *
stream_create_state(CustomScan *cs)
{
	StreamScanState *s = (StreamScanState *) newNode(sizeof(StreamScanState), T_CustomScanState);

	s->css.methods = &stream_exec_methods;
	s->funcid = (Oid) intVal(linitial(cs->custom_private));
	s->collation = (Oid) intVal(lsecond(cs->custom_private));
	return (Node *) s;
}

static void
stream_begin(CustomScanState *node, EState *estate, int eflags)
{
	StreamScanState *s = (StreamScanState *) node;
	CustomScan *cs = (CustomScan *) node->ss.ps.plan;
	AclResult	aclresult;

	/* As a function scan checks it (init_sexpr in execSRF.c). */
	aclresult = es_proc_aclcheck(s->funcid, GetUserId());
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(s->funcid));
	InvokeFunctionExecuteHook(s->funcid);

	s->args = ExecInitExprList(cs->custom_exprs, &node->ss.ps);
	s->cxt = AllocSetContextCreate(estate->es_query_cxt, "eventstore stream read",
								   ALLOCSET_DEFAULT_SIZES);
	/* A scan that may be rewound must return the same rows again. */
	s->target.materialise = (eflags & (EXEC_FLAG_REWIND | EXEC_FLAG_BACKWARD | EXEC_FLAG_MARK)) != 0;
}

/* Stop the executor of a streamed read, if one runs. */
static void
stream_stop(StreamScanState *s)
{
	EsStreamTarget *t = &s->target;

	if (t->qd != NULL)
	{
		ExecutorFinish(t->qd);
		ExecutorEnd(t->qd);
		FreeQueryDesc(t->qd);
		ReleaseCachedPlan(t->cplan, CurrentResourceOwner);
		t->qd = NULL;
		t->cplan = NULL;
	}
}

/*
 * Where scan column i comes from in rows of the source's shape: the
 * source's non-dropped columns, in order, with the same types; anything
 * else is an error, never bad data.
 */
static void
build_map(StreamScanState *s, TupleDesc src)
{
	TupleDesc	dst = s->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor;
	int			i;
	int			j = 0;

	s->map = MemoryContextAlloc(s->cxt, sizeof(AttrNumber) * Max(dst->natts, 1));
	for (i = 0; i < dst->natts; i++)
	{
		while (j < src->natts && TupleDescAttr(src, j)->attisdropped)
			j++;
		if (j >= src->natts || TupleDescAttr(src, j)->atttypid != TupleDescAttr(dst, i)->atttypid)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the columns of table \"eventstore.events\" do not match what %s returns",
							get_func_name(s->funcid)),
					 errhint("Run ALTER EXTENSION eventstore UPDATE.")));
		s->map[i] = j++;
	}
	s->map_for = src;
}

/* The row in src as the scan's row: its values, not copied. */
static TupleTableSlot *
hand_up(StreamScanState *s, TupleTableSlot *src)
{
	TupleTableSlot *dst = s->css.ss.ss_ScanTupleSlot;
	int			n = dst->tts_tupleDescriptor->natts;
	int			i;

	if (s->map_for != src->tts_tupleDescriptor)
		build_map(s, src->tts_tupleDescriptor);
	slot_getallattrs(src);
	ExecClearTuple(dst);
	for (i = 0; i < n; i++)
	{
		dst->tts_values[i] = src->tts_values[s->map[i]];
		dst->tts_isnull[i] = src->tts_isnull[s->map[i]];
	}
	return ExecStoreVirtualTuple(dst);
}

/* Call the function (see the file header, steps 1 and 2). */
static void
stream_call(StreamScanState *s)
{
	ExprContext *econtext = s->css.ss.ps.ps_ExprContext;
	int			nargs = list_length(s->args);
	FmgrInfo   *flinfo;
	FunctionCallInfo fcinfo;
	ReturnSetInfo *rsinfo;
	MemoryContext old;
	ListCell   *lc;
	int			i = 0;
	Oid			rettype;
	TupleDesc	expected;

	old = MemoryContextSwitchTo(s->cxt);
	flinfo = palloc0(sizeof(FmgrInfo));
	fmgr_info_cxt(s->funcid, flinfo, s->cxt);
	(void) get_func_result_type(s->funcid, &rettype, &expected);
	rsinfo = makeNode(ReturnSetInfo);
	rsinfo->econtext = econtext;
	rsinfo->expectedDesc = expected;
	rsinfo->allowedModes = (int) (SFRM_ValuePerCall | SFRM_Materialize | SFRM_Materialize_Preferred);
	rsinfo->returnMode = SFRM_ValuePerCall;
	fcinfo = palloc0(SizeForFunctionCallInfo(nargs));
	InitFunctionCallInfoData(*fcinfo, flinfo, nargs, s->collation, NULL, (Node *) rsinfo);
	foreach(lc, s->args)
	{
		fcinfo->args[i].value = ExecEvalExpr((ExprState *) lfirst(lc), econtext,
											 &fcinfo->args[i].isnull);
		if (fcinfo->args[i].isnull && flinfo->fn_strict)
		{
			/* A strict function of a NULL: no rows, as a function scan. */
			s->done = true;
			MemoryContextSwitchTo(old);
			return;
		}
		i++;
	}

	s->target.rsinfo = rsinfo;
	s->target.cxt = s->cxt;
	es_stream_read_call(&s->target, fcinfo);

	if (s->target.qd == NULL)
	{
		/* The function materialised its result: read it back. */
		if (rsinfo->returnMode != SFRM_Materialize)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s returned its rows in a way a stream read cannot take",
							get_func_name(s->funcid))));
		s->tstore = rsinfo->setResult;
		if (s->tstore != NULL)
			s->tslot = MakeSingleTupleTableSlot(rsinfo->setDesc != NULL ? rsinfo->setDesc : expected,
												&TTSOpsMinimalTuple);
		else
			s->done = true;
	}
	else
	{
		/* The function's own tuplestore stayed empty. */
		if (rsinfo->setResult != NULL)
			tuplestore_end(rsinfo->setResult);
		rsinfo->setResult = NULL;
	}
	if (s->target.ahead > 0)
	{
		s->first = s->target.ahead_first;
		s->second = s->target.ahead > 1 ? s->target.ahead_second : NULL;
	}
	MemoryContextSwitchTo(old);
}

static TupleTableSlot *
stream_next(ScanState *ss)
{
	StreamScanState *s = (StreamScanState *) ss;
	TupleTableSlot *row;

	if (!s->called)
	{
		s->called = true;
		stream_call(s);
	}
	if (s->done)
		return ExecClearTuple(ss->ss_ScanTupleSlot);
	if (s->tstore != NULL)
	{
		if (!tuplestore_gettupleslot(s->tstore, true, false, s->tslot))
			return ExecClearTuple(ss->ss_ScanTupleSlot);
		return hand_up(s, s->tslot);
	}
	if (s->first != NULL)
	{
		row = s->first;
		s->first = NULL;
	}
	else if (s->second != NULL)
	{
		row = s->second;
		s->second = NULL;
	}
	else if (s->target.exhausted)
		row = NULL;
	else
	{
		MemoryContext old = MemoryContextSwitchTo(s->target.qd->estate->es_query_cxt);

		row = ExecProcNode(s->target.qd->planstate);
		MemoryContextSwitchTo(old);
	}
	if (TupIsNull(row))
	{
		/* Let go of the plan's pins and snapshot now, not at the statement's end. */
		s->done = true;
		stream_stop(s);
		return ExecClearTuple(ss->ss_ScanTupleSlot);
	}
	return hand_up(s, row);
}

static bool
stream_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
stream_exec(CustomScanState *node)
{
	return ExecScan(&node->ss, stream_next, stream_recheck);
}

/* Forget the current call: the next row calls the function anew. */
static void
stream_forget(StreamScanState *s)
{
	stream_stop(s);
	if (s->tslot != NULL)
		ExecDropSingleTupleTableSlot(s->tslot);
	if (s->target.ahead_first != NULL)
		ExecDropSingleTupleTableSlot(s->target.ahead_first);
	s->tslot = NULL;
	s->tstore = NULL;
	s->first = s->second = NULL;
	s->called = false;
	s->done = false;
	s->map = NULL;
	s->map_for = NULL;
	memset(&s->target, 0, offsetof(EsStreamTarget, materialise));
	MemoryContextReset(s->cxt);
}

static void
stream_end(CustomScanState *node)
{
	stream_forget((StreamScanState *) node);
}

static void
stream_rescan(CustomScanState *node)
{
	StreamScanState *s = (StreamScanState *) node;

	/* Same arguments and a materialised result: read it again, as a function scan. */
	if (node->ss.ps.chgParam == NULL && s->tstore != NULL && s->target.materialise)
	{
		tuplestore_rescan(s->tstore);
		s->done = false;
		return;
	}
	stream_forget(s);
}

static void
stream_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	ExplainPropertyText("Function", get_func_name(((StreamScanState *) node)->funcid), es);
}

void
es_stream_scan_init(void)
{
	stream_path_methods.CustomName = "eventstore read";
	stream_path_methods.PlanCustomPath = stream_plan;
	stream_scan_methods.CustomName = "eventstore read";
	stream_scan_methods.CreateCustomScanState = stream_create_state;
	stream_exec_methods.CustomName = "eventstore read";
	stream_exec_methods.BeginCustomScan = stream_begin;
	stream_exec_methods.ExecCustomScan = stream_exec;
	stream_exec_methods.EndCustomScan = stream_end;
	stream_exec_methods.ReScanCustomScan = stream_rescan;
	stream_exec_methods.ExplainCustomScan = stream_explain;
	RegisterCustomScanMethods(&stream_scan_methods);
	prev_rel_pathlist = set_rel_pathlist_hook;
	set_rel_pathlist_hook = stream_rel_pathlist;
}
