/*-------------------------------------------------------------------------
 *
 * eventstore.h
 *	  Declarations shared by the eventstore extension's source files.
 *
 * eventstore builds for PostgreSQL 15, 17 and 18.  Whatever depends on the
 * server version stays in pg_compat.h, behind PG_VERSION_NUM, and nowhere
 * else.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVENTSTORE_H
#define EVENTSTORE_H

#include "postgres.h"

#include "access/attnum.h"
#include "access/sdir.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "storage/condition_variable.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

/* ---- version shims: every PG_VERSION_NUM test is there ---- */
#include "pg_compat.h"

/* ---- SQLSTATEs of the store's own conditions (class ES) ---- */
#define ERRCODE_ES_WRONG_EXPECTED_VERSION	MAKE_SQLSTATE('E','S','0','0','1')
#define ERRCODE_ES_EVENT_ID_REUSED			MAKE_SQLSTATE('E','S','0','0','2')
#define ERRCODE_ES_IMMUTABLE				MAKE_SQLSTATE('E','S','0','0','3')
#define ERRCODE_ES_STORE_PROTECTED			MAKE_SQLSTATE('E','S','0','0','5')
#define ERRCODE_ES_STREAM_TOMBSTONED		MAKE_SQLSTATE('E','S','0','0','6')
#define ERRCODE_ES_NOT_FOUND				MAKE_SQLSTATE('E','S','0','0','7')
#define ERRCODE_ES_WRONG_STATE				MAKE_SQLSTATE('E','S','0','0','8')
#define ERRCODE_ES_BEYOND_HEAD				MAKE_SQLSTATE('E','S','0','0','9')
#define ERRCODE_ES_ARCHIVED					MAKE_SQLSTATE('E','S','0','1','0')
/* raised by the install and upgrade scripts (src/sql/00_claim_schema.sql) */
#define ERRCODE_ES_SCHEMA_NOT_OURS			MAKE_SQLSTATE('E','S','0','1','1')
#define ERRCODE_ES_VERSIONS_REMOVED			MAKE_SQLSTATE('E','S','0','1','2')
/* the archive schema of the partitioned layout (src/archive_schema.c) */
#define ERRCODE_ES_ARCHIVE_SCHEMA			MAKE_SQLSTATE('E','S','0','1','3')
/* raised by src/sql/86_table_additions.sql (PL/pgSQL), checked by src/table_additions.c */
#define ERRCODE_ES_ADDITION_REFUSED			MAKE_SQLSTATE('E','S','0','1','4')
/* raised by the owner's restore (src/sql/89_owner_backup.sql) */
#define ERRCODE_ES_RESTORE_OPEN				MAKE_SQLSTATE('E','S','0','1','5')
#define ERRCODE_ES_WRONG_SHARD				MAKE_SQLSTATE('E','S','0','2','0')
#define ERRCODE_ES_CROSS_SHARD				MAKE_SQLSTATE('E','S','0','2','1')
/* dynamic consistency boundaries (docs/dcb.md) */
#define ERRCODE_ES_CONDITION_FAILED			MAKE_SQLSTATE('E','S','0','1','6')
#define ERRCODE_ES_AFTER_BEYOND_HEAD		MAKE_SQLSTATE('E','S','0','1','7')
/* managed subscriptions, raised by src/sql/6x_subscription*.sql (PL/pgSQL) */
#define ERRCODE_ES_SUBSCRIPTION_NOT_FOUND	MAKE_SQLSTATE('E','S','0','2','2')
#define ERRCODE_ES_CONSUMER_NOT_FOUND		MAKE_SQLSTATE('E','S','0','2','3')
#define ERRCODE_ES_NOT_LEASED				MAKE_SQLSTATE('E','S','0','2','4')
#define ERRCODE_ES_LEASE_RAN_OUT			MAKE_SQLSTATE('E','S','0','2','5')
#define ERRCODE_ES_SUBSCRIPTION_EXISTS		MAKE_SQLSTATE('E','S','0','2','6')
#define ERRCODE_ES_HANDLER_SIGNATURE		MAKE_SQLSTATE('E','S','0','2','7')
#define ERRCODE_ES_RUN_BY_SERVER			MAKE_SQLSTATE('E','S','0','2','8')

