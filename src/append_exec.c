/*-------------------------------------------------------------------------
 *
 * append_exec.c
 *	  The body of every es_append call: lock, check, allocate, insert.
 *
 * Order of work, and why:
 *	1. Validate everything that needs no database access (duplicate ids or
 *	   streams in the call), so bad input fails before any lock is taken.
 *	2. Put the streams in lock order and lock them (stream_lock.c owns the
 *	   order): no deadlock between calls over overlapping streams.  Then
 *	   the keys of tagged events and of a condition, and the events table
 *	   (dcb_locks.c; docs/dcb.md), still before any position is taken.
 *	3. With the locks held, read each stream's version with the *latest*
 *	   snapshot, so the check sees every append committed before we got the
 *	   lock, in any isolation level.  An idempotent retry (all ids already
 *	   stored, in the same place) is recognised here and writes nothing.
 *	   A condition (es_append_if) is checked next, with the latest snapshot.
 *	4. Only then take global positions (position.c), so a losing writer
 *	   never burns positions, and insert all rows through the table access
 *	   method and its indexes, without SPI (event_insert.c).
 * The UNIQUE (stream, version) index is the last line of defence: a bug
 * in the above can fail an append, never store a version twice.
 *
 * Locks: ExclusiveLock on each stream of the call, to the end of the
 * transaction (stream_lock.c); position.c may add the feed lock or take its
 * LWLock.  The tags and the order of all of them: eventstore.h.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/fmgrprotos.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

static SPIPlanPtr probe_plan = NULL;	/* one of the two below */
static SPIPlanPtr probe_plan_plain = NULL;
static SPIPlanPtr probe_plan_partitioned = NULL;

/*
 * Connect to SPI on first need: an append that gives no event ids needs no
 * SQL at all.  Connected until the end of es_append_execute, which owns
 * what SPI returned until then.
 */
static void
prepare_plans(bool *spi_connected)
{
	if (!*spi_connected)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		*spi_connected = true;
	}
	if (get_rel_relkind(es_events_relid()) == RELKIND_PARTITIONED_TABLE)
	{
		Oid			t[1] = {UUIDARRAYOID};

		/*
		 * Ids are unique through event_ids; an id whose event was archived
		 * (es_archive_events) has no row in events and comes back with a
		 * NULL stream.
		 */
		probe_plan = es_kept_plan(&probe_plan_partitioned,
								  "SELECT i.event_id, e.stream, e.version, i.position, e.type, e.data, e.data_bin"
								  " FROM eventstore.event_ids i"
								  " LEFT JOIN eventstore.events e ON e.position OPERATOR(pg_catalog.=) i.position"
								  " WHERE i.event_id OPERATOR(pg_catalog.=) ANY ($1)", 1, t);
	}
	else
	{
		Oid			t[1] = {UUIDARRAYOID};

		probe_plan = es_kept_plan(&probe_plan_plain,
								  "SELECT event_id, stream, version, position, type, data, data_bin"
								  " FROM eventstore.events"
								  " WHERE event_id OPERATOR(pg_catalog.=) ANY ($1)", 1, t);
	}
}

