/*-------------------------------------------------------------------------
 *
 * read_gaps.c
 *	  Stream reads never start silently past versions that are gone (ES012).
 *
 * Retention (a truncated prefix) and archival (whole partitions moved out
 * of eventstore.events) remove a stream's oldest versions; the ones that
 * remain are dense up to its last.  A read that asked for a removed version
 * would otherwise just start at the first one kept: an aggregate folded
 * from a snapshot at 2 and then version 5, or from "the stream" starting at
 * 3, is silently wrong.  So each stream read that names or implies where it
 * starts checks what it returned first (noted on the way into the result,
 * srf_result.c) and fails with ES012 when versions between that start and
 * the first row are gone:
 *
 *	es_load(stream, from_version n)			starts at n;
 *	es_load(stream, from_version n, backward)	has n, if the stream reached it;
 *	es_load_with_snapshot(stream, kind)		starts at the snapshot's version
 *											+ 1, or at the stream's start;
 *	es_load_until(stream, until)			starts at the stream's start.
 *
 * es_load(stream) with from_version NULL means "from the first version the
 * stream keeps" and is not checked (docs/lifecycle.md, "Reads of a
 * shortened stream").
 *
 * The stream's start is version 1, except after a soft delete that the
 * stream outlived (an append brought it back): its numbering continued, and
 * its life starts after the versions moved to eventstore.deleted_events.
 * Those were deleted on purpose; a snapshot does not survive them
 * (lifecycle.c deletes it), so a fold from the new start is right.
 *
 * Cost: nothing on a read whose first row is the version it asked for.
 * Otherwise one or two index probes (the stream's version, the deleted
 * versions kept aside), made only when the first row is not the one asked
 * for or no row came back (a reader polling past the end pays one probe).
 * All of them read with the caller's snapshot, the one the read used, so a
 * concurrent append can never look like a gap.  A database still on 1.0's
 * SQL has no lifecycle functions: nothing can be missing there.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

static SPIPlanPtr life_start_plan = NULL;
static SPIPlanPtr first_kept_plan = NULL;

/* Run a one-value, one-argument read with the caller's snapshot; 0 for none. */
static int64
read_one_version(SPIPlanPtr *slot, const char *sql, text *stream)
{
	Oid			types[1] = {TEXTOID};
	Datum		arg = PointerGetDatum(stream);
	bool		isnull = true;
	Datum		d = (Datum) 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(slot, sql, 1, types);
	if (SPI_execute_plan(*slot, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the versions of a stream");
	if (SPI_processed > 0)
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_finish();
	return isnull ? 0 : DatumGetInt64(d);
}

/* The first version of the stream's current life (see the header). */
static int64
life_start(text *stream)
{
	return 1 + read_one_version(&life_start_plan,
								"SELECT pg_catalog.max(version) FROM eventstore.deleted_events"
								" WHERE stream OPERATOR(pg_catalog.=) $1", stream);
}

/* The first version stored in eventstore.events; 0 when none is. */
static int64
first_kept(text *stream)
{
	return read_one_version(&first_kept_plan,
							"SELECT version FROM eventstore.events"
							" WHERE stream OPERATOR(pg_catalog.=) $1"
							" ORDER BY version LIMIT 1", stream);
}

/* The stream's version as es_stream_version answers it, in the read's snapshot. */
static int64
current_version(text *stream)
{
	return es_stream_current_version(stream, GetActiveSnapshot());
}

typedef enum GapRead
{
	GAP_LOAD,					/* es_load from a version */
	GAP_LOAD_BACKWARD,			/* es_load backward from a version */
	GAP_SNAPSHOT,				/* es_load_with_snapshot */
	GAP_UNTIL					/* es_load_until */
} GapRead;

/*
 * ES012: versions `lo` to `hi` of the stream are gone, and the read needed
 * them.  `kept` is the first version the stream keeps (0: none); `from` the
 * version the read started at (es_load) or the snapshot's (0: none).
 */
static void
report_gap(text *stream, int64 lo, int64 hi, int64 kept, GapRead read,
		   text *kind, int64 from)
{
	char	   *name = text_to_cstring(stream);
	char	   *missing = lo == hi
		? psprintf("version " INT64_FORMAT, lo)
		: psprintf("versions " INT64_FORMAT " to " INT64_FORMAT, lo, hi);
	char	   *where = kept > 0
		? psprintf("The first version it keeps is " INT64_FORMAT ".", kept)
		: psprintf("It is at version " INT64_FORMAT " and keeps none of its events.", hi);
	const char *why = "Retention or archival removed them (docs/lifecycle.md).";

	switch (read)
	{
		case GAP_SNAPSHOT:
			ereport(ERROR,
					(errcode(ERRCODE_ES_VERSIONS_REMOVED),
					 errmsg("cannot rebuild stream \"%s\": %s no longer stored", name,
							missing),
					 from > 0
					 ? errdetail("The newest snapshot of kind \"%s\" is at version " INT64_FORMAT
								 " and the events after it are gone up to version " INT64_FORMAT
								 ". %s %s",
								 text_to_cstring(kind), from, hi, where, why)
					 : errdetail("There is no snapshot of kind \"%s\" and the stream's first "
								 "versions are gone. %s %s",
								 text_to_cstring(kind), where, why),
					 errhint("Keep a snapshot at or above the versions that retention or archival "
							 "removes; es_load(stream) reads the events the stream keeps.")));
			break;
		case GAP_UNTIL:
			ereport(ERROR,
					(errcode(ERRCODE_ES_VERSIONS_REMOVED),
					 errmsg("cannot read stream \"%s\" as of a time: %s no longer stored", name,
							missing),
					 errdetail("The stream as of a time starts at its first version. %s %s",
							   where, why),
					 errhint("es_load(stream) reads the events the stream keeps.")));
			break;
		case GAP_LOAD:
		case GAP_LOAD_BACKWARD:
			ereport(ERROR,
					(errcode(ERRCODE_ES_VERSIONS_REMOVED),
					 errmsg("%s of stream \"%s\" %s no longer stored", missing, name,
							lo == hi ? "is" : "are"),
					 errdetail(read == GAP_LOAD
							   ? "The read starts at version " INT64_FORMAT ". %s %s"
							   : "The read goes back from version " INT64_FORMAT ". %s %s",
							   from, where, why),
					 kept > 0
					 ? errhint("Read from version " INT64_FORMAT ", or pass from_version NULL to "
							   "start at the first version kept.", kept)
					 : errhint("Archived events are in the tables that eventstore.archives lists.")));
			break;
	}
}

/*
 * A read that needed the stream from version `want` on returned `got`
 * first (0: nothing).  Fails with ES012 when versions in between are gone,
 * or, when nothing came back, when the stream has versions from `want` on
 * but keeps none of them.
 */
static void
check_start(text *stream, int64 want, int64 got, GapRead read, text *kind,
			int64 from)
{
	int64		start;

	if (got == want || (got != 0 && got < want) || !es_stream_state_exists())
		return;
	start = Max(want, life_start(stream));
	if (got != 0)
	{
		if (got > start)
			report_gap(stream, start, got - 1, got, read, kind, from);
		return;
	}
	/* Nothing from `want` on: the stream ends below it, or keeps none of it. */
	{
		int64		version = current_version(stream);

		if (version >= start)
			report_gap(stream, start, version, first_kept(stream), read, kind, from);
	}
}

/*
 * es_load(stream, from_version => from): forward, the first row must be
 * version `from` (0 and 1 both mean the start); backward, a read from a
 * version the stream reached must return it.
 */
void
es_check_read_from(text *stream, int64 from, bool backward, const EsReadStart *seen)
{
	int64		version;
	int64		start;

	if (!backward)
	{
		check_start(stream, Max(from, 1), seen->rows > 0 ? seen->version[0] : 0,
					GAP_LOAD, NULL, from);
		return;
	}
	/* Backward: rows came back, so version min(from, last) was among them. */
	if (seen->rows > 0 || from < 1 || !es_stream_state_exists())
		return;
	version = current_version(stream);
	if (version < 1)
		return;
	start = life_start(stream);
	if (Min(from, version) >= start)
		report_gap(stream, start, Min(from, version), first_kept(stream),
				   GAP_LOAD_BACKWARD, NULL, from);
}

/*
 * es_load_with_snapshot: the snapshot row (flagged) and then the events from
 * its version + 1, or without a snapshot the events from the stream's start.
 */
void
es_check_snapshot_read(text *stream, text *kind, const EsReadStart *seen)
{
	if (seen->rows > 0 && seen->flag[0])
		check_start(stream, seen->version[0] + 1, seen->rows > 1 ? seen->version[1] : 0,
					GAP_SNAPSHOT, kind, seen->version[0]);
	else
		check_start(stream, 1, seen->rows > 0 ? seen->version[0] : 0,
					GAP_SNAPSHOT, kind, 0);
}

/*
 * es_load_until: the stream as of a time, from its start.  When no event is
 * old enough, the removed ones might have been: a stream whose start is
 * gone cannot answer either way.
 */
void
es_check_read_until(text *stream, const EsReadStart *seen)
{
	int64		first;

	if (seen->rows > 0)
	{
		check_start(stream, 1, seen->version[0], GAP_UNTIL, NULL, 0);
		return;
	}
	if (!es_stream_state_exists())
		return;
	first = first_kept(stream);
	if (first == 1)
		return;
	/* As if the first kept event (or nothing, when none is) had been returned. */
	check_start(stream, 1, first, GAP_UNTIL, NULL, 0);
}
