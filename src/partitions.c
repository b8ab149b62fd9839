/*-------------------------------------------------------------------------
 *
 * partitions.c
 *	  Partitions of the partitioned layout (docs/partitioning.md): making
 *	  them as positions reach them, and where event ids are kept.
 *
 * A position es_append hands out must have a partition before its row is
 * stored: there is no default partition (it would make every feed read a
 * Merge Append that scans it), so a row without one would fail the append.
 * es_insert_events therefore asks here before it routes its rows.  When the
 * call's last position is in the upper half of the last partition, the next
 * partition is made now, by whichever appender gets the partitions lock
 * without waiting; the others go on.  A call whose positions pass the last
 * bound (the store's first append, or a burst that outran the margin)
 * waits for the lock, looks again, and makes what is still missing.  A
 * position in a gap between two partitions (left by a partition made or
 * detached by hand) counts as one without a partition: the bounds are
 * searched for the call's first position and walked to its last, and
 * es_make_partitions fills every gap before it makes anything above.
 *
 * Who makes them: a background worker, in a transaction of its own, while
 * the appender waits for it (a few milliseconds, once per partition).  A
 * partition made in the appender's own transaction would be seen by the
 * other appenders only at its commit, and every appender whose positions
 * fell in it would wait for that commit.  The appender makes the partition
 * itself, in its transaction, only when no worker could do it: no free
 * worker slot, the worker failed (its lock_timeout ran out), or this
 * transaction holds a lock on the table that the worker's ATTACH would wait
 * for (the worker would wait for us while we wait for it, unseen by the
 * deadlock detector).
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PGDLLEXPORT void es_partition_worker_main(Datum arg);

/* What a worker is asked to do, in its bgw_extra. */
typedef struct EsPartitionJob
{
	Oid			dboid;
	int64		up_to;
	int64		from;
} EsPartitionJob;

static SPIPlanPtr make_plan = NULL;

/*
 * Set while this backend runs es_make_partitions for an append (in the
 * appender or in the worker): es_check_partition_count then lets it make
 * what the positions handed out need, however many partitions that is.
 */
static bool making_for_append = false;

/* Run es_make_partitions(up_to, from) through SPI, in the current transaction. */
static void
make_partitions_here(int64 up_to, int64 from)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	int			rc;

	args[0] = Int64GetDatum(up_to);
	args[1] = Int64GetDatum(from);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&make_plan, "SELECT eventstore.es_make_partitions($1, $2)", 2, types);
	making_for_append = true;
	PG_TRY();
	{
		rc = SPI_execute_plan(make_plan, args, NULL, false, 1);
	}
	PG_FINALLY();
	{
		making_for_append = false;
	}
	PG_END_TRY();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not make partitions of eventstore.events");
	SPI_finish();
}

/* Have a background worker make the partitions; false when none could. */
static bool
make_partitions_in_worker(int64 up_to, int64 from)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	EsPartitionJob job;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "eventstore");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "es_partition_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "eventstore partition maker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "eventstore partition maker");
	worker.bgw_notify_pid = MyProcPid;
	job.dboid = MyDatabaseId;
	job.up_to = up_to;
	job.from = from;
	StaticAssertStmt(sizeof(job) <= BGW_EXTRALEN, "job does not fit in bgw_extra");
	memcpy(worker.bgw_extra, &job, sizeof(job));

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return false;
	return WaitForBackgroundWorkerShutdown(handle) == BGWH_STOPPED;
}

/* What es_ensure_partitions needs to know of the partitions. */
typedef struct EsPartitionView
{
	int			nparts;
	int64		lower;			/* of the last partition */
	int64		upper;			/* of the last partition; 0 when MAXVALUE */
	bool		covered;		/* a partition holds every position first..last */
} EsPartitionView;

/* A range bound as a number: MINVALUE and MAXVALUE as the int64 extremes. */
static inline int64
bound_value(PartitionBoundInfo b, int i)
{
	if (b->kind[i][0] == PARTITION_RANGE_DATUM_MINVALUE)
		return PG_INT64_MIN;
	if (b->kind[i][0] == PARTITION_RANGE_DATUM_MAXVALUE)
		return PG_INT64_MAX;
	return DatumGetInt64(b->datums[i][0]);
}

