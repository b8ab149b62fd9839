/*-------------------------------------------------------------------------
 *
 * table_additions.c
 *	  Which recorded additions to the store's tables a restore may recreate,
 *	  and which functions may run with the store's superuser rights
 *	  (src/sql/86_table_additions.sql; docs/operations.md, "What users add
 *	  to the store's tables").
 *
 * A restore loads eventstore.table_additions like any other table: its
 * rows are data, and whoever controlled the database that was dumped chose
 * them.  The restore trigger still has to turn each row into an index, a
 * constraint, a trigger or a publication membership, and it runs as the
 * role that restores, usually a superuser.  So a row's definition is
 * parsed here (never run) and accepted only when it is exactly the one
 * statement its kind implies, on eventstore.<table_name>, naming <name>,
 * and when nothing in it can make a superuser run code that a non-superuser
 * chose:
 *
 * - every function, operator, type and collation in its expressions is
 *   pg_catalog's: unqualified or qualified with pg_catalog.  The caller
 *   runs with search_path = pg_catalog, pg_temp, where functions,
 *   operators, collations and operator classes are never looked up in
 *   pg_temp; a type is, so an unqualified type must exist in pg_catalog,
 *   which comes first.  Then parse analysis itself only calls built-in code
 *   (type input functions of constants, implicit casts between built-in
 *   types);
 * - CHECK constraints and trigger WHEN clauses call only IMMUTABLE
 *   functions: pg_catalog also holds volatile functions that only a
 *   superuser may call (lo_export, pg_read_file, set_config), and a CHECK
 *   runs while the constraint is validated.  PostgreSQL itself requires
 *   immutability in index expressions and predicates and limits
 *   publication row filters to immutable built-ins;
 * - an operator class of an index is pg_catalog's, or names (qualified)
 *   one that a superuser owns (creating one takes superuser rights; this
 *   keeps an index using pg_trgm's gin_trgm_ops);
 * - a trigger's function is one that may run with the store's rights at
 *   all (src/store_functions.c);
 * - foreign keys are not recreated: their checks run operators that the
 *   referenced table's index chose.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_clause.h"
#include "parser/parse_coerce.h"
#include "parser/parse_expr.h"
#include "parser/parse_func.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/* The first reason a definition is refused; NULL while none was found. */
typedef struct AdditionCheck
{
	char	   *problem;
	const char *amname;			/* access method of the index being checked */
} AdditionCheck;

static bool
refuse(AdditionCheck *check, char *problem)
{
	if (check->problem == NULL)
		check->problem = problem;
	return true;
}

/* Whether the caller's search_path is pg_catalog (and pg_temp) only. */
static bool
search_path_is_catalog(void)
{
	ListCell   *lc;

	foreach(lc, fetch_search_path(false))
	{
		Oid			nsp = lfirst_oid(lc);

		if (nsp != PG_CATALOG_NAMESPACE && !isTempNamespace(nsp))
			return false;
	}
	return true;
}

/*
 * A function, operator or collation name that resolves in pg_catalog only:
 * unqualified (none of these is looked up in pg_temp) or pg_catalog.x.
 */
static bool
catalog_name(List *names)
{
	if (list_length(names) == 1)
		return true;
	return list_length(names) == 2 &&
		strcmp(strVal(linitial(names)), "pg_catalog") == 0;
}

/* A type name that resolves to a type of pg_catalog. */
static bool
type_refused(TypeName *tn, AdditionCheck *check)
{
	const char *typname;

	if (tn->pct_type)
		return refuse(check, pstrdup("a %TYPE reference"));
	if (tn->names == NIL)
	{
		/* The grammar named a built-in type by its OID. */
		HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(tn->typeOid));
		bool		in_catalog = HeapTupleIsValid(tup) &&
			((Form_pg_type) GETSTRUCT(tup))->typnamespace == PG_CATALOG_NAMESPACE;

		if (HeapTupleIsValid(tup))
			ReleaseSysCache(tup);
		if (!in_catalog)
			return refuse(check, pstrdup("a type that is not in pg_catalog"));
		return false;
	}
	if (!catalog_name(tn->names))
		return refuse(check, psprintf("type %s is not in pg_catalog",
									  NameListToString(tn->names)));
	/* Unqualified types are looked up in pg_temp too, after pg_catalog. */
	typname = strVal(llast(tn->names));
	if (!OidIsValid(GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									CStringGetDatum(typname),
									ObjectIdGetDatum(PG_CATALOG_NAMESPACE))))
		return refuse(check, psprintf("type %s is not in pg_catalog", typname));
	return false;
}

