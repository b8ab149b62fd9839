/*-------------------------------------------------------------------------
 *
 * events_rel.c
 *	  What a backend keeps about eventstore.events between calls: its OID,
 *	  the OID of its (stream, version) index, where each column is, its
 *	  CHECK constraints compiled once, and the expressions and predicates of
 *	  its indexes compiled once.
 *
 * Why cache: the profile of a single-event append (docs/benchmarks.md)
 * showed per-call catalog name lookups, and PostgreSQL re-reading and
 * compiling the table's CHECK constraints for every statement, about a
 * tenth of the append's instructions; the expression indexes of
 * correlation and causation ids (src/sql/13_correlation.sql) cost another
 * 11,000 instructions per append in compiling their expressions anew.
 *
 * Staleness: the OIDs and the column map are dropped by a relcache
 * invalidation of the table (DDL, DROP EXTENSION, a VACUUM's statistics);
 * the compiled constraints are checked against the relcache entry's
 * constraint texts on every use and also dropped when any function changes
 * (a constraint may call one whose definition was inlined).  The compiled
 * index expressions are dropped by the same function changes and by a
 * relcache invalidation of the table (an index created or dropped) or of
 * one of the indexes, and are used only for the same indexes, in the same
 * order, as they were compiled for.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "access/genam.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/readfuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/* The columns es_append writes, in EsEventColumn order. */
static const struct
{
	const char *name;
	Oid			type;
}			es_columns[ES_NCOLUMNS] = {
	{"position", INT8OID},
	{"stream", TEXTOID},
	{"version", INT8OID},
	{"event_id", UUIDOID},
	{"type", TEXTOID},
	{"category", TEXTOID},
	{"data", JSONBOID},
	{"data_bin", BYTEAOID},
	{"metadata", JSONBOID},
	{"created_at", TIMESTAMPTZOID},
	{"occurred_at", TIMESTAMPTZOID},
	{"tags", TEXTARRAYOID},
};

/*
 * Columns that a table of an earlier release lacks: the library serves a
 * database whose extension is not updated yet (docs/releasing.md).
 */
static inline bool
column_is_optional(EsEventColumn col)
{
	return col == ES_COL_OCCURRED_AT || col == ES_COL_TAGS;
}

static bool callbacks_registered = false;

/* Valid while relid is set. */
static Oid	relid = InvalidOid;
static Oid	version_index = InvalidOid;

/* The column map, valid for the table mapped_relid (InvalidOid: none). */
static Oid	mapped_relid = InvalidOid;
static AttrNumber attnums[ES_NCOLUMNS];

/* The compiled CHECK constraints and the texts they were compiled from. */
static MemoryContext checks_cxt = NULL;
static ExprState **checks = NULL;
static char **checks_src = NULL;
static int	nchecks = 0;
static bool checks_stale = false;

/* The compiled expressions and predicate of one index of the table. */
typedef struct CompiledIndex
{
	Oid			indexoid;
	List	   *exprs;			/* ExprStates, NIL without expressions */
	ExprState  *pred;			/* NULL when not partial */
	IndexInfo  *info;			/* BuildIndexInfo's, kept (es_events_open_indices) */
} CompiledIndex;

static MemoryContext indexes_cxt = NULL;
static CompiledIndex *indexes = NULL;
static int	nindexes = 0;
static bool indexes_stale = false;
static Oid	indexes_relid = InvalidOid;	/* the table they are the indexes of */

static void
events_rel_invalidate(Datum arg, Oid changed)
{
	int			i;

	if (changed == InvalidOid || changed == relid || changed == mapped_relid ||
		changed == indexes_relid)
	{
		relid = InvalidOid;
		mapped_relid = InvalidOid;
		checks_stale = true;
		indexes_stale = true;
	}
	for (i = 0; i < nindexes; i++)
		if (changed == indexes[i].indexoid)
			indexes_stale = true;
}

static void
functions_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	checks_stale = true;
	indexes_stale = true;
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(events_rel_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, functions_changed, (Datum) 0);
	callbacks_registered = true;
}

/* Fill the column map of rel, or fail if rel is not a table es_append can write. */
static void
map_columns(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			known = 0;
	int			i,
				c;

	register_callbacks();
	mapped_relid = InvalidOid;
	for (c = 0; c < ES_NCOLUMNS; c++)
		attnums[c] = InvalidAttrNumber;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		for (c = 0; c < ES_NCOLUMNS; c++)
			if (strcmp(NameStr(att->attname), es_columns[c].name) == 0 &&
				att->atttypid == es_columns[c].type)
				break;
		if (c == ES_NCOLUMNS)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"eventstore.events\" has a column that eventstore does not know: \"%s\" of type %s",
							NameStr(att->attname), format_type_be(att->atttypid)),
					 errhint("Do not alter the extension's tables; reinstall the extension or drop the column.")));
		attnums[c] = att->attnum;
		known++;
	}
	for (c = 0; c < ES_NCOLUMNS; c++)
		if (attnums[c] == InvalidAttrNumber && column_is_optional((EsEventColumn) c))
			known++;
	if (known != ES_NCOLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"eventstore.events\" lacks columns that eventstore needs"),
				 errhint("Reinstall the extension.")));
	mapped_relid = RelationGetRelid(rel);
}

