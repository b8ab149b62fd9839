/*-------------------------------------------------------------------------
 *
 * dcb_locks.c
 *	  The lock keys of dynamic consistency boundaries: which keys an append
 *	  locks for the events it writes and for the items of its condition,
 *	  in which mode and in which order (docs/dcb.md, "Exactness").
 *
 * A writer of an event of type T with tags g1..gk locks key(T, gi) and
 * key(gi) for every i in RowExclusiveLock.  A condition item with types S
 * and tags G locks key(T, G[0]) for every T in S, an item with tags only
 * key(G[0]), in ShareLock: a matching event carries every tag of the item,
 * so its writer holds the same key in a conflicting mode.  A key that a
 * call both writes and checks is taken once in ShareRowExclusiveLock.  An
 * item with types only, or the match-all query, locks the events table
 * against every insert instead (stream_lock.c, es_lock_events_for_append):
 * per-type keys would cost every untagged append two more locks.
 *
 * Locks: the keys, in ascending key order, after the call's stream locks
 * and before the events table's lock and its positions (eventstore.h,
 * "Locks: tags and order").  Two single calls therefore never deadlock.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "storage/lockdefs.h"

typedef struct DcbKey
{
	uint64		key;
	int			mode;
} DcbKey;

typedef struct KeySet
{
	DcbKey	   *keys;
	int			n;
	int			max;
} KeySet;

static uint64
hash_text(text *t, uint64 seed)
{
	return hash_bytes_extended((const unsigned char *) VARDATA_ANY(t),
							   VARSIZE_ANY_EXHDR(t), seed);
}

/* key(type, tag): the type's hash seeds the tag's, so (a, bc) != (ab, c). */
static uint64
type_tag_key(text *type, text *tag)
{
	return hash_text(tag, hash_text(type, ES_DCB_TYPE_SEED));
}

static uint64
tag_key(text *tag)
{
	return hash_text(tag, ES_DCB_TAG_SEED);
}

static void
add_key(KeySet *ks, uint64 key, int mode)
{
	if (ks->n == ks->max)
	{
		ks->max = ks->max ? ks->max * 2 : 16;
		ks->keys = ks->keys ? repalloc(ks->keys, sizeof(DcbKey) * ks->max)
			: palloc(sizeof(DcbKey) * ks->max);
	}
	ks->keys[ks->n].key = key;
	ks->keys[ks->n].mode = mode;
	ks->n++;
}

static int
cmp_key(const void *a, const void *b)
{
	const DcbKey *x = a;
	const DcbKey *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

/* The mode that covers both: a key written and checked conflicts with both. */
static int
combine_modes(int a, int b)
{
	if (a == b)
		return a;
	return ShareRowExclusiveLock;
}

/* Lock the keys; returns whether the events table must be locked against appends. */
static bool
lock_keys(const EsCondition *cond, EsNewEvent *events, int nevents, int nstreams)
{
	KeySet		ks = {NULL, 0, 0};
	bool		against_appends = false;
	int			i,
				j,
				n;

	for (i = 0; i < nevents; i++)
	{
		EsTags	   *tags = events[i].tags;

		if (tags == NULL)
			continue;
		for (j = 0; j < tags->n; j++)
		{
			add_key(&ks, type_tag_key(events[i].type, tags->v[j]), RowExclusiveLock);
			add_key(&ks, tag_key(tags->v[j]), RowExclusiveLock);
		}
	}
	if (cond != NULL)
	{
		EsQuery    *q = cond->query;

		if (q->all)
			against_appends = true;
		for (i = 0; i < q->nitems; i++)
		{
			EsQueryItem *item = &q->items[i];

			if (item->ntags == 0)
				against_appends = true;
			else if (item->ntypes == 0)
				add_key(&ks, tag_key(item->tags[0]), ShareLock);
			else
				for (j = 0; j < item->ntypes; j++)
					add_key(&ks, type_tag_key(item->types[j], item->tags[0]), ShareLock);
		}
	}

	if (ks.n > 0)
	{
		/* One entry per key, in ascending order, in the mode covering all its uses. */
		qsort(ks.keys, ks.n, sizeof(DcbKey), cmp_key);
		n = 1;
		for (i = 1; i < ks.n; i++)
		{
			if (ks.keys[i].key == ks.keys[n - 1].key)
				ks.keys[n - 1].mode = combine_modes(ks.keys[n - 1].mode, ks.keys[i].mode);
			else
				ks.keys[n++] = ks.keys[i];
		}
		if (nstreams >= 0 && n + nstreams > es_max_streams_per_call)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many locks in one append"),
					 errdetail("The call locks %d streams and %d keys of tags and condition items; the limit is %d.",
							   nstreams, n, es_max_streams_per_call),
					 errhint("Split the call, or have a superuser raise eventstore.max_streams_per_call, "
							 "and max_locks_per_transaction with it: each key holds a lock until the end of the transaction.")));
		for (i = 0; i < n; i++)
			es_lock_dcb_key(ks.keys[i].key, ks.keys[i].mode);
		pfree(ks.keys);
	}
	return against_appends;
}

/*
 * Lock the dcb keys of a call (its tagged events, its condition), then the
 * events table; the call's stream locks are held already.  nstreams counts
 * towards the limit on locks per call (-1: no limit).
 */
void
es_lock_dcb(const EsCondition *cond, EsNewEvent *events, int nevents, int nstreams)
{
	es_lock_events_for_append(lock_keys(cond, events, nevents, nstreams));
}

/*
 * The keys of the events es_restore_stream (lifecycle.c) is about to store
 * again, outside es_append: RowExclusiveLock on key(type, g) and key(g) for
 * each of their tags, as a writer, then the events table; after the
 * stream's lock and before positions, in the order of an append.  rows:
 * the events read from deleted_events, type_col and tags_col their columns.
 */
void
es_lock_restored_tags(SPITupleTable *rows, int nrows, int type_col, int tags_col)
{
	EsNewEvent *evs = palloc0(sizeof(EsNewEvent) * (nrows > 0 ? nrows : 1));
	int			i;

	for (i = 0; i < nrows; i++)
	{
		bool		isnull;
		Datum		d;

		evs[i].type = DatumGetTextPP(SPI_getbinval(rows->vals[i], rows->tupdesc, type_col, &isnull));
		d = SPI_getbinval(rows->vals[i], rows->tupdesc, tags_col, &isnull);
		evs[i].tags = isnull ? NULL : es_tags_from_array(DatumGetArrayTypeP(d));
	}
	/*
	 * No limit on their number: a restore must not be refused for its
	 * stream's tags (a stream of many differently tagged events may then
	 * need max_locks_per_transaction raised: 53200, docs/dcb.md).
	 */
	es_lock_dcb(NULL, evs, nrows, -1);
	pfree(evs);
}
