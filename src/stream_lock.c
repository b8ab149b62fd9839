/*-------------------------------------------------------------------------
 *
 * stream_lock.c
 *	  Every heavyweight lock the store takes, and the order they are taken in.
 *
 * The tag values and the lock order are listed side by side in eventstore.h
 * ("Locks: tags and order"); this file is the only one that builds a tag.
 * A caller asks for a lock by what it protects (a call's streams, a stream
 * for a reader, the feed, the counter's initialisation, a handler) and
 * never sees a LOCKTAG.
 *
 * Locks:
 *	- stream: ExclusiveLock for an appender (es_lock_streams), AccessShareLock
 *	  for a snapshot saver (es_lock_stream_shared), AccessExclusiveLock for a
 *	  lifecycle function that deletes or restores the stream's events
 *	  (es_lock_stream_delete; es_try_lock_stream_delete for the retention
 *	  cleanup, which never waits); transaction-level.  Two
 *	  names that hash alike share a lock: that costs concurrency, never
 *	  safety.
 *	- feed: ExclusiveLock per database, owned by the top transaction
 *	  (es_lock_feed); serialized mode only.
 *	- counter: ExclusiveLock per database around the read that initialises
 *	  the shared position counter (es_lock_counter_init), released at once
 *	  (es_unlock_counter_init).
 *	- handler: ExclusiveLock per (handler, stream), transaction-level
 *	  (es_acquire_handler_lock).
 *	- partitions: ExclusiveLock per database, transaction-level, around
 *	  making partitions of the partitioned layout (es_lock_partitions);
 *	  taken without waiting when a partition is made ahead of need.
 *	- the events table: ExclusiveLock, transaction-level, for es_set_shard
 *	  (es_lock_events_against_appends).  Not advisory: it must conflict
 *	  with the RowExclusiveLock every appender takes to insert.  Every
 *	  appender takes that RowExclusiveLock after its stream and dcb locks
 *	  and before its positions; an append whose condition has a type-only
 *	  or match-all item takes ShareRowExclusiveLock there instead
 *	  (es_lock_events_for_append, docs/dcb.md).
 *	- dcb keys: RowExclusiveLock for the keys of the events written,
 *	  ShareLock for the keys of a condition's items, ShareRowExclusiveLock
 *	  for a key that is both; transaction-level (es_lock_dcb_key, in the
 *	  order dcb_locks.c puts them in).
 *
 * Deadlock freedom of a single es_append call rests on es_order_streams:
 * every call locks its streams in ascending (lock key, name) order, so two
 * calls over overlapping streams can never wait for each other in a cycle.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "catalog/pg_collation.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/resowner.h"

/* The advisory tag of one of our locks in the current database. */
static inline void
set_tag(LOCKTAG *tag, uint64 key, uint16 kind)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (key >> 32),
						 (uint32) key, kind);
}

static uint64
stream_lock_key(text *stream)
{
	return hash_bytes_extended((const unsigned char *) VARDATA_ANY(stream),
							   VARSIZE_ANY_EXHDR(stream), ES_STREAM_HASH_SEED);
}

/* The lock order: by lock key, then by name (bytewise) among equal keys. */
static int
cmp_lock_order(const void *a, const void *b)
{
	const EsStreamAppend *x = a;
	const EsStreamAppend *y = b;

	if (x->lock_key != y->lock_key)
		return x->lock_key < y->lock_key ? -1 : 1;
	return DatumGetInt32(DirectFunctionCall2Coll(bttextcmp, C_COLLATION_OID,
												 PointerGetDatum(x->stream),
												 PointerGetDatum(y->stream)));
}

/*
 * Put a call's streams in lock order (filling in their lock keys).  Sorting
 * brings a stream named twice next to itself: returns such a stream, or
 * NULL when every stream appears once.
 */
EsStreamAppend *
es_order_streams(EsStreamAppend *streams, int nstreams)
{
	int			i;

	for (i = 0; i < nstreams; i++)
		streams[i].lock_key = stream_lock_key(streams[i].stream);
	qsort(streams, nstreams, sizeof(EsStreamAppend), cmp_lock_order);
	for (i = 1; i < nstreams; i++)
		if (cmp_lock_order(&streams[i], &streams[i - 1]) == 0)
			return &streams[i];
	return NULL;
}