/* ---- limits (documented in docs/errors.md) ---- */
#define ES_MAX_NAME_LEN			255		/* bytes in a stream name or type */
#define ES_MAX_BATCH			10000	/* events in one es_append call */
#define ES_MAX_COUNT			100000	/* rows in one es_load page */
#define ES_MAX_PARTITIONS_PER_CALL 100	/* made by one es_make_partitions call */
#define ES_COUNT_ALL			(-1)	/* max_count NULL: the whole stream */
#define ES_MAX_TAGS				32		/* tags on one event */
#define ES_MAX_QUERY_ITEMS		100		/* items in one DCB query */
#define ES_MAX_ITEM_NAMES		100		/* types, and tags, in one query item */

/*
 * Expected-version claims.  At the SQL level: NULL = any, 0 = the stream must
 * not exist, -1 = the stream must exist, n > 0 = exactly n.
 */
#define ES_EXPECT_ANY			(-2)
#define ES_EXPECT_EXISTS		(-1)
#define ES_EXPECT_NO_STREAM		0

/*
 * ---- Locks: tags and order ----
 *
 * Every heavyweight lock of the store is an advisory lock in the current
 * database, built only by src/stream_lock.c.  Field 4 of the tag says what
 * the lock protects and keeps it apart from users' pg_advisory_* locks
 * (which use 1 and 2); fields 2 and 3 hold a 64-bit key:
 *
 *	stream   "ES"  hash of the name (seed ES_STREAM_HASH_SEED)
 *	feed     "EF"  ES_FEED_KEY_APPEND: serialized-mode appenders;
 *				   ES_FEED_KEY_COUNTER: initialising the position counter
 *	handler  "EH"  hash of the handler, then of the stream
 *				   (seed ES_HANDLER_HASH_SEED)
 *	partitions "EP" 0: making partitions of the partitioned layout
 *	dcb      "ED"  hash of an event type, then of a tag (seed
 *				   ES_DCB_TYPE_SEED): key(type, tag); hash of a tag alone
 *				   (seed ES_DCB_TAG_SEED): key(tag) (docs/dcb.md)
 *
 * The order, within one es_append call: its stream locks, in ascending key
 * order (es_order_streams); then its dcb keys, in ascending key order, each
 * once (dcb_locks.c); then the events table's RowExclusiveLock, or
 * ShareRowExclusiveLock for a condition with a type-only or match-all item
 * (es_lock_events_for_append); then the feed lock (serialized mode) or the
 * counter lock; then the shared-memory LWLock of position.c, held for a few
 * instructions and never while waiting for any other lock; then, in the
 * partitioned layout and only when positions near the last partition's
 * bound, the partitions lock (es_lock_partitions), then the events table's
 * SHARE UPDATE EXCLUSIVE lock that ATTACH PARTITION takes.  A handler lock
 * is taken by es_lock_handler at the start of a projection's transaction,
 * before its appends.  es_set_shard takes an ExclusiveLock on the events
 * table itself (not advisory) and no stream lock; appenders' inserts wait
 * for it.  Across several calls in one transaction the order is
 * the caller's: see es_lock_feed for what that means in serialized mode.
 */
#define ES_LOCKTAG_STREAM		0x4553	/* "ES" */
#define ES_LOCKTAG_FEED			0x4546	/* "EF" */
#define ES_LOCKTAG_HANDLER		0x4548	/* "EH" */
#define ES_LOCKTAG_PARTITIONS	0x4550	/* "EP" */
#define ES_LOCKTAG_DCB			0x4544	/* "ED" */
#define ES_FEED_KEY_APPEND		UINT64CONST(0)
#define ES_FEED_KEY_COUNTER		UINT64CONST(1)
#define ES_STREAM_HASH_SEED		UINT64CONST(0x45535354)
#define ES_HANDLER_HASH_SEED	UINT64CONST(0x45534843)
#define ES_DCB_TYPE_SEED		UINT64CONST(0x45445459)
#define ES_DCB_TAG_SEED			UINT64CONST(0x45445447)

/* One event to append, as given by the caller (already validated). */
typedef struct EsNewEvent
{
	pg_uuid_t	id;
	bool		id_given;
	bool		id_preset;		/* id made at parsing (a stream-less event's stream names it) */
	text	   *type;
	Jsonb	   *data;			/* NULL when absent */
	bytea	   *data_bin;		/* NULL when absent */
	Jsonb	   *metadata;		/* NULL when absent */
	bool		has_occurred_at;
	TimestampTz occurred_at;	/* the writer's occurrence time, if given */
	struct EsTags *tags;		/* NULL when the event has none (tags.c) */
} EsNewEvent;

/* One event's tags (src/tags.c), as texts and as the text[] stored. */
typedef struct EsTags
{
	int			n;
	text	  **v;
	struct ArrayType *array;
} EsTags;