/* A new event id: UUID version 7 (time-ordered, so the id index stays compact). */
void
es_new_event_id(pg_uuid_t *id)
{
	uint64		ms = (uint64) (GetCurrentTimestamp() / 1000 +
							 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000);
	uint64		r1 = pg_prng_uint64(&pg_global_prng_state);
	uint64		r2 = pg_prng_uint64(&pg_global_prng_state);
	int			i;

	for (i = 0; i < 6; i++)
		id->data[i] = (unsigned char) (ms >> (40 - 8 * i));
	for (i = 6; i < 16; i++)
		id->data[i] = (unsigned char) ((i < 14 ? r1 : r2) >> (8 * (i % 8)));
	id->data[6] = (id->data[6] & 0x0f) | 0x70;	/* version 7 */
	id->data[8] = (id->data[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
}

static int
cmp_uuid(const void *a, const void *b)
{
	return memcmp(a, b, UUID_LEN);
}

static char *
uuid_str(pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/* Ensure no event id appears twice in one call. */
static void
check_duplicate_ids(EsNewEvent *events, int nevents)
{
	pg_uuid_t  *ids = palloc(sizeof(pg_uuid_t) * nevents);
	int			nids = 0;
	int			i;

	for (i = 0; i < nevents; i++)
		if (events[i].id_given)
			ids[nids++] = events[i].id;
	if (nids > 1)
	{
		qsort(ids, nids, sizeof(pg_uuid_t), cmp_uuid);
		for (i = 1; i < nids; i++)
			if (memcmp(&ids[i], &ids[i - 1], UUID_LEN) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("event id %s appears more than once in one append",
								uuid_str(&ids[i]))));
	}
	pfree(ids);
}

/*
 * A stream without events may have lifecycle state (stream_state.c): refuse
 * a tombstoned one; a soft-deleted one answers version 0 to the claim and
 * continues its version numbers (docs/lifecycle.md).  Read with the latest
 * snapshot under the stream lock, so a delete that committed before we got
 * the lock is seen.
 */
static void
check_lifecycle_state(EsStreamAppend *sa)
{
	EsStreamState st;

	es_read_stream_state(sa->stream, GetLatestSnapshot(), &st);
	if (st.tombstoned)
		es_error_tombstoned(sa->stream);
	if (!st.found)
	{
		es_require_expected_version(sa->stream, sa->expected, 0);
		return;
	}
	es_require_expected_version(sa->stream, sa->expected, st.deleted ? 0 : st.last_version);
	sa->base_version = st.last_version;
	sa->revive = st.deleted;
}

/* Rows found by the id probe, kept while SPI is connected. */
typedef struct StoredEvent
{
	pg_uuid_t	id;
	text	   *stream;
	int64		version;
	int64		position;
	text	   *type;
	Jsonb	   *data;
	bytea	   *data_bin;
} StoredEvent;

static StoredEvent *
find_stored(StoredEvent *stored, int nstored, pg_uuid_t *id)
{
	int			i;

	for (i = 0; i < nstored; i++)
		if (memcmp(&stored[i].id, id, UUID_LEN) == 0)
			return &stored[i];
	return NULL;
}

static bool
same_event(StoredEvent *s, EsStreamAppend *sa, EsNewEvent *ev, int64 version)
{
	if (s->version != version)
		return false;
	if (!DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID,
											  PointerGetDatum(s->stream),
											  PointerGetDatum(sa->stream))))
		return false;
	if (!DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID,
											  PointerGetDatum(s->type),
											  PointerGetDatum(ev->type))))
		return false;
	if ((s->data == NULL) != (ev->data == NULL) ||
		(s->data && !DatumGetBool(DirectFunctionCall2(jsonb_eq,
													  JsonbPGetDatum(s->data),
													  JsonbPGetDatum(ev->data)))))
		return false;
	if ((s->data_bin == NULL) != (ev->data_bin == NULL) ||
		(s->data_bin && !DatumGetBool(DirectFunctionCall2(byteaeq,
														  PointerGetDatum(s->data_bin),
														  PointerGetDatum(ev->data_bin)))))
		return false;
	return true;
}

/*
 * Look the given ids up.  A stream whose events are all stored already, with
 * the same ids at consecutive versions that fit its expectation, is an
 * idempotent retry; any other use of a stored id is an error.
 */
