/*-------------------------------------------------------------------------
 *
 * event_insert.c
 *	  Store the rows of an append in eventstore.events, without SPI.
 *
 * Why not an INSERT through SPI: for a single-event append the profile
 * (docs/benchmarks.md) put a third of the call in the inner statement's
 * executor start-up and shutdown and in PostgreSQL compiling the table's
 * CHECK constraints anew for every statement.  Here one small executor
 * state per call inserts the rows the way logical replication's apply
 * worker does (ExecSimpleRelationInsert), with the constraints and the
 * indexes' expressions compiled once per backend (events_rel.c).  What an
 * INSERT would do is still done: NOT NULL and CHECK constraints, unique
 * indexes (a duplicate raises 23505), the other indexes, and row triggers,
 * BEFORE and AFTER (the AFTER ones fire at the end of the call).
 *
 * A BEFORE ROW trigger may not drop an event or move it: es_append has
 * already promised the caller its stream, version, position and id, so
 * returning NULL or changing those columns is an error (changing the
 * payload or metadata is allowed).
 *
 * What is not done: statement-level triggers do not fire.  The only one the
 * extension installs for INSERT (events_note_insert) is there to notice rows
 * that did *not* come from es_append.  Privileges and row-level security
 * are not checked here: es_append runs as the extension's owner, who owns
 * the table.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/execPartition.h"
#include "nodes/makefuncs.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/partcache.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/*
 * Nesting depth of es_insert_events: a row trigger may append in turn.  Only
 * the outermost call uses the backend's compiled constraints, since an inner
 * call may rebuild them (after DDL in a trigger) under the outer one's feet.
 */
static int	insert_depth = 0;

/*
 * The rows of each es_insert_events call that is storing its rows right now,
 * innermost first.  A BEFORE ROW trigger runs in the middle of that loop: an
 * es_append it makes to one of these streams would read the version before
 * the outer call's rows and take the same versions, so it is refused
 * (es_check_not_storing).  AFTER triggers run when the loop is over and may
 * append anywhere.
 */
typedef struct EsInsertFrame
{
	EsEventRow *rows;
	int			nrows;
	struct EsInsertFrame *outer;
} EsInsertFrame;

static EsInsertFrame *storing = NULL;

/* Ensure no outer es_append of this backend is storing rows of these streams. */
void
es_check_not_storing(EsStreamAppend *streams, int nstreams)
{
	EsInsertFrame *f;
	int			i,
				j;

	for (f = storing; f != NULL; f = f->outer)
		for (i = 0; i < f->nrows; i++)
			for (j = 0; j < nstreams; j++)
			{
				text	   *a = f->rows[i].stream;
				text	   *b = streams[j].stream;

				if (VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
					memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
							 errmsg("cannot append to stream \"%s\" while an append to it is being stored",
									text_to_cstring(b)),
							 errdetail("A BEFORE INSERT trigger on \"eventstore.events\" appended to a stream of the es_append call that fired it; both would take the same versions."),
							 errhint("Append to that stream from an AFTER trigger, or after the call returns.")));
			}
}

/* The value of one column of row; NULL pointers are SQL NULLs. */
static Datum
row_value(EsEventRow *row, EsEventColumn col, Datum created_at, bool *isnull)
{
	*isnull = false;
	switch (col)
	{
		case ES_COL_POSITION:
			return Int64GetDatum(row->position);
		case ES_COL_STREAM:
			return PointerGetDatum(row->stream);
		case ES_COL_VERSION:
			return Int64GetDatum(row->version);
		case ES_COL_EVENT_ID:
			return UUIDPGetDatum(row->event_id);
		case ES_COL_TYPE:
			return PointerGetDatum(row->type);
		case ES_COL_CATEGORY:
			return PointerGetDatum(row->category);
		case ES_COL_DATA:
			*isnull = row->data == NULL;
			return PointerGetDatum(row->data);
		case ES_COL_DATA_BIN:
			*isnull = row->data_bin == NULL;
			return PointerGetDatum(row->data_bin);
		case ES_COL_METADATA:
			*isnull = row->metadata == NULL;
			return PointerGetDatum(row->metadata);
		case ES_COL_OCCURRED_AT:
			*isnull = row->occurred_at == NULL;
			return row->occurred_at ? TimestampTzGetDatum(*row->occurred_at) : (Datum) 0;
		case ES_COL_TAGS:
			return es_tags_datum(row->tags, isnull);
		case ES_COL_CREATED_AT:
		default:
			return created_at;
	}
}