/* Lock every stream of a call for appending; es_order_streams came first. */
void
es_lock_streams(EsStreamAppend *streams, int nstreams)
{
	int			i;

	for (i = 0; i < nstreams; i++)
	{
		LOCKTAG		tag;

		if (i > 0 && streams[i].lock_key == streams[i - 1].lock_key)
			continue;
		set_tag(&tag, streams[i].lock_key, ES_LOCKTAG_STREAM);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
}

/*
 * Lock one stream for a reader that must not overlap a stream deletion
 * (es_snapshot).  AccessShareLock conflicts with neither appenders'
 * ExclusiveLock nor other readers, only with AccessExclusiveLock.
 */
void
es_lock_stream_shared(text *stream)
{
	LOCKTAG		tag;

	set_tag(&tag, stream_lock_key(stream), ES_LOCKTAG_STREAM);
	(void) LockAcquire(&tag, AccessShareLock, false, false);
}

/*
 * Lock one stream for deleting or restoring its events (lifecycle.c):
 * AccessExclusiveLock waits for every appender (ExclusiveLock) and snapshot
 * saver (AccessShareLock) of the stream, and keeps new ones out until the
 * transaction ends.  A lifecycle function takes one stream lock and, for a
 * restore, the feed's locks after it, as an append does.
 */
void
es_lock_stream_delete(text *stream)
{
	LOCKTAG		tag;

	set_tag(&tag, stream_lock_key(stream), ES_LOCKTAG_STREAM);
	(void) LockAcquire(&tag, AccessExclusiveLock, false, false);
}

/*
 * The same without waiting, for the retention cleanup (retention.c), which
 * takes the locks of many streams in one transaction in no particular
 * order: never waiting, it can never be part of a deadlock.  Returns false
 * when an appender, snapshot saver or lifecycle call holds the stream.
 */
bool
es_try_lock_stream_delete(text *stream)
{
	LOCKTAG		tag;

	set_tag(&tag, stream_lock_key(stream), ES_LOCKTAG_STREAM);
	return LockAcquire(&tag, AccessExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * Take the per-database feed lock in exclusive mode until the top
 * transaction ends (serialized mode, position.c).
 *
 * Deadlocks: a call takes it after its stream locks, so one call never
 * deadlocks.  But a transaction holds it from its first append to its end:
 * when that transaction appends again, to a stream another appender has
 * locked while that appender waits here for the feed lock, the two wait for
 * each other.  This happens between two transactions that touch different
 * streams too, as soon as one of them makes a second call.  PostgreSQL
 * resolves it with 40P01 (docs/append.md, "Deadlocks that remain possible").
 */
void
es_lock_feed(void)
{
	LOCKTAG		tag;
	ResourceOwner save = CurrentResourceOwner;

	set_tag(&tag, ES_FEED_KEY_APPEND, ES_LOCKTAG_FEED);
	/* Owned by the top transaction: a subtransaction abort must not drop it. */
	CurrentResourceOwner = TopTransactionResourceOwner;
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	CurrentResourceOwner = save;
}

/*
 * Lock the initialisation of the database's shared position counter, so
 * that one backend at a time reads max(position); es_unlock_counter_init
 * releases it as soon as the counter is set.
 */
void
es_lock_counter_init(void)
{
	LOCKTAG		tag;

	set_tag(&tag, ES_FEED_KEY_COUNTER, ES_LOCKTAG_FEED);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

void
es_unlock_counter_init(void)
{
	LOCKTAG		tag;

	set_tag(&tag, ES_FEED_KEY_COUNTER, ES_LOCKTAG_FEED);
	LockRelease(&tag, ExclusiveLock, false);
}

/*
 * Lock a handler (stream '' for a feed handler) until the transaction ends.
 * Returns false, without waiting, when wait is false and another
 * transaction holds it.
 */
bool
es_acquire_handler_lock(text *handler, text *stream, bool wait)
{
	LOCKTAG		tag;
	uint64		key;

	/* The stream's hash is seeded with the handler's, so (a, bc) != (ab, c). */
	key = hash_bytes_extended((const unsigned char *) VARDATA_ANY(handler),
							  VARSIZE_ANY_EXHDR(handler), ES_HANDLER_HASH_SEED);
	key = hash_bytes_extended((const unsigned char *) VARDATA_ANY(stream),
							  VARSIZE_ANY_EXHDR(stream), key);
	set_tag(&tag, key, ES_LOCKTAG_HANDLER);
	return LockAcquire(&tag, ExclusiveLock, false, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * Keep appends out of eventstore.events until the end of the transaction;
 * readers go on.  es_set_shard judges the stored streams under it, and an
 * appender that waited for it sees the new shard identity (shard.c).
 */
void
es_lock_events_against_appends(void)
{
	LockRelationOid(es_events_relid(), ExclusiveLock);
}

/*
 * The events table's lock of an appender, taken after its stream and dcb
 * locks and before it takes positions (docs/dcb.md, "Order").  A plain
 * append takes RowExclusiveLock (in the fast path; event_insert.c's later
 * table_open finds it in the local lock table).  against_appends: a
 * condition with a type-only or match-all item, which must keep every
 * other insert out until it ends: ShareRowExclusiveLock conflicts with
 * RowExclusiveLock and with itself (two such appenders that took SHARE
 * and then wanted ROW EXCLUSIVE would deadlock), not with readers.
 */
void
es_lock_events_for_append(bool against_appends)
{
	LockRelationOid(es_events_relid(),
					against_appends ? ShareRowExclusiveLock : RowExclusiveLock);
}

/* Lock one dcb key (dcb_locks.c) in the given mode until the transaction ends. */
void
es_lock_dcb_key(uint64 key, int lockmode)
{
	LOCKTAG		tag;

	set_tag(&tag, key, ES_LOCKTAG_DCB);
	(void) LockAcquire(&tag, (LOCKMODE) lockmode, false, false);
}

/*
 * Lock the making of partitions until the end of the transaction: the
 * partitions it makes are seen by others only when it commits, so a second
 * maker must wait for that, not make the same partition.  Returns false,
 * without waiting, when wait is false and another transaction holds it.
 */
bool
es_lock_partitions(bool wait)
{
	LOCKTAG		tag;

	set_tag(&tag, 0, ES_LOCKTAG_PARTITIONS);
	return LockAcquire(&tag, ExclusiveLock, false, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

void
es_unlock_partitions(void)
{
	LOCKTAG		tag;

	set_tag(&tag, 0, ES_LOCKTAG_PARTITIONS);
	LockRelease(&tag, ExclusiveLock, false);
}
