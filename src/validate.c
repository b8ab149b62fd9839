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
				 errdetail("It has %d bytes; the limit is %d.", len, ES_MAX_NAME_LEN)));

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
					 errdetail("Character %d is U+%04X.", nchars, (unsigned int) c),
					 errhint("See the rules for names in docs/append.md.")));
		if (is_bidi_format(c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain bidirectional formatting characters", what),
					 errdetail("Character %d is U+%04X.", nchars, (unsigned int) c),
					 errhint("See the rules for names in docs/append.md.")));
		if (i == 0 && is_white_space(c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not begin or end with white space", what),
					 errhint("See the rules for names in docs/append.md.")));
	}
	if (is_white_space(c))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not begin or end with white space", what),
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
				 errdetail("A stream's category is the part of its name before the first \"-\", and it must not be empty."),
				 errhint("See the rules for names in docs/append.md.")));
	return stream;
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

/*
 * Ensure a page size (argument argno, of SQL type argtype: INT4OID or
 * INT8OID) is present and within 1..ES_MAX_COUNT.
 */
int64
es_check_max_count(FunctionCallInfo fcinfo, int argno, Oid argtype)
{
	int64		n;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_count must not be null")));
	n = argtype == INT8OID ? PG_GETARG_INT64(argno) : PG_GETARG_INT32(argno);
	if (n < 1 || n > ES_MAX_COUNT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_count must be between 1 and %d", ES_MAX_COUNT),
				 errdetail("It is " INT64_FORMAT ".", n)));
	return n;
}