static void
fill_slot(TupleTableSlot *slot, Relation rel, EsEventRow *row, Datum created_at)
{
	int			c;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	for (c = 0; c < ES_NCOLUMNS; c++)
	{
		AttrNumber	a = es_events_attnum(rel, (EsEventColumn) c) - 1;

		if (a < 0)
		{
			/* A 1.0 table has no occurred_at: storing one needs the update. */
			if (c == ES_COL_OCCURRED_AT && row->occurred_at != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("table \"eventstore.events\" has no column \"occurred_at\""),
						 errhint("Run ALTER EXTENSION eventstore UPDATE to store occurrence times.")));
			/* Nor has a 1.1 table tags. */
			if (c == ES_COL_TAGS && row->tags != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("table \"eventstore.events\" has no column \"tags\""),
						 errhint("Run ALTER EXTENSION eventstore UPDATE to store tags.")));
			continue;
		}
		slot->tts_values[a] = row_value(row, (EsEventColumn) c, created_at,
										   &slot->tts_isnull[a]);
	}
	ExecStoreVirtualTuple(slot);
}

/* The columns a BEFORE ROW trigger may not change. */
static const EsEventColumn fixed_columns[] = {
	ES_COL_POSITION, ES_COL_STREAM, ES_COL_VERSION, ES_COL_EVENT_ID, ES_COL_CATEGORY
};

static void
check_trigger_result(TupleTableSlot *slot, Relation rel, EsEventRow *row)
{
	int			i;

	slot_getallattrs(slot);
	for (i = 0; i < (int) lengthof(fixed_columns); i++)
	{
		AttrNumber	a = es_events_attnum(rel, fixed_columns[i]);
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), a - 1);
		bool		want_null;
		Datum		want = row_value(row, fixed_columns[i], (Datum) 0, &want_null);

		if (slot->tts_isnull[a - 1] ||
			!datum_image_eq(slot->tts_values[a - 1], want, att->attbyval, att->attlen))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("a BEFORE INSERT trigger on \"eventstore.events\" changed column \"%s\" of an appended event",
							NameStr(att->attname)),
					 errdetail("Triggers may change an event's payload and metadata, not its stream, version, position, id or category.")));
	}

	/*
	 * Nor its tags: event_tags and the append's lock keys were derived from
	 * them (docs/dcb.md).  NULL stays NULL; a 1.1 table has no tags.
	 */
	{
		AttrNumber	a = es_events_attnum(rel, ES_COL_TAGS);
		bool		want_null;
		Datum		want;

		if (a > 0)
		{
			want = es_tags_datum(row->tags, &want_null);
			if (slot->tts_isnull[a - 1] != want_null ||
				(!want_null &&
				 !datum_image_eq(slot->tts_values[a - 1], want, false, -1)))
				ereport(ERROR,
						(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						 errmsg("a BEFORE INSERT trigger on \"eventstore.events\" changed column \"tags\" of an appended event"),
						 errdetail("Triggers may change an event's payload and metadata, not its tags.")));
		}
	}
}

/* One row: what ExecSimpleRelationInsert does, refusing what es_append cannot promise. */
static void
insert_one(ResultRelInfo *rri, EState *estate, TupleTableSlot *slot, EsEventRow *row)
{
	Relation	rel = rri->ri_RelationDesc;
	List	   *recheck = NIL;

	if (rri->ri_TrigDesc && rri->ri_TrigDesc->trig_insert_before_row)
	{
		if (!ExecBRInsertTriggers(estate, rri, slot))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("a BEFORE INSERT trigger on \"eventstore.events\" skipped an appended event"),
					 errdetail("Event version " INT64_FORMAT " of stream \"%s\" would have been acknowledged without being stored.",
							   row->version, text_to_cstring(row->stream)),
					 errhint("To refuse an event, raise an error in the trigger instead of returning NULL.")));
		check_trigger_result(slot, rel, row);
	}
	if (rel->rd_att->constr)
		ExecConstraints(rri, slot, estate);
	simple_table_tuple_insert(rel, slot);
	if (rri->ri_NumIndices > 0)
		recheck = es_insert_index_tuples(rri, slot, estate);
	ExecARInsertTriggers(estate, rri, slot, recheck, NULL);
	list_free(recheck);
}

/* The result relation of a table of the partitioned layout (event_ids, stream_starts). */
static ResultRelInfo *
open_layout_table(Oid relid, const char *name, EState *estate, TupleTableSlot **slot)
{
	Relation	rel;
	ResultRelInfo *rri;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"eventstore.%s\" does not exist", name),
				 errhint("A partitioned store needs it; reinstall the extension.")));
	rel = table_open(relid, RowExclusiveLock);
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	*slot = table_slot_create(rel, &estate->es_tupleTable);
	return rri;
}

