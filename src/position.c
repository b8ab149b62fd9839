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
 * commit became visible (xact.c: ProcArrayEndTransaction comes first), and
 * which wakes es_wait's sleepers when the slot held the lowest min_pos of
 * its database, the only case in which the safe position moves.  A
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
 * eventstore.max_append_hold bounds how long one appending transaction may
 * hold the feed (concurrent mode): each slot records when it was taken and
 * the appender's limit; append_hold.c, through es_visit_busy_slots, ends a
 * holder past its deadline when a feed reader asks.  The reader keeps
 * honouring the slot until the abort clears it.  The counters live in an
 * array of eventstore.max_databases entries, sized at server start.
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
#include "utils/timestamp.h"

typedef struct EsDbCounter
{
	Oid			dboid;			/* InvalidOid: entry unused */
	bool		valid;			/* last_pos has been read from the table */
	int64		last_pos;		/* highest position handed out (0: none) */
} EsDbCounter;

/*
 * The shared state: the slots (one per backend, EsSlot in eventstore.h),
 * then the counters (one per database, eventstore.max_databases of them),
 * in one segment.
 */
typedef struct EsShared
{
	LWLock	   *lock;
	ConditionVariable feed_cv;	/* broadcast when a feed's safe position
								 * moves (xact_callback) */
	int			ndbs;
	int			nslots;
	EsSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} EsShared;

#define SHARED_DBS()	((EsDbCounter *) &shared_state->slots[shared_state->nslots])

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

static void es_invalidate_position_counter(void);

static Size
shmem_size(void)
{
	return add_size(add_size(offsetof(EsShared, slots),
							 mul_size(sizeof(EsSlot), MaxBackends)),
					mul_size(sizeof(EsDbCounter), es_max_databases));
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
		shared_state->ndbs = es_max_databases;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Whether the busy slot `me` has the lowest min_pos of its database, that
 * is whether clearing it moves the database's safe position (positions are
 * unique, so no other slot of the database can have the same min_pos).
 * Slots of other databases do not bound ours.  A slot without a position
 * (min_pos 0) cannot reach here: es_allocate_positions sets min_pos >= 1
 * under the LWLock before the backend marks itself registered; should it
 * happen anyway, we answer true, since a needless wake-up costs a little
 * and a missed one leaves a subscriber asleep until its timeout.
 *
 * Locks: the caller holds the LWLock in exclusive mode, so no slot can be
 * set or cleared meanwhile.
 */
