/*-------------------------------------------------------------------------
 *
 * archive_erase.c
 *	  An erasure (es_erase_stream, lifecycle.c) reaches the archives: the
 *	  stream's events are deleted from every table of the store's archive
 *	  schema (archive_schema.c), and their ids leave eventstore.event_ids.
 *
 * Why: an archive is a copy of events that the store made and keeps; an
 * erasure for data protection that left it would leave the personal data
 * in the database (issue 21, item 7).  Archived tables carry the
 * immutability trigger of the partition they were (es_forbid_change), so
 * each DELETE here passes it the way the lifecycle functions pass it on
 * eventstore.events: with the one-shot permit of es_run_permitted_delete,
 * one statement per table.
 *
 * Which tables: those of the archive schema itself, read from pg_class;
 * never the names in eventstore.archives, which is dumped data (a restore
 * could carry any text there).  Only tables with the events' stream and
 * event_id columns are archives; one not owned by a superuser is refused
 * (ES013): its owner could have put a trigger on it that would run here
 * with the rights of this SECURITY DEFINER function.
 *
 * Locks: RowExclusiveLock on each archive table, as any DELETE takes.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

static int
by_name(const ListCell *a, const ListCell *b)
{
	return strcmp(get_rel_name(lfirst_oid(a)), get_rel_name(lfirst_oid(b)));
}

/* The tables of the archive schema, in name order (the audit row's order). */
static List *
archive_tables(Oid nspid)
{
	List	   *result = es_tables_in_schema(nspid);

	list_sort(result, by_name);
	return result;
}

/* Whether a table has the columns an archive of events has. */
static bool
has_event_columns(Oid relid)
{
	return get_attnum(relid, "stream") != InvalidAttrNumber &&
		get_atttype(relid, get_attnum(relid, "stream")) == TEXTOID &&
		get_attnum(relid, "event_id") != InvalidAttrNumber &&
		get_atttype(relid, get_attnum(relid, "event_id")) == UUIDOID &&
		get_attnum(relid, "position") != InvalidAttrNumber;
}

/* ES013 unless a superuser owns the table (nobody else could add a trigger to it). */
static void
require_store_owned(Oid relid, const char *name)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	if (!superuser_arg(owner))
		ereport(ERROR,
				(errcode(ERRCODE_ES_ARCHIVE_SCHEMA),
				 errmsg("archive %s is not the event store's", name),
				 errdetail("It is owned by role \"%s\", which is not a superuser; the erasure "
						   "would run that role's triggers with a superuser's rights.",
						   GetUserNameFromId(owner, false)),
				 errhint("A superuser can give it back to the owner of the other archives, then erase again.")));
}

static SPIPlanPtr recount_plan = NULL;

/* eventstore.archives counts what each archive holds: n fewer now. */
static void
recount(const char *table_name, uint64 n)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	es_kept_plan(&recount_plan,
				 "UPDATE eventstore.archives SET events = events OPERATOR(pg_catalog.-) $2"
				 " WHERE table_name OPERATOR(pg_catalog.=) $1", 2, types);
	values[0] = CStringGetTextDatum(table_name);
	values[1] = Int64GetDatum((int64) n);
	if (SPI_execute_plan(recount_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update eventstore.archives");
}

/*
 * Erase a stream's events from every archive, with the caller connected to
 * SPI.  Returns how many were removed, and appends to *where one
 * "table": count member per archive that held some (a JSON object's
 * members, comma-separated); -1 for the plain layout, which archives
 * nothing (a schema of that name there is not the store's business: it
 * must not stop an erasure).  0 for a partitioned store that has no
 * archive schema any more.
 */
int64
es_erase_archived_events(text *stream, StringInfo where)
{
	Oid			nspid;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	List	   *tables;
	ListCell   *lc;
	int64		total = 0;

	if (!OidIsValid(es_event_ids_relid()))
		return -1;
	nspid = es_archive_namespace(true);
	if (!OidIsValid(nspid))
		return 0;
	tables = archive_tables(nspid);
	values[0] = PointerGetDatum(stream);
	foreach(lc, tables)
	{
		Oid			relid = lfirst_oid(lc);
		const char *relname = get_rel_name(relid);
		char	   *name = quote_qualified_identifier(get_namespace_name(nspid), relname);
		SPIPlanPtr	plan;
		Datum		max_position;
		uint64		n;

		if (!has_event_columns(relid))
			continue;
		require_store_owned(relid, name);
		/* Built from catalogue names, quoted; the stream is a parameter. */
		plan = SPI_prepare(psprintf("WITH gone AS ("
									"  DELETE FROM %s"
									"  WHERE stream OPERATOR(pg_catalog.=) $1"
									"  RETURNING event_id, position),"
									" ids AS ("
									"  DELETE FROM eventstore.event_ids i USING gone g"
									"  WHERE i.event_id OPERATOR(pg_catalog.=) g.event_id)"
									" SELECT pg_catalog.count(*), pg_catalog.max(position) FROM gone",
									name), 1, types);
		if (plan == NULL)
			elog(ERROR, "could not prepare the erasure of archive %s", name);
		n = es_run_permitted_delete(plan, values, &max_position);
		SPI_freeplan(plan);
		if (n == 0)
			continue;
		recount(psprintf("%s.%s", get_namespace_name(nspid), relname), n);
		if (total > 0)
			appendStringInfoString(where, ", ");
		escape_json(where, psprintf("%s.%s", get_namespace_name(nspid), relname));
		appendStringInfo(where, ": " UINT64_FORMAT, n);
		total += (int64) n;
	}
	return total;
}
