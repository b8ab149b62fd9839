/*-------------------------------------------------------------------------
 *
 * store_functions.c
 *	  Which functions may run with the store's superuser rights
 *	  (src/sql/86_table_additions.sql; docs/operations.md, "What users add
 *	  to the store's tables").
 *
 * The store's writing functions are SECURITY DEFINER, owned by the
 * superuser that installed the store, and triggers, index expressions,
 * constraints and defaults on its tables run inside them: with those rights
 * and with the caller's search_path.  So a function used there must be one
 * that no non-superuser can change, and whose body the caller's search_path
 * cannot redirect: owned by a superuser, and written in C or internal, or
 * in pg_catalog, or a SQL function with a standard body (BEGIN ATOMIC,
 * resolved when it was created), or one that sets search_path itself.
 * The event trigger of 86_table_additions.sql refuses DDL that breaks this
 * rule, and a restore recreates no trigger whose function breaks it.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/htup_details.h"
#include "catalog/pg_language.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

/* Whether a function sets search_path itself (SET search_path = ...). */
static bool
sets_search_path(HeapTuple proctup)
{
	bool		isnull;
	Datum		config = SysCacheGetAttr(PROCOID, proctup, Anum_pg_proc_proconfig, &isnull);
	Datum	   *items;
	int			n;

	if (isnull)
		return false;
	deconstruct_array(DatumGetArrayTypeP(config), TEXTOID, -1, false, TYPALIGN_INT,
					  &items, NULL, &n);
	for (int i = 0; i < n; i++)
		if (strncmp(TextDatumGetCString(items[i]), "search_path=", 12) == 0)
			return true;
	return false;
}

/*
 * Why a function must not run with the store's superuser rights; NULL when
 * it may (the header says when).  Also used by src/table_additions.c.
 */
char *
es_function_run_problem(Oid funcid)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	Form_pg_proc proc;
	char	   *problem = NULL;

	if (!HeapTupleIsValid(tup))
		return psprintf("function %u does not exist", funcid);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (!superuser_arg(proc->proowner))
	{
		char	   *owner = GetUserNameFromId(proc->proowner, true);

		problem = psprintf("function %s is owned by role \"%s\", which is not a superuser",
						   format_procedure(funcid), owner ? owner : "?");
	}
	else if (proc->pronamespace != PG_CATALOG_NAMESPACE &&
			 proc->prolang != ClanguageId && proc->prolang != INTERNALlanguageId &&
			 heap_attisnull(tup, Anum_pg_proc_prosqlbody, NULL) &&
			 !sets_search_path(tup))
		problem = psprintf("function %s does not set search_path, so the caller's search_path would choose what it runs",
						   format_procedure(funcid));
	ReleaseSysCache(tup);
	return problem;
}

PG_FUNCTION_INFO_V1(es_function_problem);

/*
 * es_function_problem(oid) -> text: why this function must not run with
 * the store's superuser rights (as a trigger, in an index or a constraint
 * of a store table), or NULL.
 */
Datum
es_function_problem(PG_FUNCTION_ARGS)
{
	char	   *problem = es_function_run_problem(PG_GETARG_OID(0));

	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}
