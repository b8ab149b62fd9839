/*-------------------------------------------------------------------------
 *
 * feed.c
 *	  The global feed: es_load(after_position, ...), es_feed_head,
 *	  es_feed_position_at, es_wait, and the consumer-group hash
 *	  es_stream_hash (the hash itself is names.c's es_name_hash).
 *
 * docs/global-feed.md is the design note.  The rule that keeps a reader from
 * skipping: first ask position.c for the safe position (every position at or
 * below it belongs to a transaction that has ended), THEN take a fresh
 * snapshot, and return only rows at or below the safe position.  The
 * statement's own snapshot is not used: it was taken before the safe
 * position and may miss a transaction that ended in between.
 *
 * Feed reads are refused on a hot standby: the standby cannot see which
 * positions are in flight on the primary.
 *
 * Locks: none of its own; position.c takes its LWLock briefly.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

/* Serialized mode has no condition variable: es_wait polls this often. */
#define ES_WAIT_POLL_MS		100

/* Feed plans, one per combination of filters (bits below). */
#define FEED_CATEGORY	1
#define FEED_TYPES		2
#define FEED_GROUP		4
#define FEED_NO_PAYLOAD	8
#define FEED_OCCURRED_AT 16		/* no payload, and the table is 1.1's */
#define FEED_TAGS		32		/* no payload, and the table is 1.2's */
static SPIPlanPtr feed_plans[64];
static SPIPlanPtr probe_plan = NULL;

/*
 * Parameters of every feed plan: $1 after, $2 safe, $3 limit, $4 category,
 * $5 types, $6 group size, $7 group member.  Unused ones are still declared
 * so that one parameter list serves all the plans.
 */
#define FEED_NARGS		7
static Oid	feed_types[FEED_NARGS] = {INT8OID, INT8OID, INT8OID, TEXTOID,
	TEXTARRAYOID, INT8OID, INT8OID};

/*
 * Does the result row type (that of eventstore.events) have the column?  A
 * 1.0 table has no occurred_at, a 1.1 table no tags: the library then
 * serves that release's SQL (docs/releasing.md).
 */
static bool
result_has_column(FunctionCallInfo fcinfo, const char *name)
{
	TupleDesc	desc = ((ReturnSetInfo *) fcinfo->resultinfo)->setDesc;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return true;
	}
	return false;
}

/* The plan for a filter combination; only the filters in use appear in it. */
static SPIPlanPtr
feed_plan(int filters)
{
	StringInfoData sql;

	if (feed_plans[filters] != NULL)
		return feed_plans[filters];
	initStringInfo(&sql);
	appendStringInfoString(&sql, (filters & FEED_NO_PAYLOAD)
						   ? "SELECT position, stream, version, event_id, type, category,"
						   " NULL::jsonb, NULL::bytea, NULL::jsonb, created_at"
						   : "SELECT *");
	if (filters & FEED_OCCURRED_AT)
		appendStringInfoString(&sql, ", occurred_at");
	appendStringInfoString(&sql, (filters & FEED_TAGS)
						   ? ", tags FROM eventstore.events WHERE "
						   : " FROM eventstore.events WHERE ");
	/*
	 * A category page must walk the (category, position) index: it reads
	 * only that category's rows.  A generic plan cannot tell a rare category
	 * from a common one and would walk the position index and filter, reading
	 * the whole feed for a rare category.  So the category is written as a
	 * range (not an equality, which the planner would drop from the sort key)
	 * and the rows are ordered by (category, position): only that index
	 * delivers this order, and sorting is switched off (feed_plan_settings).
	 * The btree starts at (category, after_position) and stops when the
	 * category ends.
	 */
	if (filters & FEED_CATEGORY)
		appendStringInfoString(&sql, "category OPERATOR(pg_catalog.>=) $4"
							   " AND category OPERATOR(pg_catalog.<=) $4 AND ");
	appendStringInfoString(&sql,
						   "position OPERATOR(pg_catalog.>) $1"
						   " AND position OPERATOR(pg_catalog.<=) $2");
	if (filters & FEED_TYPES)
		appendStringInfoString(&sql, " AND type OPERATOR(pg_catalog.=) ANY ($5)");
	if (filters & FEED_GROUP)
		appendStringInfoString(&sql,
							   " AND eventstore.es_stream_hash(stream) OPERATOR(pg_catalog.%) $6"
							   " OPERATOR(pg_catalog.=) $7");
	appendStringInfoString(&sql, (filters & FEED_CATEGORY)
						   ? " ORDER BY category, position LIMIT $3"
						   : " ORDER BY position LIMIT $3");
	return es_kept_plan(&feed_plans[filters], sql.data, FEED_NARGS, feed_types);
}

