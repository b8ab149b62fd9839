/*-------------------------------------------------------------------------
 *
 * dcb_append.c
 *	  es_append_if(batch, fail_if_events_match, after_position): an append
 *	  with a dynamic-consistency-boundary condition (docs/dcb.md).
 *
 * The batch is es_append's document (append.c parses it), whose entries
 * may leave out the stream; the condition is a query (dcb_query.c) and a
 * position.  Everything that needs no lock is checked here, before any
 * lock: the documents, `after` against the feed's head (ES017) and the
 * archive horizon (ES010).  append_exec.c then locks (streams, dcb keys,
 * the events table), checks versions and the condition, and stores.
 *
 * Locks: those of es_append_execute.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"

/* The highest position a read can have returned so far (feed.c's head). */
static int64
feed_head_now(void)
{
	int64		safe = es_feed_safe_position();

	return safe != PG_INT64_MAX ? safe : es_read_highest_used_position();
}

/* Ensure `after` is a position a safe read can have returned (docs/dcb.md). */
static void
check_after(int64 after)
{
	int64		head;

	if (after < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("after_position must not be negative"),
				 errdetail("It is " INT64_FORMAT ".", after),
				 errhint("Pass NULL to fail on any matching event.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	head = feed_head_now();
	if (after > head)
		ereport(ERROR,
				(errcode(ERRCODE_ES_AFTER_BEYOND_HEAD),
				 errmsg("after_position " INT64_FORMAT " is beyond the head of the feed", after),
				 errdetail("The head (the safe position) is " INT64_FORMAT "; no read can have returned a higher position.",
						   head),
				 errhint("Pass the position es_load_query's answer ends at (its last row, or the after_position it was given).")));
	es_check_archive_horizon(after);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(es_append_if);
Datum
es_append_if(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EsStreamAppend *streams;
	EsNewEvent *events;
	int			nstreams;
	int			nevents;
	EsCondition cond;
	bool		has_cond = !PG_ARGISNULL(1);

	/* The row type from the calling node when it has one (append.c says why). */
	InitMaterializedSRF(fcinfo,
						rsinfo != NULL && IsA(rsinfo, ReturnSetInfo) &&
						rsinfo->expectedDesc != NULL ? MAT_SRF_USE_EXPECTED_DESC : 0);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("append batch must not be null")));
	es_parse_append_batch(PG_GETARG_JSONB_P(0), true, &streams, &nstreams,
						  &events, &nevents);
	if (has_cond)
	{
		cond.query = es_parse_query(PG_GETARG_JSONB_P(1));
		cond.after = -1;
		if (!PG_ARGISNULL(2))
		{
			cond.after = PG_GETARG_INT64(2);
			check_after(cond.after);
		}
	}
	else if (!PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("after_position without a condition"),
				 errhint("Give fail_if_events_match, or leave after_position out.")));
	es_append_into_result(fcinfo, streams, nstreams, events, nevents, has_cond ? &cond : NULL);
	return (Datum) 0;
}