static bool
slot_is_lowest_of_db(int me)
{
	EsSlot	   *mine = &shared_state->slots[me];
	int			i;

	if (mine->min_pos <= 0)
		return true;
	for (i = 0; i < shared_state->nslots; i++)
	{
		EsSlot	   *s = &shared_state->slots[i];

		if (i != me && s->min_pos > 0 && s->dboid == mine->dboid &&
			s->min_pos < mine->min_pos)
			return false;
	}
	return true;
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
				bool		moves_feed;

				LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
				moves_feed = slot_is_lowest_of_db(ES_MY_BACKEND_INDEX);
				memset(&shared_state->slots[ES_MY_BACKEND_INDEX], 0, sizeof(EsSlot));
				LWLockRelease(shared_state->lock);

				/*
				 * Wake the waiters only when the safe position of our
				 * database moves, which is exactly when our slot held the
				 * lowest min_pos of the database: safe is min(last_pos,
				 * lowest min_pos - 1), an allocation never raises it, and
				 * clearing any other slot leaves the lowest one in place.
				 * A later holder that ends first wakes nobody; when the
				 * lowest one ends (commit, abort, or the abort of a holder
				 * ended for max_append_hold), safe jumps past both and the
				 * broadcast comes then.  The slot is cleared before the
				 * broadcast, so a waiter that read the slot still busy is
				 * already on the condition variable's list and is woken.
				 * docs/global-feed.md, section 8.
				 */
				if (moves_feed)
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

	for (i = 0; i < shared_state->ndbs; i++)
	{
		EsDbCounter *e = &SHARED_DBS()[i];

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
 * refuse appends once eventstore.max_databases databases had ever appended.  A
 * dropped database has no backends, hence no appender in flight; should a
 * new database ever get the same OID, it starts from a fresh entry and
 * rereads its counter.  The catalog is read without holding the LWLock.
 */
static void
forget_dropped_databases(void)
{
	Oid		   *oids = palloc(sizeof(Oid) * shared_state->ndbs);
	int			n = 0;
	int			i;

	LWLockAcquire(shared_state->lock, LW_SHARED);
	for (i = 0; i < shared_state->ndbs; i++)
	{
		Oid			dboid = SHARED_DBS()[i].dboid;

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
		for (j = 0; j < shared_state->ndbs; j++)
		{
			EsDbCounter *e = &SHARED_DBS()[j];

			if (e->dboid == oids[i])
			{
				e->dboid = InvalidOid;
				e->valid = false;
				e->last_pos = 0;
			}
		}
		LWLockRelease(shared_state->lock);
	}
	pfree(oids);
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
				 errdetail("This server tracks at most %d databases that append events (eventstore.max_databases).",
						   shared_state->ndbs),
				 errhint("Raise eventstore.max_databases and restart the server, or drop databases that no longer need eventstore.")));
	if (valid)
		return;

	/* One initialiser at a time per database; the others wait here. */
	es_lock_counter_init();

	LWLockAcquire(shared_state->lock, LW_SHARED);
	valid = e->valid;
	LWLockRelease(shared_state->lock);
	if (!valid)
	{
		maxpos = es_read_highest_used_position();
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
	TimestampTz now = 0;

	Assert(count > 0);

	/* A position a reader has seen must survive a crash. */
	ForceSyncCommit();

	if (!es_preloaded)
	{
		if (!xact_feed_locked)
		{
			es_lock_feed();
			xact_feed_locked = true;
			xact_last_local = es_read_highest_used_position();
			xact_before_local = xact_last_local;
		}
		check_positions_left(xact_last_local, count);
		first = xact_last_local + 1;
		xact_last_local += count;
		return first;
	}

	ensure_counter();

	/* The start of the transaction's hold on the feed (max_append_hold). */
	if (!xact_registered)
		now = GetCurrentTimestamp();
	LWLockAcquire(shared_state->lock, LW_EXCLUSIVE);
	{
		EsDbCounter *e = find_db_counter(false);

		EsSlot	   *slot = &shared_state->slots[ES_MY_BACKEND_INDEX];

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
			slot->dboid = MyDatabaseId;
			slot->min_pos = first;
			slot->since = now;
			slot->hold_limit_ms = es_max_append_hold;
			slot->pid = MyProcPid;
			slot->terminating = false;
		}
		slot->max_pos = first + count - 1;
	}
	LWLockRelease(shared_state->lock);
	xact_registered = true;
	return first;
}

/*
 * The highest position a feed reader may return now: every position at or
 * below it belongs to a transaction that has ended.  The reader must take
 * its snapshot after this call.  A pure read: holders past their
 * eventstore.max_append_hold are ended by es_enforce_append_hold
 * (append_hold.c), which the readers call beside it.
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
 * Call `visit` for each busy slot of our database (an appending transaction
 * in flight), under the LWLock: in exclusive mode the visitor may set the
 * slot's `terminating` (and nothing else), in shared mode it only reads.
 * The lock rule holds for visitors too: a few instructions, no other lock,
 * no error.  While the lock is held no slot can be cleared, so the pid of a
 * visited slot is the backend whose transaction took it.  Nothing in
 * serialized mode, which has no slots.
 */
void
es_visit_busy_slots(EsSlotVisitor visit, void *arg, bool exclusive)
{
	int			i;

	if (!es_preloaded || shared_state == NULL)
		return;
	LWLockAcquire(shared_state->lock, exclusive ? LW_EXCLUSIVE : LW_SHARED);
	for (i = 0; i < shared_state->nslots; i++)
	{
		EsSlot	   *s = &shared_state->slots[i];

		if (s->min_pos > 0 && s->dboid == MyDatabaseId)
			visit(s, arg);
	}
	LWLockRelease(shared_state->lock);
}

/*
 * The highest position handed out in this database, in flight or stored,
 * as the shared counter knows it (es_read_highest_used_position reads only
 * what the tables show); PG_INT64_MAX when it does not (serialized mode, a
 * counter not read yet, or invalidated by rows inserted by another path).
 * No stored row has a higher position.  The partitioned version read skips the
 * partitions above it (events_read.c).
 */
int64
es_last_position_handed_out(void)
{
	EsDbCounter *e;
	int64		hw = PG_INT64_MAX;

	if (!es_preloaded)
		return PG_INT64_MAX;
	LWLockAcquire(shared_state->lock, LW_SHARED);
	e = find_db_counter(false);
	if (e != NULL && e->valid)
		hw = e->last_pos;
	LWLockRelease(shared_state->lock);
	return hw;
}

/*
 * Forget the counter of our database, so that the next append rereads
 * max(position).  Called when rows arrive by another path than es_append
 * (a restore, a reinstall of the extension).
 */
static void
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