/* The events of one call that go to one stream. */
typedef struct EsStreamAppend
{
	text	   *stream;
	int64		expected;		/* ES_EXPECT_* or an exact version */
	uint64		lock_key;		/* set by es_order_streams */
	int			first;			/* index of its first event in the call */
	int			count;
	int64		base_version;	/* version before the append (filled in) */
	bool		already_stored; /* idempotent retry: nothing to write */
	bool		revive;			/* appending to a soft-deleted stream */
	bool		start_recorded; /* partitioned: has a stream_starts row */
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
	ES_COL_OCCURRED_AT,			/* 1.1: absent from a 1.0 table */
	ES_COL_TAGS,				/* 1.2: absent from a 1.1 table */
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
	TimestampTz *occurred_at;
	struct EsTags *tags;		/* NULL: no tags */
	bool		records_start;	/* partitioned: insert the stream's stream_starts row */
} EsEventRow;

/* A DCB query (src/dcb_query.c): items OR-ed, or everything. */
typedef struct EsQueryItem
{
	int			ntypes;
	text	  **types;
	int			ntags;
	text	  **tags;			/* tags[0]: the smallest, bytewise (its lock key) */
} EsQueryItem;

typedef struct EsQuery
{
	bool		all;
	int			nitems;
	EsQueryItem *items;
} EsQuery;

/* An append condition: fail if an event matching query is stored after `after`. */
typedef struct EsCondition
{
	EsQuery    *query;
	int64		after;			/* -1: no after (any position) */
} EsCondition;

/* src/validate.c */
extern text *es_check_name(text *name, const char *what);
extern text *es_check_stream_name(text *stream);
extern void es_check_payload(Jsonb *data, bytea *data_bin);
extern int64 es_check_max_count(FunctionCallInfo fcinfo, int argno, Oid argtype);
extern int64 es_check_after_position(FunctionCallInfo fcinfo, int argno);
extern void es_limit_param(FunctionCallInfo fcinfo, int argno, Datum *value, bool *isnull);
extern TimestampTz es_check_occurred_at(text *t);
extern Datum es_check_event_id(FunctionCallInfo fcinfo, int argno);
extern TimestampTz es_check_time_arg(FunctionCallInfo fcinfo, int argno, const char *what);

/* src/expected_version.c: the forms of a claim, and the rule (ES001) */
extern int64 es_check_expected_form(int64 v);
extern int64 es_parse_expected_name(const char *s);
extern void es_require_expected_version(text *stream, int64 expected, int64 actual);

/* src/names.c: a stream's category, the routing hash of a name */
extern text *es_category_of(text *stream);
extern uint64 es_name_hash(text *name);

/* src/stream_lock.c */
extern EsStreamAppend *es_order_streams(EsStreamAppend *streams, int nstreams);
extern void es_lock_streams(EsStreamAppend *streams, int nstreams);
extern void es_lock_stream_shared(text *stream);
extern void es_lock_stream_delete(text *stream);
extern bool es_try_lock_stream_delete(text *stream);
extern void es_lock_feed(void);
extern void es_lock_counter_init(void);
extern void es_unlock_counter_init(void);
extern bool es_acquire_handler_lock(text *handler, text *stream, bool wait);
extern void es_lock_events_against_appends(void);
extern void es_lock_events_for_append(bool against_appends);
extern void es_lock_dcb_key(uint64 key, int lockmode);
extern bool es_lock_partitions(bool wait);
extern void es_unlock_partitions(void);

/* src/grants.c */
extern void es_check_handler_grant(text *handler);
extern void es_check_category_grant(text *stream);

/*
 * src/position.c
 *
 * One slot per backend in its shared state.  min_pos > 0 while the
 * backend's transaction has appended and not yet ended: the slot then
 * holds the feed of dboid below min_pos.  The other fields serve
 * eventstore.max_append_hold and the feed_holders view (append_hold.c),
 * which see busy slots only through es_visit_busy_slots.
 */
typedef struct EsSlot
{
	Oid			dboid;
	int64		min_pos;		/* 0: no append in flight */
	int64		max_pos;		/* last position taken so far */
	TimestampTz since;			/* when min_pos was taken */
	int			hold_limit_ms;	/* the appender's max_append_hold; 0: none */
	int			pid;
	bool		terminating;	/* a reader has sent it SIGTERM */
} EsSlot;
typedef void (*EsSlotVisitor) (EsSlot *slot, void *arg);
extern bool es_preloaded;
extern void es_position_shmem_request(void);
extern void es_position_init(void);
extern int64 es_allocate_positions(int count);
extern int64 es_feed_safe_position(void);
extern int64 es_last_position_handed_out(void);
extern void es_visit_busy_slots(EsSlotVisitor visit, void *arg, bool exclusive);
extern void es_note_direct_insert(void);
extern ConditionVariable *es_feed_condition_variable(void);