/* An operator class: pg_catalog's, or a superuser's named with its schema. */
static bool
opclass_refused(List *opclass, AdditionCheck *check)
{
	Oid			am;
	Oid			opcid;
	HeapTuple	tup;
	bool		owned_by_superuser;

	if (opclass == NIL || catalog_name(opclass))
		return false;
	am = get_index_am_oid(check->amname, true);
	opcid = OidIsValid(am) ? get_opclass_oid(am, opclass, true) : InvalidOid;
	if (!OidIsValid(opcid))
		return refuse(check, psprintf("operator class %s does not exist",
									  NameListToString(opclass)));
	tup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opcid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator class %u", opcid);
	owned_by_superuser = superuser_arg(((Form_pg_opclass) GETSTRUCT(tup))->opcowner);
	ReleaseSysCache(tup);
	if (!owned_by_superuser)
		return refuse(check, psprintf("operator class %s is not owned by a superuser",
									  NameListToString(opclass)));
	return false;
}

static bool raw_expr_refused(Node *node, AdditionCheck *check);

/* One column or expression of an index or exclusion constraint. */
static bool
index_elem_refused(IndexElem *elem, AdditionCheck *check)
{
	if (elem->collation != NIL && !catalog_name(elem->collation))
		return refuse(check, psprintf("collation %s is not in pg_catalog",
									  NameListToString(elem->collation)));
	if (opclass_refused(elem->opclass, check))
		return true;
	return raw_expr_refused(elem->expr, check);
}

/*
 * Walk a raw (unanalysed) expression.  Only the node types listed may
 * appear; anything else (a sub-select, a parameter, a window) is refused
 * rather than understood.
 */
static bool
raw_expr_refused(Node *node, AdditionCheck *check)
{
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_FuncCall:
			{
				FuncCall   *fc = (FuncCall *) node;

				if (!catalog_name(fc->funcname))
					return refuse(check, psprintf("function %s is not in pg_catalog",
												  NameListToString(fc->funcname)));
				if (fc->agg_order != NIL || fc->agg_filter != NULL || fc->over != NULL)
					return refuse(check, pstrdup("an aggregate or window call"));
				break;
			}
		case T_A_Expr:
			{
				A_Expr	   *e = (A_Expr *) node;

				if (e->name != NIL && !catalog_name(e->name))
					return refuse(check, psprintf("operator %s is not in pg_catalog",
												  NameListToString(e->name)));
				break;
			}
		case T_TypeName:
			if (type_refused((TypeName *) node, check))
				return true;
			break;
		case T_CollateClause:
			if (!catalog_name(((CollateClause *) node)->collname))
				return refuse(check, psprintf("collation %s is not in pg_catalog",
											  NameListToString(((CollateClause *) node)->collname)));
			break;
		case T_IndexElem:
			return index_elem_refused((IndexElem *) node, check);
		case T_SubLink:
			return refuse(check, pstrdup("a sub-select"));
		case T_ColumnRef:
		case T_A_Const:
		case T_TypeCast:
		case T_BoolExpr:
		case T_NullTest:
		case T_BooleanTest:
		case T_CaseExpr:
		case T_CaseWhen:
		case T_CoalesceExpr:
		case T_MinMaxExpr:
		case T_A_ArrayExpr:
		case T_RowExpr:
		case T_A_Indirection:
		case T_A_Indices:
		case T_NamedArgExpr:
		case T_SQLValueFunction:
		case T_XmlExpr:
		case T_XmlSerialize:
		case T_List:
		case T_String:
		case T_Integer:
		case T_Float:
		case T_Boolean:
		case T_BitString:
			break;
		default:
			return refuse(check, psprintf("an expression of a kind the store does not recreate (node %d)",
										  (int) nodeTag(node)));
	}
	return raw_expression_tree_walker(node, raw_expr_refused, (void *) check);
}

