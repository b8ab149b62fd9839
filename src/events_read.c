/*-------------------------------------------------------------------------
 *
 * events_read.c
 *	  A stream's version, the fact about eventstore.events that several
 *	  functions need, read through the (stream, version) index.
 *
 * Each caller says which snapshot to read with, because that choice is the
 * caller's invariant: an appender and a snapshot saver need the *latest*
 * snapshot (every append committed before they got their lock), a reader
 * the caller's own (consistent with the rest of its transaction).
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

static SPIPlanPtr version_plan = NULL;

/*
 * The UNIQUE (stream, version) B-tree of a partition made by the store (it
 * is named after the partition: CREATE TABLE ... LIKE events_template), or
 * NULL.  Returned open with AccessShareLock.
 */
static Relation
open_partition_version_index(Relation leaf)
{
	char		name[NAMEDATALEN * 2];
	Oid			indexid;
	Relation	index;

	snprintf(name, sizeof(name), "%s_stream_version_key", RelationGetRelationName(leaf));
	if (strlen(name) >= NAMEDATALEN)
		return NULL;
	indexid = get_relname_relid(name, RelationGetNamespace(leaf));
	if (!OidIsValid(indexid) || (index = try_relation_open(indexid, AccessShareLock)) == NULL)
		return NULL;
	if (index->rd_rel->relkind != RELKIND_INDEX ||
		index->rd_index->indrelid != RelationGetRelid(leaf) ||
		index->rd_index->indnkeyatts != 2 ||
		index->rd_index->indkey.values[0] != get_attnum(RelationGetRelid(leaf), "stream") ||
		index->rd_index->indkey.values[1] != get_attnum(RelationGetRelid(leaf), "version") ||
		index->rd_rel->relam != BTREE_AM_OID)
	{
		relation_close(index, AccessShareLock);
		return NULL;
	}
	return index;
}

/*
 * The partitioned layout's stream_starts row of the stream, as `snapshot`
 * sees it: true and *from set to its position when there is one.
 */
static bool
read_stream_start(text *stream, Snapshot snapshot, int64 *from)
{
	Oid			relid = es_stream_starts_relid();
	Oid			indexid;
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	bool		found;
	bool		isnull;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"eventstore.stream_starts\" does not exist"),
				 errhint("A partitioned store needs it; reinstall the extension.")));
	heap = table_open(relid, AccessShareLock);
	indexid = get_relname_relid("stream_starts_pkey", RelationGetNamespace(heap));
	if (!OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("index \"eventstore.stream_starts_pkey\" does not exist"),
				 errhint("A partitioned store needs it; reinstall the extension.")));
	index = index_open(indexid, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	found = es_index_first_row(heap, index, stream, snapshot, ForwardScanDirection, slot);
	if (found)
		*from = DatumGetInt64(slot_getattr(slot, 2, &isnull));
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	return found;
}

/*
 * Where this backend last saw each stream end: a version the stream has
 * reached, kept per stream name in a small table (a name's slot is its
 * hash; a collision replaces the older entry; long names are not kept).
 * A writer appends to the same streams again and again, and the version
 * read then descends the index bounded by the hint (es_index_last_row_from)
 * instead of reading the stream's whole last leaf page.  The hint is only
 * a lower bound where to look: whatever the snapshot, if any version from
 * the hint up is visible, the stream's last visible version is among them;
 * when none is (the stream was deleted, shortened, or the hint came from a
 * transaction that rolled back), the read starts again without it.  So a
 * wrong hint costs one descent more, never a wrong version.
 */
#define VERSION_HINTS		256
#define VERSION_HINT_NAME	96

typedef struct VersionHint
{
	uint32		hash;
	int			len;			/* 0: empty */
	int64		version;
	char		name[VERSION_HINT_NAME];
} VersionHint;

static VersionHint version_hints[VERSION_HINTS];

static VersionHint *
version_hint(text *stream, uint32 *hash)
{
	int			len = VARSIZE_ANY_EXHDR(stream);
	VersionHint *h;

	if (len > VERSION_HINT_NAME)
		return NULL;
	*hash = hash_bytes((const unsigned char *) VARDATA_ANY(stream), len);
	h = &version_hints[*hash % VERSION_HINTS];
	if (h->len == len && h->hash == *hash && memcmp(h->name, VARDATA_ANY(stream), len) == 0)
		return h;
	return NULL;
}

