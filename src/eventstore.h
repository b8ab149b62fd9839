/*-------------------------------------------------------------------------
 *
 * eventstore.h
 *	  Declarations shared by the eventstore extension's source files.
 *
 * Version-specific parts of PostgreSQL's API are polyfilled here, and only
 * here, so that the rest of the code reads the same on 13 to 17.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVENTSTORE_H
#define EVENTSTORE_H

#include "postgres.h"

#include "access/attnum.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "storage/condition_variable.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

/* ---- version shims ---- */
#if PG_VERSION_NUM < 150000
#define InitMaterializedSRF(fcinfo, flags) SetSingleFuncCall(fcinfo, flags)
#endif
/* Index entries for a new row, without ON CONFLICT or summarizing-only logic. */
#if PG_VERSION_NUM >= 160000
#define es_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#elif PG_VERSION_NUM >= 140000
#define es_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#else
#define es_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((slot), (estate), false, NULL, NIL)
#endif
/* A result relation opened outside a plan, so AFTER triggers find it. */
#if PG_VERSION_NUM >= 140000
#define es_register_result_rel(estate, rri) \
	((estate)->es_opened_result_relations = \
	 lappend((estate)->es_opened_result_relations, (rri)))
#else
#define es_register_result_rel(estate, rri) \
	((estate)->es_trig_target_relations = \
	 lappend((estate)->es_trig_target_relations, (rri)))
#endif

/* ---- SQLSTATEs of the store's own conditions (class ES) ---- */
#define ERRCODE_ES_WRONG_EXPECTED_VERSION	MAKE_SQLSTATE('E','S','0','0','1')
#define ERRCODE_ES_EVENT_ID_REUSED			MAKE_SQLSTATE('E','S','0','0','2')
#define ERRCODE_ES_IMMUTABLE				MAKE_SQLSTATE('E','S','0','0','3')
#define ERRCODE_ES_STORE_PROTECTED			MAKE_SQLSTATE('E','S','0','0','5')

/* ---- limits (documented in docs/errors.md) ---- */
#define ES_MAX_NAME_LEN			255		/* bytes in a stream name or type */
#define ES_MAX_BATCH			10000	/* events in one es_append call */
#define ES_MAX_COUNT			100000	/* rows in one es_load page */

/*
 * Expected-version claims.  At the SQL level: NULL = any, 0 = the stream must
 * not exist, -1 = the stream must exist, n > 0 = exactly n.
 */
#define ES_EXPECT_ANY			(-2)
#define ES_EXPECT_EXISTS		(-1)
#define ES_EXPECT_NO_STREAM		0

/* Field 4 of our advisory lock tags: keeps clear of pg_advisory_*'s 1 and 2. */
#define ES_LOCKTAG_FIELD4		0x4553	/* "ES" */
/* Field 4 of a handler's lock (es_lock_handler). */
#define ES_LOCKTAG_HANDLER_FIELD4	0x4548	/* "EH" */

/* One event to append, as given by the caller (already validated). */
typedef struct EsNewEvent
{
	pg_uuid_t	id;
	bool		id_given;
	text	   *type;
	Jsonb	   *data;			/* NULL when absent */
	bytea	   *data_bin;		/* NULL when absent */
	Jsonb	   *metadata;		/* NULL when absent */
} EsNewEvent;

/* The events of one call that go to one stream. */
typedef struct EsStreamAppend
{
	text	   *stream;
	int64		expected;		/* ES_EXPECT_* or an exact version */
	uint64		lock_key;		/* hash of the stream name */
	int			first;			/* index of its first event in the call */
	int			count;
	int64		base_version;	/* version before the append (filled in) */
	bool		already_stored; /* idempotent retry: nothing to write */
} EsStreamAppend;

/* Columns of eventstore.events that es_append writes (src/events_rel.c). */
typedef enum EsEventColumn
{
	ES_COL_POSITION,
	ES_COL_STREAM,
	ES_COL_VERSION,
	ES_COL_EVENT_ID,
	ES_COL_TYPE,
	ES_COL_CATEGORY,
	ES_COL_DATA,
	ES_COL_DATA_BIN,
	ES_COL_METADATA,
	ES_COL_CREATED_AT,
	ES_NCOLUMNS
} EsEventColumn;

/* One row to store (src/event_insert.c); NULL pointers store SQL NULLs. */
typedef struct EsEventRow
{
	int64		position;
	text	   *stream;
	int64		version;
	pg_uuid_t  *event_id;
	text	   *type;
	text	   *category;
	Jsonb	   *data;
	bytea	   *data_bin;
	Jsonb	   *metadata;
} EsEventRow;

/* src/validate.c */
extern text *es_check_name(text *name, const char *what);
extern text *es_check_stream_name(text *stream);
extern int64 es_check_expected_version(int64 v);
extern void es_check_payload(Jsonb *data, bytea *data_bin);
extern text *es_category_of(text *stream);

/* src/stream_lock.c */
extern uint64 es_stream_lock_key(text *stream);
extern void es_lock_streams(EsStreamAppend *streams, int nstreams);

/* src/position.c */
extern bool es_preloaded;
extern void es_position_shmem_request(void);
extern void es_position_init(void);
extern int64 es_allocate_positions(int count);
extern int64 es_feed_safe_position(void);
extern void es_invalidate_position_counter(void);
extern void es_note_direct_insert(void);
extern ConditionVariable *es_feed_condition_variable(void);

/* src/events_rel.c */
struct RelationData;
struct ExprState;
extern Oid	es_events_relid(void);
extern AttrNumber es_events_attnum(struct RelationData *rel, EsEventColumn col);
extern struct RelationData *es_events_open_version_index(struct RelationData *rel);
extern struct ExprState **es_events_check_exprs(struct RelationData *rel);

/* src/event_insert.c */
extern void es_insert_events(EsEventRow *rows, int nrows, TimestampTz created_at);
extern void es_check_not_storing(EsStreamAppend *streams, int nstreams);

/* src/append_exec.c */
extern void es_append_execute(EsStreamAppend *streams, int nstreams,
							  EsNewEvent *events, int nevents,
							  FunctionCallInfo fcinfo);

/* src/spi_plan.c */
struct _SPI_plan;
extern struct _SPI_plan *es_kept_plan(struct _SPI_plan **slot, const char *sql,
									  int nargs, Oid *types);

/* src/load.c */
struct _SPI_plan;
extern int32 es_check_max_count(FunctionCallInfo fcinfo, int argno);
extern void es_run_into_result(FunctionCallInfo fcinfo, struct _SPI_plan *plan,
							   int nargs, Oid *types, Datum *values, bool *nulls);

/* src/ddl_guard.c */
extern bool es_allow_destroy;
extern void es_ddl_guard_define_gucs(void);

/* src/snapshot.c */
extern int	es_max_snapshot_size;
extern void es_snapshot_define_gucs(void);

#endif							/* EVENTSTORE_H */
