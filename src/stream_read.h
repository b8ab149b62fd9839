/*-------------------------------------------------------------------------
 *
 * stream_read.h
 *	  What the custom scan of stream_scan.c hands the read it calls
 *	  (stream_read.c); seen by those two files only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ES_STREAM_READ_H
#define ES_STREAM_READ_H

#include "executor/execdesc.h"
#include "utils/plancache.h"

/*
 * What a scan hands the function it calls, and what es_stream_read started
 * for it.  Everything before "materialise" belongs to one call.
 */
typedef struct EsStreamTarget
{
	ReturnSetInfo *rsinfo;		/* the call's: how a read knows it is ours */
	MemoryContext cxt;
	QueryDesc  *qd;				/* the read's executor, while it runs */
	CachedPlan *cplan;
	int			ahead;			/* rows read ahead for the start check */
	TupleTableSlot *ahead_first;	/* a copy of the first */
	TupleTableSlot *ahead_second;	/* the executor's slot, holding the second */
	bool		exhausted;		/* reading ahead met the end: never ask again */
	bool		materialise;	/* this scan may be rewound: never stream */
} EsStreamTarget;

/* Call the scan's function with t as the target its read starts into. */
extern void es_stream_read_call(EsStreamTarget *t, FunctionCallInfo fcinfo);

#endif							/* ES_STREAM_READ_H */