static void
remember_version(text *stream, int64 version)
{
	int			len = VARSIZE_ANY_EXHDR(stream);
	uint32		hash;
	VersionHint *h;

	if (len > VERSION_HINT_NAME || version <= 0)
		return;
	hash = hash_bytes((const unsigned char *) VARDATA_ANY(stream), len);
	h = &version_hints[hash % VERSION_HINTS];
	h->hash = hash;
	h->len = len;
	h->version = version;
	memcpy(h->name, VARDATA_ANY(stream), len);
}

/*
 * The last row of the stream in a (stream, version) index, the hint first
 * (see above); the version column is the index's second.
 */
static bool
read_last_row(Relation heap, Relation index, text *stream, Snapshot snapshot,
			  TupleTableSlot *slot, int64 *version)
{
	uint32		hash;
	VersionHint *h = version_hint(stream, &hash);
	bool		found = false;
	bool		isnull;

	if (h != NULL)
		found = es_index_last_row_from(heap, index, stream, h->version, snapshot, slot);
	if (!found)
		found = es_index_first_row(heap, index, stream, snapshot, BackwardScanDirection, slot);
	if (!found)
		return false;
	*version = DatumGetInt64(slot_getattr(slot, index->rd_index->indkey.values[1], &isnull));
	remember_version(stream, *version);
	return true;
}

/*
 * The partitioned layout: the same descent in each partition's index, the
 * newest partition first, up to the first that holds the stream (a
 * stream's later versions have higher positions).  Sets *done to false
 * when a partition lacks the index (then callers read through SQL).
 *
 * With ask_starts (an appender, es_read_stream_version_to_append), a
 * stream not in the newest partition is looked up in stream_starts before
 * any other partition is read: no row there means no events anywhere, and
 * a row at position p ends the walk below the partition holding p.  The
 * newest partition comes first because most appends go to streams written
 * lately, which then cost one descent, as without stream_starts.
 * *start_recorded tells whether the stream has a stream_starts row: a
 * stream found in a partition has one (05_layout.sql's invariant).
 */
static int64
read_version_partitioned(Relation parent, text *stream, Snapshot snapshot,
						 bool ask_starts, bool *start_recorded, bool *done)
{
	PartitionDesc pd = RelationGetPartitionDesc(parent, true);
	PartitionBoundInfo b = pd->boundinfo;
	int64		high_water = es_last_position_handed_out();
	int64		from = 1;		/* no event of the stream is below it */
	bool		probed = !ask_starts;
	int			i;

	*done = false;

	/*
	 * Range bounds: indexes[i] is the partition whose upper bound is
	 * datums[i] (-1 for a gap); its lower bound is datums[i - 1].
	 * Partitions made ahead, above the highest position handed out, hold
	 * nothing and are skipped.
	 */
	for (i = pd->nparts > 0 ? b->ndatums : 0; i >= 1; i--)
	{
		int			p = b->indexes[i];
		Relation	leaf;
		Relation	index;
		TupleTableSlot *slot;
		bool		found;
		int64		version = 0;

		if (p < 0)
			continue;
		if (b->kind[i - 1][0] == PARTITION_RANGE_DATUM_VALUE &&
			DatumGetInt64(b->datums[i - 1][0]) > high_water)
			continue;
		/* Upper bounds are exclusive: this one and all below end at or before `from`. */
		if (b->kind[i][0] == PARTITION_RANGE_DATUM_VALUE &&
			DatumGetInt64(b->datums[i][0]) <= from)
			break;
		leaf = table_open(pd->oids[p], AccessShareLock);
		index = open_partition_version_index(leaf);
		if (index == NULL)
		{
			table_close(leaf, AccessShareLock);
			if (!probed)
				*start_recorded = read_stream_start(stream, snapshot, &from);
			return 0;
		}
		slot = table_slot_create(leaf, NULL);
		found = read_last_row(leaf, index, stream, snapshot, slot, &version);
		ExecDropSingleTupleTableSlot(slot);
		relation_close(index, AccessShareLock);
		table_close(leaf, AccessShareLock);
		if (found)
		{
			if (!probed)
				*start_recorded = true;
			*done = true;
			return version;
		}
		if (!probed)
		{
			probed = true;
			*start_recorded = read_stream_start(stream, snapshot, &from);
			if (!*start_recorded)
				break;
		}
	}
	if (!probed)
		*start_recorded = read_stream_start(stream, snapshot, &from);
	*done = true;
	return 0;
}