/* Look the table and its index up by name (the schema is fixed: not relocatable). */
static void
lookup_relations(void)
{
	Oid			nsp = get_namespace_oid("eventstore", true);
	Oid			heap = OidIsValid(nsp) ? get_relname_relid("events", nsp) : InvalidOid;

	if (!OidIsValid(heap))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"eventstore.events\" does not exist"),
				 errhint("Run CREATE EXTENSION eventstore in this database.")));
	version_index = get_relname_relid("events_stream_version_key", nsp);
	relid = heap;
}

Oid
es_events_relid(void)
{
	register_callbacks();
	if (!OidIsValid(relid))
		lookup_relations();
	return relid;
}

/*
 * The UNIQUE (stream, version) B-tree of rel, or NULL when it is not there
 * under its name or is not that index (then callers read through SQL).
 * Returned open with AccessShareLock.
 */
Relation
es_events_open_version_index(Relation rel)
{
	Relation	index;

	/* Opening rel may have processed an invalidation that reset the OIDs. */
	if (es_events_relid() != RelationGetRelid(rel) || !OidIsValid(version_index))
		return NULL;
	index = try_relation_open(version_index, AccessShareLock);
	if (index == NULL)
		return NULL;
	if (index->rd_rel->relkind != RELKIND_INDEX ||
		index->rd_index->indrelid != RelationGetRelid(rel) ||
		index->rd_index->indnkeyatts != 2 ||
		index->rd_index->indkey.values[0] != es_events_attnum(rel, ES_COL_STREAM) ||
		index->rd_index->indkey.values[1] != es_events_attnum(rel, ES_COL_VERSION) ||
		index->rd_rel->relam != BTREE_AM_OID)
	{
		relation_close(index, AccessShareLock);
		return NULL;
	}
	return index;
}

/*
 * Attribute number of a column of rel (which is open, so invalidations are
 * in); InvalidAttrNumber for an optional column the table lacks.
 */
AttrNumber
es_events_attnum(Relation rel, EsEventColumn col)
{
	if (mapped_relid != RelationGetRelid(rel))
		map_columns(rel);
	return attnums[col];
}

/* Do the compiled constraints still match the relcache entry's? */
static bool
checks_current(Relation rel)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	int			n = constr ? constr->num_check : 0;
	int			i;

	if (checks_stale || checks_cxt == NULL || n != nchecks)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(constr->check[i].ccbin, checks_src[i]) != 0)
			return false;
	return true;
}

/*
 * Run build(arg) in cxt, a new context, and return cxt; on an error cxt is
 * deleted, so a cache is published only when it is complete.
 */
static MemoryContext
build_in_context(MemoryContext cxt, void (*build) (void *), void *arg)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	PG_TRY();
	{
		build(arg);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return cxt;
}

typedef struct ChecksBuild
{
	TupleConstr *constr;
	ExprState **exprs;
	char	  **src;
} ChecksBuild;

static void
build_checks(void *arg)
{
	ChecksBuild *b = (ChecksBuild *) arg;
	int			i;

	b->exprs = palloc(sizeof(ExprState *) * b->constr->num_check);
	b->src = palloc(sizeof(char *) * b->constr->num_check);
	for (i = 0; i < b->constr->num_check; i++)
	{
		Expr	   *e = stringToNode(b->constr->check[i].ccbin);

		b->exprs[i] = ExecInitExpr(expression_planner(e), NULL);
		b->src[i] = pstrdup(b->constr->check[i].ccbin);
	}
}

/*
 * rel's CHECK constraints, compiled, in the order of its relcache entry (the
 * order ExecConstraints evaluates them in); NULL when it has none.  Valid
 * until the next call.  Compiled without an executor state: they are
 * evaluated in whatever expression context the caller passes.
 */
ExprState **
es_events_check_exprs(Relation rel)
{
	ChecksBuild b;

	register_callbacks();
	if (checks_current(rel))
		return checks;

	if (checks_cxt != NULL)
		MemoryContextDelete(checks_cxt);
	checks_cxt = NULL;
	checks = NULL;
	checks_src = NULL;
	nchecks = 0;
	checks_stale = false;
	b.constr = RelationGetDescr(rel)->constr;
	if (b.constr == NULL || b.constr->num_check == 0)
		return NULL;

	checks_cxt = build_in_context(AllocSetContextCreate(CacheMemoryContext,
														"eventstore CHECK constraints",
														ALLOCSET_SMALL_SIZES),
								  build_checks, &b);
	checks = b.exprs;
	checks_src = b.src;
	nchecks = b.constr->num_check;
	return checks;
}

