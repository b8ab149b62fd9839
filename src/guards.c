/*-------------------------------------------------------------------------
 *
 * guards.c
 *	  Trigger functions that keep stored events immutable, and notice rows
 *	  that arrive by another path than es_append.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "commands/trigger.h"

/* BEFORE UPDATE OR DELETE OR TRUNCATE ... FOR EACH STATEMENT */
PG_FUNCTION_INFO_V1(es_forbid_change);
Datum
es_forbid_change(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *what = "change";

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("es_forbid_change must be called as a trigger")));
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		what = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		what = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		what = "TRUNCATE";
	ereport(ERROR,
			(errcode(ERRCODE_ES_IMMUTABLE),
			 errmsg("stored events are immutable"),
			 errdetail("%s on table \"%s\" is not allowed.", what,
					   RelationGetRelationName(trigdata->tg_relation)),
			 errhint("Events can only be appended with es_append.")));
	return PointerGetDatum(NULL);	/* statement trigger: no tuple */
}

/*
 * BEFORE INSERT ... FOR EACH STATEMENT: rows inserted by anything but
 * es_append (a restore, a data copy) may carry positions the shared counter
 * has not seen, so make the next append reread max(position).  es_append's
 * own rows do not fire statement triggers (event_insert.c).
 */
PG_FUNCTION_INFO_V1(es_note_insert);
Datum
es_note_insert(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("es_note_insert must be called as a trigger")));
	es_note_direct_insert();
	return PointerGetDatum(NULL);	/* statement trigger: no tuple */
}
