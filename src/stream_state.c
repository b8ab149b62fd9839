/*-------------------------------------------------------------------------
 *
 * stream_state.c
 *	  Reading a stream's lifecycle state (eventstore.stream_state) on the
 *	  append and read paths.
 *
 * Why a direct index probe: only streams with lifecycle state (soft-deleted,
 * tombstoned) have a row, and a stream that has events is never tombstoned
 * or soft-deleted (those move every event out).  So the state matters only
 * for a stream whose version read from the events is 0, and for that case
 * one lookup in the table's primary key is made, without SPI (an SPI plan
 * costs tens of thousands of instructions in executor start-up, see
 * index_probe.c).  Appends to existing streams never look.
 *
 * The table is new in 1.1; the library also serves databases still on 1.0
 * (before ALTER EXTENSION UPDATE), where it does not exist: then no stream
 * has state.
 *
 * Staleness: the OIDs and column numbers are dropped by a relcache
 * invalidation of the table (DDL, DROP EXTENSION).
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

static bool callback_registered = false;
static Oid	state_relid = InvalidOid;
static Oid	state_index = InvalidOid;
static AttrNumber att_last_version;
static AttrNumber att_deleted_at;
static AttrNumber att_tombstoned_at;

static SPIPlanPtr revive_plan = NULL;

static void
state_rel_invalidate(Datum arg, Oid changed)
{
	if (changed == InvalidOid || changed == state_relid)
		state_relid = InvalidOid;
}

/* Find the table and its key; false when this database has no such table. */
static bool
resolve_state_rel(void)
{
	Oid			nsp;
	Oid			rel;
	Oid			idx;

	if (OidIsValid(state_relid))
		return true;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(state_rel_invalidate, (Datum) 0);
		callback_registered = true;
	}
	nsp = get_rel_namespace(es_events_relid());
	rel = get_relname_relid("stream_state", nsp);
	idx = get_relname_relid("stream_state_pkey", nsp);
	if (!OidIsValid(rel) || !OidIsValid(idx))
		return false;
	att_last_version = get_attnum(rel, "last_version");
	att_deleted_at = get_attnum(rel, "deleted_at");
	att_tombstoned_at = get_attnum(rel, "tombstoned_at");
	if (att_last_version == InvalidAttrNumber || att_deleted_at == InvalidAttrNumber ||
		att_tombstoned_at == InvalidAttrNumber)
		return false;
	state_index = idx;
	state_relid = rel;
	return true;
}

/* Does this database have eventstore.stream_state (1.1 and later)? */
bool
es_stream_state_exists(void)
{
	return resolve_state_rel();
}

/* The stream's row of eventstore.stream_state, as seen by `snapshot`. */
void
es_read_stream_state(text *stream, Snapshot snapshot, EsStreamState *state)
{
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;

	memset(state, 0, sizeof(EsStreamState));
	if (!resolve_state_rel())
		return;

	heap = table_open(state_relid, AccessShareLock);
	index = index_open(state_index, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	if (es_index_first_row(heap, index, stream, snapshot, ForwardScanDirection, slot))
	{
		bool		isnull;

		state->found = true;
		state->last_version = DatumGetInt64(slot_getattr(slot, att_last_version, &isnull));
		(void) slot_getattr(slot, att_deleted_at, &isnull);
		state->deleted = !isnull;
		(void) slot_getattr(slot, att_tombstoned_at, &isnull);
		state->tombstoned = !isnull;
	}
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
}

/* An append brought a soft-deleted stream back to life: it is no longer deleted. */
void
es_revive_stream(text *stream)
{
	Oid			types[1] = {TEXTOID};
	Datum		arg = PointerGetDatum(stream);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&revive_plan,
				 "UPDATE eventstore.stream_state"
				 " SET deleted_at = NULL, updated_at = pg_catalog.now()"
				 " WHERE stream OPERATOR(pg_catalog.=) $1", 1, types);
	if (SPI_execute_plan(revive_plan, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update the state of a stream");
	SPI_finish();
}
