/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Every setting (GUC) of the store, defined in one place.
 *
 * _PG_init calls es_define_settings once per backend, before any SQL
 * function of the extension runs.  A new setting is one variable and one
 * Define call below, plus its extern in eventstore.h.  The "eventstore."
 * prefix is reserved afterwards, so a misspelt setting name is an error
 * instead of a silently ignored placeholder.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "utils/guc.h"

/* eventstore.max_snapshot_size, in kB (snapshot.c) */
int			es_max_snapshot_size = 64 * 1024;

/* eventstore.allow_destroy: a superuser says destroying the store is intended (ddl_guard.c) */
bool		es_allow_destroy = false;

/* eventstore.max_streams_per_call (append_exec.c) */
int			es_max_streams_per_call = 1000;

void
es_define_settings(void)
{
	DefineCustomIntVariable("eventstore.max_snapshot_size",
							"Largest snapshot state that es_snapshot accepts.",
							"The size of the JSON or binary payload, before compression.",
							&es_max_snapshot_size,
							64 * 1024, 1, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("eventstore.allow_destroy",
							 "Allows DDL that destroys a store holding events.",
							 "DROP EXTENSION eventstore, DROP SCHEMA eventstore, DROP TABLE or "
							 "TRUNCATE of a store table and switching the store's triggers off "
							 "are refused unless this is on. Only superusers can change it.",
							 &es_allow_destroy,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	/*
	 * Every stream of a call holds a lock until the end of the transaction,
	 * in the lock table that all sessions share; at the default
	 * max_locks_per_transaction it has room for a few thousand.  The limit
	 * refuses a call that could exhaust it before it takes any lock, with
	 * an error that names both settings, instead of "out of shared memory"
	 * halfway through.
	 */
	DefineCustomIntVariable("eventstore.max_streams_per_call",
							"Most streams that one es_append call may append to.",
							"Each stream takes a lock until the end of the transaction. "
							"Raise max_locks_per_transaction with it.",
							&es_max_streams_per_call,
							1000, 1, ES_MAX_BATCH,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("eventstore");
}