/* How many bounds are at or below v (a binary search of the sorted bounds). */
static int
bounds_at_or_below(PartitionBoundInfo b, int64 v)
{
	int			lo = 0,
				hi = b->ndatums;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (bound_value(b, mid) <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Whether a partition holds every position from first to last.  The bounds
 * of a range-partitioned table are one sorted list of every boundary, and
 * indexes[i] is the partition whose upper bound is bound i, -1 for a range
 * that no partition holds (a gap, or above the last bound): the ranges
 * from the one holding first to the one holding last must all have one.
 */
static bool
positions_covered(PartitionBoundInfo b, int64 first, int64 last)
{
	int			from = bounds_at_or_below(b, first);
	int			to = bounds_at_or_below(b, last);
	int			i;

	for (i = from; i <= to; i++)
		if (b->indexes[i] < 0)
			return false;
	return true;
}

/*
 * Look at the partitions of eventstore.events; false for the plain layout.
 * Opens and closes the table: ATTACH refuses a table that this backend has
 * open (CheckTableNotInUse).
 */
static bool
look_at_partitions(int64 first, int64 last, EsPartitionView *v)
{
	Relation	events = table_open(es_events_relid(), RowExclusiveLock);
	PartitionDesc pd;
	PartitionBoundInfo b;

	if (events->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
	{
		table_close(events, NoLock);
		return false;
	}
	pd = RelationGetPartitionDesc(events, true);
	b = pd->boundinfo;
	v->nparts = pd->nparts;
	v->lower = v->upper = 0;
	v->covered = false;
	if (pd->nparts > 0)
	{
		int			n = b->ndatums;

		if (b->kind[n - 1][0] == PARTITION_RANGE_DATUM_VALUE)
		{
			v->upper = DatumGetInt64(b->datums[n - 1][0]);
			v->lower = n >= 2 && b->kind[n - 2][0] == PARTITION_RANGE_DATUM_VALUE ?
				DatumGetInt64(b->datums[n - 2][0]) : v->upper;
		}
		v->covered = positions_covered(b, first, last);
	}
	table_close(events, NoLock);
	return true;
}

/* Whether this transaction holds a lock on the events table that ATTACH waits for. */
static bool
holds_attach_conflict(void)
{
	Relation	events = relation_open(es_events_relid(), NoLock);
	bool		held = CheckRelationLockedByMe(events, ShareUpdateExclusiveLock, true);

	relation_close(events, NoLock);
	return held;
}

/*
 * Whether nothing is to be made: every position of the call has a
 * partition, and last is below the last partition's upper half (the common
 * case).
 */
static bool
nothing_to_make(EsPartitionView *v, int64 last)
{
	return v->covered &&
		(v->upper == 0 || last < v->upper - (v->upper - v->lower) / 2);
}

/*
 * Ensure that a partition of eventstore.events holds every position from
 * first_position to last_position, and make the next one ahead of need;
 * nothing for the plain layout.  Called before the caller opens the table.
 * A position in a gap between partitions (made by hand, or detached) counts
 * as one without a partition: es_make_partitions fills every gap.
 */
void
es_ensure_partitions(int64 first_position, int64 last_position)
{
	EsPartitionView v;
	bool		must;
	bool		made = false;
	int64		target;

	if (!look_at_partitions(first_position, last_position, &v))
		return;
	if (nothing_to_make(&v, last_position))
		return;
	must = !v.covered;
	if (!es_lock_partitions(must))
		return;					/* another appender is making the next one */

	/* Another appender may have made them while we waited for the lock. */
	AcceptInvalidationMessages();
	if (!look_at_partitions(first_position, last_position, &v))
		return;
	if (nothing_to_make(&v, last_position))
	{
		es_unlock_partitions();
		return;
	}
	must = !v.covered;
	target = must ? last_position : v.upper;

	/* Our own lock on the table, if it conflicts with ATTACH, rules the worker out. */
	if (!holds_attach_conflict() && make_partitions_in_worker(target, first_position))
	{
		AcceptInvalidationMessages();
		(void) look_at_partitions(first_position, target, &v);
		made = v.covered;
	}
	if (!made)
	{
		/*
		 * Made here: seen by others at our commit, so the lock is kept until
		 * then.  Also when making ahead, so that a worker that cannot work
		 * (no slot, a database it cannot connect to) is not started again
		 * by every append of the upper half.
		 */
		make_partitions_here(target, first_position);
		CommandCounterIncrement();
		return;
	}
	es_unlock_partitions();
}

/*
 * es_check_partition_count(partitions)
 *
 * Refuse a call of es_make_partitions that would make more than
 * ES_MAX_PARTITIONS_PER_CALL partitions.  A far target is a mistake
 * (es_make_partitions(9223372036854775807) made partitions until
 * statement_timeout), and each partition made holds about 18 locks until
 * the end of the transaction: a few hundred fill the lock table that all
 * sessions share (53200).  A bulk load makes its partitions in steps.  The
 * partitions an append needs are never refused: its positions are handed
 * out already.
 */
PG_FUNCTION_INFO_V1(es_check_partition_count);
Datum
es_check_partition_count(PG_FUNCTION_ARGS)
{
	int64		n = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);

	if (making_for_append || n <= ES_MAX_PARTITIONS_PER_CALL)
		PG_RETURN_VOID();
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("too many partitions to make in one call"),
			 errdetail("The call would make " INT64_FORMAT " partitions; the limit is %d.",
					   n, ES_MAX_PARTITIONS_PER_CALL),
			 errhint("Make them in steps, each call in a transaction of its own, or choose a larger "
					 "eventstore.partition_size when the store is created. es_append makes the "
					 "partitions it needs itself.")));
	PG_RETURN_VOID();
}

