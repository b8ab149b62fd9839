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

#include "miscadmin.h"
#include "utils/guc.h"

/* eventstore.max_snapshot_size, in kB (snapshot.c) */
int			es_max_snapshot_size = 64 * 1024;

/* eventstore.allow_destroy: a superuser says destroying the store is intended (ddl_guard.c) */
bool		es_allow_destroy = false;

/*
 * eventstore.max_append_hold, in ms, 0 = no limit: how long an appender may
 * hold the feed (position.c).  On by default (docs/global-feed.md, section
 * 3.1): without a limit one writer idle in its transaction stalls every
 * subscriber of its database for as long as it likes.
 */
#define ES_DEFAULT_APPEND_HOLD_MS	(60 * 1000)
int			es_max_append_hold = ES_DEFAULT_APPEND_HOLD_MS;

/* eventstore.max_databases: counters in shared memory, one per database (position.c) */
int			es_max_databases = 256;

/* eventstore.partition_size (src/sql/05_layout.sql) */
static int	es_partition_size = 0;

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

	DefineCustomIntVariable("eventstore.max_append_hold",
							"Longest time an appending transaction may hold back the global feed.",
							"A transaction that called es_append holds back the feed of its database "
							"until it ends. Past this time, a feed reader ends its backend, as "
							"pg_terminate_backend does. The value in effect when the transaction first "
							"appends counts. 0 means no limit. Only superusers can change it.",
							&es_max_append_hold,
							ES_DEFAULT_APPEND_HOLD_MS, 0, PG_INT32_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * Sizes shared memory, which only a preloaded library has; PostgreSQL
	 * refuses (FATAL) to define a PGC_POSTMASTER setting after startup.
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("eventstore.max_databases",
								"Number of databases whose position counters fit in shared memory.",
								"Each database that appends events in concurrent mode takes one entry "
								"(16 bytes) until it is dropped. Takes effect at server start.",
								&es_max_databases,
								256, 1, 1024 * 1024,
								PGC_POSTMASTER, 0,
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

	/*
	 * Read only by the install script (src/sql/05_layout.sql): the layout of
	 * a store is chosen when it is created, and kept in its own tables.
	 */
	DefineCustomIntVariable("eventstore.partition_size",
							"Positions per partition of the events table of a store created now.",
							"When set above 0 before CREATE EXTENSION eventstore, the store's events "
							"table is partitioned by position, this many positions per partition. "
							"0 (the default) creates the one plain table. Has no effect on existing stores.",
							&es_partition_size,
							0, 0, PG_INT32_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("eventstore");
}
