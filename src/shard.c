/*-------------------------------------------------------------------------
 *
 * shard.c
 *	  Scale-out by stream: the routing hash es_shard_of, the store's shard
 *	  identity (es_set_shard, es_unset_shard) and the check that makes a
 *	  shard refuse streams that are not its own.
 *
 * Why a shard checks at all: a router (PL/Proxy, an application) that sends
 * a stream to the wrong database would otherwise start a second copy of the
 * stream at version 1 there, with no error anywhere, and a multi-stream call
 * routed by its first stream would commit the others on the wrong shard.
 * So a store that knows it is shard k of n refuses, before any lock or
 * write, every call with a stream whose shard is not k (docs/scale-out.md);
 * a call that checked a copy of the identity that went stale meanwhile
 * checks again once its rows are in (es_recheck_shard).
 *
 * The routing hash: FNV-1a 64 of the UTF-8 bytes of the key (the store's
 * own hash, es_name_hash in names.c: the same on every platform and
 * PostgreSQL version), mixed by MurmurHash3's 64-bit finalizer, modulo n.
 * Why mix: FNV-1a's upper bits are poorly spread for short names (bits 32
 * and 33 left one shard of four empty for "s-1" .. "s-4000"), and its low
 * bits are what consumer groups use (es_stream_hash % group_size): a shard
 * whose streams all had hash % n = k would give all of them to one member
 * of a group of n.  The finalizer is integer arithmetic only, so the result
 * is the same everywhere.  The key is the stream name, or its category when
 * the store shards by category (a category's multi-stream calls then stay
 * on one shard).
 *
 * Where the identity lives: one row of eventstore.shard_config, written
 * only by es_set_shard.  A row, not a setting: it travels with the data in
 * pg_dump (a restored shard is still the same shard), es_set_shard can check
 * the events already stored, and no session can SET it away.
 *
 * The cache: each backend reads the row once and keeps it.  es_set_shard
 * and es_unset_shard send a relcache invalidation of the table; every
 * backend drops its copy when it processes that (at the start of its next
 * transaction, or when it next takes a lock it did not hold), and the
 * writer at its next command.  An unconfigured store then pays one test of
 * a static flag per call, and one more after the insert (es_recheck_shard
 * says why).
 *
 * Locks: es_set_shard holds an ExclusiveLock on the events table to the end
 * of its transaction (es_lock_events_against_appends in stream_lock.c:
 * appends wait, reads go on), so no append slips in between its check of
 * the stored streams and the new row.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#define ES_MAX_SHARDS	65536

/* This backend's copy of the shard identity; valid while config_loaded. */
static bool config_loaded = false;
static bool callback_registered = false;
static Oid	config_relid = InvalidOid;
static bool sharded = false;
static int	my_shard = 0;
static int	shard_count = 1;
static bool by_category = false;

static void
shard_config_invalidate(Datum arg, Oid changed)
{
	/* Without the table (a 1.0 schema) any invalidation may be its creation. */
	if (changed == InvalidOid || changed == config_relid ||
		!OidIsValid(config_relid))
		config_loaded = false;
}

/* Ensure shard_count is within 1..ES_MAX_SHARDS. */
static int
check_shard_count(FunctionCallInfo fcinfo, int argno)
{
	int			n;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("shard_count must not be null")));
	n = PG_GETARG_INT32(argno);
	if (n < 1 || n > ES_MAX_SHARDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shard_count must be between 1 and %d", ES_MAX_SHARDS),
				 errdetail("It is %d.", n)));
	return n;
}

/* "stream" or "category": what the routing hash is taken of. */
static bool
check_shard_by(FunctionCallInfo fcinfo, int argno)
{
	char	   *by;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("shard_by must not be null")));
	by = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(by, "stream") == 0)
		return false;
	if (strcmp(by, "category") == 0)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unrecognized shard_by value: \"%s\"", by),
			 errhint("Shard by \"stream\" or by \"category\".")));
	return false;				/* keep compiler quiet */
}

/* The shard (0 .. count - 1) of a checked stream name. */
static int
es_shard_number(text *stream, int count, bool category)
{
	uint64		h = es_name_hash(category ? es_category_of(stream) : stream);

	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (int) (h % (uint64) count);
}

/*
 * Read the identity row, or find there is none (no row, or no table yet).
 * With the latest snapshot, not the transaction's: a REPEATABLE READ
 * transaction that started before es_set_shard committed must still see
 * the new identity when it appends (es_recheck_shard).
 */
static void
load_config(void)
{
	static SPIPlanPtr plan = NULL;
	Oid			nsp;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(shard_config_invalidate, (Datum) 0);
		callback_registered = true;
	}
	sharded = false;
	nsp = get_namespace_oid("eventstore", true);
	config_relid = OidIsValid(nsp) ? get_relname_relid("shard_config", nsp) : InvalidOid;
	if (OidIsValid(config_relid))
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		es_kept_plan(&plan,
					 "SELECT shard, shard_count, shard_by OPERATOR(pg_catalog.=) 'category'"
					 " FROM eventstore.shard_config", 0, NULL);
		if (SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(),
								 InvalidSnapshot, true, false, 2) != SPI_OK_SELECT)
			elog(ERROR, "could not read eventstore.shard_config");
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;

			my_shard = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
			shard_count = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			by_category = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
			sharded = true;
		}
		SPI_finish();
	}
	config_loaded = true;
}

static const char *
shard_by_name(bool category)
{
	return category ? "category" : "stream";
}

/*
 * Ensure every stream of a call belongs to this shard, when the store is
 * a shard.  Called by es_append_execute before anything else it does.
 */