/* Were the compiled index expressions compiled for rri's indexes? */
static bool
indexes_current(ResultRelInfo *rri)
{
	int			i;

	if (indexes_stale || indexes_cxt == NULL || rri->ri_NumIndices != nindexes)
		return false;
	for (i = 0; i < nindexes; i++)
		if (RelationGetRelid(rri->ri_IndexRelationDescs[i]) != indexes[i].indexoid)
			return false;
	return true;
}

typedef struct IndexesBuild
{
	ResultRelInfo *rri;
	CompiledIndex *compiled;
} IndexesBuild;

static void
build_indexes(void *arg)
{
	IndexesBuild *b = (IndexesBuild *) arg;
	ResultRelInfo *rri = b->rri;
	int			i;

	b->compiled = palloc0(sizeof(CompiledIndex) * Max(rri->ri_NumIndices, 1));
	for (i = 0; i < rri->ri_NumIndices; i++)
	{
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];
		CompiledIndex *c = &b->compiled[i];
		ListCell   *lc;

		c->indexoid = RelationGetRelid(rri->ri_IndexRelationDescs[i]);
		c->info = makeNode(IndexInfo);
		memcpy(c->info, ii, sizeof(IndexInfo));
		c->info->ii_Expressions = copyObject(ii->ii_Expressions);
		c->info->ii_Predicate = copyObject(ii->ii_Predicate);
		c->info->ii_ExpressionsState = NIL;
		c->info->ii_PredicateState = NULL;
		c->info->ii_AmCache = NULL;
		foreach(lc, ii->ii_Expressions)
		{
			Expr	   *e = expression_planner((Expr *) copyObject(lfirst(lc)));

			c->exprs = lappend(c->exprs, ExecInitExpr(e, NULL));
		}
		if (ii->ii_Predicate != NIL)
		{
			Node	   *q = (Node *) expression_planner((Expr *) copyObject(ii->ii_Predicate));

			c->pred = ExecInitQual((List *) q, NULL);
		}
	}
}

/* Compile the expressions and predicates of rri's indexes into a new cache. */
static void
compile_indexes(ResultRelInfo *rri)
{
	IndexesBuild b;

	if (indexes_cxt != NULL)
		MemoryContextDelete(indexes_cxt);
	indexes_cxt = NULL;
	indexes = NULL;
	nindexes = 0;
	indexes_stale = false;

	b.rri = rri;
	indexes_cxt = build_in_context(AllocSetContextCreate(CacheMemoryContext,
														 "eventstore index expressions",
														 ALLOCSET_SMALL_SIZES),
								   build_indexes, &b);
	indexes = b.compiled;
	nindexes = rri->ri_NumIndices;
	indexes_relid = RelationGetRelid(rri->ri_RelationDesc);
}

/*
 * Give the IndexInfos of rri (opened by ExecOpenIndices) the backend's
 * compiled expressions and predicates, compiling them when they are missing
 * or stale, so that inserting index entries does not compile them anew.
 * Valid until the next call.
 */
void
es_events_use_compiled_indexes(ResultRelInfo *rri)
{
	int			i;

	register_callbacks();
	if (!indexes_current(rri))
		compile_indexes(rri);
	for (i = 0; i < nindexes; i++)
	{
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];

		if (ii->ii_Expressions != NIL)
			ii->ii_ExpressionsState = indexes[i].exprs;
		if (ii->ii_Predicate != NIL)
			ii->ii_PredicateState = indexes[i].pred;
	}
}

/*
 * ExecOpenIndices for the plain events table, from what the backend kept:
 * the indexes' OIDs and their IndexInfos, built by BuildIndexInfo once (a
 * single-event append spent a twentieth of its instructions building them
 * again, copying the correlation and causation indexes' expressions to
 * then replace them by the compiled ones), with the compiled expressions
 * and predicates.  The kept list is dropped when the table or one of its
 * indexes changes (the relcache callback), and rebuilt by ExecOpenIndices
 * on the next call.  The outermost es_insert_events only (event_insert.c).
 */
void
es_events_open_indices(ResultRelInfo *rri)
{
	Relation	rel = rri->ri_RelationDesc;
	int			i;

	register_callbacks();
	if (indexes_stale || indexes_cxt == NULL || indexes_relid != RelationGetRelid(rel))
	{
		ExecOpenIndices(rri, false);
		es_events_use_compiled_indexes(rri);
		return;
	}
	rri->ri_NumIndices = nindexes;
	if (nindexes == 0)
		return;
	rri->ri_IndexRelationDescs = palloc(sizeof(Relation) * nindexes);
	rri->ri_IndexRelationInfo = palloc(sizeof(IndexInfo *) * nindexes);
	for (i = 0; i < nindexes; i++)
	{
		IndexInfo  *ii = makeNode(IndexInfo);

		rri->ri_IndexRelationDescs[i] = index_open(indexes[i].indexoid, RowExclusiveLock);
		memcpy(ii, indexes[i].info, sizeof(IndexInfo));
		ii->ii_ExpressionsState = indexes[i].exprs;
		ii->ii_PredicateState = indexes[i].pred;
		ii->ii_Context = CurrentMemoryContext;
		rri->ri_IndexRelationInfo[i] = ii;
	}
}
