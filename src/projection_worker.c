/*-------------------------------------------------------------------------
 *
 * projection_worker.c
 *	  The projection worker: runs the projections of managed subscriptions
 *	  (subscriptions with a SQL handler) inside the server, so that nothing
 *	  outside PostgreSQL has to run (docs/subscriptions.md, section 7).
 *
 * One background worker per database named in eventstore.projection_databases
 * (a postmaster setting: workers are registered when the library is
 * preloaded).  It connects as the bootstrap superuser and loops:
 *
 *	1. list the projections (eventstore.es_projections(): subscription and
 *	   the role that created it);
 *	2. for each, one transaction: SET LOCAL ROLE to that role, then
 *	   eventstore.es_run_projection(subscription, batch), which claims a
 *	   batch, calls the handler for each event in a subtransaction and acks
 *	   them, all in that transaction: a crash anywhere rolls the whole batch
 *	   back, and the batch is delivered again (exactly once);
 *	3. when no projection had anything to do, sleep on the feed's condition
 *	   variable (woken by commits that move the feed or free events) for at
 *	   most a second, then start again.
 *
 * The handler never runs as a superuser: SET LOCAL ROLE takes the
 * subscription's role before es_run_projection (not SECURITY DEFINER) calls
 * it.  A batch that fails as a whole (the role was dropped, the handler
 * cannot be called) is logged and retried after the sleep; one failing
 * event is retried or parked by es_run_projection without stopping the
 * others.  The worker restarts after a crash (bgw_restart_time).
 *
 * Locks: those of es_run_projection's statements; none of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

/* eventstore.projection_databases: where projection workers run. */
static char *projection_databases = NULL;

#define BATCH_SIZE		100
#define IDLE_SLEEP_MS	1000

PGDLLEXPORT void es_projection_worker_main(Datum arg);

/*
 * Define the setting and, while the library is being preloaded, register
 * one worker per database it names.
 */
void
es_projection_worker_init(void)
{
	char	   *list;
	List	   *names;
	ListCell   *lc;

	/*
	 * A postmaster setting can only be defined while the library is
	 * preloaded (afterwards DefineCustomStringVariable raises FATAL); without
	 * the preload there are no workers and no setting, as for
	 * eventstore.max_databases.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomStringVariable("eventstore.projection_databases",
							   "Databases whose projections (subscriptions with a handler) run in a background worker.",
							   "A comma-separated list; one worker per database. Takes effect at server start.",
							   &projection_databases, "", PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	if (projection_databases == NULL || projection_databases[0] == '\0')
		return;

	list = pstrdup(projection_databases);
	if (!SplitIdentifierString(list, ',', &names))
	{
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("eventstore.projection_databases is not a list of database names"),
				 errdetail("No projection worker is started.")));
		return;
	}
	foreach(lc, names)
	{
		const char *db = (const char *) lfirst(lc);
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 5;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "eventstore");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "es_projection_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "eventstore projections %s", db);
		snprintf(worker.bgw_type, BGW_MAXLEN, "eventstore projections");
		snprintf(worker.bgw_extra, BGW_EXTRALEN, "%s", db);
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * The projections of the database: (subscription, role) pairs, allocated in
 * `into` (SPI's memory goes with SPI_finish).
 */
static List *
list_projections(MemoryContext into)
{
	List	   *result = NIL;
	uint64		i;

	if (SPI_execute("SELECT p.subscription, p.run_as::pg_catalog.text"
					" FROM eventstore.es_projections() p", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the projections");
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext spi = MemoryContextSwitchTo(into);

		result = lappend(result, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		result = lappend(result, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		MemoryContextSwitchTo(spi);
	}
	return result;
}

/* Whether the store (with its subscriptions) is installed in this database. */
static bool
store_installed(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute("SELECT pg_catalog.to_regprocedure('eventstore.es_projections()') IS NOT NULL",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		return false;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return !isnull && DatumGetBool(d);
}

/*
 * One transaction: list the projections (or learn that the store is not
 * installed); NIL then.
 */
static List *
read_projections(MemoryContext into)
{
	List	   *projections = NIL;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "listing projections");
	if (store_installed())
		projections = list_projections(into);
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	return projections;
}

/*
 * One batch of one projection, in a transaction of its own, as its role.
 * Returns how many events it handled; an error is logged and counts as 0.
 */
static int
run_batch(const char *subscription, const char *role)
{
	MemoryContext outer = CurrentMemoryContext;
	int			handled = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		StringInfoData sql;
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		values[2];
		bool		isnull;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, subscription);
		initStringInfo(&sql);
		appendStringInfo(&sql, "SET LOCAL ROLE %s", quote_identifier(role));
		if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not take the role of projection \"%s\"", subscription);
		values[0] = CStringGetTextDatum(subscription);
		values[1] = Int32GetDatum(BATCH_SIZE);
		if (SPI_execute_with_args("SELECT eventstore.es_run_projection($1, $2)", 2, types,
								  values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not run projection \"%s\"", subscription);
		handled = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(outer);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		handled = 0;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return handled;
}

void
es_projection_worker_main(Datum arg)
{
	char		db[BGW_EXTRALEN];
	MemoryContext loop_cxt;

	snprintf(db, BGW_EXTRALEN, "%s", MyBgworkerEntry->bgw_extra);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(db, NULL, 0);
	ereport(LOG, (errmsg("eventstore projection worker started in database \"%s\"", db)));
	/* What one round lists; reset after each round. */
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "eventstore projection worker",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		ConditionVariable *cv = es_feed_condition_variable();
		List	   *projections;
		ListCell   *lc;
		int			handled = 0;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* Join the waiters before looking, so that no wake-up is lost. */
		if (cv != NULL)
			ConditionVariablePrepareToSleep(cv);
		MemoryContextReset(loop_cxt);
		projections = read_projections(loop_cxt);
		for (lc = list_head(projections); lc != NULL; lc = lnext(projections, lnext(projections, lc)))
			handled += run_batch((const char *) lfirst(lc),
								 (const char *) lfirst(lnext(projections, lc)));
		if (handled > 0)
			continue;
		if (cv != NULL)
		{
			(void) ConditionVariableTimedSleep(cv, IDLE_SLEEP_MS, PG_WAIT_EXTENSION);
			ConditionVariableCancelSleep();
		}
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 IDLE_SLEEP_MS, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}