/*
 * Insert (key, position) into a two-column table of the layout whose
 * primary key is the key.  For event_ids the key keeps ids unique across
 * partitions: a second writer of the same id waits for the first to end
 * and then fails with 23505, as the unique index of the plain layout does.
 * For stream_starts only the stream's first append comes here, under the
 * stream's lock; a row another path inserted meanwhile fails the same way
 * rather than being overwritten.
 */
static void
insert_keyed_position(ResultRelInfo *rri, EState *estate, TupleTableSlot *slot,
					  Datum key, int64 position)
{
	List	   *recheck;

	ExecClearTuple(slot);
	slot->tts_values[0] = key;
	slot->tts_isnull[0] = false;
	slot->tts_values[1] = Int64GetDatum(position);
	slot->tts_isnull[1] = false;
	ExecStoreVirtualTuple(slot);
	simple_table_tuple_insert(rri->ri_RelationDesc, slot);
	recheck = es_insert_index_tuples(rri, slot, estate);
	list_free(recheck);
}

/*
 * The leaf partitions one call has opened (most calls: one).  Routing a row
 * through PostgreSQL's tuple routing set up the routing state, and opened
 * and initialised the leaf's result relation through every check a general
 * INSERT needs, on every call: a third of what the partitioned layout cost
 * on top of the plain one (docs/benchmarks.md).  The store's partitions are
 * plain tables of one range-partitioned level by position, which
 * es_make_partitions makes: the leaf is found by a binary search of the
 * parent's bounds, as tuple routing finds it, and opened as a plain table.
 * Anything else (a default or a sub-partitioned partition, a foreign
 * table) goes through tuple routing as before.
 */
typedef struct OpenLeaf
{
	Oid			relid;
	ResultRelInfo *rri;
	TupleConversionMap *map;	/* root row to leaf row, NULL when equal */
	TupleTableSlot *slot;		/* the leaf's row when mapped */
} OpenLeaf;

#define MAX_OPEN_LEAVES 8

typedef struct OpenLeaves
{
	int			n;
	OpenLeaf	leaf[MAX_OPEN_LEAVES];
} OpenLeaves;

/* The leaf a position's row goes to, opened; NULL when tuple routing must find it. */
static OpenLeaf *
direct_leaf(Relation parent, ResultRelInfo *root, EState *estate, int64 position,
			OpenLeaves *open)
{
	PartitionKey key = RelationGetPartitionKey(parent);
	PartitionDesc pd = RelationGetPartitionDesc(parent, false);
	Datum		value = Int64GetDatum(position);
	bool		equal;
	int			offset;
	int			idx;
	Oid			relid;
	Relation	rel;
	OpenLeaf   *leaf;
	int			i;

	if (key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		key->partattrs[0] != es_events_attnum(parent, ES_COL_POSITION) ||
		key->parttypid[0] != INT8OID || pd->boundinfo == NULL)
		return NULL;
	offset = partition_range_datum_bsearch(key->partsupfunc, key->partcollation,
										   pd->boundinfo, 1, &value, &equal);
	idx = pd->boundinfo->indexes[offset + 1];
	if (idx < 0 || !pd->is_leaf[idx])
		return NULL;
	relid = pd->oids[idx];
	for (i = 0; i < open->n; i++)
		if (open->leaf[i].relid == relid)
			return &open->leaf[i];
	if (open->n == MAX_OPEN_LEAVES)
		return NULL;
	rel = table_open(relid, RowExclusiveLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION)
	{
		table_close(rel, RowExclusiveLock);
		return NULL;
	}
	leaf = &open->leaf[open->n++];
	leaf->relid = relid;
	leaf->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(leaf->rri, rel, 0, root, 0);
	es_register_result_rel(estate, leaf->rri);
	ExecOpenIndices(leaf->rri, false);
	leaf->map = convert_tuples_by_name(RelationGetDescr(parent), RelationGetDescr(rel));
	leaf->slot = leaf->map ? table_slot_create(rel, &estate->es_tupleTable) : NULL;
	return leaf;
}

static void
close_layout_table(ResultRelInfo *rri)
{
	if (rri == NULL)
		return;
	ExecCloseIndices(rri);
	table_close(rri->ri_RelationDesc, NoLock);
}

