/*-------------------------------------------------------------------------
 *
 * position.c
 *	  Global positions: who hands them out, and how far a feed reader may
 *	  safely read.  docs/global-feed.md is the design note; this is a summary.
 *
 * A reader that pages the feed by "position > P" must never see a position
 * while a lower one is still uncommitted: it would move past the lower one
 * and skip it when it commits.  Two modes keep that rule.
 *
 * Concurrent mode (the library is in shared_preload_libraries).  Positions
 * come from a per-database counter in shared memory.  Under one LWLock an
 * appender takes a block of positions and, on its transaction's first
 * append, publishes the lowest one as its slot's min_pos.  The slot is
 * cleared by the COMMIT/ABORT transaction callback, which runs after the
 * commit became visible (xact.c: ProcArrayEndTransaction comes first).  A
 * reader takes the lowest published min_pos (or the counter, when no slot
 * is busy) as its bound and only then takes its snapshot: every position
 * below the bound belongs to a transaction that has already ended, and
 * positions handed out later are above the bound.  Appenders never wait for
 * each other's commits; only a reader waits, and only for in-flight
 * appenders of its own database.
 *
 * Serialized mode (not preloaded: no shared memory).  An appender takes one
 * exclusive per-database lock at its first append and holds it to the end of
 * its transaction; positions are max(position)+1 read under that lock.  The
 * lock is released after the commit is visible, so positions become visible
 * in order and every visible row is safe to read.  Appending transactions
 * of one database then run one at a time.
 *
 * In both modes the counter is rebuilt from max(position) (so it survives
 * restarts, crashes, pg_dump/restore), an appending transaction commits
 * synchronously (so a position a reader saw cannot vanish in a crash and be
 * handed out again), and PREPARE TRANSACTION after an append is refused.
 *
 * Locks: es_lock (LWLock) for the shared state, held for a few instructions
 * only; an advisory lock (field4 ES_FEED_LOCKTAG_FIELD4) per database for
 * counter initialisation and for serialized mode.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#define ES_FEED_LOCKTAG_FIELD4	0x4546	/* "EF" */
#define ES_MAX_DATABASES		256

typedef struct EsDbCounter
{
	Oid			dboid;			/* InvalidOid: entry unused */
	bool		valid;			/* last_pos has been read from the table */
	int64		last_pos;		/* highest position handed out (0: none) */
} EsDbCounter;

typedef struct EsSlot
{
	Oid			dboid;
	int64		min_pos;		/* 0: no append in flight */
} EsSlot;

typedef struct EsShared
{
	LWLock	   *lock;
	ConditionVariable feed_cv;	/* broadcast when an appender ends */
	EsDbCounter dbs[ES_MAX_DATABASES];
	int			nslots;
	EsSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} EsShared;

bool		es_preloaded = false;
static EsShared *es_shared = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Backend-local state of the current transaction. */
static bool xact_registered = false;	/* concurrent: our slot is set */
static bool xact_feed_locked = false;	/* serialized: we hold the lock */
static int64 xact_last_local = 0;	/* serialized: last position we gave */
static int64 xact_before_local = 0; /* serialized: max(position) before us */
static bool xact_direct_insert = false;	/* rows came by another path */

static SPIPlanPtr max_position_plan = NULL;

#if PG_VERSION_NUM >= 170000
#define ES_MY_SLOT	(MyProcNumber)
#else
#define ES_MY_SLOT	(MyBackendId - 1)
#endif

static Size
es_shmem_size(void)
{
	return add_size(offsetof(EsShared, slots),
					mul_size(sizeof(EsSlot), MaxBackends));
}

#if PG_VERSION_NUM >= 150000
static void
es_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(es_shmem_size());
	RequestNamedLWLockTranche("eventstore", 1);
}
#endif

static void
es_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	es_shared = ShmemInitStruct("eventstore", es_shmem_size(), &found);
	if (!found)
	{
		/* A crash restart lands here too: every appender was aborted. */
		memset(es_shared, 0, es_shmem_size());
		es_shared->lock = &(GetNamedLWLockTranche("eventstore"))->lock;
		ConditionVariableInit(&es_shared->feed_cv);
		es_shared->nslots = MaxBackends;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Transaction end: clear our slot.  Runs after the commit is visible to
 * others, and must not raise an error (an ERROR here would be a PANIC).
 */
static void
es_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (xact_registered || xact_feed_locked)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that appended events"),
						 errdetail("A prepared transaction would hold back the global feed until it is committed."),
						 errhint("Commit the transaction that calls es_append directly.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:

			/*
			 * Rows inserted by hand are visible now: whoever reread the
			 * counter while they were uncommitted must read it again.
			 */
			if (xact_direct_insert)
				es_invalidate_position_counter();
			xact_direct_insert = false;
			if (xact_registered && es_shared != NULL)
			{
				LWLockAcquire(es_shared->lock, LW_EXCLUSIVE);
				es_shared->slots[ES_MY_SLOT].min_pos = 0;
				es_shared->slots[ES_MY_SLOT].dboid = InvalidOid;
				LWLockRelease(es_shared->lock);
				ConditionVariableBroadcast(&es_shared->feed_cv);
			}
			xact_registered = false;
			xact_feed_locked = false;
			xact_last_local = 0;
			break;
		default:
			break;
	}
}

