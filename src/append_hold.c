/*-------------------------------------------------------------------------
 *
 * append_hold.c
 *	  eventstore.max_append_hold: the appending transactions that hold the
 *	  global feed, and the end of those that hold it too long.
 *
 * An appending transaction holds back every feed reader of its database
 * below its first position until it ends (position.c).  Each holder's slot
 * records when it took its first position and the limit in effect then.  A
 * feed reader calls es_enforce_append_hold beside its read of the safe
 * position: a holder past its deadline is ended, as pg_terminate_backend
 * would.  docs/global-feed.md, section 3.1, is the design note.
 *
 * The slots are position.c's shared state; this file sees them only through
 * es_visit_busy_slots, under position.c's LWLock.  The signal is sent under
 * that lock in exclusive mode: while it is held no slot can be cleared, so
 * the pid of a busy slot is the backend whose transaction took the slot (a
 * backend clears its slot before it can start another transaction or
 * exit), and a signal never reaches a later, innocent transaction of the
 * same backend or a recycled pid.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include <signal.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

/*
 * Whether a busy slot is subject to eventstore.max_append_hold in a reader's
 * eyes: it has a limit, it has not been signalled yet, and it is not the
 * reader itself (a transaction that appended and then reads the feed is
 * bounded by its own first position; ending it would only surprise it).
 */
static inline bool
slot_has_deadline(const EsSlot *s)
{
	return s->hold_limit_ms > 0 && !s->terminating && s->pid != MyProcPid;
}

/* What the shared look at the holders found. */
typedef struct DeadlineScan
{
	TimestampTz now;			/* read once, when a slot has a deadline */
	bool		overdue;		/* a holder is past its deadline */
	TimestampTz next_deadline;	/* the earliest still to come; 0: none */
} DeadlineScan;

static void
find_deadlines(EsSlot *s, void *arg)
{
	DeadlineScan *scan = arg;
	TimestampTz deadline;

	if (!slot_has_deadline(s))
		return;
	deadline = TimestampTzPlusMilliseconds(s->since, s->hold_limit_ms);
	if (scan->now == 0)
		scan->now = GetCurrentTimestamp();
	if (scan->now >= deadline)
		scan->overdue = true;
	else if (scan->next_deadline == 0 || deadline < scan->next_deadline)
		scan->next_deadline = deadline;
}

/* The holders signalled, for the log after the lock is released. */
typedef struct OverdueEnd
{
	TimestampTz now;
	int		   *pids;			/* room for MaxBackends, allocated before the lock */
	int			n;
} OverdueEnd;

static void
end_if_overdue(EsSlot *s, void *arg)
{
	OverdueEnd *end = arg;

	if (slot_has_deadline(s) &&
		end->now >= TimestampTzPlusMilliseconds(s->since, s->hold_limit_ms))
	{
		s->terminating = true;
		if (kill(s->pid, SIGTERM) == 0)
			end->pids[end->n++] = s->pid;
	}
}

/*
 * End the appenders of our database that have held the feed longer than
 * their eventstore.max_append_hold, as pg_terminate_backend would: their
 * transactions abort, their positions become gaps, and their abort clears
 * their slots and wakes the waiters.  Until then the slots still bound the
 * safe position: a signalled holder is not assumed dead, so the feed never
 * moves past a position that may still commit (docs/global-feed.md, 3.1).
 *
 * *next_deadline (when not NULL; 0 when there is none) is set to the
 * earliest deadline still to come, so that a waiter can wake up for it.
 * The holders are looked at under the shared lock; the exclusive one is
 * taken only when one of them is overdue.  Nothing in serialized mode.
 */
void
es_enforce_append_hold(TimestampTz *next_deadline)
{
	DeadlineScan scan = {0, false, 0};
	OverdueEnd	end;
	int			i;

	if (next_deadline != NULL)
		*next_deadline = 0;
	if (!es_preloaded)
		return;
	es_visit_busy_slots(find_deadlines, &scan, false);
	if (next_deadline != NULL)
		*next_deadline = scan.next_deadline;
	if (!scan.overdue)
		return;

	end.now = scan.now;
	end.pids = palloc(sizeof(int) * MaxBackends);
	end.n = 0;
	es_visit_busy_slots(end_if_overdue, &end, true);
	for (i = 0; i < end.n; i++)
		ereport(LOG,
				(errmsg("terminating backend %d: its appending transaction held the global feed longer than eventstore.max_append_hold",
						end.pids[i]),
				 errhint("Keep transactions that call es_append short.")));
	pfree(end.pids);
}

/* A copy of the busy slots, made under the lock, turned into rows after it. */
typedef struct SlotCopy
{
	EsSlot	   *slots;			/* room for MaxBackends */
	int			n;
} SlotCopy;

static void
copy_slot(EsSlot *s, void *arg)
{
	SlotCopy   *copy = arg;

	copy->slots[copy->n++] = *s;
}

/*
 * es_feed_holders(): the appending transactions in flight in the current
 * database (concurrent mode; none in serialized mode, where the holder of
 * the feed lock shows in pg_locks instead).  Only this database's: a
 * reader grant is a right on one store, and another database's holders
 * (their pids, roles, positions) are not its business (issue 21, item 11).
 */
PG_FUNCTION_INFO_V1(es_feed_holders);
Datum
es_feed_holders(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SlotCopy	copy;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (!es_preloaded)
		return (Datum) 0;

	copy.slots = palloc(sizeof(EsSlot) * MaxBackends);
	copy.n = 0;
	es_visit_busy_slots(copy_slot, &copy, false);

	for (i = 0; i < copy.n; i++)
	{
		EsSlot	   *s = &copy.slots[i];
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};

		values[0] = Int32GetDatum(s->pid);
		values[1] = ObjectIdGetDatum(s->dboid);
		values[2] = Int64GetDatum(s->min_pos);
		values[3] = Int64GetDatum(s->max_pos);
		values[4] = TimestampTzGetDatum(s->since);
		if (s->hold_limit_ms > 0)
			values[5] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(s->since,
																		s->hold_limit_ms));
		else
			nulls[5] = true;
		values[6] = BoolGetDatum(s->terminating);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(copy.slots);
	return (Datum) 0;
}
