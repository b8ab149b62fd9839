/*-------------------------------------------------------------------------
 *
 * dcb_query.c
 *	  DCB queries (docs/dcb.md): the query document, reads by query
 *	  (es_load_query), and the check of an append condition.
 *
 * A query is items OR-ed; each item is answered by one kept plan that
 * returns matching positions in order:
 *	- an item with tags: from event_tags by (tag, type, position) on the
 *	  item's smallest tag, each candidate confirmed in eventstore.events
 *	  (it is still stored, and carries every tag of the item: @>);
 *	- an item with types only, and the match-all query: eventstore.events
 *	  by its primary key from `after`, filtered by type.
 * The positions of all items are merged; a read then fetches those rows,
 * the check reports the lowest.
 *
 * Reads follow the feed's rule (docs/global-feed.md, section 2): the safe
 * position first, then a fresh snapshot, and no row above the safe
 * position.  The check runs under the append's locks with the latest
 * snapshot (dcb_locks.c says why that makes it exact).
 *
 * Locks: none of its own; AccessShareLock on the tables it reads.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

/* ---- the query document ---- */

static void
query_error(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid query: %s", msg),
			 errhint("A query is {\"items\": [{\"types\": [...], \"tags\": [...]}, ...]} or {\"all\": true}.")));
}

/* Bytewise order of names, so that an item's lock key does not depend on how it was written. */
static int
cmp_text_bytes(const void *a, const void *b)
{
	text	   *x = *(text *const *) a;
	text	   *y = *(text *const *) b;
	int			lx = VARSIZE_ANY_EXHDR(x);
	int			ly = VARSIZE_ANY_EXHDR(y);
	int			c = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), Min(lx, ly));

	return c != 0 ? c : (lx > ly) - (lx < ly);
}

static text **
item_names(JsonbValue *v, const char *key, const char *what, int *n)
{
	text	  **names;
	int			i;

	if (v->type == jbvNull)
	{
		*n = 0;
		return NULL;
	}
	names = es_jsonb_string_array(v, key, n);
	if (*n > ES_MAX_ITEM_NAMES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many %s in one query item", key),
				 errdetail("The item has %d; the limit is %d.", *n, ES_MAX_ITEM_NAMES)));
	for (i = 0; i < *n; i++)
		es_check_name(names[i], what);
	return names;
}

static void
parse_item(EsQueryItem *item, JsonbValue *iv)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	memset(item, 0, sizeof(*item));
	if (iv->type != jbvBinary || !JsonContainerIsObject(iv->val.binary.data))
		query_error("each item must be a JSON object");
	it = JsonbIteratorInit(iv->val.binary.data);
	tok = JsonbIteratorNext(&it, &k, true);
	while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		char	   *key = pnstrdup(k.val.string.val, k.val.string.len);

		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "types") == 0)
			item->types = item_names(&v, "types", "event type", &item->ntypes);
		else if (strcmp(key, "tags") == 0)
			item->tags = item_names(&v, "tags", "tag", &item->ntags);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized key \"%s\" in a query item", key),
					 errhint("A query item has the keys types and tags.")));
	}
	if (item->ntypes == 0 && item->ntags == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid query: an item has neither types nor tags"),
				 errhint("Give an item at least one type or one tag; {\"all\": true} matches every event.")));
	if (item->ntags > 1)
		qsort(item->tags, item->ntags, sizeof(text *), cmp_text_bytes);
}

