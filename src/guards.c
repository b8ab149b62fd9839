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
	/* A superuser who means to destroy the store may empty it (ddl_guard.c). */
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) && es_allow_destroy)
		return PointerGetDatum(NULL);
	/* The one DELETE statement of a lifecycle function (delete_permit.c). */
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) && es_take_delete_permit())
		return PointerGetDatum(NULL);
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

/*
 * BEFORE TRUNCATE ... FOR EACH STATEMENT on the store's other tables
 * (snapshots, checkpoints): a checkpoint cannot be rebuilt from the events,
 * so emptying these tables wholesale is refused like dropping them.
 */
PG_FUNCTION_INFO_V1(es_forbid_truncate);
Datum
es_forbid_truncate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("es_forbid_truncate must be called as a trigger")));
	if (!es_allow_destroy)
		ereport(ERROR,
				(errcode(ERRCODE_ES_STORE_PROTECTED),
				 errmsg("cannot truncate table \"%s\" of the event store",
						RelationGetRelationName(trigdata->tg_relation)),
				 errhint("If destroying the store is intended, a superuser can "
						 "SET eventstore.allow_destroy = on first.")));
	return PointerGetDatum(NULL);	/* statement trigger: no tuple */
}
