/*-------------------------------------------------------------------------
 *
 * grants.c
 *	  Who may write which handler's checkpoint and lock, and which streams'
 *	  snapshots: the store's own grants (eventstore.grants).
 *
 * EXECUTE on es_advance_position, es_lock_handler and es_snapshot only says
 * that a role is a writer.  Without more, every writer could move any
 * handler's checkpoint to the end of the feed, hold any handler's lock, or
 * overwrite any snapshot: one service could destroy another's projections.
 * So those functions also ask here whether the calling role holds a grant:
 *
 *	handler   a row (grantee, 'handler', prefix): the handlers whose names
 *			  start with prefix ('' = every handler);
 *	category  a row (grantee, 'category', category): snapshots of the
 *			  streams of that category ('' = every category).
 *
 * The calling role is the session's current role outside any function
 * (GetOuterUserId: the session user, or the role chosen with SET ROLE).
 * Inside our SECURITY DEFINER functions the current user is the store's
 * owner, and the role of an application's own SECURITY DEFINER function that
 * calls us is not visible either; docs/security.md says so.  A grant to a
 * role covers its members that inherit its privileges (pg_has_role USAGE).
 * Superusers, and members of the extension's owner (the role that installed
 * the store, which may grant itself anything anyway), need no row.
 *
 * With the 1.0 SQL installed (the new library before ALTER EXTENSION UPDATE)
 * there is no grants table and every writer may do everything, as in 1.0.
 *
 * Cost: a superuser or owner check (role caches), then one query over the
 * small grants table per call, on the checkpoint and snapshot paths only;
 * appends and reads are not checked.  The query reads pg_authid (the
 * functions run as the store's owner, a superuser) rather than pg_roles,
 * which would add a join to pg_db_role_setting.
 *
 * Locks: none of its own; the probe reads the table with the statement's
 * snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

static SPIPlanPtr handler_plan = NULL;
static SPIPlanPtr category_plan = NULL;

/* The extension's owner, looked up once per transaction. */
static Oid	owner_cache = InvalidOid;
static LocalTransactionId owner_cache_lxid = InvalidLocalTransactionId;

static Oid
extension_owner(void)
{
	Oid			ext;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (owner_cache_lxid == es_my_local_xid())
		return owner_cache;
	owner_cache = InvalidOid;
	ext = get_extension_oid("eventstore", true);
	if (OidIsValid(ext))
	{
		rel = table_open(ExtensionRelationId, AccessShareLock);
		ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(ext));
		scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
		tup = systable_getnext(scan);
		if (HeapTupleIsValid(tup))
			owner_cache = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	owner_cache_lxid = es_my_local_xid();
	return owner_cache;
}

/*
 * Whether `role` holds a grant covering `name` (a handler name or a
 * category): the kept plan `sql` says which kind.
 */
static bool
has_grant(SPIPlanPtr *plan, const char *sql, Oid role, text *name)
{
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	es_kept_plan(plan, sql, 2, types);
	values[0] = ObjectIdGetDatum(role);
	values[1] = PointerGetDatum(name);
	if (SPI_execute_plan(*plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read eventstore.grants");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * Whether the calling role needs no grant: a superuser, a member of the
 * extension's owner, or any role while the 1.0 SQL (no grants table) is
 * installed.
 */
static bool
caller_unrestricted(Oid role)
{
	Oid			owner;

	if (superuser_arg(role))
		return true;
	owner = extension_owner();
	if (OidIsValid(owner) && has_privs_of_role(role, owner))
		return true;
	return !OidIsValid(get_relname_relid("grants",
										 get_namespace_oid("eventstore", false)));
}

/* Ensure the calling role may advance, or lock, the handler. */
void
es_check_handler_grant(text *handler)
{
	Oid			role = GetOuterUserId();
	bool		ok;

	if (caller_unrestricted(role))
		return;
	ok = has_grant(&handler_plan,
				   "SELECT 1 FROM eventstore.grants g"
				   " JOIN pg_catalog.pg_authid r ON r.rolname OPERATOR(pg_catalog.=) g.grantee"
				   " WHERE g.kind OPERATOR(pg_catalog.=) 'handler'"
				   " AND pg_catalog.starts_with($2, g.name)"
				   " AND pg_catalog.pg_has_role($1, r.oid, 'USAGE') LIMIT 1",
				   role, handler);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for handler \"%s\"", text_to_cstring(handler)),
				 errdetail("Role \"%s\" holds no handler grant whose prefix covers this handler.",
						   GetUserNameFromId(role, false)),
				 errhint("The extension's owner or a superuser can grant it with es_grant_handler.")));
}

/* Ensure the calling role may save snapshots of the stream. */
void
es_check_category_grant(text *stream)
{
	Oid			role = GetOuterUserId();
	text	   *category;
	bool		ok;

	if (caller_unrestricted(role))
		return;
	category = es_category_of(stream);
	ok = has_grant(&category_plan,
				   "SELECT 1 FROM eventstore.grants g"
				   " JOIN pg_catalog.pg_authid r ON r.rolname OPERATOR(pg_catalog.=) g.grantee"
				   " WHERE g.kind OPERATOR(pg_catalog.=) 'category'"
				   " AND g.name OPERATOR(pg_catalog.=) ANY (ARRAY['', $2])"
				   " AND pg_catalog.pg_has_role($1, r.oid, 'USAGE') LIMIT 1",
				   role, category);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for snapshots of stream \"%s\"",
						text_to_cstring(stream)),
				 errdetail("Role \"%s\" holds no grant for category \"%s\".",
						   GetUserNameFromId(role, false), text_to_cstring(category)),
				 errhint("The extension's owner or a superuser can grant it with es_grant_category.")));
}