void
es_position_shmem_request(void)
{
	es_preloaded = true;
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = es_shmem_request;
#else
	RequestAddinShmemSpace(es_shmem_size());
	RequestNamedLWLockTranche("eventstore", 1);
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = es_shmem_startup;
}

void
es_position_init(void)
{
	RegisterXactCallback(es_xact_callback, NULL);
}

/* Take the per-database feed lock in exclusive mode, for the transaction. */
static void
es_lock_feed(void)
{
	LOCKTAG		tag;
	ResourceOwner save = CurrentResourceOwner;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, ES_FEED_LOCKTAG_FIELD4);
	/* Owned by the top transaction: a subtransaction abort must not drop it. */
	CurrentResourceOwner = TopTransactionResourceOwner;
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	CurrentResourceOwner = save;
}

/*
 * max(position) of the events table, read with the latest snapshot so that
 * rows committed after our transaction snapshot count too.  Connects to SPI
 * for the read (nested, if the caller is connected already).
 */
static int64
es_read_max_position(void)
{
	bool		isnull;
	Datum		d;
	int64		maxpos;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&max_position_plan,
				 "SELECT pg_catalog.max(position) FROM eventstore.events", 0, NULL);
	if (SPI_execute_snapshot(max_position_plan, NULL, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, false, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the highest position");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	maxpos = isnull ? 0 : DatumGetInt64(d);
	SPI_finish();
	return maxpos;
}

/* Our database's counter entry; created if absent.  Caller holds es_lock. */
static EsDbCounter *
es_find_db(bool create)
{
	EsDbCounter *free_entry = NULL;
	int			i;

	for (i = 0; i < ES_MAX_DATABASES; i++)
	{
		EsDbCounter *e = &es_shared->dbs[i];

		if (e->dboid == MyDatabaseId)
			return e;
		if (e->dboid == InvalidOid && free_entry == NULL)
			free_entry = e;
	}
	if (!create || free_entry == NULL)
		return NULL;
	free_entry->dboid = MyDatabaseId;
	free_entry->valid = false;
	free_entry->last_pos = 0;
	return free_entry;
}

/*
 * Free the counter entries of databases that no longer exist.  Entries are
 * never released otherwise, so without this a server on which databases
 * come and go (test suites, a database per tenant or per CI run) would
 * refuse appends once ES_MAX_DATABASES databases had ever appended.  A
 * dropped database has no backends, hence no appender in flight; should a
 * new database ever get the same OID, it starts from a fresh entry and
 * rereads its counter.  The catalog is read without holding es_lock.
 */
static void
es_forget_dropped_databases(void)
{
	Oid			oids[ES_MAX_DATABASES];
	int			n = 0;
	int			i;

	LWLockAcquire(es_shared->lock, LW_SHARED);
	for (i = 0; i < ES_MAX_DATABASES; i++)
	{
		Oid			dboid = es_shared->dbs[i].dboid;

		if (dboid != InvalidOid && dboid != MyDatabaseId)
			oids[n++] = dboid;
	}
	LWLockRelease(es_shared->lock);

	for (i = 0; i < n; i++)
	{
		int			j;

		if (SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(oids[i])))
			continue;
		LWLockAcquire(es_shared->lock, LW_EXCLUSIVE);
		for (j = 0; j < ES_MAX_DATABASES; j++)
		{
			EsDbCounter *e = &es_shared->dbs[j];

			if (e->dboid == oids[i])
			{
				e->dboid = InvalidOid;
				e->valid = false;
				e->last_pos = 0;
			}
		}
		LWLockRelease(es_shared->lock);
	}
}

/*
 * Make sure our database's shared counter has been read from the table
 * since the server started (or since it was invalidated).
 */
static void
es_ensure_counter(void)
{
	EsDbCounter *e;
	bool		valid;
	LOCKTAG		tag;
	int64		maxpos;

	LWLockAcquire(es_shared->lock, LW_EXCLUSIVE);
	e = es_find_db(true);
	valid = (e != NULL && e->valid);
	LWLockRelease(es_shared->lock);
	if (e == NULL)
	{
		/* Full: entries of dropped databases can be reused. */
		es_forget_dropped_databases();
		LWLockAcquire(es_shared->lock, LW_EXCLUSIVE);
		e = es_find_db(true);
		valid = (e != NULL && e->valid);
		LWLockRelease(es_shared->lock);
	}
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many databases use eventstore"),
				 errdetail("One server can track at most %d databases with eventstore.",
						   ES_MAX_DATABASES)));
	if (valid)
		return;

	/* One initialiser at a time per database; the others wait here. */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 1, ES_FEED_LOCKTAG_FIELD4);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	LWLockAcquire(es_shared->lock, LW_SHARED);
	valid = e->valid;
	LWLockRelease(es_shared->lock);
	if (!valid)
	{
		maxpos = es_read_max_position();
		LWLockAcquire(es_shared->lock, LW_EXCLUSIVE);
		/* Never move backwards: appenders may hold positions past maxpos. */
		if (e->last_pos < maxpos)
			e->last_pos = maxpos;
		e->valid = true;
		LWLockRelease(es_shared->lock);
	}
	LockRelease(&tag, ExclusiveLock, false);
}

