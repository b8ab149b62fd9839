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

/*
 * Names: stream names, event types, categories, handler names, snapshot
 * kinds.  The rules are written down in docs/append.md ("Names"); this is
 * their only home, and every SQL-callable function passes each name it takes
 * through es_check_name (es_check_stream_name for streams), for writing and
 * for reading alike.
 *
 * A name is compared byte for byte, so two names that print alike are two
 * different streams or handlers.  The rules keep out what prints as nothing
 * or reorders what is around it: control characters, Unicode's bidirectional
 * formatting characters, and white space at either end (which also rules out
 * names of white space only).  Letters of any script, digits, punctuation
 * and symbols, and white space inside a name stay valid.
 */

/* Is this code point white space (Unicode's White_Space property)? */
static inline bool
is_white_space(pg_wchar c)
{
	return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0x85 || c == 0xa0 ||
		c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
		c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Is this code point a control character (Unicode's general category Cc)? */
static inline bool
is_control_char(pg_wchar c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/* Is this code point a bidirectional formatting character? */
static inline bool
is_bidi_format(pg_wchar c)
{
	return c == 0x061c || c == 0x200e || c == 0x200f ||
		(c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * The next character of a name as a code point.  In a database that is not
 * UTF-8 only ASCII is decoded (every server encoding keeps ASCII bytes for
 * ASCII characters); other characters come back as 0xFFFD, which no rule
 * refuses.
 */
static pg_wchar
next_code_point(const char *s, int *len)
{
	const unsigned char *u = (const unsigned char *) s;

	if (GetDatabaseEncoding() == PG_UTF8)
	{
		*len = pg_utf_mblen(u);
		return utf8_to_unicode(u);
	}
	*len = pg_mblen(s);
	return *len == 1 ? (pg_wchar) u[0] : 0xfffd;
}

/* Characters of a too long name that its error shows. */
#define ES_SHOWN_NAME_CHARS 64

/*
 * A refused name as its error shows it, so that the caller sees which value
 * it sent: in double quotes, with every character the rules refuse (and
 * every white space character other than a plain space) written as \\uXXXX,
 * so that the message prints on one line and in its stored order, and '\\'
 * and '"' escaped.  At most max_chars characters: only a name longer than
 * the rules allow is cut.
 */
static char *
shown_name(const char *s, int len, int max_chars)
{
	StringInfoData buf;
	int			i;
	int			clen;
	int			n = 0;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '"');
	for (i = 0; i < len && n < max_chars; i += clen, n++)
	{
		pg_wchar	c = next_code_point(s + i, &clen);

		if (is_control_char(c) || is_bidi_format(c) || (c != ' ' && is_white_space(c)))
			appendStringInfo(&buf, "\\u%04X", (unsigned int) c);
		else if (c == '\\' || c == '"')
			appendStringInfo(&buf, "\\%c", (char) c);
		else
			appendBinaryStringInfo(&buf, s + i, clen);
	}
	appendStringInfoChar(&buf, '"');
	return buf.data;
}

/* Ensure a name is present, non-empty, short enough and free of the above. */
text *
es_check_name(text *name, const char *what)
{
	const char *s;
	int			len;
	int			i;
	int			clen;
	pg_wchar	c = 0;
	int			nchars = 0;

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
				 errdetail("It has %d bytes; the limit is %d. It begins with %s.",
						   len, ES_MAX_NAME_LEN,
						   shown_name(VARDATA_ANY(name), len, ES_SHOWN_NAME_CHARS))));

	/* Text values are verified in the database encoding on input. */
	s = VARDATA_ANY(name);
	for (i = 0; i < len; i += clen)
	{
		c = next_code_point(s + i, &clen);
		nchars++;
		if (is_control_char(c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain control characters", what),
					 errdetail("Character %d of %s is U+%04X.", nchars, shown_name(s, len, len), (unsigned int) c),
					 errhint("See the rules for names in docs/append.md.")));
		if (is_bidi_format(c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain bidirectional formatting characters", what),
					 errdetail("Character %d of %s is U+%04X.", nchars, shown_name(s, len, len), (unsigned int) c),
					 errhint("See the rules for names in docs/append.md.")));
		if (i == 0 && is_white_space(c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not begin or end with white space", what),
					 errdetail("It is %s.", shown_name(s, len, len)),
					 errhint("See the rules for names in docs/append.md.")));
	}
	if (is_white_space(c))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not begin or end with white space", what),
				 errdetail("It is %s.", shown_name(s, len, len)),
				 errhint("See the rules for names in docs/append.md.")));
	return name;
}

/*
 * Ensure a stream name is a valid name whose category is not empty: a name
 * that begins with "-" would have the empty category, which no category
 * filter can ask for.
 */
text *
es_check_stream_name(text *stream)
{
	(void) es_check_name(stream, "stream name");
	if (*VARDATA_ANY(stream) == '-')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream name must not begin with \"-\""),
				 errdetail("It is %s. A stream's category is the part of its name before the first \"-\", and it must not be empty.",
						   shown_name(VARDATA_ANY(stream), VARSIZE_ANY_EXHDR(stream), ES_MAX_NAME_LEN)),
				 errhint("See the rules for names in docs/append.md.")));
	return stream;
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