/* src/append_hold.c: eventstore.max_append_hold, the feed_holders view */
extern void es_enforce_append_hold(TimestampTz *next_deadline);

/* src/projection_worker.c: the projection worker's setting and registration */
extern void es_projection_worker_init(void);

/* src/events_rel.c */
struct RelationData;
struct ExprState;
extern Oid	es_events_relid(void);
extern AttrNumber es_events_attnum(struct RelationData *rel, EsEventColumn col);
extern struct RelationData *es_events_open_version_index(struct RelationData *rel);
extern struct ExprState **es_events_check_exprs(struct RelationData *rel);
struct ResultRelInfo;
extern void es_events_use_compiled_indexes(struct ResultRelInfo *rri);
extern void es_events_open_indices(struct ResultRelInfo *rri);

/* src/event_insert.c */
extern void es_insert_events(EsEventRow *rows, int nrows, TimestampTz created_at);
extern void es_check_not_storing(EsStreamAppend *streams, int nstreams);

/* src/partitions.c */
extern void es_ensure_partitions(int64 first_position, int64 last_position);
extern Oid	es_event_ids_relid(void);
extern Oid	es_stream_starts_relid(void);
extern void es_check_archive_horizon(int64 after_position);

/* src/archive_schema.c, src/archive_erase.c: the archives of the partitioned layout */
struct Node;
struct StringInfoData;
extern Oid	es_archive_namespace(bool missing_ok);
struct List;
extern struct List *es_tables_in_schema(Oid nspid);
extern void es_guard_archive_ddl(struct Node *parsetree);
extern int64 es_erase_archived_events(text *stream, struct StringInfoData *where);

/*
 * src/append_exec.c: what one event of an append became, in the caller's
 * order; replayed (an idempotent retry) is its stream's already_stored.
 */
typedef struct EsAppended
{
	int64		version;
	int64		position;
	int			stream;			/* index into the call's streams */
} EsAppended;
extern EsAppended *es_append_execute(EsStreamAppend *streams, int nstreams,
									 EsNewEvent *events, int nevents,
									 const EsCondition *cond);
extern void es_new_event_id(pg_uuid_t *id);

/* src/append.c: the batch document and the result rows, also for es_append_if */
extern void es_parse_append_batch(Jsonb *batch, bool streamless_ok,
								  EsStreamAppend **streams, int *nstreams,
								  EsNewEvent **events, int *nevents);
extern void es_append_into_result(FunctionCallInfo fcinfo, EsStreamAppend *streams,
								  int nstreams, EsNewEvent *events, int nevents,
								  const EsCondition *cond);

/* src/tags.c */
struct ArrayType;
struct JsonbValue;
extern EsTags *es_tags_from_array(struct ArrayType *a);
extern EsTags *es_tags_from_jsonb(struct JsonbValue *v);
extern text **es_jsonb_string_array(struct JsonbValue *v, const char *what, int *n);
extern Datum es_tags_datum(EsTags *tags, bool *isnull);
extern void es_store_event_tags(EsEventRow *rows, int nrows);

/* src/dcb_query.c */
extern EsQuery *es_parse_query(Jsonb *query);
extern void es_check_condition(const EsCondition *cond);

/* src/dcb_probe.c */
struct SnapshotData;
extern int64 es_probe_tagged(text *tag, text *type, int64 after, Datum tags,
							 struct SnapshotData *snapshot);

/* src/dcb_locks.c */
extern void es_lock_dcb(const EsCondition *cond, EsNewEvent *events, int nevents,
						int nstreams);
struct SPITupleTable;
extern void es_lock_restored_tags(struct SPITupleTable *rows, int nrows, int type_col, int tags_col);

/* src/spi_plan.c */
struct _SPI_plan;
extern struct _SPI_plan *es_kept_plan(struct _SPI_plan **slot, const char *sql,
									  int nargs, Oid *types);

/* src/srf_result.c */
extern void es_run_into_result(FunctionCallInfo fcinfo, struct _SPI_plan *plan,
							   int nargs, Oid *types, Datum *values, bool *nulls);

/*
 * What a stream read returned first: the versions of its first two rows
 * (its column "version"), and, for a read whose first row may be a
 * snapshot, that row's flag (column flag_att, 0: none).  Filled in by
 * es_run_into_result_watched, checked by read_gaps.c.
 */