static StoredEvent *
probe_ids(EsStreamAppend *streams, int nstreams, EsNewEvent *events,
			 int nevents, int *nstored_out, bool *spi_connected)
{
	Datum	   *ids = palloc(sizeof(Datum) * nevents);
	int			nids = 0;
	int			i,
				j;
	Datum		arg;
	StoredEvent *stored;
	int			nstored;

	*nstored_out = 0;
	for (i = 0; i < nevents; i++)
		if (events[i].id_given)
			ids[nids++] = UUIDPGetDatum(&events[i].id);
	if (nids == 0)
		return NULL;

	prepare_plans(spi_connected);
	arg = PointerGetDatum(construct_array(ids, nids, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	if (SPI_execute_snapshot(probe_plan, &arg, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, false, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not look up event ids");
	nstored = (int) SPI_processed;
	if (nstored == 0)
		return NULL;

	stored = palloc(sizeof(StoredEvent) * nstored);
	for (i = 0; i < nstored; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		stored[i].id = *DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_ES_EVENT_ID_REUSED),
					 errmsg("event id %s is already used by an archived event",
							uuid_str(&stored[i].id)),
					 errdetail("It is stored at position " INT64_FORMAT ", which es_archive_events moved to the archive.",
							   DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull))),
					 errhint("New events need new ids.")));
		stored[i].stream = DatumGetTextPP(d);
		stored[i].version = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		stored[i].position = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		stored[i].type = DatumGetTextPP(SPI_getbinval(tup, desc, 5, &isnull));
		d = SPI_getbinval(tup, desc, 6, &isnull);
		stored[i].data = isnull ? NULL : DatumGetJsonbP(d);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		stored[i].data_bin = isnull ? NULL : DatumGetByteaPP(d);
	}

	for (i = 0; i < nstreams; i++)
	{
		EsStreamAppend *sa = &streams[i];
		StoredEvent *first = NULL;
		int			found = 0;

		for (j = 0; j < sa->count; j++)
		{
			EsNewEvent *ev = &events[sa->first + j];
			StoredEvent *s = ev->id_given ? find_stored(stored, nstored, &ev->id) : NULL;

			if (s == NULL)
				continue;
			found++;
			if (j == 0)
				first = s;
			if (first == NULL ||
				!same_event(s, sa, ev, first->version + j))
				ereport(ERROR,
						(errcode(ERRCODE_ES_EVENT_ID_REUSED),
						 errmsg("event id %s is already used by another event", uuid_str(&ev->id)),
						 errdetail("It is stored as version " INT64_FORMAT " of stream \"%s\".",
								   s->version, text_to_cstring(s->stream)),
						 errhint("A retry must resend the same events with the same ids; new events need new ids.")));
		}
		if (found == 0)
			continue;
		if (found < sa->count ||
			(sa->expected >= 0 && first->version != sa->expected + 1))
			ereport(ERROR,
					(errcode(ERRCODE_ES_EVENT_ID_REUSED),
					 errmsg("event ids of this append to stream \"%s\" are already used",
							text_to_cstring(sa->stream)),
					 errdetail("Only part of the batch is stored, or it is stored at other versions than expected."),
					 errhint("A retry must resend the same events with the same ids; new events need new ids.")));
		sa->already_stored = true;
		sa->base_version = first->version - 1;
	}

	/*
	 * A call is stored whole or not at all, so a retry finds every entry
	 * stored.  An entry that is not (one without ids, typically) would be
	 * appended a second time while the others are taken as a retry.
	 */
	for (i = 0; i < nstreams; i++)
		if (!streams[i].already_stored)
			for (j = 0; j < nstreams; j++)
				if (streams[j].already_stored)
					ereport(ERROR,
							(errcode(ERRCODE_ES_EVENT_ID_REUSED),
							 errmsg("only part of this append is already stored"),
							 errdetail("The events for stream \"%s\" are stored already, those for stream \"%s\" are not.",
									   text_to_cstring(streams[j].stream),
									   text_to_cstring(streams[i].stream)),
							 errhint("A retry must resend the same call with the same ids; give every event of a multi-stream call an id to make it retryable.")));

	*nstored_out = nstored;
	return stored;
}

/*
 * Append the events of a call and answer, for each event in the caller's
 * order, where it is stored (or was found stored, for an idempotent retry:
 * then its stream's already_stored is set).  Events given without an id get
 * one here, in events[].  The answer is allocated in the caller's memory
 * context, before SPI is connected, so it outlives SPI_finish.
 */
