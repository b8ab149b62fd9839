/*-------------------------------------------------------------------------
 *
 * partitions.c
 *	  Partitions of the partitioned layout (docs/partitioning.md): making
 *	  them as positions reach them, and where event ids are kept.
 *
 * A position es_append hands out must have a partition before its row is
 * stored: there is no default partition (it would make every feed read a
 * Merge Append that scans it), so a row without one would fail the append.
 * es_insert_events therefore asks here before it routes its rows.  When
 * the last position of the call is in the upper half of the last
 * partition, the next partition is made now, by whichever appender gets the
 * partitions lock without waiting; the others go on.  Only a call whose
 * positions pass the last bound (a burst that outran the half-partition
 * margin, or the first append of the store) waits for the lock, and so for
 * the maker's commit.
 *
 * The partitions are made by SQL (eventstore.es_make_partitions), through
 * SPI, in the appending transaction: an append that aborts takes its
 * partition with it, and the next one makes it again.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

static SPIPlanPtr make_plan = NULL;

/* Make partitions up to the one holding `position`, through SQL. */
static void
make_partitions(int64 position)
{
	Oid			types[1] = {INT8OID};
	Datum		arg = Int64GetDatum(position);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(&make_plan, "SELECT eventstore.es_make_partitions($1)", 1, types);
	if (SPI_execute_plan(make_plan, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not make partitions of eventstore.events");
	SPI_finish();
}

/*
 * Ensure that a partition of eventstore.events holds every position up to
 * last_position, and make the next one ahead of need; nothing for the
 * plain layout.  Called before the caller opens the table: ATTACH refuses
 * a table that this backend has open (CheckTableNotInUse).
 */
void
es_ensure_partitions(int64 last_position)
{
	Relation	events = table_open(es_events_relid(), RowExclusiveLock);
	PartitionDesc pd;
	PartitionBoundInfo b;
	int64		upper = 0;
	int64		lower = 0;
	int			nparts;
	bool		must;

	if (events->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
	{
		table_close(events, NoLock);
		return;
	}
	pd = RelationGetPartitionDesc(events, true);
	b = pd->boundinfo;
	nparts = pd->nparts;
	if (nparts > 0)
	{
		int			n = b->ndatums;

		/* An upper bound of MAXVALUE: the last partition takes every position. */
		if (b->kind[n - 1][0] != PARTITION_RANGE_DATUM_VALUE)
		{
			table_close(events, NoLock);
			return;
		}
		upper = DatumGetInt64(b->datums[n - 1][0]);
		lower = n >= 2 && b->kind[n - 2][0] == PARTITION_RANGE_DATUM_VALUE ?
			DatumGetInt64(b->datums[n - 2][0]) : upper;
	}
	table_close(events, NoLock);
	/* Below the last partition's upper half: nothing to do (the common case). */
	if (nparts > 0 && last_position < upper - (upper - lower) / 2)
		return;
	must = nparts == 0 || last_position >= upper;
	if (!es_lock_partitions(must))
		return;					/* another appender is making the next one */
	make_partitions(must ? last_position : upper);
	/* The new partitions are in the relcache entry now (es_make_partitions ran DDL). */
	CommandCounterIncrement();
}

/* eventstore.event_ids, InvalidOid when the store is not partitioned. */
Oid
es_event_ids_relid(void)
{
	Oid			nsp = get_namespace_oid("eventstore", true);

	return OidIsValid(nsp) ? get_relname_relid("event_ids", nsp) : InvalidOid;
}
