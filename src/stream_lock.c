/*-------------------------------------------------------------------------
 *
 * stream_lock.c
 *	  Per-stream advisory locks, taken in one global order.
 *
 * Locks: one transaction-level ExclusiveLock per stream, on an advisory tag
 * (MyDatabaseId, hash high 32 bits, hash low 32 bits, ES_LOCKTAG_FIELD4).
 * Field 4 keeps these keys apart from users' pg_advisory_* calls (1 and 2).
 * Every call takes its locks in ascending key order, so two calls over
 * overlapping streams can never wait for each other in a cycle.  Two streams
 * whose names hash alike share a lock; that costs concurrency, never safety.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lock.h"

uint64
es_stream_lock_key(text *stream)
{
	return hash_bytes_extended((const unsigned char *) VARDATA_ANY(stream),
							   VARSIZE_ANY_EXHDR(stream), 0x45535354);
}

/* Lock every stream of the call; `streams` is already sorted by lock_key. */
void
es_lock_streams(EsStreamAppend *streams, int nstreams)
{
	int			i;

	for (i = 0; i < nstreams; i++)
	{
		LOCKTAG		tag;
		uint64		key = streams[i].lock_key;

		if (i > 0 && key == streams[i - 1].lock_key)
			continue;
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (key >> 32),
							 (uint32) key, ES_LOCKTAG_FIELD4);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
}
