/*-------------------------------------------------------------------------
 *
 * tags.c
 *	  Tags of events (dynamic consistency boundaries, docs/dcb.md): checked
 *	  where they are given, stored in events.tags, and indexed by the rows of
 *	  eventstore.event_tags (tag, type, position).
 *
 * Only a tagged append comes here past parsing: an untagged one stores a
 * NULL in events.tags and never opens event_tags, so it pays neither an
 * index nor a predicate (docs/dcb.md, "Storage").
 *
 * Locks: RowExclusiveLock on eventstore.event_tags while storing its rows.
 * The advisory keys of tagged events are dcb_locks.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* Ensure one event's tags are valid names, at most ES_MAX_TAGS, none twice. */
static EsTags *
make_tags(text **v, int n)
{
	EsTags	   *tags;
	Datum	   *d;
	int			i,
				j;

	if (n == 0)
		return NULL;
	if (n > ES_MAX_TAGS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many tags on one event"),
				 errdetail("The event has %d tags; the limit is %d.", n, ES_MAX_TAGS)));
	for (i = 0; i < n; i++)
	{
		es_check_name(v[i], "tag");
		for (j = 0; j < i; j++)
			if (VARSIZE_ANY_EXHDR(v[i]) == VARSIZE_ANY_EXHDR(v[j]) &&
				memcmp(VARDATA_ANY(v[i]), VARDATA_ANY(v[j]), VARSIZE_ANY_EXHDR(v[i])) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("tag \"%s\" appears more than once on one event",
								text_to_cstring(v[i])),
						 errhint("An event's tags are a set: give each once.")));
	}
	tags = palloc(sizeof(EsTags));
	tags->n = n;
	tags->v = v;
	d = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		d[i] = PointerGetDatum(v[i]);
	tags->array = construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT);
	return tags;
}

/* The tags argument of es_append's one-event form (NULL or empty: none). */
EsTags *
es_tags_from_array(ArrayType *a)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	text	  **v;

	if (a == NULL)
		return NULL;
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tags must be a one-dimensional array")));
	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	v = palloc(sizeof(text *) * (n > 0 ? n : 1));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("tag must not be null")));
		v[i] = DatumGetTextPP(elems[i]);
	}
	return make_tags(v, n);
}

/*
 * A JSON array of strings as texts (the "tags" of a batch event, the
 * "types" and "tags" of a query item).  what names the key in messages.
 */
text	  **
es_jsonb_string_array(JsonbValue *v, const char *what, int *n)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	text	  **out;
	int			max = 4;

	*n = 0;
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data) ||
		JsonContainerIsScalar(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be an array of strings", what)));
	out = palloc(sizeof(text *) * max);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (e.type == jbvNull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("an element of \"%s\" is null", what)));
		if (e.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" must be an array of strings", what)));
		if (*n == max)
		{
			max *= 2;
			out = repalloc(out, sizeof(text *) * max);
		}
		out[(*n)++] = cstring_to_text_with_len(e.val.string.val, e.val.string.len);
	}
	return out;
}

/* The "tags" of an event of the batch form (null or []: none). */
EsTags *
es_tags_from_jsonb(JsonbValue *v)
{
	text	  **t;
	int			n;

	if (v->type == jbvNull)
		return NULL;
	t = es_jsonb_string_array(v, "tags", &n);
	return make_tags(t, n);
}

/* The value of events.tags for a row. */
Datum
es_tags_datum(EsTags *tags, bool *isnull)
{
	*isnull = tags == NULL;
	return tags ? PointerGetDatum(tags->array) : (Datum) 0;
}

static Oid
event_tags_relid(void)
{
	Oid			nsp = get_namespace_oid("eventstore", false);
	Oid			relid = get_relname_relid("event_tags", nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"eventstore.event_tags\" does not exist"),
				 errhint("Run ALTER EXTENSION eventstore UPDATE to store tags.")));
	return relid;
}

/*
 * One event_tags row per tag of each tagged row, through the table AM and
 * its primary key, as event_insert.c stores events (no SQL, no executor
 * start-up).  Called after the events are stored, in the same transaction.
 */
void
es_store_event_tags(EsEventRow *rows, int nrows)
{
	Relation	rel = NULL;
	ResultRelInfo *rri = NULL;
	EState	   *estate = NULL;
	TupleTableSlot *slot = NULL;
	int			i,
				j;

	for (i = 0; i < nrows; i++)
	{
		EsTags	   *tags = rows[i].tags;

		if (tags == NULL)
			continue;
		if (rel == NULL)
		{
			estate = CreateExecutorState();
			rel = table_open(event_tags_relid(), RowExclusiveLock);
			rri = makeNode(ResultRelInfo);
			InitResultRelInfo(rri, rel, 0, NULL, 0);
			ExecOpenIndices(rri, false);
			slot = table_slot_create(rel, &estate->es_tupleTable);
		}
		for (j = 0; j < tags->n; j++)
		{
			List	   *recheck;

			ExecClearTuple(slot);
			slot->tts_values[0] = PointerGetDatum(tags->v[j]);
			slot->tts_isnull[0] = false;
			slot->tts_values[1] = PointerGetDatum(rows[i].type);
			slot->tts_isnull[1] = false;
			slot->tts_values[2] = Int64GetDatum(rows[i].position);
			slot->tts_isnull[2] = false;
			ExecStoreVirtualTuple(slot);
			simple_table_tuple_insert(rel, slot);
			recheck = es_insert_index_tuples(rri, slot, estate);
			list_free(recheck);
		}
	}
	if (rel != NULL)
	{
		ExecCloseIndices(rri);
		ExecResetTupleTable(estate->es_tupleTable, false);
		FreeExecutorState(estate);
		table_close(rel, NoLock);
		/* A later check or read in this transaction sees the rows. */
		CommandCounterIncrement();
	}
}