EsAppended *
es_append_execute(EsStreamAppend *streams, int nstreams,
				  EsNewEvent *events, int nevents, const EsCondition *cond)
{
	EsAppended *out = palloc(sizeof(EsAppended) * nevents);
	EsStreamAppend *twice;
	StoredEvent *stored;
	int			nstored;
	int			nnew = 0;
	bool		spi_connected = false;
	bool		has_tags = false;
	int			i,
				j;

	/* A shard refuses streams that are not its own (shard.c). */
	es_check_shard(streams, nstreams);

	if (nevents > ES_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many events in one append"),
				 errdetail("The limit is %d events per call.", ES_MAX_BATCH)));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot append events during recovery"),
				 errhint("Append on the primary server.")));

	/*
	 * The rows go in through the table AM, not the executor, so nothing else
	 * checks the transaction's access mode: refuse here, before any lock.
	 */
	PreventCommandIfReadOnly("es_append");

	if (nstreams > es_max_streams_per_call)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many streams in one append"),
				 errdetail("The call appends to %d streams; the limit is %d.",
						   nstreams, es_max_streams_per_call),
				 errhint("Split the call, or have a superuser raise eventstore.max_streams_per_call, "
						 "and max_locks_per_transaction with it: each stream holds a lock until the end of the transaction.")));

	check_duplicate_ids(events, nevents);
	twice = es_order_streams(streams, nstreams);
	if (twice != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream \"%s\" appears more than once in one append",
						text_to_cstring(twice->stream)),
				 errhint("Put all events of a stream in one entry.")));
	es_check_not_storing(streams, nstreams);
	es_lock_streams(streams, nstreams);
	/* Tag and condition keys, then the events table: docs/dcb.md. */
	es_lock_dcb(cond, events, nevents, nstreams);

	stored = probe_ids(streams, nstreams, events, nevents, &nstored, &spi_connected);

	for (i = 0; i < nstreams; i++)
	{
		EsStreamAppend *sa = &streams[i];

		for (j = 0; j < sa->count; j++)
			out[sa->first + j].stream = i;
		if (sa->already_stored)
			continue;
		sa->base_version = es_read_stream_version_to_append(sa->stream, GetLatestSnapshot(),
															&sa->start_recorded);
		if (sa->base_version == 0)
			check_lifecycle_state(sa);
		else
			es_require_expected_version(sa->stream, sa->expected, sa->base_version);
		nnew += sa->count;
	}

	/* The condition, after every lock, before positions; a retry succeeded already. */
	if (cond != NULL && (nnew > 0 || nstored == 0))
		es_check_condition(cond);

	if (nnew > 0)
	{
		int64		pos = es_allocate_positions(nnew);
		EsEventRow *rows = palloc(sizeof(EsEventRow) * nnew);
		text	   *category = NULL;
		int			category_of = -1;	/* stream whose category that is */
		int			k = 0;

		/* Positions follow the caller's order of events. */
		for (i = 0; i < nevents; i++)
		{
			EsStreamAppend *sa = &streams[out[i].stream];
			EsNewEvent *ev = &events[i];

			out[i].version = sa->base_version + (i - sa->first) + 1;
			if (sa->already_stored)
			{
				out[i].position = find_stored(stored, nstored, &ev->id)->position;
				continue;
			}
			if (!ev->id_given && !ev->id_preset)
				es_new_event_id(&ev->id);
			out[i].position = pos++;
			rows[k].position = out[i].position;
			rows[k].stream = sa->stream;
			rows[k].version = out[i].version;
			rows[k].event_id = &ev->id;
			rows[k].type = ev->type;
			/* A stream's events are consecutive: one category per stream. */
			if (category_of != out[i].stream)
			{
				category = es_category_of(sa->stream);
				category_of = out[i].stream;
			}
			rows[k].category = category;
			rows[k].data = ev->data;
			rows[k].data_bin = ev->data_bin;
			rows[k].metadata = ev->metadata;
			rows[k].occurred_at = ev->has_occurred_at ? &ev->occurred_at : NULL;
			rows[k].tags = ev->tags;
			has_tags |= ev->tags != NULL;
			/* Its lowest position is its first event's: positions follow events. */
			rows[k].records_start = !sa->start_recorded && i == sa->first;
			k++;
		}
		es_insert_events(rows, nnew, GetCurrentTransactionStartTimestamp());
		if (has_tags)
			es_store_event_tags(rows, nnew);
		for (i = 0; i < nstreams; i++)
			if (streams[i].revive)
				es_revive_stream(streams[i].stream);
		/* A shard identity set meanwhile is seen now (shard.c). */
		es_recheck_shard(streams, nstreams);
	}
	else
	{
		for (i = 0; i < nevents; i++)
		{
			EsStreamAppend *sa = &streams[out[i].stream];

			out[i].version = sa->base_version + (i - sa->first) + 1;
			out[i].position = find_stored(stored, nstored, &events[i].id)->position;
		}
	}

	if (spi_connected)
		SPI_finish();
	return out;
}
