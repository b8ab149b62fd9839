/*-------------------------------------------------------------------------
 *
 * spi_plan.c
 *	  Plans prepared once per backend and kept for its lifetime.
 *
 * Every SPI statement of the extension is prepared on first use and kept
 * (SPI_keepplan), so a call pays neither parsing nor planning; the plan
 * cache replans by itself after DDL.  Statements schema-qualify every name,
 * operators included, so a caller's search_path cannot change their meaning.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "executor/spi.h"
#include "utils/inval.h"

/* The plan kept in *slot, prepared from sql on first use.  Caller is connected to SPI. */
SPIPlanPtr
es_kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*slot = plan;
	}
	/*
	 * Partitioned layout: a partition attached by another transaction since
	 * this one took its lock on eventstore.events is known only after its
	 * invalidation is read; a plan executed without it would miss the
	 * partition's rows (a stale version read, a feed page with a hole).
	 * Work in progress (docs/partitioning.md, "Status").
	 */
	AcceptInvalidationMessages();
	return *slot;
}
