/*-------------------------------------------------------------------------
 *
 * archive_schema.c
 *	  Where archived partitions live, and who may drop them: schema
 *	  eventstore_archive of the partitioned layout (docs/partitioning.md,
 *	  "Archival").
 *
 * The store relies on the archive schema as it relies on its own: archived
 * events are history that only the store may remove (an erasure,
 * archive_erase.c).  So the schema must be the store's: created by the
 * extension's script (05_layout.sql), which makes it a member of the
 * extension, owned by the superuser who ran the script.  A schema of that
 * name made by anyone else (a role with CREATE on the database made it
 * before the first archival, issue 21) would let its owner drop every
 * archive in it: es_archive_events and es_erase_stream refuse it (ES013).
 *
 * The DDL guard (ddl_guard.c) asks here about every DROP and ALTER TABLE:
 * DROP TABLE of an archive holding events, DROP SCHEMA eventstore_archive
 * while one does, and switching an archive's triggers off are refused
 * (ES005) unless a superuser set eventstore.allow_destroy;
 * then the drop is written to eventstore.lifecycle_log, action
 * "drop_archive", with the number of events it removes.
 *
 * Locks: an archive about to be dropped is locked in the mode the DROP
 * takes (AccessExclusiveLock) before it is looked at, so the rows counted
 * are the rows dropped.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#define ES_ARCHIVE_SCHEMA "eventstore_archive"

/* The owner of a schema. */
static Oid
namespace_owner(Oid nspid)
{
	HeapTuple	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for schema %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* Whether a schema was created by the extension's script (is a member). */
static bool
is_member_of_store(Oid nspid)
{
	Oid			ext = get_extension_oid("eventstore", true);

	return OidIsValid(ext) &&
		getExtensionOfObject(NamespaceRelationId, nspid) == ext;
}

/*
 * The store's archive schema: InvalidOid when there is none and missing_ok.
 * ES013 when it is missing (and must be there), or is not the store's: not
 * a member of the extension, or owned by a role that is not a superuser
 * (who could drop what is in it).
 */
Oid
es_archive_namespace(bool missing_ok)
{
	Oid			nspid = get_namespace_oid(ES_ARCHIVE_SCHEMA, true);
	Oid			owner;

	if (!OidIsValid(nspid))
	{
		if (missing_ok)
			return InvalidOid;
		ereport(ERROR,
				(errcode(ERRCODE_ES_ARCHIVE_SCHEMA),
				 errmsg("schema \"%s\" does not exist", ES_ARCHIVE_SCHEMA),
				 errdetail("A partitioned store creates it with the extension and archives nowhere else."),
				 errhint("A superuser can make it again: CREATE SCHEMA %s; REVOKE ALL ON SCHEMA %s "
						 "FROM PUBLIC; ALTER EXTENSION eventstore ADD SCHEMA %s;",
						 ES_ARCHIVE_SCHEMA, ES_ARCHIVE_SCHEMA, ES_ARCHIVE_SCHEMA)));
	}
	if (!is_member_of_store(nspid))
		ereport(ERROR,
				(errcode(ERRCODE_ES_ARCHIVE_SCHEMA),
				 errmsg("schema \"%s\" is not the event store's", ES_ARCHIVE_SCHEMA),
				 errdetail("It is not part of extension eventstore: role \"%s\" made it, and could drop the archives put in it.",
						   GetUserNameFromId(namespace_owner(nspid), false)),
				 errhint("Move its tables elsewhere and drop it; then a superuser can make it as the store's: "
						 "CREATE SCHEMA %s; REVOKE ALL ON SCHEMA %s FROM PUBLIC; ALTER EXTENSION eventstore ADD SCHEMA %s;",
						 ES_ARCHIVE_SCHEMA, ES_ARCHIVE_SCHEMA, ES_ARCHIVE_SCHEMA)));
	owner = namespace_owner(nspid);
	if (!superuser_arg(owner))
		ereport(ERROR,
				(errcode(ERRCODE_ES_ARCHIVE_SCHEMA),
				 errmsg("schema \"%s\" is not the event store's", ES_ARCHIVE_SCHEMA),
				 errdetail("It is owned by role \"%s\", which is not a superuser and could drop the archives in it.",
						   GetUserNameFromId(owner, false)),
				 errhint("A superuser can give it back: ALTER SCHEMA %s OWNER TO the superuser who owns schema eventstore.",
						 ES_ARCHIVE_SCHEMA)));
	return nspid;
}

/* es_require_archive_schema(): ES013 unless the archive schema is the store's. */
PG_FUNCTION_INFO_V1(es_require_archive_schema);
Datum
es_require_archive_schema(PG_FUNCTION_ARGS)
{
	(void) es_archive_namespace(false);
	PG_RETURN_VOID();
}

/* The store's archive schema for the guard: InvalidOid unless it is a member. */
static Oid
guarded_namespace(void)
{
	Oid			nspid = get_namespace_oid(ES_ARCHIVE_SCHEMA, true);

	return OidIsValid(nspid) && is_member_of_store(nspid) ? nspid : InvalidOid;
}

/* Every table in a schema (the archive schema: here and archive_erase.c). */
List *
es_tables_in_schema(Oid nspid)
{
	List	   *result = NIL;
	Relation	pg_class = table_open(RelationRelationId, AccessShareLock);
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;

	ScanKeyInit(&key, Anum_pg_class_relnamespace, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(nspid));
	scan = systable_beginscan(pg_class, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);

		if (form->relkind == RELKIND_RELATION)
			result = lappend_oid(result, form->oid);
	}
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);
	return result;
}

