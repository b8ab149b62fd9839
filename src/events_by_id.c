/*-------------------------------------------------------------------------
 *
 * events_by_id.c
 *	  Events looked up by their ids: es_load_event and es_load_events.
 *
 * An idempotency audit, a saga debugger or a user following a causation id
 * holds event ids, not positions.  The UNIQUE (event_id) index answers both
 * functions with one probe per id.  Like es_load of a stream, they read
 * with the caller's snapshot: an event is returned once the caller's
 * snapshot sees it, which is not the feed's visibility rule (a reader that
 * found an id in the feed always finds the event).
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"

#define BY_ID_COLUMNS	"SELECT * FROM eventstore.events"

static SPIPlanPtr one_plan = NULL;
static SPIPlanPtr many_plan = NULL;

/* es_load_event(event_id): the event with that id, or no row. */
PG_FUNCTION_INFO_V1(es_load_event);
Datum
es_load_event(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {UUIDOID};
	Datum		values[1];
	bool		nulls[1] = {false};

	InitMaterializedSRF(fcinfo, 0);
	values[0] = es_check_event_id(fcinfo, 0);
	es_read_into_result(fcinfo, &one_plan, BY_ID_COLUMNS
						" WHERE event_id OPERATOR(pg_catalog.=) $1",
						1, types, values, nulls);
	return (Datum) 0;
}

/*
 * es_load_events(event_ids): the events with those ids, in position order,
 * each once; ids that are not stored return nothing.
 */
PG_FUNCTION_INFO_V1(es_load_events);
Datum
es_load_events(PG_FUNCTION_ARGS)
{
	ArrayType  *ids;
	int			nids;
	Oid			types[1] = {UUIDARRAYOID};
	Datum		values[1];
	bool		nulls[1] = {false};

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event ids must not be null")));
	ids = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(ids) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event ids must be a one-dimensional array"),
				 errdetail("It has %d dimensions.", ARR_NDIM(ids))));
	if (array_contains_nulls(ids))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event ids must not contain nulls")));
	nids = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids));
	if (nids > ES_MAX_COUNT)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many event ids in one call"),
				 errdetail("There are %d; the limit is %d.", nids, ES_MAX_COUNT)));
	if (nids == 0)
		return (Datum) 0;
	values[0] = PointerGetDatum(ids);
	es_read_into_result(fcinfo, &many_plan, BY_ID_COLUMNS
						" WHERE event_id OPERATOR(pg_catalog.=) ANY ($1)"
						" ORDER BY position", 1, types, values, nulls);
	return (Datum) 0;
}
