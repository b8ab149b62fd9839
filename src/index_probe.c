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