/*
 * Ensure `count` more positions fit after `last`.  Positions are a bigint and
 * never wrap: past the maximum, the next appends would get negative
 * positions, below every reader's "after position" forever.  A store gets
 * near the maximum only by rows inserted by hand or restored from elsewhere.
 */
static void
es_check_positions_left(int64 last, int count)
{
	if (last > PG_INT64_MAX - count)
		ereport(ERROR,
				(errcode(ERRCODE_SEQUENCE_GENERATOR_LIMIT_EXCEEDED),
				 errmsg("global positions are exhausted"),
				 errdetail("The highest position is " INT64_FORMAT "; %d more would pass the maximum of " INT64_FORMAT ".",
						   last, count, PG_INT64_MAX),
				 errhint("Positions near the maximum come from rows inserted into eventstore.events by hand or restored from another store; nothing can be appended after them.")));
}

/*
 * Hand out `count` consecutive positions to the current transaction and
 * return the first.  The caller holds its stream locks.
 */
int64
es_allocate_positions(int count)
{
	int64		first;

	Assert(count > 0);

	/* A position a reader has seen must survive a crash. */
	ForceSyncCommit();

	if (!es_preloaded)
	{
		if (!xact_feed_locked)
		{
			es_lock_feed();
			xact_feed_locked = true;
			xact_last_local = es_read_max_position();
			xact_before_local = xact_last_local;
		}
		es_check_positions_left(xact_last_local, count);
		first = xact_last_local + 1;
		xact_last_local += count;
		return first;
	}

	es_ensure_counter();

	LWLockAcquire(es_shared->lock, LW_EXCLUSIVE);
	{
		EsDbCounter *e = es_find_db(false);

		if (e->last_pos > PG_INT64_MAX - count)
		{
			int64		last = e->last_pos;

			LWLockRelease(es_shared->lock);
			es_check_positions_left(last, count);
		}
		first = e->last_pos + 1;
		e->last_pos += count;
		if (!xact_registered)
		{
			es_shared->slots[ES_MY_SLOT].dboid = MyDatabaseId;
			es_shared->slots[ES_MY_SLOT].min_pos = first;
		}
	}
	LWLockRelease(es_shared->lock);
	xact_registered = true;
	return first;
}

/*
 * The highest position a feed reader may return now: every position at or
 * below it belongs to a transaction that has ended.  The reader must take
 * its snapshot after this call.  Caller is connected to SPI.
 */
int64
es_feed_safe_position(void)
{
	int64		safe;
	int			i;

	/*
	 * Serialized mode: every visible row is safe, except that a transaction
	 * that has appended sees its own rows, which the feed must not show
	 * before they commit (as in concurrent mode, where its slot hides them).
	 */
	if (!es_preloaded)
		return xact_feed_locked ? xact_before_local : PG_INT64_MAX;

	es_ensure_counter();

	LWLockAcquire(es_shared->lock, LW_SHARED);
	safe = es_find_db(false)->last_pos;
	for (i = 0; i < es_shared->nslots; i++)
	{
		EsSlot	   *s = &es_shared->slots[i];

		if (s->min_pos > 0 && s->dboid == MyDatabaseId && s->min_pos - 1 < safe)
			safe = s->min_pos - 1;
	}
	LWLockRelease(es_shared->lock);
	return safe;
}

/*
 * Forget the counter of our database, so that the next append rereads
 * max(position).  Called when rows arrive by another path than es_append
 * (a restore, a reinstall of the extension).
 */
void
es_invalidate_position_counter(void)
{
	EsDbCounter *e;

	if (!es_preloaded || es_shared == NULL)
		return;
	LWLockAcquire(es_shared->lock, LW_EXCLUSIVE);
	e = es_find_db(false);
	if (e != NULL)
		e->valid = false;
	LWLockRelease(es_shared->lock);
}

/*
 * Rows are being inserted by another path than es_append (a restore): forget
 * the counter now and again when this transaction ends, since a counter
 * reread in between cannot see the uncommitted rows.
 */
void
es_note_direct_insert(void)
{
	xact_direct_insert = true;
	es_invalidate_position_counter();
}

/* For waiters on the feed (see feed code): the condition variable. */
ConditionVariable *
es_feed_condition_variable(void)
{
	return es_preloaded && es_shared != NULL ? &es_shared->feed_cv : NULL;
}

/* Which mode this server runs in, for monitoring and the docs. */
PG_FUNCTION_INFO_V1(es_feed_mode);
Datum
es_feed_mode(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(es_preloaded ? "concurrent" : "serialized"));
}

/* SQL-callable: see es_invalidate_position_counter. */
PG_FUNCTION_INFO_V1(es_reset_position_counter);
Datum
es_reset_position_counter(PG_FUNCTION_ARGS)
{
	es_invalidate_position_counter();
	PG_RETURN_VOID();
}
