/*-------------------------------------------------------------------------
 *
 * used_positions.c
 *	  The highest position the tables show as used: where the position
 *	  counter starts again after a restart, a restore or an invalidation.
 *
 * Positions are never handed out twice, also not those of events that are
 * gone (deleted, or archived with their partition), so the tables that
 * remember such positions count too.  Which tables exist depends on the
 * SQL version the database runs (the library also serves databases still
 * on 1.0) and on its layout (the archives of the partitioned layout).
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "executor/spi.h"
#include "utils/snapmgr.h"

static SPIPlanPtr used_plan = NULL;
static SPIPlanPtr used_1_0_plan = NULL;
static SPIPlanPtr used_archived_plan = NULL;

/*
 * The highest position any stored, deleted or archived event had:
 * max(position) of the events table and the highest position of any deleted
 * event (stream_state.last_position, docs/lifecycle.md), 0 when both are
 * empty; so that positions of deleted events are never handed out again,
 * also after a restart or a restore.  In the partitioned layout also the
 * last archived position (eventstore.archives): no partition holds the
 * positions below the archive horizon any more, and a feed reader starts
 * above it (an archived partition's tail may hold no event, but its
 * positions are gone all the same).  Read with the latest snapshot so that
 * rows committed after our transaction snapshot count too.  Not read-only:
 * the command counter is advanced first, so rows this transaction inserted
 * earlier in the current command count as well (the position counter must
 * never fall below a stored position).  Connects to SPI for the read
 * (nested, if the caller is connected already).
 *
 * The positions handed out but not stored yet (appenders in flight) are
 * the shared counter's business: es_last_position_handed_out (position.c).
 */
int64
es_read_highest_used_position(void)
{
	bool		isnull;
	Datum		d;
	int64		maxpos;
	SPIPlanPtr	plan;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (OidIsValid(es_event_ids_relid()))	/* partitioned: has archives */
		plan = es_kept_plan(&used_archived_plan,
							"SELECT GREATEST("
							" (SELECT pg_catalog.max(position) FROM eventstore.events),"
							" (SELECT pg_catalog.max(last_position) FROM eventstore.stream_state),"
							" (SELECT pg_catalog.max(to_position) OPERATOR(pg_catalog.-) 1"
							"  FROM eventstore.archives))",
							0, NULL);
	else if (es_stream_state_exists())
		plan = es_kept_plan(&used_plan,
							"SELECT GREATEST("
							" (SELECT pg_catalog.max(position) FROM eventstore.events),"
							" (SELECT pg_catalog.max(last_position) FROM eventstore.stream_state))",
							0, NULL);
	else						/* a database still on 1.0's SQL */
		plan = es_kept_plan(&used_1_0_plan,
							"SELECT pg_catalog.max(position) FROM eventstore.events", 0, NULL);
	if (SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, false, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the highest position");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	maxpos = isnull ? 0 : DatumGetInt64(d);
	SPI_finish();
	return maxpos;
}