/* eventstore.<table_name>, written with its schema, as the catalog prints it. */
static bool
relation_refused(RangeVar *rv, const char *table_name, AdditionCheck *check)
{
	if (rv == NULL || rv->catalogname != NULL || rv->schemaname == NULL ||
		strcmp(rv->schemaname, "eventstore") != 0 || strcmp(rv->relname, table_name) != 0)
		return refuse(check, psprintf("the statement is not on table eventstore.%s", table_name));
	return false;
}

/* Parse analysis of a CHECK expression, to see which functions it calls. */
static Node *
analyse_check(Relation rel, Node *raw)
{
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;
	Node	   *expr;

	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock, NULL, false, true);
	addNSItemToQuery(pstate, nsitem, true, true, true);
	expr = transformExpr(pstate, copyObject(raw), EXPR_KIND_CHECK_CONSTRAINT);
	expr = coerce_to_boolean(pstate, expr, "CHECK");
	free_parsestate(pstate);
	return expr;
}

/* Parse analysis of a trigger's WHEN clause, as CREATE TRIGGER does it. */
static Node *
analyse_when(Relation rel, Node *raw)
{
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;
	Node	   *expr;

	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
										   makeAlias("old", NIL), false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
										   makeAlias("new", NIL), false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	expr = transformWhereClause(pstate, copyObject(raw), EXPR_KIND_TRIGGER_WHEN, "WHEN");
	free_parsestate(pstate);
	return expr;
}

/* An expression whose functions must all be IMMUTABLE (CHECK, WHEN). */
static bool
immutable_expr_refused(Node *raw, Relation rel, bool is_when, const char *what,
					   AdditionCheck *check)
{
	if (raw_expr_refused(raw, check))
		return true;
	/* Names are pg_catalog's: analysing them runs only built-in code. */
	if (contain_mutable_functions(is_when ? analyse_when(rel, raw) : analyse_check(rel, raw)))
		return refuse(check, psprintf("%s calls a function that is not immutable", what));
	return false;
}

static bool
index_refused(IndexStmt *stmt, const char *table_name, const char *name,
			  AdditionCheck *check)
{
	ListCell   *lc;

	if (stmt->idxname == NULL || strcmp(stmt->idxname, name) != 0)
		return refuse(check, psprintf("the statement does not create index %s", name));
	if (relation_refused(stmt->relation, table_name, check))
		return true;
	/* CONCURRENTLY cannot run in the restore's transaction. */
	if (stmt->primary || stmt->isconstraint || stmt->excludeOpNames != NIL || stmt->concurrent)
		return refuse(check, pstrdup("the statement is not a plain CREATE INDEX"));
	check->amname = stmt->accessMethod ? stmt->accessMethod : DEFAULT_INDEX_TYPE;
	foreach(lc, stmt->indexParams)
		if (index_elem_refused(lfirst_node(IndexElem, lc), check))
			return true;
	foreach(lc, stmt->indexIncludingParams)
		if (index_elem_refused(lfirst_node(IndexElem, lc), check))
			return true;
	return raw_expr_refused(stmt->whereClause, check);
}

