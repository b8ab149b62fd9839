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
 * worker does (ExecSimpleRelationInsert), with the constraints compiled once
 * per backend (events_rel.c).  What an INSERT would do is still done: NOT
 * NULL and CHECK constraints, unique indexes (a duplicate raises 23505),
 * the other indexes, and row triggers, BEFORE and AFTER (the AFTER ones
 * fire at the end of the call).
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
#include "nodes/makefuncs.h"
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

static void
es_fill_slot(TupleTableSlot *slot, Relation rel, EsEventRow *row, Datum created_at)
{
	Datum	   *values = slot->tts_values;
	bool	   *isnull = slot->tts_isnull;

#define SET(col, isnul, value) \
	do { \
		AttrNumber a = es_events_attnum(rel, col) - 1; \
		isnull[a] = (isnul); \
		values[a] = (isnul) ? (Datum) 0 : (value); \
	} while (0)

	ExecClearTuple(slot);
	memset(isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	SET(ES_COL_POSITION, false, Int64GetDatum(row->position));
	SET(ES_COL_STREAM, false, PointerGetDatum(row->stream));
	SET(ES_COL_VERSION, false, Int64GetDatum(row->version));
	SET(ES_COL_EVENT_ID, false, UUIDPGetDatum(row->event_id));
	SET(ES_COL_TYPE, false, PointerGetDatum(row->type));
	SET(ES_COL_CATEGORY, false, PointerGetDatum(row->category));
	SET(ES_COL_DATA, row->data == NULL, JsonbPGetDatum(row->data));
	SET(ES_COL_DATA_BIN, row->data_bin == NULL, PointerGetDatum(row->data_bin));
	SET(ES_COL_METADATA, row->metadata == NULL, JsonbPGetDatum(row->metadata));
	SET(ES_COL_CREATED_AT, false, created_at);
#undef SET
	ExecStoreVirtualTuple(slot);
}

/* The columns a BEFORE ROW trigger may not change. */
static const EsEventColumn es_fixed_columns[] = {
	ES_COL_POSITION, ES_COL_STREAM, ES_COL_VERSION, ES_COL_EVENT_ID, ES_COL_CATEGORY
};

static void
es_check_trigger_result(TupleTableSlot *slot, Relation rel, EsEventRow *row)
{
	int			i;

	slot_getallattrs(slot);
	for (i = 0; i < (int) lengthof(es_fixed_columns); i++)
	{
		EsEventColumn col = es_fixed_columns[i];
		AttrNumber	a = es_events_attnum(rel, col);
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), a - 1);
		Datum		want;

		switch (col)
		{
			case ES_COL_POSITION:
				want = Int64GetDatum(row->position);
				break;
			case ES_COL_STREAM:
				want = PointerGetDatum(row->stream);
				break;
			case ES_COL_VERSION:
				want = Int64GetDatum(row->version);
				break;
			case ES_COL_EVENT_ID:
				want = UUIDPGetDatum(row->event_id);
				break;
			default:
				want = PointerGetDatum(row->category);
				break;
		}
		if (slot->tts_isnull[a - 1] ||
			!datum_image_eq(slot->tts_values[a - 1], want, att->attbyval, att->attlen))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("a BEFORE INSERT trigger on \"eventstore.events\" changed column \"%s\" of an appended event",
							NameStr(att->attname)),
					 errdetail("Triggers may change an event's payload and metadata, not its stream, version, position, id or category.")));
	}
}

/* One row: what ExecSimpleRelationInsert does, refusing what es_append cannot promise. */
static void
es_insert_one(ResultRelInfo *rri, EState *estate, TupleTableSlot *slot, EsEventRow *row)
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
		es_check_trigger_result(slot, rel, row);
	}
	if (rel->rd_att->constr)
		ExecConstraints(rri, slot, estate);
	simple_table_tuple_insert(rel, slot);
	if (rri->ri_NumIndices > 0)
		recheck = es_insert_index_tuples(rri, slot, estate);
	ExecARInsertTriggers(estate, rri, slot, recheck, NULL);
	list_free(recheck);
}

void
es_insert_events(EsEventRow *rows, int nrows, TimestampTz created_at)
{
	Relation	rel = table_open(es_events_relid(), RowExclusiveLock);
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	int			i;

	/* A partition would need tuple routing, generated columns are unknown columns. */
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"eventstore.events\" is not a plain table")));
	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	es_register_result_rel(estate, rri);
	estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(rri, false);
	slot = table_slot_create(rel, &estate->es_tupleTable);

	insert_depth++;
	PG_TRY();
	{
		if (insert_depth == 1)
			rri->ri_ConstraintExprs = es_events_check_exprs(rel);
		AfterTriggerBeginQuery();
		for (i = 0; i < nrows; i++)
		{
			es_fill_slot(slot, rel, &rows[i], TimestampTzGetDatum(created_at));
			es_insert_one(rri, estate, slot, &rows[i]);
			ResetPerTupleExprContext(estate);
		}
		AfterTriggerEndQuery(estate);
	}
	PG_FINALLY();
	{
		insert_depth--;
	}
	PG_END_TRY();

	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	table_close(rel, NoLock);

	/* Later reads in this transaction (the next append's version read) see the rows. */
	CommandCounterIncrement();
}