/*
 * The stream's version through the UNIQUE (stream, version) index: descend
 * it backwards and stop at the first visible row.  The profile of a
 * single-event append (docs/benchmarks.md) showed the same lookup through an
 * SPI plan costing about 49,000 instructions, mostly executor start-up and
 * shutdown, against a few thousand for the scan itself.  Sets *done to
 * false when the index is not found under its name.
 *
 * from_starts: an appender's read (see es_read_stream_version_to_append);
 * then *start_recorded says whether the stream has a stream_starts row.
 */
static int64
read_version_by_index(text *stream, Snapshot snapshot, bool from_starts,
					  bool *start_recorded, bool *done)
{
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	int64		version = 0;

	*done = false;
	heap = table_open(es_events_relid(), AccessShareLock);
	if (heap->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		/* Partitions attached since this transaction locked the table count too. */
		AcceptInvalidationMessages();
		version = read_version_partitioned(heap, stream, snapshot, from_starts,
										   start_recorded, done);
		table_close(heap, AccessShareLock);
		return version;
	}
	index = es_events_open_version_index(heap);
	if (index == NULL)
	{
		table_close(heap, AccessShareLock);
		return 0;
	}

	slot = table_slot_create(heap, NULL);
	if (!read_last_row(heap, index, stream, snapshot, slot, &version))
		version = 0;
	ExecDropSingleTupleTableSlot(slot);
	relation_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	*done = true;
	return version;
}

static int64 read_version_by_sql(text *stream, Snapshot snapshot);

/*
 * The stream's version (0 if it has no events) as seen by `snapshot`.  When
 * the index is missing an SPI plan does the same read.
 */
int64
es_read_stream_version(text *stream, Snapshot snapshot)
{
	bool		done;
	bool		recorded;
	int64		version;

	version = read_version_by_index(stream, snapshot, false, &recorded, &done);
	return done ? version : read_version_by_sql(stream, snapshot);
}

/*
 * The same for es_append, which holds the stream's lock and reads with the
 * latest snapshot.  In a partitioned store a stream not in the newest
 * partition is looked up in stream_starts (read_version_partitioned): no
 * row there means a new stream, known without reading another partition,
 * and a row bounds the walk to the partitions from the stream's first one on.
 * *start_recorded tells the appender whether its first event must record
 * the stream's start (always true in a plain store).
 *
 * Only the appender trusts stream_starts: a reader on a logical-replication
 * subscriber that was not sent the table would otherwise see every stream
 * as empty (docs/partitioning.md, "Logical replication").
 */
int64
es_read_stream_version_to_append(text *stream, Snapshot snapshot, bool *start_recorded)
{
	bool		done;
	int64		version;

	*start_recorded = true;
	version = read_version_by_index(stream, snapshot, true, start_recorded, &done);
	return done ? version : read_version_by_sql(stream, snapshot);
}

static int64
read_version_by_sql(text *stream, Snapshot snapshot)
{
	Oid			types[1] = {TEXTOID};
	Datum		arg = PointerGetDatum(stream);
	bool		isnull;
	int64		version;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&version_plan,
				 "SELECT version FROM eventstore.events"
				 " WHERE stream OPERATOR(pg_catalog.=) $1"
				 " ORDER BY version DESC LIMIT 1", 1, types);
	if (SPI_execute_snapshot(version_plan, &arg, NULL, snapshot,
							 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the version of a stream");
	version = SPI_processed == 0 ? 0 :
		DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return version;
}

/*
 * The stream's version as es_stream_version and the read checks answer it
 * (docs/lifecycle.md): the version of its last event; for a stream without
 * events, the version it kept in stream_state, except that a soft-deleted or
 * tombstoned stream answers 0.
 */
int64
es_stream_current_version(text *stream, Snapshot snapshot)
{
	int64		version = es_read_stream_version(stream, snapshot);
	EsStreamState state;

	if (version > 0)
		return version;
	es_read_stream_state(stream, snapshot, &state);
	if (!state.found || state.deleted || state.tombstoned)
		return 0;
	return state.last_version;
}
