/*-------------------------------------------------------------------------
 *
 * pg_compat.h
 *	  Everything in eventstore that depends on the PostgreSQL major version.
 *
 * The rest of the code is written once, against the names defined here; a
 * new major is a matter of this file alone.  Built and tested on 15, 17 and
 * 18 (test/suites/90_other_majors.sh; docs/testing.md).  16 is not tested:
 * the cut points below are those of the server's own history, but no build
 * checks them (no headers for 16 could be had where CI runs).
 *
 * Included by eventstore.h; the call sites include the server headers that
 * declare what the macros expand to (executor/executor.h, storage/proc.h,
 * miscadmin.h), as they did before.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ES_PG_COMPAT_H
#define ES_PG_COMPAT_H

/*
 * 15 brought pg_prng and InitMaterializedSRF, which the code uses; a major
 * after 18 has not been built against.
 */
#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "eventstore builds for PostgreSQL 15 to 18 (src/pg_compat.h)"
#endif

#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#endif

/*
 * Index entries for a new row, without ON CONFLICT.  16 added the argument
 * onlySummarizing (HOT updates that touch only summarizing indexes); an
 * insert is never such an update.
 */
#if PG_VERSION_NUM >= 160000
#define es_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#define es_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

/* May the role execute the function?  16 made the check generic over catalogs. */
#if PG_VERSION_NUM >= 160000
#define es_proc_aclcheck(funcid, roleid) \
	object_aclcheck(ProcedureRelationId, (funcid), (roleid), ACL_EXECUTE)
#else
#define es_proc_aclcheck(funcid, roleid) \
	pg_proc_aclcheck((funcid), (roleid), ACL_EXECUTE)
#endif

/*
 * The map from the partitioned table's row type to a leaf partition's, or
 * NULL when they match.  Since 16 it is built on first use, through
 * ExecGetRootToChildMap; before, ExecFindPartition had filled it in.
 */
#if PG_VERSION_NUM >= 160000
#define es_root_to_partition_map(leaf, estate) \
	ExecGetRootToChildMap((leaf), (estate))
#else
#define es_root_to_partition_map(leaf, estate) \
	((leaf)->ri_RootToPartitionMap)
#endif

/*
 * A result relation's compiled CHECK constraints (an lvalue).  18 renamed
 * the field when it added the not-null checks of virtual generated columns
 * beside it.
 */
#if PG_VERSION_NUM >= 180000
#define es_check_constraint_exprs(rri)	((rri)->ri_CheckConstraintExprs)
#else
#define es_check_constraint_exprs(rri)	((rri)->ri_ConstraintExprs)
#endif

/*
 * An index scan started by hand.  18 added the instrumentation argument
 * (EXPLAIN ANALYZE's index search counts), which a caller outside a plan
 * leaves NULL.
 */
#if PG_VERSION_NUM >= 180000
#define es_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define es_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

/* A result relation opened outside a plan, so AFTER triggers find it. */
#define es_register_result_rel(estate, rri) \
	((estate)->es_opened_result_relations = \
	 lappend((estate)->es_opened_result_relations, (rri)))

/*
 * This backend's entry in per-backend shared arrays of MaxBackends entries
 * (0-based).  17 replaced the 1-based BackendId by the 0-based ProcNumber,
 * which numbers regular backends and background workers below MaxBackends
 * just the same.
 */
#if PG_VERSION_NUM >= 170000
#define ES_MY_BACKEND_INDEX		(MyProcNumber)
#else
#define ES_MY_BACKEND_INDEX		(MyBackendId - 1)
#endif

/* This backend's PGPROC number, as condition variables' wait lists name it. */
#if PG_VERSION_NUM >= 170000
#define ES_MY_PGPROCNO			(MyProcNumber)
#else
#define ES_MY_PGPROCNO			(MyProc->pgprocno)
#endif

/* The local id of this backend's current top-level transaction. */
#if PG_VERSION_NUM >= 170000
#define es_my_local_xid()		(MyProc->vxid.lxid)
#else
#define es_my_local_xid()		(MyProc->lxid)
#endif

#endif							/* ES_PG_COMPAT_H */