void
es_insert_events(EsEventRow *rows, int nrows, TimestampTz created_at)
{
	Relation	rel;
	bool		partitioned;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	ModifyTableState *volatile mtstate = NULL;
	PartitionTupleRouting *volatile proute = NULL;
	OpenLeaves *open = palloc0(sizeof(OpenLeaves));
	ResultRelInfo *volatile ids = NULL;
	ResultRelInfo *volatile starts = NULL;
	ResultRelInfo *volatile compiled_leaf = NULL;
	TupleTableSlot *volatile ids_slot = NULL;
	TupleTableSlot *volatile starts_slot = NULL;
	EsInsertFrame frame;
	int64		first = PG_INT64_MAX;
	int64		last = 0;
	int			i;

	/* Partitions for the rows first: ATTACH needs the table closed here. */
	for (i = 0; i < nrows; i++)
	{
		first = Min(first, rows[i].position);
		last = Max(last, rows[i].position);
	}
	if (nrows > 0)
		es_ensure_partitions(first, last);
	rel = table_open(es_events_relid(), RowExclusiveLock);
	partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;

	/* A partition of another table, or generated columns, are not supported. */
	if (!partitioned &&
		(rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relispartition))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"eventstore.events\" is not a plain or partitioned table")));
	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	es_register_result_rel(estate, rri);
	estate->es_output_cid = GetCurrentCommandId(true);
	slot = table_slot_create(rel, &estate->es_tupleTable);
	if (partitioned)
	{
		{
			TupleTableSlot *s;

			ids = open_layout_table(es_event_ids_relid(), "event_ids", estate, &s);
			ids_slot = s;
			for (i = 0; i < nrows; i++)
				if (rows[i].records_start)
				{
					starts = open_layout_table(es_stream_starts_relid(), "stream_starts",
											   estate, &s);
					starts_slot = s;
					break;
				}
		}
	}
	else if (insert_depth == 0)
		es_events_open_indices(rri);	/* compiled expressions included */
	else
		ExecOpenIndices(rri, false);

	frame.rows = rows;
	frame.nrows = nrows;
	frame.outer = storing;
	insert_depth++;
	PG_TRY();
	{
		if (insert_depth == 1 && !partitioned)
			es_check_constraint_exprs(rri) = es_events_check_exprs(rel);
		AfterTriggerBeginQuery();
		storing = &frame;
		for (i = 0; i < nrows; i++)
		{
			fill_slot(slot, rel, &rows[i], TimestampTzGetDatum(created_at));
			if (partitioned)
			{
				OpenLeaf   *direct = direct_leaf(rel, rri, estate, rows[i].position, open);
				ResultRelInfo *leaf;
				TupleConversionMap *map;
				TupleTableSlot *leaf_slot = slot;
				TupleTableSlot *map_slot;

				if (direct != NULL)
				{
					leaf = direct->rri;
					map = direct->map;
					map_slot = direct->slot;
				}
				else
				{
					if (proute == NULL)
					{
						/* Tuple routing as logical replication's apply worker sets it up. */
						mtstate = makeNode(ModifyTableState);
						mtstate->ps.plan = NULL;
						mtstate->ps.state = estate;
						mtstate->operation = CMD_INSERT;
						mtstate->resultRelInfo = rri;
						mtstate->rootResultRelInfo = rri;
						proute = ExecSetupPartitionTupleRouting(estate, rel);
					}
					leaf = ExecFindPartition(mtstate, rri, proute, slot, estate);
					map = es_root_to_partition_map(leaf, estate);
					map_slot = leaf->ri_PartitionTupleSlot;
				}

				/*
				 * The backend's compiled CHECK constraints and index
				 * expressions serve a partition too (they are checked
				 * against its constraint texts and index OIDs), so an
				 * append does not compile them anew for its partition.
				 */
				if (insert_depth == 1 && leaf != compiled_leaf)
				{
					es_check_constraint_exprs(leaf) = es_events_check_exprs(leaf->ri_RelationDesc);
					es_events_use_compiled_indexes(leaf);
					compiled_leaf = leaf;
				}

				if (map != NULL)
					leaf_slot = execute_attr_map_slot(map->attrMap, slot, map_slot);
				insert_keyed_position(ids, estate, ids_slot,
									  UUIDPGetDatum(rows[i].event_id), rows[i].position);
				if (rows[i].records_start)
					insert_keyed_position(starts, estate, starts_slot,
										  PointerGetDatum(rows[i].stream), rows[i].position);
				insert_one(leaf, estate, leaf_slot, &rows[i]);
			}
			else
				insert_one(rri, estate, slot, &rows[i]);
			ResetPerTupleExprContext(estate);
		}
		storing = frame.outer;
		AfterTriggerEndQuery(estate);
	}
	PG_FINALLY();
	{
		insert_depth--;
		storing = frame.outer;
	}
	PG_END_TRY();

	if (partitioned)
	{
		if (proute != NULL)
			ExecCleanupTupleRouting(mtstate, proute);
		for (i = 0; i < open->n; i++)
			close_layout_table(open->leaf[i].rri);
		close_layout_table(ids);
		close_layout_table(starts);
	}
	else
		ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	table_close(rel, NoLock);

	/* Later reads in this transaction (the next append's version read) see the rows. */
	CommandCounterIncrement();
}