/*
 * Make the planner walk an index in position order and stop at the LIMIT.
 * Without this, a generic plan (estimated with default selectivities) can
 * pick a bitmap or sequential scan plus a sort, which reads every row after
 * the reader's position: ruinous for a reader that is far behind.  Returns
 * the GUC nest level to pass to AtEOXact_GUC, as a function's SET clause
 * does; an error unwinds it with the transaction.
 */
static int
feed_plan_settings(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_sort", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/* Refuse feed reads during recovery; see docs/global-feed.md, hot standby. */
static void
check_not_standby(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read the global feed on a hot standby"),
				 errdetail("A standby cannot see which positions are still being appended on the primary, so it cannot read the feed without skipping events."),
				 errhint("Read the global feed on the primary; stream reads work on standbys.")));
}

/* Ensure a category filter is a possible category: non-empty, no "-". */
static text *
check_category(text *category)
{
	text	   *c = es_check_name(category, "category");

	if (memchr(VARDATA_ANY(c), '-', VARSIZE_ANY_EXHDR(c)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("category \"%s\" contains \"-\"", text_to_cstring(c)),
				 errdetail("A category is the part of a stream name before its first \"-\"."),
				 errhint("To read one stream, use es_load(stream).")));
	return c;
}

/* Ensure a types filter is a non-empty one-dimensional array of names. */
static ArrayType *
check_types(ArrayType *types)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (ARR_NDIM(types) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("types must be a one-dimensional array")));
	deconstruct_array(types, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("types must not be empty"),
				 errhint("Pass NULL to read events of every type.")));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("types must not contain null elements")));
		(void) es_check_name(DatumGetTextPP(elems[i]), "event type");
	}
	return types;
}

/* Ensure group_member and group_size come together and fit. */
static bool
check_group(FunctionCallInfo fcinfo, int member_arg, int size_arg,
			int64 *member, int64 *size)
{
	if (PG_ARGISNULL(member_arg) && PG_ARGISNULL(size_arg))
		return false;
	if (PG_ARGISNULL(member_arg) || PG_ARGISNULL(size_arg))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group_member and group_size must be given together"),
				 errhint("Member i of a consumer group of n members passes group_member => i, group_size => n, with 0 <= i < n.")));
	*size = PG_GETARG_INT32(size_arg);
	*member = PG_GETARG_INT32(member_arg);
	if (*size < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group_size must be at least 1"),
				 errdetail("It is " INT64_FORMAT ".", *size)));
	if (*member < 0 || *member >= *size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group_member must be between 0 and " INT64_FORMAT, *size - 1),
				 errdetail("It is " INT64_FORMAT ".", *member)));
	return true;
}

/*
 * es_load(after_position, max_count, to_position, with_payload, category,
 * types, group_member, group_size): a page of the global feed.
 */