typedef struct EsReadStart
{
	AttrNumber	flag_att;
	int			rows;			/* rows seen, counted up to 2 */
	int64		version[2];
	bool		flag[2];
} EsReadStart;
extern void es_run_into_result_watched(FunctionCallInfo fcinfo, struct _SPI_plan *plan,
									   int nargs, Oid *types, Datum *values, bool *nulls,
									   EsReadStart *seen);
extern void es_read_into_result(FunctionCallInfo fcinfo, struct _SPI_plan **slot,
								const char *sql, int nargs, Oid *types,
								Datum *values, bool *nulls);

/* src/stream_scan.c: the custom scan of reads that hand rows up as they are read */
extern void es_stream_scan_init(void);

/* src/stream_read.c: the read side of those reads */
struct TupleTableSlot;
extern void es_note_read_start(EsReadStart *seen, struct TupleTableSlot *slot,
							   AttrNumber version_att);
struct TupleDescData;
extern AttrNumber es_version_att(struct TupleDescData *typeinfo);
extern bool es_stream_read(FunctionCallInfo fcinfo, struct _SPI_plan *plan, int nargs,
						   Oid *types, Datum *values, bool *nulls, EsReadStart *seen);

/* src/used_positions.c */
extern int64 es_read_highest_used_position(void);

/* src/index_probe.c */
struct SnapshotData;
struct RelationData;
struct TupleTableSlot;
extern bool es_index_first_row(struct RelationData *heap, struct RelationData *index,
							   text *key, struct SnapshotData *snapshot,
							   ScanDirection direction, struct TupleTableSlot *slot);
extern bool es_index_last_row_from(struct RelationData *heap, struct RelationData *index,
								   text *key, int64 from, struct SnapshotData *snapshot,
								   struct TupleTableSlot *slot);

/* src/read_gaps.c: a stream read never silently starts past a removed version (ES012) */
extern void es_check_read_from(text *stream, int64 from, bool backward, const EsReadStart *seen);
extern void es_check_snapshot_read(text *stream, text *kind, const EsReadStart *seen);
extern void es_check_read_until(text *stream, const EsReadStart *seen);

/* src/stream_state.c: a stream's lifecycle state (docs/lifecycle.md) */
typedef struct EsStreamState
{
	bool		found;			/* the stream has a row in stream_state */
	int64		last_version;
	bool		deleted;		/* soft-deleted */
	bool		tombstoned;
} EsStreamState;
extern void es_read_stream_state(text *stream, struct SnapshotData *snapshot,
								 EsStreamState *state);
extern void es_revive_stream(text *stream);
extern bool es_stream_state_exists(void);

/*
 * src/events_read.c: a stream's version read from its events, and its
 * "current" version as es_stream_version answers it (then stream_state)
 */
extern int64 es_read_stream_version(text *stream, struct SnapshotData *snapshot);
extern int64 es_read_stream_version_to_append(text *stream, struct SnapshotData *snapshot,
											  bool *start_recorded);
extern int64 es_stream_current_version(text *stream, struct SnapshotData *snapshot);

/* src/stream_change.c: what a stream-level lifecycle call found under the stream's lock */
typedef struct EsLifecycleTarget
{
	text	   *stream;
	int64		version;		/* version read from the events */
	EsStreamState state;		/* its stream_state row, if any */
} EsLifecycleTarget;
extern void es_refuse_lifecycle_in_recovery(void);
extern void es_begin_stream_change(text *stream, EsLifecycleTarget *t);
extern void es_error_tombstoned(text *stream);
extern void es_error_unknown_stream(text *stream);
extern void es_require_live_stream(EsLifecycleTarget *t, const char *hint);
extern text *es_reason_arg(FunctionCallInfo fcinfo, int argno, bool required);
extern void es_lifecycle_audit(const char *action, text *stream, text *handler,
							   text *kind, const char *detail, text *reason);

/* src/delete_permit.c: a lifecycle DELETE passes the immutability trigger */
extern bool es_take_delete_permit(void);
extern uint64 es_run_permitted_delete(struct _SPI_plan *plan, Datum *values,
									  Datum *max_position);

/* src/shard.c */
extern void es_check_shard(EsStreamAppend *streams, int nstreams);
extern void es_recheck_shard(EsStreamAppend *streams, int nstreams);

/* src/store_functions.c */
extern char *es_function_run_problem(Oid funcid);

/* src/settings.c: the settings, in _PG_init */
extern int	es_max_snapshot_size;
extern bool es_allow_destroy;
extern int	es_max_append_hold;
extern int	es_max_databases;
extern int	es_max_streams_per_call;
extern void es_define_settings(void);

#endif							/* EVENTSTORE_H */
