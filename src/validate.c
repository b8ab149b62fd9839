/*-------------------------------------------------------------------------
 *
 * validate.c
 *	  Checks of caller-supplied values, each raising a precise error.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/* Ensure a stream name or event type is present, non-empty and short enough. */
text *
es_check_name(text *name, const char *what)
{
	int			len;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	len = VARSIZE_ANY_EXHDR(name);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	if (len > ES_MAX_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", what),
				 errdetail("It has %d bytes; the limit is %d.", len, ES_MAX_NAME_LEN)));
	return name;
}

/* Ensure an expected version is one of the documented forms. */
int64
es_check_expected_version(int64 v)
{
	if (v < ES_EXPECT_EXISTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid expected version: " INT64_FORMAT, v),
				 errhint("Use NULL for any version, 0 for a new stream, -1 for an existing stream, or the exact version.")));
	return v;
}

/* Ensure an event carries at most one payload. */
void
es_check_payload(Jsonb *data, bytea *data_bin)
{
	if (data != NULL && data_bin != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an event cannot have both a JSON and a binary payload"),
				 errhint("Pass the payload as data or as data_bin, not both.")));
}

/* The category of a stream: its name up to the first "-". */
text *
es_category_of(text *stream)
{
	const char *s = VARDATA_ANY(stream);
	int			len = VARSIZE_ANY_EXHDR(stream);
	const char *dash = memchr(s, '-', len);

	if (dash == NULL)
		return stream;
	return cstring_to_text_with_len(s, dash - s);
}

static int64 es_check_max_count_or_all(FunctionCallInfo fcinfo, int argno, Oid argtype);

/*
 * Ensure a page size (argument argno, of SQL type argtype: INT4OID or
 * INT8OID) is present and within 1..ES_MAX_COUNT.
 */
int64
es_check_max_count(FunctionCallInfo fcinfo, int argno, Oid argtype)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_count must not be null")));
	return es_check_max_count_or_all(fcinfo, argno, argtype);
}

/*
 * The same for the reads of one stream, where NULL means the whole stream
 * (returned as ES_COUNT_ALL): a stream is bounded by what its writers put
 * into it, and the result tuplestore spills to disk beyond work_mem.
 */
static int64
es_check_max_count_or_all(FunctionCallInfo fcinfo, int argno, Oid argtype)
{
	int64		n;

	if (PG_ARGISNULL(argno))
		return ES_COUNT_ALL;
	n = argtype == INT8OID ? PG_GETARG_INT64(argno) : PG_GETARG_INT32(argno);
	if (n < 1 || n > ES_MAX_COUNT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_count must be between 1 and %d", ES_MAX_COUNT),
				 errdetail("It is " INT64_FORMAT ".", n)));
	return n;
}

/*
 * The LIMIT parameter of a read from its max_count argument (argno, an
 * integer): the checked count, or NULL (no limit) when max_count is NULL.
 */
void
es_limit_param(FunctionCallInfo fcinfo, int argno, Datum *value, bool *isnull)
{
	int64		n = es_check_max_count_or_all(fcinfo, argno, INT4OID);

	*isnull = n == ES_COUNT_ALL;
	*value = Int32GetDatum(*isnull ? 0 : (int32) n);
}

/* Ensure an after_position (argument argno) is present and not negative. */
int64
es_check_after_position(FunctionCallInfo fcinfo, int argno)
{
	int64		after;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("after_position must not be null"),
				 errhint("Use 0 to read from the beginning of the feed.")));
	after = PG_GETARG_INT64(argno);
	if (after < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("after_position must not be negative"),
				 errdetail("It is " INT64_FORMAT ".", after),
				 errhint("Use 0 to read from the beginning of the feed.")));
	return after;
}

/*
 * Ensure a writer's occurrence time (ISO 8601 text, as in JSON) is a finite
 * timestamp; malformed text is 22007 from the timestamptz parser.
 */
TimestampTz
es_check_occurred_at(text *t)
{
	TimestampTz ts;

	ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												 CStringGetDatum(text_to_cstring(t)),
												 ObjectIdGetDatum(InvalidOid),
												 Int32GetDatum(-1)));
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("occurred_at must be a finite time"),
				 errdetail("It is \"%s\".", text_to_cstring(t))));
	return ts;
}

/* Ensure a time argument (argument argno, timestamptz) is present and finite. */
TimestampTz
es_check_time_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	TimestampTz ts;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	ts = PG_GETARG_TIMESTAMPTZ(argno);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite time", what)));
	return ts;
}

/* Ensure an event id argument (argument argno, uuid) is present. */
Datum
es_check_event_id(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event id must not be null")));
	return PG_GETARG_DATUM(argno);
}