PG_FUNCTION_INFO_V1(es_load_feed);
Datum
es_load_feed(PG_FUNCTION_ARGS)
{
	Datum		values[FEED_NARGS];
	bool		nulls[FEED_NARGS] = {false, false, false, true, true, true, true};
	int			filters = 0;
	int64		after;
	int64		max_count;
	int64		member;
	int64		size;
	int64		safe;
	int			level;

	InitMaterializedSRF(fcinfo, 0);

	after = es_check_after_position(fcinfo, 0);
	max_count = es_check_max_count(fcinfo, 1, INT8OID);
	if (!PG_ARGISNULL(2) && PG_GETARG_INT64(2) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("to_position must not be negative"),
				 errdetail("It is " INT64_FORMAT ".", PG_GETARG_INT64(2)),
				 errhint("Pass NULL to read up to the head of the feed.")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("with_payload must not be null")));
	if (!PG_GETARG_BOOL(3))
	{
		filters |= FEED_NO_PAYLOAD;
		if (result_has_column(fcinfo, "occurred_at"))
			filters |= FEED_OCCURRED_AT;
		if (result_has_column(fcinfo, "tags"))
			filters |= FEED_TAGS;
	}
	if (!PG_ARGISNULL(4))
	{
		values[3] = PointerGetDatum(check_category(PG_GETARG_TEXT_PP(4)));
		nulls[3] = false;
		filters |= FEED_CATEGORY;
	}
	if (!PG_ARGISNULL(5))
	{
		values[4] = PointerGetDatum(check_types(PG_GETARG_ARRAYTYPE_P(5)));
		nulls[4] = false;
		filters |= FEED_TYPES;
	}
	if (check_group(fcinfo, 6, 7, &member, &size))
	{
		values[5] = Int64GetDatum(size);
		values[6] = Int64GetDatum(member);
		nulls[5] = nulls[6] = false;
		filters |= FEED_GROUP;
	}
	check_not_standby();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_check_archive_horizon(after);
	values[0] = Int64GetDatum(after);
	safe = es_feed_safe_position();
	es_enforce_append_hold(NULL);
	if (!PG_ARGISNULL(2) && PG_GETARG_INT64(2) < safe)
		safe = PG_GETARG_INT64(2);
	values[1] = Int64GetDatum(safe);
	values[2] = Int64GetDatum(max_count);
	level = feed_plan_settings();
	/* The snapshot is taken after the safe position: see the file header. */
	PushActiveSnapshot(GetLatestSnapshot());
	es_run_into_result(fcinfo, feed_plan(filters), FEED_NARGS, feed_types,
					   values, nulls);
	PopActiveSnapshot();
	AtEOXact_GUC(true, level);
	SPI_finish();
	return (Datum) 0;
}

/*
 * The highest position a reader may read now.  In serialized mode every
 * visible row is safe, so it is the highest visible position.  Every
 * reader of the safe position enforces eventstore.max_append_hold, which
 * sets *next_deadline (es_enforce_append_hold).
 */
static int64
feed_head(TimestampTz *next_deadline)
{
	int64		safe = es_feed_safe_position();

	es_enforce_append_hold(next_deadline);

	return safe != PG_INT64_MAX ? safe : es_read_highest_used_position();
}

/* es_feed_head(): see feed_head. */
PG_FUNCTION_INFO_V1(es_feed_head);
Datum
es_feed_head(PG_FUNCTION_ARGS)
{
	check_not_standby();
	PG_RETURN_INT64(feed_head(NULL));
}

/*
 * es_feed_position_at(at): the position of the first event recorded
 * (created_at) at or after at, or the next position (the head + 1) when the
 * feed has none yet; es_load(after_position => result - 1) replays from
 * there.  Only positions at or below the safe position are looked at, read
 * with a snapshot taken after it (the file header's rule): an event that
 * is still being appended with a lower position than the answer would
 * otherwise be skipped by the caller.  Every event recorded at or after at
 * has a position at or above the answer, since a transaction's events get
 * their positions after it started.  With the opt-in BRIN index on
 * created_at (es_enable_time_index) the scan reads the block ranges
 * recorded since about that time, without it the whole table.
 */
