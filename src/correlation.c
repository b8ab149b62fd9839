/*-------------------------------------------------------------------------
 *
 * correlation.c
 *	  Reads by the documented metadata keys correlation_id and causation_id:
 *	  es_load_correlated, es_load_causes, es_load_effects.
 *
 * A writer that puts "correlation_id" (the conversation an event belongs
 * to) and "causation_id" (the id of the event that caused it) into an
 * event's metadata can ask for all events of a conversation, and for an
 * event's causes and effects, without scanning the feed.  Two partial
 * B-tree indexes that the store owns (src/sql/13_correlation.sql) answer
 * them.  They hold the first 200 characters of a value (a metadata value has
 * no length limit, a B-tree entry has), so a read looks up that prefix and
 * compares the whole value too.  docs/queries.md has the plans and the
 * measured cost per append.
 *
 * The causation graph is the writers' and nothing checks it: a
 * causation_id may name no event, or (with ids chosen by the writer) form a
 * cycle.  An event has one causation_id, so its causes form a chain and its
 * effects a tree: the walks use UNION ALL, which visits each event once,
 * and a CYCLE clause, which ends a cycle.  Not UNION: its hash table is
 * sized by the planner's estimate of the whole walk, hundreds of thousands
 * of rows in a large store, and building it took 0.2 s for a walk of two.  Rows come in position order, like the feed,
 * read with the caller's snapshot like es_load of a stream.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"

/* The values, and the index keys as written in the indexes (src/sql/13_correlation.sql). */
#define CORRELATION_OF(e)	"(" e ".metadata OPERATOR(pg_catalog.->>) 'correlation_id')"
#define CAUSATION_OF(e)		"(" e ".metadata OPERATOR(pg_catalog.->>) 'causation_id')"
#define KEY_OF(v)			"pg_catalog.substr(" v ", 1, 200)"

/* A causation_id that is an event id in canonical form, as a uuid; else NULL. */
#define CAUSE_ID(x) \
	"CASE WHEN " x " OPERATOR(pg_catalog.~)" \
	" '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'" \
	" THEN " x "::pg_catalog.uuid END"

static SPIPlanPtr correlated_plan = NULL;
static SPIPlanPtr causes_plan = NULL;
static SPIPlanPtr effects_plan = NULL;

/* Run a kept plan whose last parameter is max_count (NULL: no limit). */
static void
run_read(FunctionCallInfo fcinfo, SPIPlanPtr *slot, const char *sql,
		 int nargs, Oid *types, Datum *values, int max_count_argno)
{
	bool		nulls[3] = {false, false, false};

	es_limit_param(fcinfo, max_count_argno, &values[nargs - 1], &nulls[nargs - 1]);
	es_read_into_result(fcinfo, slot, sql, nargs, types, values, nulls);
}

/*
 * es_load_correlated(correlation_id, after_position, max_count): the events
 * whose metadata has this correlation_id, after after_position, in
 * position order.
 */
PG_FUNCTION_INFO_V1(es_load_correlated);
Datum
es_load_correlated(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {TEXTOID, INT8OID, INT4OID};
	Datum		values[3];

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("correlation id must not be null")));
	if (VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("correlation id must not be empty")));
	values[0] = PointerGetDatum(PG_GETARG_TEXT_PP(0));
	values[1] = Int64GetDatum(es_check_after_position(fcinfo, 1));

	run_read(fcinfo, &correlated_plan,
			 "SELECT * FROM eventstore.events e"
			 " WHERE " KEY_OF(CORRELATION_OF("e")) " OPERATOR(pg_catalog.=) " KEY_OF("$1")
			 " AND " CORRELATION_OF("e") " OPERATOR(pg_catalog.=) $1"
			 " AND e.position OPERATOR(pg_catalog.>) $2"
			 " ORDER BY e.position LIMIT $3",
			 3, types, values, 2);
	return (Datum) 0;
}

/*
 * es_load_causes(event_id, max_count): the event's cause (the event its
 * causation_id names), that event's cause, and so on, in position order;
 * the event itself is not among them.
 */
PG_FUNCTION_INFO_V1(es_load_causes);
Datum
es_load_causes(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {UUIDOID, INT4OID};
	Datum		values[2];

	InitMaterializedSRF(fcinfo, 0);
	values[0] = es_check_event_id(fcinfo, 0);

	run_read(fcinfo, &causes_plan,
			 "WITH RECURSIVE up(id) AS ("
			 "  SELECT " CAUSE_ID(CAUSATION_OF("e")) " FROM eventstore.events e"
			 "  WHERE e.event_id OPERATOR(pg_catalog.=) $1"
			 " UNION ALL"
			 "  SELECT " CAUSE_ID(CAUSATION_OF("e")) " FROM up"
			 "  JOIN eventstore.events e ON e.event_id OPERATOR(pg_catalog.=) up.id)"
			 " CYCLE id SET is_cycle USING path"
			 " SELECT * FROM eventstore.events e"
			 " WHERE e.event_id OPERATOR(pg_catalog.=) ANY (SELECT up.id FROM up)"
			 " AND e.event_id OPERATOR(pg_catalog.<>) $1"
			 " ORDER BY e.position LIMIT $2",
			 2, types, values, 1);
	return (Datum) 0;
}

/*
 * es_load_effects(event_id, max_count): the events whose causation_id is
 * this event's id, their effects, and so on, in position order; the event
 * itself is not among them.  An event id's text has 36 characters, so a key
 * (the value's first 200) equal to it is the whole value.  The OFFSET 0
 * keeps each step a probe of the causation index per event: as a join, the
 * generic plan hashed the whole table (0.35 s in 700,000 events).
 */
PG_FUNCTION_INFO_V1(es_load_effects);
Datum
es_load_effects(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {UUIDOID, INT4OID};
	Datum		values[2];

	InitMaterializedSRF(fcinfo, 0);
	values[0] = es_check_event_id(fcinfo, 0);

	run_read(fcinfo, &effects_plan,
			 "WITH RECURSIVE down(id) AS ("
			 "  SELECT $1"
			 " UNION ALL"
			 "  SELECT x.event_id FROM down,"
			 "  LATERAL (SELECT e.event_id FROM eventstore.events e"
			 "   WHERE " KEY_OF(CAUSATION_OF("e")) " OPERATOR(pg_catalog.=) down.id::pg_catalog.text"
			 "   AND " CAUSATION_OF("e") " IS NOT NULL OFFSET 0) x)"
			 " CYCLE id SET is_cycle USING path"
			 " SELECT * FROM eventstore.events e"
			 " WHERE e.event_id OPERATOR(pg_catalog.=) ANY (SELECT down.id FROM down)"
			 " AND e.event_id OPERATOR(pg_catalog.<>) $1"
			 " ORDER BY e.position LIMIT $2",
			 2, types, values, 1);
	return (Datum) 0;
}
