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
 * Locks: the LWLock of the shared state, held for a few instructions only;
 * the feed lock (serialized mode) and the counter lock (initialisation),
 * taken through stream_lock.c, which with eventstore.h owns every tag and
 * the order of all the store's locks.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

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
static EsShared *shared_state = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Backend-local state of the current transaction. */
static bool xact_registered = false;	/* concurrent: our slot is set */
static bool xact_feed_locked = false;	/* serialized: we hold the lock */
static int64 xact_last_local = 0;	/* serialized: last position we gave */
static int64 xact_before_local = 0; /* serialized: max(position) before us */
static bool xact_direct_insert = false;	/* rows came by another path */

static Size
shmem_size(void)
{
	return add_size(offsetof(EsShared, slots),
					mul_size(sizeof(EsSlot), MaxBackends));
}

static void
request_shmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shmem_size());
	RequestNamedLWLockTranche("eventstore", 1);
}

static void
startup_shmem(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_state = ShmemInitStruct("eventstore", shmem_size(), &found);
	if (!found)
	{
		/* A crash restart lands here too: every appender was aborted. */
		memset(shared_state, 0, shmem_size());
		shared_state->lock = &(GetNamedLWLockTranche("eventstore"))->lock;
		ConditionVariableInit(&shared_state->feed_cv);
		shared_state->nslots = MaxBackends;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Transaction end: clear our slot.  Runs after the commit is visible to
 * others, and must not raise an error (an ERROR here would be a PANIC).
 */
static void
xact_callback(XactEvent event, void *arg)
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
			if (xact_registered && shared_state != NULL)
			{
				LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
				shared_state->slots[ES_MY_BACKEND_INDEX].min_pos = 0;
				shared_state->slots[ES_MY_BACKEND_INDEX].dboid = InvalidOid;
				LWLockRelease(shared_state->lock);
				ConditionVariableBroadcast(&shared_state->feed_cv);
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
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = request_shmem;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = startup_shmem;
}

void
es_position_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
}

/* Our database's counter entry; created if absent.  Caller holds the LWLock. */
static EsDbCounter *
find_db_counter(bool create)
{
	EsDbCounter *free_entry = NULL;
	int			i;

	for (i = 0; i < ES_MAX_DATABASES; i++)
	{
		EsDbCounter *e = &shared_state->dbs[i];

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
 * rereads its counter.  The catalog is read without holding the LWLock.
 */
static void
forget_dropped_databases(void)
{
	Oid			oids[ES_MAX_DATABASES];
	int			n = 0;
	int			i;

	LWLockAcquire(shared_state->lock, LW_SHARED);
	for (i = 0; i < ES_MAX_DATABASES; i++)
	{
		Oid			dboid = shared_state->dbs[i].dboid;

		if (dboid != InvalidOid && dboid != MyDatabaseId)
			oids[n++] = dboid;
	}
	LWLockRelease(shared_state->lock);

	for (i = 0; i < n; i++)
	{
		int			j;

		if (SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(oids[i])))
			continue;
		LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
		for (j = 0; j < ES_MAX_DATABASES; j++)
		{
			EsDbCounter *e = &shared_state->dbs[j];

			if (e->dboid == oids[i])
			{
				e->dboid = InvalidOid;
				e->valid = false;
				e->last_pos = 0;
			}
		}
		LWLockRelease(shared_state->lock);
	}
}

/*
 * Make sure our database's shared counter has been read from the table
 * since the server started (or since it was invalidated).
 */
static void
ensure_counter(void)
{
	EsDbCounter *e;
	bool		valid;
	int64		maxpos;

	LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
	e = find_db_counter(true);
	valid = (e != NULL && e->valid);
	LWLockRelease(shared_state->lock);
	if (e == NULL)
	{
		/* Full: entries of dropped databases can be reused. */
		forget_dropped_databases();
		LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
		e = find_db_counter(true);
		valid = (e != NULL && e->valid);
		LWLockRelease(shared_state->lock);
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
	es_lock_counter_init();

	LWLockAcquire(shared_state->lock, LW_SHARED);
	valid = e->valid;
	LWLockRelease(shared_state->lock);
	if (!valid)
	{
		maxpos = es_read_max_position();
		LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
		/* Never move backwards: appenders may hold positions past maxpos. */
		if (e->last_pos < maxpos)
			e->last_pos = maxpos;
		e->valid = true;
		LWLockRelease(shared_state->lock);
	}
	es_unlock_counter_init();
}

/*
 * Ensure `count` more positions fit after `last`.  Positions are a bigint and
 * never wrap: past the maximum, the next appends would get negative
 * positions, below every reader's "after position" forever.  A store gets
 * near the maximum only by rows inserted by hand or restored from elsewhere.
 */
static void
check_positions_left(int64 last, int count)
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
		check_positions_left(xact_last_local, count);
		first = xact_last_local + 1;
		xact_last_local += count;
		return first;
	}

	ensure_counter();

	LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
	{
		EsDbCounter *e = find_db_counter(false);

		if (e->last_pos > PG_INT64_MAX - count)
		{
			int64		last = e->last_pos;

			LWLockRelease(shared_state->lock);
			check_positions_left(last, count);
		}
		first = e->last_pos + 1;
		e->last_pos += count;
		if (!xact_registered)
		{
			shared_state->slots[ES_MY_BACKEND_INDEX].dboid = MyDatabaseId;
			shared_state->slots[ES_MY_BACKEND_INDEX].min_pos = first;
		}
	}
	LWLockRelease(shared_state->lock);
	xact_registered = true;
	return first;
}

/*
 * The highest position a feed reader may return now: every position at or
 * below it belongs to a transaction that has ended.  The reader must take
 * its snapshot after this call.
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

	ensure_counter();

	LWLockAcquire(shared_state->lock, LW_SHARED);
	safe = find_db_counter(false)->last_pos;
	for (i = 0; i < shared_state->nslots; i++)
	{
		EsSlot	   *s = &shared_state->slots[i];

		if (s->min_pos > 0 && s->dboid == MyDatabaseId && s->min_pos - 1 < safe)
			safe = s->min_pos - 1;
	}
	LWLockRelease(shared_state->lock);
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

	if (!es_preloaded || shared_state == NULL)
		return;
	LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
	e = find_db_counter(false);
	if (e != NULL)
		e->valid = false;
	LWLockRelease(shared_state->lock);
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
	return es_preloaded && shared_state != NULL ? &shared_state->feed_cv : NULL;
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
