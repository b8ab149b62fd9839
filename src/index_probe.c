/*-------------------------------------------------------------------------
 *
 * index_probe.c
 *	  One B-tree descent to the first row of a key, without SPI.
 *
 * The store reads a few single facts on hot paths (a stream's version, its
 * stream_state row, its stream_starts row).  Through an SPI plan each costs
 * tens of thousands of instructions in executor start-up and shutdown
 * (docs/benchmarks.md); a direct index scan costs a few thousand.  The
 * callers own the relations, the locks and the meaning of the row.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/*
 * The first row, in `direction`, of the rows of `heap` whose index key
 * starts with the text `key` (a stream name), as seen by `snapshot`; false
 * when there is none.  The caller opened both relations.
 */
bool
es_index_first_row(Relation heap, Relation index, text *key, Snapshot snapshot,
				   ScanDirection direction, TupleTableSlot *slot)
{
	Snapshot	snap = RegisterSnapshot(snapshot);
	IndexScanDesc scan;
	ScanKeyData skey;
	bool		found;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(key));
	skey.sk_collation = index->rd_indcollation[0];
	scan = es_index_beginscan(heap, index, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, direction, slot);
	index_endscan(scan);
	UnregisterSnapshot(snap);
	return found;
}

/*
 * The last row of a stream among its versions from `from` up, in a
 * (stream, version) B-tree: false when none of them is visible.  A
 * backward scan of the stream alone reads every entry of the stream on
 * its last leaf page before it returns the first (PostgreSQL collects a
 * page's matches first); bounded below, it stops at the first version
 * under `from`, so a caller that knows roughly where the stream ends reads
 * two or three entries instead of up to a page.
 */
bool
es_index_last_row_from(Relation heap, Relation index, text *key, int64 from,
					   Snapshot snapshot, TupleTableSlot *slot)
{
	Snapshot	snap = RegisterSnapshot(snapshot);
	IndexScanDesc scan;
	ScanKeyData skey[2];
	bool		found;

	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(key));
	skey[0].sk_collation = index->rd_indcollation[0];
	ScanKeyInit(&skey[1], 2, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(from));
	scan = es_index_beginscan(heap, index, snap, 2, 0);
	index_rescan(scan, skey, 2, NULL, 0);
	found = index_getnext_slot(scan, BackwardScanDirection, slot);
	index_endscan(scan);
	UnregisterSnapshot(snap);
	return found;
}
