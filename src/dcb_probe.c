/*-------------------------------------------------------------------------
 *
 * dcb_probe.c
 *	  The check of a tagged condition item by a direct descent of
 *	  eventstore.event_tags' primary key, without SPI.
 *
 * An append condition usually holds: its item finds no entry above
 * `after`.  Through an SPI plan the check cost about 70,000 instructions
 * per item, most of it executor start-up (docs/benchmarks.md, "Dynamic
 * consistency boundaries"); a descent costs a few thousand.  Only a
 * candidate (an entry above `after`) is confirmed in eventstore.events, by
 * SQL, since that is rare and must work in both layouts: the event is still
 * stored (an archived partition leaves its entries behind) and carries
 * every tag of the item.
 *
 * Locks: AccessShareLock on event_tags and its primary key.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

static SPIPlanPtr confirm_plan = NULL;

/* Is the event at `position` stored, as `snapshot` sees it, with every tag of `tags`? */
static bool
confirm(int64 position, Datum tags, Snapshot snapshot)
{
	Oid			types[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];
	bool		found;

	values[0] = Int64GetDatum(position);
	values[1] = tags;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&confirm_plan,
				 "SELECT FROM eventstore.events"
				 " WHERE position OPERATOR(pg_catalog.=) $1"
				 " AND tags OPERATOR(pg_catalog.@>) $2", 2, types);
	if (SPI_execute_snapshot(confirm_plan, values, NULL, snapshot, InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not confirm a tagged event");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * The lowest position above `after` of an event stored with tag `tag`, of
 * type `type` (NULL: any type), carrying every tag of `tags` (a text[]),
 * as `snapshot` sees it; 0 when there is none.
 */
int64
es_probe_tagged(text *tag, text *type, int64 after, Datum tags, Snapshot snapshot)
{
	Oid			nsp = get_namespace_oid("eventstore", false);
	Oid			relid = get_relname_relid("event_tags", nsp);
	Oid			indexid = get_relname_relid("event_tags_pkey", nsp);
	Relation	heap;
	Relation	index;
	Snapshot	snap;
	IndexScanDesc scan;
	ScanKeyData skey[3];
	TupleTableSlot *slot;
	int			nkeys = 0;
	int64		best = 0;

	if (!OidIsValid(relid) || !OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"eventstore.event_tags\" or its primary key does not exist"),
				 errhint("Run ALTER EXTENSION eventstore UPDATE to use append conditions.")));
	heap = table_open(relid, AccessShareLock);
	index = index_open(indexid, AccessShareLock);
	snap = RegisterSnapshot(snapshot);

	ScanKeyInit(&skey[nkeys], 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(tag));
	skey[nkeys++].sk_collation = index->rd_indcollation[0];
	if (type != NULL)
	{
		ScanKeyInit(&skey[nkeys], 2, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(type));
		skey[nkeys++].sk_collation = index->rd_indcollation[1];
	}
	ScanKeyInit(&skey[nkeys++], 3, BTGreaterStrategyNumber, F_INT8GT, Int64GetDatum(after));

	slot = table_slot_create(heap, NULL);
	scan = es_index_beginscan(heap, index, snap, nkeys, 0);
	index_rescan(scan, skey, nkeys, NULL, 0);

	/*
	 * With a type the entries come in position order: the first confirmed
	 * one is the lowest.  Without, in (type, position) order: the lowest
	 * confirmed one of each type is a candidate.
	 */
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		int64		pos = DatumGetInt64(slot_getattr(slot, 3, &isnull));

		if (best != 0 && pos >= best)
			continue;
		if (confirm(pos, tags, snap))
		{
			best = pos;
			if (type != NULL)
				break;
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	return best;
}
