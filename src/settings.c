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

	MarkGUCPrefixReserved("eventstore");
}
