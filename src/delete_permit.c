/*-------------------------------------------------------------------------
 *
 * delete_permit.c
 *	  The one-shot permit that lets a lifecycle function's own DELETE pass
 *	  the immutability trigger.
 *
 * events_immutable (guards.c) refuses every DELETE on eventstore.events.  A
 * function that must delete a stream's events (lifecycle.c, retention.c,
 * archive_erase.c) runs its DELETE statement through es_run_permitted_delete,
 * which grants the permit just before the statement; the trigger, which
 * fires once per statement, takes it (es_take_delete_permit), and the permit
 * is cleared whatever happens when the statement ends.  No SQL can set it; a
 * DELETE nested inside ours (a user's row trigger) finds it taken.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "executor/spi.h"

/* Set just before a lifecycle DELETE on the events; taken by the trigger. */
static bool delete_permit = false;

/* The trigger asks: is this DELETE a lifecycle function's own?  One use. */
bool
es_take_delete_permit(void)
{
	bool		permitted = delete_permit;

	delete_permit = false;
	return permitted;
}

/*
 * The (count, max(position)) row of a delete that just ran: returns the
 * count and sets *max_position (0 when nothing was deleted).
 */
static uint64
deleted_rows(Datum *max_position)
{
	bool		isnull;
	int64		n;

	if (SPI_processed != 1)
		elog(ERROR, "a lifecycle delete returned no count");
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*max_position = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		*max_position = Int64GetDatum(0);
	return (uint64) n;
}

/*
 * Run a lifecycle plan whose statement deletes from eventstore.events, with
 * the permit, and read its (count, max(position)) row: returns the count and
 * sets *max_position (0 when nothing was deleted).
 */
uint64
es_run_permitted_delete(SPIPlanPtr plan, Datum *values, Datum *max_position)
{
	int			rc;

	delete_permit = true;
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		delete_permit = false;
	}
	PG_END_TRY();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "a lifecycle delete failed");
	return deleted_rows(max_position);
}
