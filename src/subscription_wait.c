/*-------------------------------------------------------------------------
 *
 * subscription_wait.c
 *	  The parts of managed subscriptions (docs/subscriptions.md) that SQL
 *	  cannot do: sleeping inside es_fetch until something may have become
 *	  claimable, waking those sleepers after a commit that freed events, and
 *	  naming the role that called the store.
 *
 * A waiting fetch sleeps on the feed's condition variable (position.c), the
 * one es_wait uses.  Appending transactions broadcast it when the feed's
 * safe position moves; a transaction that acked, nacked, parked or replayed
 * events broadcasts it too, from its commit callback, after the commit is
 * visible, so a consumer waiting behind a pinned stream's head or a full
 * subscription sees the freed events when it wakes.  A wake-up only makes
 * es_fetch look again; spurious ones cost one look.
 *
 * No wake-up is lost: es_fetch calls es_subscription_wait_prepare (joining
 * the condition variable's list) before it looks at the pool and the feed,
 * and es_subscription_sleep returns at once when a broadcast has already
 * taken it off the list, even if something in between reset the latch.
 *
 * Serialized mode (no shared memory) has no condition variable: the sleep
 * polls in steps of POLL_MS, as es_wait does.
 *
 * Locks: the condition variable's spinlock, for an instant.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/proclist.h"
#include "storage/spin.h"
#include "utils/wait_event.h"

/* Serialized mode: how often a waiting fetch looks again (as es_wait). */
#define POLL_MS 100

/* Whether this transaction freed subscription events (broadcast at commit). */
static bool wake_at_commit = false;
static bool callback_registered = false;

static void
wake_callback(XactEvent event, void *arg)
{
	ConditionVariable *cv;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			/* Runs after the commit is visible: woken fetches see it. */
			cv = es_feed_condition_variable();
			if (wake_at_commit && cv != NULL)
				ConditionVariableBroadcast(cv);
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/* es_subscription_wake(): wake waiting fetches when this transaction commits. */
PG_FUNCTION_INFO_V1(es_subscription_wake);
Datum
es_subscription_wake(PG_FUNCTION_ARGS)
{
	if (!callback_registered)
	{
		RegisterXactCallback(wake_callback, NULL);
		callback_registered = true;
	}
	wake_at_commit = true;
	PG_RETURN_VOID();
}

/*
 * es_subscription_wait_prepare(): join the waiters' list before looking, so
 * that a broadcast from then on ends the next sleep.
 */
PG_FUNCTION_INFO_V1(es_subscription_wait_prepare);
Datum
es_subscription_wait_prepare(PG_FUNCTION_ARGS)
{
	ConditionVariable *cv = es_feed_condition_variable();

	if (cv != NULL)
		ConditionVariablePrepareToSleep(cv);
	PG_RETURN_VOID();
}

/* Whether a broadcast has taken this backend off the list of cv. */
static bool
already_woken(ConditionVariable *cv)
{
	bool		listed;

	SpinLockAcquire(&cv->mutex);
	listed = proclist_contains(&cv->wakeup, ES_MY_PGPROCNO, cvWaitLink);
	SpinLockRelease(&cv->mutex);
	return !listed;
}

/*
 * es_subscription_sleep(timeout_ms): sleep until a broadcast (since the last
 * es_subscription_wait_prepare) or the timeout; true when woken.  Leaves
 * the waiters' list either way.
 */
PG_FUNCTION_INFO_V1(es_subscription_sleep);
Datum
es_subscription_sleep(PG_FUNCTION_ARGS)
{
	ConditionVariable *cv = es_feed_condition_variable();
	int32		timeout_ms = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT32(0);
	bool		woken;

	if (timeout_ms < 0)
		timeout_ms = 0;
	CHECK_FOR_INTERRUPTS();
	if (cv == NULL)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(timeout_ms, POLL_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		PG_RETURN_BOOL(true);
	}

	/*
	 * Another condition variable's sleep in between (a buffer I/O wait) took
	 * us off this one's list: then we cannot know whether a broadcast came,
	 * and look again.
	 */
	if (already_woken(cv))
		woken = true;
	else
		woken = !ConditionVariableTimedSleep(cv, timeout_ms, PG_WAIT_EXTENSION);
	ConditionVariableCancelSleep();
	PG_RETURN_BOOL(woken);
}

/* es_subscription_wait_cancel(): leave the waiters' list (fetch returns). */
PG_FUNCTION_INFO_V1(es_subscription_wait_cancel);
Datum
es_subscription_wait_cancel(PG_FUNCTION_ARGS)
{
	ConditionVariableCancelSleep();
	PG_RETURN_VOID();
}

/*
 * es_subscription_caller(): the role that called the store, the session's
 * current role outside any function (as grants.c judges handler grants);
 * inside our SECURITY DEFINER functions current_user is the store's owner.
 */
PG_FUNCTION_INFO_V1(es_subscription_caller);
Datum
es_subscription_caller(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(GetOuterUserId());
}