void
es_check_shard(EsStreamAppend *streams, int nstreams)
{
	int			i;
	int			first_elsewhere = -1;
	int			here = -1;

	if (!config_loaded)
		load_config();
	if (!sharded)
		return;

	for (i = 0; i < nstreams; i++)
	{
		int			s = es_shard_number(streams[i].stream, shard_count, by_category);

		if (s == my_shard)
			here = i;
		else if (first_elsewhere < 0)
			first_elsewhere = i;
	}
	if (first_elsewhere < 0)
		return;
	if (here >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_ES_CROSS_SHARD),
				 errmsg("append spans several shards"),
				 errdetail("Stream \"%s\" belongs to shard %d, stream \"%s\" to shard %d (%d shards by %s).",
						   text_to_cstring(streams[here].stream), my_shard,
						   text_to_cstring(streams[first_elsewhere].stream),
						   es_shard_number(streams[first_elsewhere].stream,
										   shard_count, by_category),
						   shard_count, shard_by_name(by_category)),
				 errhint("One call appends within one shard; shard by category to keep a category's streams together.")));
	ereport(ERROR,
			(errcode(ERRCODE_ES_WRONG_SHARD),
			 errmsg("stream \"%s\" does not belong to this shard",
					text_to_cstring(streams[first_elsewhere].stream)),
			 errdetail("It belongs to shard %d; this store is shard %d of %d, by %s.",
					   es_shard_number(streams[first_elsewhere].stream,
									   shard_count, by_category),
					   my_shard, shard_count, shard_by_name(by_category)),
			 errhint("Route the call by eventstore.es_shard_of(stream, %d, '%s').",
					 shard_count, shard_by_name(by_category))));
}

/*
 * Check again once the rows are in, if the identity changed meanwhile.
 *
 * The first check ran on this backend's copy, before any lock.  An
 * es_set_shard that committed after that copy was read, and before this
 * call took its lock on the events table, went unseen: es_set_shard holds
 * an EXCLUSIVE lock on the table to its commit, so our ROW EXCLUSIVE lock
 * waited for it, and taking the lock processed its invalidation, which
 * dropped the copy.  Then check again, which fails the call; nothing it
 * wrote survives.  Otherwise this is one test of a flag.
 */
void
es_recheck_shard(EsStreamAppend *streams, int nstreams)
{
	if (!config_loaded)
		es_check_shard(streams, nstreams);
}

/* es_shard_of(stream, shard_count, shard_by): the routing hash */
PG_FUNCTION_INFO_V1(es_shard_of);
Datum
es_shard_of(PG_FUNCTION_ARGS)
{
	text	   *stream = es_check_stream_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	int			n = check_shard_count(fcinfo, 1);
	bool		category = check_shard_by(fcinfo, 2);

	PG_RETURN_INT32(es_shard_number(stream, n, category));
}

/* Make every backend, this one included, read the identity row again. */
static void
config_changed(void)
{
	CacheInvalidateRelcacheByRelid(config_relid);
	config_loaded = false;
}

/* es_set_shard(shard, shard_count, shard_by) */
PG_FUNCTION_INFO_V1(es_set_shard);
Datum
es_set_shard(PG_FUNCTION_ARGS)
{
	int			n = check_shard_count(fcinfo, 1);
	bool		category = check_shard_by(fcinfo, 2);
	int			shard;
	Datum		args[3];
	Oid			types[3] = {INT4OID, INT4OID, TEXTOID};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("shard must not be null")));
	shard = PG_GETARG_INT32(0);
	if (shard < 0 || shard >= n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shard must be between 0 and %d", n - 1),
				 errdetail("It is %d; shards are numbered from 0 to shard_count - 1.", shard)));
	PreventCommandIfReadOnly("es_set_shard");

	load_config();
	if (!OidIsValid(config_relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"eventstore.shard_config\" does not exist"),
				 errhint("Run ALTER EXTENSION eventstore UPDATE.")));

	args[0] = Int32GetDatum(shard);
	args[1] = Int32GetDatum(n);
	args[2] = CStringGetTextDatum(shard_by_name(category));
	/* A stream stored here already must stay here. */
	es_lock_events_against_appends();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT s.stream, eventstore.es_shard_of(s.stream, $2, $3)"
							  " FROM (SELECT DISTINCT e.stream FROM eventstore.events e) s"
							  " WHERE eventstore.es_shard_of(s.stream, $2, $3) OPERATOR(pg_catalog.<>) $1"
							  " ORDER BY s.stream COLLATE pg_catalog.\"C\" LIMIT 1",
							  3, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not check the stored streams");
	if (SPI_processed > 0)
	{
		bool		isnull;

		ereport(ERROR,
				(errcode(ERRCODE_ES_WRONG_SHARD),
				 errmsg("stream \"%s\" does not belong to this shard",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("The store holds it already, and it belongs to shard %d of %d by %s, not to shard %d.",
						   DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 2, &isnull)),
						   n, shard_by_name(category), shard),
				 errhint("Move the streams that belong elsewhere first, or choose another shard number.")));
	}

	if (SPI_execute("DELETE FROM eventstore.shard_config", false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("INSERT INTO eventstore.shard_config (shard, shard_count, shard_by, set_at)"
							  " VALUES ($1, $2, $3, pg_catalog.now())",
							  3, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write eventstore.shard_config");
	SPI_finish();
	config_changed();
	PG_RETURN_VOID();
}

/* es_unset_shard(): the store is no shard any more */
PG_FUNCTION_INFO_V1(es_unset_shard);
Datum
es_unset_shard(PG_FUNCTION_ARGS)
{
	PreventCommandIfReadOnly("es_unset_shard");
	load_config();
	if (!OidIsValid(config_relid))
		PG_RETURN_VOID();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("DELETE FROM eventstore.shard_config", false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not write eventstore.shard_config");
	SPI_finish();
	config_changed();
	PG_RETURN_VOID();
}