/* Whether a table has a row visible to a fresh snapshot (read as the heap, without privileges). */
static bool
has_rows(Oid relid)
{
	Relation	rel = table_open(relid, NoLock);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found = table_scan_getnextslot(scan, ForwardScanDirection, slot);

	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	return found;
}

/* The audit row of an archive a superuser drops with eventstore.allow_destroy. */
static void
audit_drop(Oid relid)
{
	char	   *name = quote_qualified_identifier(ES_ARCHIVE_SCHEMA, get_rel_name(relid));
	StringInfoData detail;
	bool		isnull;
	int64		events;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(psprintf("SELECT pg_catalog.count(*) FROM %s", name), true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count the events of archive %s", name);
	events = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"table\": ");
	escape_json(&detail, psprintf("%s.%s", ES_ARCHIVE_SCHEMA, get_rel_name(relid)));
	appendStringInfo(&detail, ", \"events\": " INT64_FORMAT "}", events);
	es_lifecycle_audit("drop_archive", NULL, NULL, NULL, detail.data, NULL);
	SPI_finish();
}

/* Refuse, or audit, the drop of one archive table. */
static void
guard_archive(Oid relid)
{
	LockRelationOid(relid, AccessExclusiveLock);
	if (es_allow_destroy)
	{
		audit_drop(relid);
		return;
	}
	if (has_rows(relid))
		ereport(ERROR,
				(errcode(ERRCODE_ES_STORE_PROTECTED),
				 errmsg("cannot drop archive \"%s.%s\" of the event store while it holds events",
						ES_ARCHIVE_SCHEMA, get_rel_name(relid)),
				 errdetail("Archived events are history the store keeps; only an erasure removes some of them."),
				 errhint("If destroying the archive is intended (after pg_dump -t saved it), a superuser can "
						 "SET eventstore.allow_destroy = on first; the drop is then recorded in "
						 "eventstore.lifecycle_log.")));
}

/*
 * ALTER TABLE on an archive that changes when its triggers fire: refused
 * like on the store's tables (ddl_guard.c), so that an archive stays
 * immutable; only ENABLE ALWAYS is allowed.
 */
static void
guard_archive_triggers(AlterTableStmt *stmt, Oid nspid)
{
	Oid			relid;
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE || es_allow_destroy)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) || get_rel_namespace(relid) != nspid)
		return;
	foreach(lc, stmt->cmds)
	{
		switch (lfirst_node(AlterTableCmd, lc)->subtype)
		{
			case AT_EnableTrigAll:
			case AT_DisableTrigAll:
			case AT_EnableTrigUser:
			case AT_DisableTrigUser:
			case AT_EnableTrig:
			case AT_EnableReplicaTrig:
			case AT_DisableTrig:
				ereport(ERROR,
						(errcode(ERRCODE_ES_STORE_PROTECTED),
						 errmsg("cannot change when the triggers of archive \"%s.%s\" fire",
								ES_ARCHIVE_SCHEMA, get_rel_name(relid)),
						 errdetail("They keep archived events immutable; only ENABLE ALWAYS TRIGGER is allowed."),
						 errhint("If destroying the archive is intended, a superuser can "
								 "SET eventstore.allow_destroy = on first.")));
				break;
			default:
				break;
		}
	}
}

/*
 * Called by the DDL guard for every DROP and ALTER TABLE: DROP TABLE of an
 * archive, DROP SCHEMA of the archive schema (every archive in it), and
 * switching an archive's triggers.
 */
void
es_guard_archive_ddl(Node *parsetree)
{
	DropStmt   *stmt;
	Oid			nspid;
	ListCell   *lc;

	if (!IsA(parsetree, DropStmt) && !IsA(parsetree, AlterTableStmt))
		return;
	nspid = guarded_namespace();
	if (!OidIsValid(nspid))
		return;
	if (IsA(parsetree, AlterTableStmt))
	{
		guard_archive_triggers((AlterTableStmt *) parsetree, nspid);
		return;
	}
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType != OBJECT_TABLE && stmt->removeType != OBJECT_SCHEMA)
		return;
	foreach(lc, stmt->objects)
	{
		Node	   *object = lfirst(lc);

		if (stmt->removeType == OBJECT_SCHEMA)
		{
			ListCell   *t;
			List	   *tables;

			if (strcmp(strVal(object), ES_ARCHIVE_SCHEMA) != 0)
				continue;
			tables = es_tables_in_schema(nspid);
			foreach(t, tables)
				guard_archive(lfirst_oid(t));
		}
		else
		{
			Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(castNode(List, object)),
												 NoLock, true);

			if (OidIsValid(relid) && get_rel_namespace(relid) == nspid &&
				get_rel_relkind(relid) == RELKIND_RELATION)
				guard_archive(relid);
		}
	}
}
