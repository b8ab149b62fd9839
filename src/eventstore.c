/*-------------------------------------------------------------------------
 *
 * eventstore.c
 *	  Module entry point: hooks and callbacks that must exist before any
 *	  SQL function of the extension runs.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "miscadmin.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * The projection worker's setting (docs/subscriptions.md) before the
	 * others: es_define_settings reserves the prefix "eventstore", which
	 * drops every setting of it not defined by then.
	 */
	es_projection_worker_init();
	/* Settings first: the size of the shared memory depends on them. */
	es_define_settings();

	/*
	 * Shared memory for the global feed can only be had when the library is
	 * preloaded; otherwise the store runs in serialized mode (position.c).
	 */
	if (process_shared_preload_libraries_in_progress)
		es_position_shmem_request();
	es_position_init();
	/* Reads that stream (stream_read.c): a planner hook, in every backend. */
	es_stream_scan_init();
}