/* Parse and check a query document (22023 for anything malformed, 22004 for NULLs in it). */
EsQuery *
es_parse_query(Jsonb *doc)
{
	EsQuery    *q = palloc0(sizeof(EsQuery));
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	bool		have_items = false;
	bool		have_all = false;

	if (!JB_ROOT_IS_OBJECT(doc))
		query_error("the query must be a JSON object");
	it = JsonbIteratorInit(&doc->root);
	tok = JsonbIteratorNext(&it, &k, true);
	while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		char	   *key = pnstrdup(k.val.string.val, k.val.string.len);

		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "items") == 0)
		{
			JsonbIterator *iit;
			JsonbValue	e;
			int			max = 4;

			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
				query_error("\"items\" must be an array");
			have_items = true;
			q->items = palloc(sizeof(EsQueryItem) * max);
			iit = JsonbIteratorInit(v.val.binary.data);
			while ((tok = JsonbIteratorNext(&iit, &e, true)) != WJB_DONE)
			{
				if (tok != WJB_ELEM)
					continue;
				if (q->nitems == ES_MAX_QUERY_ITEMS)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("too many items in one query"),
							 errdetail("The limit is %d.", ES_MAX_QUERY_ITEMS)));
				if (q->nitems == max)
				{
					max *= 2;
					q->items = repalloc(q->items, sizeof(EsQueryItem) * max);
				}
				parse_item(&q->items[q->nitems++], &e);
			}
		}
		else if (strcmp(key, "all") == 0)
		{
			if (v.type != jbvBool || !v.val.boolean)
				query_error("\"all\" must be true");
			have_all = true;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized key \"%s\" in a query", key),
					 errhint("A query is {\"items\": [{\"types\": [...], \"tags\": [...]}, ...]} or {\"all\": true}.")));
	}
	if (have_all && have_items)
		query_error("a query has either \"items\" or \"all\"");
	if (have_all)
	{
		q->all = true;
		return q;
	}
	if (!have_items || q->nitems == 0)
		query_error("the query has no items");
	return q;
}

/* ---- positions matching a query ---- */

#define ITEM_NARGS 5
static Oid	item_types[ITEM_NARGS] = {TEXTOID, TEXTARRAYOID, INT8OID, INT8OID, INT8OID};
static SPIPlanPtr plan_typed_tags = NULL;
static SPIPlanPtr plan_tags = NULL;
static SPIPlanPtr plan_types = NULL;
static SPIPlanPtr plan_all = NULL;

/*
 * The plan of one item's kind.  Parameters: $1 the item's first tag, $2 its
 * types, $3 after, $4 up to, $5 the limit, and, for tags, $6 all its tags.
 */
static SPIPlanPtr
item_plan(EsQueryItem *item)
{
	static Oid	tag_types[ITEM_NARGS + 1] = {TEXTOID, TEXTARRAYOID, INT8OID, INT8OID,
	INT8OID, TEXTARRAYOID};

	if (item == NULL)
		return es_kept_plan(&plan_all,
							"SELECT e.position FROM eventstore.events e"
							" WHERE e.position OPERATOR(pg_catalog.>) $3"
							" AND e.position OPERATOR(pg_catalog.<=) $4"
							" ORDER BY e.position LIMIT $5", ITEM_NARGS, item_types);
	if (item->ntags == 0)
		return es_kept_plan(&plan_types,
							"SELECT e.position FROM eventstore.events e"
							" WHERE e.position OPERATOR(pg_catalog.>) $3"
							" AND e.position OPERATOR(pg_catalog.<=) $4"
							" AND e.type OPERATOR(pg_catalog.=) ANY ($2)"
							" ORDER BY e.position LIMIT $5", ITEM_NARGS, item_types);
	if (item->ntypes == 0)
		return es_kept_plan(&plan_tags,
							"SELECT t.position FROM eventstore.event_tags t"
							" WHERE t.tag OPERATOR(pg_catalog.=) $1"
							" AND t.position OPERATOR(pg_catalog.>) $3"
							" AND t.position OPERATOR(pg_catalog.<=) $4"
							" AND EXISTS (SELECT FROM eventstore.events e"
							"   WHERE e.position OPERATOR(pg_catalog.=) t.position"
							"   AND e.tags OPERATOR(pg_catalog.@>) $6)"
							" ORDER BY t.position LIMIT $5", ITEM_NARGS + 1, tag_types);
	return es_kept_plan(&plan_typed_tags,
						"SELECT t.position FROM eventstore.event_tags t"
						" WHERE t.tag OPERATOR(pg_catalog.=) $1"
						" AND t.type OPERATOR(pg_catalog.=) ANY ($2)"
						" AND t.position OPERATOR(pg_catalog.>) $3"
						" AND t.position OPERATOR(pg_catalog.<=) $4"
						" AND EXISTS (SELECT FROM eventstore.events e"
						"   WHERE e.position OPERATOR(pg_catalog.=) t.position"
						"   AND e.tags OPERATOR(pg_catalog.@>) $6)"
						" ORDER BY t.position LIMIT $5", ITEM_NARGS + 1, tag_types);
}

