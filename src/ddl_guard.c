/*-------------------------------------------------------------------------
 *
 * ddl_guard.c
 *	  Refuse DDL that would destroy a store holding data: DROP EXTENSION
 *	  eventstore, DROP SCHEMA eventstore, DROP TABLE of a store table, DROP
 *	  OWNED BY the store's owner, and switching the store's own triggers off.
 *
 * Why an event trigger: it fires with and without shared_preload_libraries,
 * it fires for the extension's own DROP EXTENSION (ddl_command_start runs
 * before anything is dropped, so the trigger still exists), and, written in
 * C, it can read the statement's parse tree and so tell "DROP EXTENSION
 * eventstore" from the drop of any other extension.  An sql_drop trigger
 * could not: it does not fire when its own extension is dropped
 * (docs/releasing.md, "No silent loss by DDL").
 *
 * The store's tables are every table in the extension's schema.  The store
 * "holds data" when any of them has a row.  An empty store may be dropped:
 * nothing is lost.  Switching the store's own triggers off (DISABLE
 * TRIGGER, or ENABLE/ENABLE REPLICA, which let session_replication_role
 * skip them) is refused even on an empty store: it would open the store to
 * later deletes.  A superuser who means it sets eventstore.allow_destroy.
 * The archives of the partitioned layout (schema eventstore_archive) are
 * guarded the same way, by archive_schema.c, which also writes the audit
 * row of an archive dropped with allow_destroy.
 *
 * Locks: before looking for rows, every store table is locked in the mode
 * the DROP itself will take (AccessExclusiveLock), so an append that
 * commits while the check runs is seen; the DROP then takes the same lock
 * again, which is free.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_trigger.h"
#include "commands/event_trigger.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#define ES_EXTENSION_NAME "eventstore"

/* The schema and the owner of the installed extension; InvalidOid when absent. */
static Oid
store_schema(Oid *owner)
{
	Relation	pg_extension;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	Oid			nspid = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(ES_EXTENSION_NAME));
	pg_extension = table_open(ExtensionRelationId, AccessShareLock);
	scan = systable_beginscan(pg_extension, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		nspid = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
		if (owner)
			*owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	}
	systable_endscan(scan);
	table_close(pg_extension, AccessShareLock);
	return nspid;
}

/* Every table (plain or partitioned) in the store's schema. */
static List *
store_tables(Oid nspid)
{
	List	   *result = NIL;
	Relation	pg_class;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;

	ScanKeyInit(&key, Anum_pg_class_relnamespace, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(nspid));
	pg_class = table_open(RelationRelationId, AccessShareLock);
	scan = systable_beginscan(pg_class, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);

		if (form->relkind == RELKIND_RELATION ||
			form->relkind == RELKIND_PARTITIONED_TABLE)
			result = lappend_oid(result, form->oid);
	}
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);
	return result;
}

/*
 * Whether a table, or any of its partitions, has a row visible to a fresh
 * snapshot.  Reads the heap directly: the role running the DDL need not
 * have SELECT on the store's tables (a trusted install's owner has not).
 */
static bool
table_has_rows(Oid relid, Snapshot snapshot)
{
	List	   *rels = find_all_inheritors(relid, AccessExclusiveLock, NULL);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, rels)
	{
		Relation	rel = table_open(lfirst_oid(lc), NoLock);

		if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
		{
			TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
			TupleTableSlot *slot = table_slot_create(rel, NULL);

			found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
			ExecDropSingleTupleTableSlot(slot);
			table_endscan(scan);
		}
		table_close(rel, NoLock);
		if (found)
			break;
	}
	return found;
}

/* The first store table that holds a row, or InvalidOid.  Locks them all. */
static Oid
store_table_with_rows(Oid nspid)
{
	List	   *tables = store_tables(nspid);
	ListCell   *lc;
	Snapshot	snapshot;
	Oid			result = InvalidOid;

	foreach(lc, tables)
		LockRelationOid(lfirst_oid(lc), AccessExclusiveLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	foreach(lc, tables)
	{
		if (table_has_rows(lfirst_oid(lc), snapshot))
		{
			result = lfirst_oid(lc);
			break;
		}
	}
	UnregisterSnapshot(snapshot);
	return result;
}

/* Ensure the store is empty before a statement that would drop it. */
static void
refuse_if_store_holds_data(Oid nspid, const char *what)
{
	Oid			relid = store_table_with_rows(nspid);

	if (OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_ES_STORE_PROTECTED),
				 errmsg("cannot %s while the event store holds data", what),
				 errdetail("Table \"%s.%s\" has rows; they would be deleted.",
						   get_namespace_name(nspid), get_rel_name(relid)),
				 errhint("If destroying the store is intended, a superuser can "
						 "SET eventstore.allow_destroy = on first.")));
}

/* Whether a possibly qualified table name refers to a table of the store. */
static bool
names_store_table(List *names, Oid nspid)
{
	RangeVar   *rv = makeRangeVarFromNameList(names);
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);

	return OidIsValid(relid) && get_rel_namespace(relid) == nspid;
}