static bool
constraint_refused(AlterTableStmt *stmt, Relation rel, const char *table_name,
				   const char *name, AdditionCheck *check)
{
	AlterTableCmd *cmd;
	Constraint *con;
	ListCell   *lc;

	if (relation_refused(stmt->relation, table_name, check))
		return true;
	cmd = list_length(stmt->cmds) == 1 ? linitial_node(AlterTableCmd, stmt->cmds) : NULL;
	if (stmt->objtype != OBJECT_TABLE || cmd == NULL || cmd->subtype != AT_AddConstraint ||
		!IsA(cmd->def, Constraint))
		return refuse(check, pstrdup("the statement is not one ALTER TABLE ... ADD CONSTRAINT"));
	con = (Constraint *) cmd->def;
	if (con->conname == NULL || strcmp(con->conname, name) != 0)
		return refuse(check, psprintf("the statement does not add constraint %s", name));
	switch (con->contype)
	{
		case CONSTR_CHECK:
			return immutable_expr_refused(con->raw_expr, rel, false, "the CHECK constraint", check);
		case CONSTR_PRIMARY:
		case CONSTR_UNIQUE:
			if (con->indexname != NULL)
				return refuse(check, pstrdup("the constraint takes over an existing index"));
			return false;
		case CONSTR_EXCLUSION:
			check->amname = con->access_method ? con->access_method : DEFAULT_INDEX_TYPE;
			foreach(lc, con->exclusions)
			{
				List	   *pair = lfirst_node(List, lc);

				if (index_elem_refused(linitial_node(IndexElem, pair), check))
					return true;
				if (!catalog_name(lsecond_node(List, pair)))
					return refuse(check, psprintf("operator %s is not in pg_catalog",
												  NameListToString(lsecond_node(List, pair))));
			}
			return raw_expr_refused(con->where_clause, check);
		case CONSTR_FOREIGN:
			return refuse(check, pstrdup("a foreign key is not recreated: its checks run the operators of the referenced table's index"));
		default:
			return refuse(check, pstrdup("a constraint of a kind the store does not recreate"));
	}
}

static bool
trigger_refused(List *stmts, Relation rel, const char *table_name, const char *name,
				AdditionCheck *check)
{
	CreateTrigStmt *stmt = linitial_node(CreateTrigStmt, stmts);
	Oid			funcid;
	char	   *problem;

	if (stmt->trigname == NULL || strcmp(stmt->trigname, name) != 0)
		return refuse(check, psprintf("the statement does not create trigger %s", name));
	if (relation_refused(stmt->relation, table_name, check))
		return true;
	/* OR REPLACE could replace one of the store's own triggers. */
	if (stmt->replace || stmt->constrrel != NULL)
		return refuse(check, pstrdup("the statement is not a plain CREATE TRIGGER"));
	funcid = LookupFuncName(stmt->funcname, 0, NULL, true);
	if (!OidIsValid(funcid))
		return refuse(check, psprintf("trigger function %s() does not exist",
									  NameListToString(stmt->funcname)));
	if ((problem = es_function_run_problem(funcid)) != NULL)
		return refuse(check, problem);
	if (stmt->whenClause != NULL &&
		immutable_expr_refused(stmt->whenClause, rel, true, "the WHEN clause", check))
		return true;
	/* Then, optionally, the statement that switches it as it was. */
	if (list_length(stmts) == 2)
	{
		Node	   *second = lsecond(stmts);
		AlterTableStmt *alter = IsA(second, AlterTableStmt) ? (AlterTableStmt *) second : NULL;
		AlterTableCmd *cmd = alter && list_length(alter->cmds) == 1 ?
			linitial_node(AlterTableCmd, alter->cmds) : NULL;

		if (cmd == NULL || relation_refused(alter->relation, table_name, check) ||
			(cmd->subtype != AT_EnableTrig && cmd->subtype != AT_EnableAlwaysTrig &&
			 cmd->subtype != AT_EnableReplicaTrig && cmd->subtype != AT_DisableTrig) ||
			cmd->name == NULL || strcmp(cmd->name, name) != 0)
			return refuse(check, pstrdup("the second statement does not only switch the trigger"));
	}
	return false;
}