static Datum
text_array(text **v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n > 0 ? n : 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = PointerGetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Make the planner walk the indexes in position order and stop at the
 * LIMIT, as the feed does (feed.c): a generic plan with default
 * selectivities could read every row after `after` and sort.
 */
static int
plan_settings(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/*
 * The positions of events matching item (NULL: every event) in (after,
 * upto], ascending, at most limit, appended to *out; under the snapshot
 * given (SPI is connected).  Returns how many were added.
 */
static int
item_positions(EsQueryItem *item, int64 after, int64 upto, int64 limit,
			   Snapshot snapshot, int64 **out, int *nout, int *maxout)
{
	Datum		values[ITEM_NARGS + 1];
	char		nulls[ITEM_NARGS + 1] = {' ', ' ', ' ', ' ', ' ', ' '};
	SPIPlanPtr	plan = item_plan(item);
	uint64		i;

	values[0] = (item && item->ntags > 0) ? PointerGetDatum(item->tags[0]) : (Datum) 0;
	nulls[0] = (item && item->ntags > 0) ? ' ' : 'n';
	values[1] = (item && item->ntypes > 0) ? text_array(item->types, item->ntypes) : (Datum) 0;
	nulls[1] = (item && item->ntypes > 0) ? ' ' : 'n';
	values[2] = Int64GetDatum(after);
	values[3] = Int64GetDatum(upto);
	values[4] = Int64GetDatum(limit);
	values[5] = (item && item->ntags > 0) ? text_array(item->tags, item->ntags) : (Datum) 0;
	if (SPI_execute_snapshot(plan, values, nulls, snapshot, InvalidSnapshot,
							 true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read events by query");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		if (*nout == *maxout)
		{
			*maxout *= 2;
			*out = repalloc(*out, sizeof(int64) * *maxout);
		}
		(*out)[(*nout)++] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));
	}
	return (int) SPI_processed;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * The positions matching q in (after, upto], ascending, without duplicates,
 * at most limit.  *first_item: the index of an item matching the lowest
 * (for the check's detail).
 */
static int64 *
query_positions(EsQuery *q, int64 after, int64 upto, int64 limit,
				Snapshot snapshot, int *n, int *first_item)
{
	int			max = 16;
	int64	   *pos = palloc(sizeof(int64) * max);
	int64		lowest = PG_INT64_MAX;
	int			i,
				k;
	int			level = plan_settings();

	*n = 0;
	*first_item = 0;
	if (q->all)
		(void) item_positions(NULL, after, upto, limit, snapshot, &pos, n, &max);
	for (i = 0; i < q->nitems; i++)
	{
		int			start = *n;

		if (item_positions(&q->items[i], after, upto, limit, snapshot, &pos, n, &max) > 0 &&
			pos[start] < lowest)
		{
			lowest = pos[start];
			*first_item = i;
		}
	}
	AtEOXact_GUC(true, level);
	if (*n > 1 && q->nitems > 1)
	{
		qsort(pos, *n, sizeof(int64), cmp_int64);
		k = 1;
		for (i = 1; i < *n; i++)
			if (pos[i] != pos[k - 1])
				pos[k++] = pos[i];
		*n = k;
	}
	if (*n > limit)
		*n = (int) limit;
	return pos;
}

/* ---- the condition of es_append_if ---- */

/*
 * Fail (ES016) when an event matching the condition's query is stored above
 * its `after`.  Called under the append's stream, dcb and table locks,
 * before positions are taken; the latest snapshot sees every append that
 * held a conflicting lock before us (docs/dcb.md, "No lost conflicts").
 */
void
es_check_condition(const EsCondition *cond)
{
	EsQuery    *q = cond->query;
	int64		after = cond->after < 0 ? 0 : cond->after;
	Snapshot	snapshot = GetLatestSnapshot();
	int64		lowest = 0;
	int			item = 0;
	int			i,
				j;

	/*
	 * Items with tags: a descent of event_tags per (type, tag), without SPI
	 * (dcb_probe.c).  Items without (types only, or everything): the SQL
	 * of a read, from `after` in position order.
	 */
	for (i = 0; i < q->nitems; i++)
	{
		EsQueryItem *it = &q->items[i];
		int64		p = 0;

		if (it->ntags == 0)
			continue;
		for (j = 0; j < Max(it->ntypes, 1); j++)
		{
			int64		pj = es_probe_tagged(it->tags[0], it->ntypes > 0 ? it->types[j] : NULL,
											 after, text_array(it->tags, it->ntags), snapshot);

			if (pj != 0 && (p == 0 || pj < p))
				p = pj;
		}
		if (p != 0 && (lowest == 0 || p < lowest))
		{
			lowest = p;
			item = i;
		}
	}
	{
		bool		untagged = q->all;

		for (i = 0; i < q->nitems; i++)
			untagged |= q->items[i].ntags == 0;
		if (untagged)
		{
			EsQuery		sub = *q;
			EsQueryItem *items = palloc(sizeof(EsQueryItem) * (q->nitems > 0 ? q->nitems : 1));
			int			n;
			int			subitem;
			int64	   *pos;

			/* Only the untagged items, remembering their indexes for the detail. */
			sub.nitems = 0;
			for (i = 0; i < q->nitems; i++)
				if (q->items[i].ntags == 0)
					items[sub.nitems++] = q->items[i];
			sub.items = items;
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			pos = query_positions(&sub, after, PG_INT64_MAX, 1, snapshot, &n, &subitem);
			if (n > 0 && (lowest == 0 || pos[0] < lowest))
			{
				lowest = pos[0];
				for (i = 0, j = -1; i < q->nitems; i++)
					if (q->items[i].ntags == 0 && ++j == subitem)
						item = i;
			}
			SPI_finish();
		}
	}
	if (lowest != 0)
	{
		StringInfoData detail;

		initStringInfo(&detail);
		appendStringInfo(&detail, "{\"position\": " INT64_FORMAT, lowest);
		if (!q->all)
			appendStringInfo(&detail, ", \"item\": %d", item);
		appendStringInfoString(&detail, "}");
		ereport(ERROR,
				(errcode(ERRCODE_ES_CONDITION_FAILED),
				 errmsg("append condition failed: an event matching the query is stored at position " INT64_FORMAT,
						lowest),
				 errdetail_internal("%s", detail.data),
				 errhint("Read the events matching the query again, decide again, and retry with the new position.")));
	}
}

/* ---- es_load_query ---- */

static SPIPlanPtr rows_plan = NULL;

/*
 * es_load_query(query, after_position, max_count, to_position): the events
 * matching query in (after_position, min(to_position, safe)], in position
 * order, at most max_count.
 */
PG_FUNCTION_INFO_V1(es_load_query);
Datum
es_load_query(PG_FUNCTION_ARGS)
{
	EsQuery    *q;
	int64		after;
	int64		max_count;
	int64		safe;
	int64	   *pos;
	int			n;
	int			item;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	bool		nulls[1] = {false};
	Datum	   *d;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query must not be null")));
	q = es_parse_query(PG_GETARG_JSONB_P(0));
	after = es_check_after_position(fcinfo, 1);
	max_count = es_check_max_count(fcinfo, 2, INT8OID);
	if (!PG_ARGISNULL(3) && PG_GETARG_INT64(3) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("to_position must not be negative"),
				 errdetail("It is " INT64_FORMAT ".", PG_GETARG_INT64(3)),
				 errhint("Pass NULL to read up to the head of the feed.")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("reads by query are not available on a standby"),
				 errdetail("A standby cannot know which positions are still in flight on the primary."),
				 errhint("Read by query on the primary.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_check_archive_horizon(after);
	safe = es_feed_safe_position();
	if (!PG_ARGISNULL(3) && PG_GETARG_INT64(3) < safe)
		safe = PG_GETARG_INT64(3);
	/* The snapshot is taken after the safe position (docs/global-feed.md). */
	PushActiveSnapshot(GetLatestSnapshot());
	pos = query_positions(q, after, safe, max_count, GetActiveSnapshot(), &n, &item);
	d = palloc(sizeof(Datum) * (n > 0 ? n : 1));
	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(pos[i]);
	values[0] = PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	es_kept_plan(&rows_plan,
				 "SELECT * FROM eventstore.events"
				 " WHERE position OPERATOR(pg_catalog.=) ANY ($1) ORDER BY position",
				 1, types);
	es_run_into_result(fcinfo, rows_plan, 1, types, values, nulls);
	PopActiveSnapshot();
	SPI_finish();
	return (Datum) 0;
}