static void
check_drop(DropStmt *stmt, Oid nspid)
{
	ListCell   *lc;
	const char *nspname = get_namespace_name(nspid);

	foreach(lc, stmt->objects)
	{
		Node	   *object = lfirst(lc);

		switch (stmt->removeType)
		{
			case OBJECT_EXTENSION:
				if (strcmp(strVal(object), ES_EXTENSION_NAME) == 0)
					refuse_if_store_holds_data(nspid, "drop extension \"eventstore\"");
				break;
			case OBJECT_SCHEMA:
				if (strcmp(strVal(object), nspname) == 0)
					refuse_if_store_holds_data(nspid, psprintf("drop schema \"%s\"", nspname));
				break;
			case OBJECT_TABLE:
				if (names_store_table(castNode(List, object), nspid))
					refuse_if_store_holds_data(nspid, "drop a table of the event store");
				break;
			default:
				break;
		}
	}
}

/* DROP OWNED BY the owner of the extension or of its schema drops the store. */
static void
check_drop_owned(DropOwnedStmt *stmt, Oid nspid)
{
	Oid			extowner = InvalidOid;
	HeapTuple	tuple;
	Oid			nspowner;
	ListCell   *lc;

	store_schema(&extowner);
	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tuple))
		return;
	nspowner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
	ReleaseSysCache(tuple);

	foreach(lc, stmt->roles)
	{
		Oid			roleid = get_rolespec_oid(lfirst(lc), true);

		if (OidIsValid(roleid) && (roleid == extowner || roleid == nspowner))
			refuse_if_store_holds_data(nspid, "drop the objects owned by the event store's owner");
	}
}

/* Whether the trigger of that name on a store table calls a function of the store. */
static bool
is_store_trigger(Oid relid, const char *name, Oid nspid)
{
	Relation	pg_trigger;
	SysScanDesc scan;
	ScanKeyData keys[2];
	HeapTuple	tuple;
	bool		result = false;

	ScanKeyInit(&keys[0], Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&keys[1], Anum_pg_trigger_tgname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(name));
	pg_trigger = table_open(TriggerRelationId, AccessShareLock);
	scan = systable_beginscan(pg_trigger, TriggerRelidNameIndexId, true, NULL, 2, keys);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		result = get_func_namespace(((Form_pg_trigger) GETSTRUCT(tuple))->tgfoid) == nspid;
	systable_endscan(scan);
	table_close(pg_trigger, AccessShareLock);
	return result;
}

/* ALTER TABLE on a store table that changes when the store's triggers fire. */
static void
check_alter_table(AlterTableStmt *stmt, Oid nspid)
{
	ListCell   *lc;
	Oid			relid;

	if (stmt->objtype != OBJECT_TABLE)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) || get_rel_namespace(relid) != nspid)
		return;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		bool		all = false;

		switch (cmd->subtype)
		{
			case AT_EnableTrigAll:
			case AT_DisableTrigAll:
			case AT_EnableTrigUser:
			case AT_DisableTrigUser:
				all = true;
				/* FALLTHROUGH */
			case AT_EnableTrig:
			case AT_EnableReplicaTrig:
			case AT_DisableTrig:
				/* Users may switch their own triggers; the store's are its guarantees. */
				if (all || is_store_trigger(relid, cmd->name, nspid))
					ereport(ERROR,
							(errcode(ERRCODE_ES_STORE_PROTECTED),
							 errmsg("cannot change when the triggers of the event store fire"),
							 errdetail("The triggers of table \"%s\" keep stored events immutable; "
									   "only ENABLE ALWAYS TRIGGER is allowed.",
									   get_rel_name(relid)),
							 errhint("If destroying the store is intended, a superuser can "
									 "SET eventstore.allow_destroy = on first.")));
				break;
			case AT_DetachPartition:
				{
					/* A detached partition's events leave every read and the feed. */
					PartitionCmd *pc = castNode(PartitionCmd, cmd->def);
					Oid			part = RangeVarGetRelid(pc->name, NoLock, true);

					if (OidIsValid(part) && table_has_rows(part, GetLatestSnapshot()))
						ereport(ERROR,
								(errcode(ERRCODE_ES_STORE_PROTECTED),
								 errmsg("cannot detach partition \"%s\" of the event store while it holds events",
										get_rel_name(part)),
								 errdetail("Its events would leave every stream read and the global feed."),
								 errhint("If destroying the store is intended, a superuser can "
										 "SET eventstore.allow_destroy = on first.")));
					break;
				}
			default:
				break;
		}
	}
}

/*
 * Event trigger ON ddl_command_start WHEN TAG IN ('DROP EXTENSION', 'DROP
 * SCHEMA', 'DROP TABLE', 'DROP OWNED', 'ALTER TABLE').
 */
PG_FUNCTION_INFO_V1(es_guard_ddl);
Datum
es_guard_ddl(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Oid			nspid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("es_guard_ddl must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (trigdata->parsetree == NULL)
		PG_RETURN_VOID();
	/* Archives: refused, or with allow_destroy audited (archive_schema.c). */
	es_guard_archive_ddl(trigdata->parsetree);
	if (es_allow_destroy)
		PG_RETURN_VOID();
	nspid = store_schema(NULL);
	if (!OidIsValid(nspid))
		PG_RETURN_VOID();

	switch (nodeTag(trigdata->parsetree))
	{
		case T_DropStmt:
			check_drop((DropStmt *) trigdata->parsetree, nspid);
			break;
		case T_DropOwnedStmt:
			check_drop_owned((DropOwnedStmt *) trigdata->parsetree, nspid);
			break;
		case T_AlterTableStmt:
			check_alter_table((AlterTableStmt *) trigdata->parsetree, nspid);
			break;
		default:
			break;
	}
	PG_RETURN_VOID();
}