PG_FUNCTION_INFO_V1(es_feed_position_at);
Datum
es_feed_position_at(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {TIMESTAMPTZOID, INT8OID};
	Datum		values[2];
	int64		head;
	int64		pos;
	bool		isnull;
	SPIPlanPtr	plan;

	values[0] = TimestampTzGetDatum(es_check_time_arg(fcinfo, 0, "at"));
	check_not_standby();

	head = feed_head(NULL);
	values[1] = Int64GetDatum(head);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * Planned for the actual time, not kept, so that the planner weighs the
	 * BRIN ranges since that time against a scan.  The subquery fence keeps
	 * it from walking the position index for min(): it would expect an
	 * early match where created_at, correlated with the position, puts
	 * every match at the far end (measured: 0.4 s instead of milliseconds
	 * in a store of 1,000,000 events).
	 */
	plan = SPI_prepare("SELECT pg_catalog.min(s.position) FROM"
					   " (SELECT position FROM eventstore.events"
					   "  WHERE created_at OPERATOR(pg_catalog.>=) $1"
					   "  AND position OPERATOR(pg_catalog.<=) $2 OFFSET 0) s", 2, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the feed position at a time");
	pos = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(isnull ? head + 1 : pos);
}

/*
 * Whether the feed has a readable event after `after`: one with
 * after < position <= safe in a snapshot taken after safe was read.
 * Caller is connected to SPI.
 */
static bool
feed_has_event_after(int64 after, int64 safe)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2];
	int			level;
	bool		found;

	if (safe <= after)
		return false;
	es_kept_plan(&probe_plan,
				 "SELECT 1 FROM eventstore.events WHERE position OPERATOR(pg_catalog.>) $1"
				 " AND position OPERATOR(pg_catalog.<=) $2 ORDER BY position LIMIT 1",
				 2, types);
	values[0] = Int64GetDatum(after);
	values[1] = Int64GetDatum(safe);
	level = feed_plan_settings();
	if (SPI_execute_snapshot(probe_plan, values, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the feed");
	found = SPI_processed > 0;
	AtEOXact_GUC(true, level);
	return found;
}

/*
 * es_wait(after_position, timeout_ms): true as soon as the feed has an
 * event after after_position, false when timeout_ms passed first.
 *
 * Concurrent mode sleeps on the feed's condition variable, broadcast by an
 * appending transaction as it ends when that moves the safe position of its
 * database, i.e. when it held the database's lowest position (position.c,
 * xact_callback); a wake-up rechecks the safe position (cheap) and probes
 * the table only when it moved past after_position and changed since the
 * last probe.  Serialized mode has no shared memory and polls every
 * ES_WAIT_POLL_MS.  Both sleeps return on interrupts, and we check for them
 * on every round.  A holder of the feed with an eventstore.max_append_hold
 * deadline broadcasts nothing when the deadline passes, so the sleep ends at
 * the deadline too: the next round ends that holder (position.c), whose
 * abort then wakes us if it held the lowest position (if not, the abort
 * moves nothing and the holder below it will wake us).
 */
PG_FUNCTION_INFO_V1(es_wait);
Datum
es_wait(PG_FUNCTION_ARGS)
{
	int64		after;
	int32		timeout_ms;
	TimestampTz start;
	ConditionVariable *cv;
	int64		probed_safe = -1;
	bool		found = false;

	after = es_check_after_position(fcinfo, 0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("timeout_ms must not be null")));
	timeout_ms = PG_GETARG_INT32(1);
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must not be negative"),
				 errdetail("It is %d.", timeout_ms)));
	check_not_standby();

	cv = es_feed_condition_variable();
	start = GetCurrentTimestamp();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Prepare to sleep before the first check, so that a broadcast between a
	 * check and the sleep is not lost.
	 */
	if (cv != NULL)
		ConditionVariablePrepareToSleep(cv);
	for (;;)
	{
		int64		safe;
		long		remaining;
		TimestampTz deadline;

		CHECK_FOR_INTERRUPTS();
		safe = feed_head(&deadline);
		/* Serialized mode probes every time; concurrent when safe moved. */
		if (safe > after && (cv == NULL || safe != probed_safe))
		{
			probed_safe = safe;
			if (feed_has_event_after(after, safe))
			{
				found = true;
				break;
			}
		}
		remaining = timeout_ms -
			TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		if (remaining <= 0)
			break;
		if (deadline != 0)
			remaining = Min(remaining,
							TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline) + 1);
		if (cv != NULL)
			(void) ConditionVariableTimedSleep(cv, remaining, PG_WAIT_EXTENSION);
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(remaining, ES_WAIT_POLL_MS), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	if (cv != NULL)
		ConditionVariableCancelSleep();
	SPI_finish();
	PG_RETURN_BOOL(found);
}

/* es_stream_hash(stream): es_name_hash with the top bit cleared. */
PG_FUNCTION_INFO_V1(es_stream_hash);
Datum
es_stream_hash(PG_FUNCTION_ARGS)
{
	uint64		h = es_name_hash(PG_GETARG_TEXT_PP(0));

	PG_RETURN_INT64((int64) (h & UINT64CONST(0x7FFFFFFFFFFFFFFF)));
}