static bool
membership_refused(AlterPublicationStmt *stmt, const char *table_name, const char *name,
				   AdditionCheck *check)
{
	PublicationObjSpec *obj;

	if (stmt->pubname == NULL || strcmp(stmt->pubname, name) != 0)
		return refuse(check, psprintf("the statement does not alter publication %s", name));
	obj = list_length(stmt->pubobjects) == 1 ?
		linitial_node(PublicationObjSpec, stmt->pubobjects) : NULL;
	if (stmt->action != AP_AddObjects || obj == NULL ||
		obj->pubobjtype != PUBLICATIONOBJ_TABLE || obj->pubtable == NULL)
		return refuse(check, pstrdup("the statement does not add one table to the publication"));
	if (relation_refused(obj->pubtable->relation, table_name, check))
		return true;
	return raw_expr_refused(obj->pubtable->whereClause, check);
}

/*
 * Why the recorded addition must not be recreated; NULL when the restore
 * may run its definition.  Only parses and looks up: runs nothing of it.
 */
static char *
addition_problem(const char *kind, const char *table_name, const char *name,
				 const char *definition)
{
	AdditionCheck check = {NULL, NULL};
	Oid			nsp = get_namespace_oid("eventstore", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(table_name, nsp) : InvalidOid;
	List	   *raw;
	List	   *stmts = NIL;
	ListCell   *lc;
	Relation	rel;
	Node	   *first;
	int			expected;

	if (!search_path_is_catalog())
		elog(ERROR, "recorded table additions are checked with search_path = pg_catalog, pg_temp only");
	if (!OidIsValid(relid) || strcmp(table_name, "table_additions") == 0 ||
		(get_rel_relkind(relid) != RELKIND_RELATION &&
		 get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE) ||
		get_rel_relispartition(relid))
		return psprintf("eventstore.%s is not a table of the store", table_name);

	raw = raw_parser(definition, RAW_PARSE_DEFAULT);
	foreach(lc, raw)
		stmts = lappend(stmts, lfirst_node(RawStmt, lc)->stmt);
	first = stmts != NIL ? linitial(stmts) : NULL;
	expected = strcmp(kind, "index") == 0 ? T_IndexStmt :
		strcmp(kind, "constraint") == 0 ? T_AlterTableStmt :
		strcmp(kind, "trigger") == 0 ? T_CreateTrigStmt :
		strcmp(kind, "publication") == 0 ? T_AlterPublicationStmt : T_Invalid;
	if (expected == T_Invalid)
		return psprintf("unrecognized kind \"%s\"", kind);
	if (first == NULL || (int) nodeTag(first) != expected ||
		list_length(stmts) > (expected == T_CreateTrigStmt ? 2 : 1))
		return psprintf("the definition is not exactly one %s statement", kind);

	rel = table_open(relid, AccessShareLock);
	if (expected == T_IndexStmt)
		index_refused((IndexStmt *) first, table_name, name, &check);
	else if (expected == T_AlterTableStmt)
		constraint_refused((AlterTableStmt *) first, rel, table_name, name, &check);
	else if (expected == T_CreateTrigStmt)
		trigger_refused(stmts, rel, table_name, name, &check);
	else
		membership_refused((AlterPublicationStmt *) first, table_name, name, &check);
	table_close(rel, AccessShareLock);
	return check.problem;
}

PG_FUNCTION_INFO_V1(es_table_addition_problem);

/*
 * es_table_addition_problem(kind, table_name, name, definition) -> text:
 * why a restore must not recreate this recorded addition, or NULL.
 */
Datum
es_table_addition_problem(PG_FUNCTION_ARGS)
{
	char	   *problem;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			PG_RETURN_TEXT_P(cstring_to_text("the recorded addition is incomplete"));
	problem = addition_problem(text_to_cstring(PG_GETARG_TEXT_PP(0)),
							   text_to_cstring(PG_GETARG_TEXT_PP(1)),
							   text_to_cstring(PG_GETARG_TEXT_PP(2)),
							   text_to_cstring(PG_GETARG_TEXT_PP(3)));
	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}