/*
 * es_making_own_partitions()
 *
 * Whether this backend is making partitions for an append (in the appender
 * or in its worker).  The store's event triggers (86_table_additions.sql)
 * then return at once: every statement es_make_partitions runs fires them
 * (CREATE TRIGGER, ALTER TABLE), and their catalog scans cost ~25 times
 * what the partition itself costs, while the appenders whose positions lie
 * in it wait.  What they would find is nothing: the partition's objects are
 * the store's own, copies of events_template's and of what the parent
 * has, which the guard checked when they were put there, and an attached
 * partition is no table of its own to record additions of.  A C flag, not
 * a setting: a user cannot set it to slip DDL past the guard.
 */
PG_FUNCTION_INFO_V1(es_making_own_partitions);
Datum
es_making_own_partitions(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(making_for_append);
}

/* A table of the partitioned layout, InvalidOid when the store is plain. */
static Oid
layout_table_relid(const char *name)
{
	Oid			nsp = get_namespace_oid("eventstore", true);

	return OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
}

Oid
es_event_ids_relid(void)
{
	return layout_table_relid("event_ids");
}

Oid
es_stream_starts_relid(void)
{
	return layout_table_relid("stream_starts");
}

static SPIPlanPtr horizon_plan = NULL;

/*
 * Refuse a feed read that starts below the archive horizon: it would
 * silently skip the archived events.  Only the partitioned layout can
 * archive; the plain layout pays one syscache lookup.  Caller is connected
 * to SPI.
 */
void
es_check_archive_horizon(int64 after_position)
{
	int64		horizon;
	bool		isnull;
	Datum		d;

	if (get_rel_relkind(es_events_relid()) != RELKIND_PARTITIONED_TABLE)
		return;
	es_kept_plan(&horizon_plan,
				 "SELECT pg_catalog.max(to_position) FROM eventstore.archives", 0, NULL);
	if (SPI_execute_plan(horizon_plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the archive horizon");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return;
	horizon = DatumGetInt64(d);
	if (after_position < horizon - 1)
		ereport(ERROR,
				(errcode(ERRCODE_ES_ARCHIVED),
				 errmsg("the events before position " INT64_FORMAT " are archived", horizon),
				 errdetail("A read of the feed after position " INT64_FORMAT " would skip them.",
						   after_position),
				 errhint("Read the archive tables (eventstore.archives lists them), or start after "
						 "es_archive_horizon() - 1.")));
}

/*
 * The worker: make the partitions in a transaction of its own and exit.
 * lock_timeout bounds a wait for a lock that its appender may be behind
 * (the appender then makes the partition itself).
 */
void
es_partition_worker_main(Datum arg)
{
	EsPartitionJob job;

	memcpy(&job, MyBgworkerEntry->bgw_extra, sizeof(job));
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(job.dboid, InvalidOid, 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SetConfigOption("lock_timeout", "2s", PGC_SUSET, PGC_S_SESSION);
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "making partitions of eventstore.events");
	make_partitions_here(job.up_to, job.from);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
