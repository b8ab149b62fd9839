/*-------------------------------------------------------------------------
 *
 * expected_version.c
 *	  Expected-version claims (optimistic concurrency): the forms a caller
 *	  may give, and the rule a stream's version must meet.
 *
 * At the SQL level a claim is NULL or "any" (no check), 0 or "no_stream"
 * (the stream must not exist), -1 or "stream_exists" (it must exist), or an
 * exact version n > 0; internally ES_EXPECT_* or n (eventstore.h).  A
 * claim of the wrong form is bad input (22023); a claim the stream does not
 * meet is a conflict (ES001) whose detail a driver can read without
 * parsing prose.  docs/append.md documents both.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"

/*
 * The documented forms of an expected version, in every error about one.
 * The symbolic names are KurrentDB's; -1 keeps the meaning 1.0 gave it.
 */
#define EXPECTED_VERSION_HINT \
	"Use \"any\" (or NULL), \"no_stream\" (or 0), \"stream_exists\" (or -1), or the exact version."

/*
 * Ensure an expected version given as a number is one of the documented
 * forms (an argument check, 22023; whether the stream meets it is
 * es_require_expected_version's job).
 */
int64
es_check_expected_form(int64 v)
{
	if (v < ES_EXPECT_EXISTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid expected version: " INT64_FORMAT, v),
				 errhint(EXPECTED_VERSION_HINT)));
	return v;
}

/*
 * Ensure an expected version given as text is a symbolic name or a whole
 * number of a documented form; returns ES_EXPECT_* or the exact version.
 * "exists" is the name 1.0's JSON form accepted, kept as an alias.
 */
static int64
es_parse_expected_version(const char *s)
{
	char	   *end;
	int64		v;

	if (strcmp(s, "any") == 0)
		return ES_EXPECT_ANY;
	if (strcmp(s, "no_stream") == 0)
		return ES_EXPECT_NO_STREAM;
	if (strcmp(s, "stream_exists") == 0 || strcmp(s, "exists") == 0)
		return ES_EXPECT_EXISTS;
	errno = 0;
	v = strtoi64(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized expected version: \"%s\"", s),
				 errhint(EXPECTED_VERSION_HINT)));
	return es_check_expected_form(v);
}

/*
 * The same for a string in a JSON batch, where only the names are strings:
 * a version is a JSON number there ("expected_version": 3), as 1.0 had it
 * and docs/append.md documents.  "3" is refused rather than read as 3: a
 * client that sends its version as a string has a type confusion that
 * should surface, not be guessed at (issue 21, item 11).
 */
int64
es_parse_expected_name(const char *s)
{
	if (strcmp(s, "any") == 0 || strcmp(s, "no_stream") == 0 ||
		strcmp(s, "stream_exists") == 0 || strcmp(s, "exists") == 0)
		return es_parse_expected_version(s);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unrecognized expected version: \"%s\"", s),
			 strspn(s, "+-0123456789 ") == strlen(s) && *s != '\0'
			 ? errdetail("In a batch document an exact version is a JSON number, not a string.")
			 : 0,
			 errhint(EXPECTED_VERSION_HINT)));
	return 0;					/* keep compiler quiet */
}

/*
 * es_expected_version(text): the bigint that es_append's single-event form
 * takes for "any" (NULL), "no_stream", "stream_exists" or a number in text,
 * so that the symbolic names work from every driver (docs/append.md).
 */
PG_FUNCTION_INFO_V1(es_expected_version);
Datum
es_expected_version(PG_FUNCTION_ARGS)
{
	int64		v = es_parse_expected_version(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	if (v == ES_EXPECT_ANY)
		PG_RETURN_NULL();
	PG_RETURN_INT64(v);
}

/*
 * The DETAIL of a version conflict: a JSON object that a driver reads
 * without parsing prose (docs/errors.md), e.g.
 * {"stream": "order-1", "expected_version": 2, "actual_version": 4}.
 * expected_version is the claim in es_append's numeric form (0 no stream,
 * -1 an existing stream, n exactly n).
 */
static char *
conflict_detail(text *stream, int64 expected, int64 actual)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"stream\": ");
	escape_json(&buf, text_to_cstring(stream));
	appendStringInfo(&buf, ", \"expected_version\": " INT64_FORMAT
					 ", \"actual_version\": " INT64_FORMAT "}",
					 expected, actual);
	return buf.data;
}

/*
 * The rule itself: the stream's version, as read under its lock, must
 * satisfy the claim (ES001).  es_append and the lifecycle calls that take an
 * expected version (es_delete_stream, es_tombstone_stream) use it.
 */
void
es_require_expected_version(text *stream, int64 expected, int64 actual)
{
	bool		ok;

	switch (expected)
	{
		case ES_EXPECT_ANY:
			return;
		case ES_EXPECT_EXISTS:
			ok = actual > 0;
			break;
		case ES_EXPECT_NO_STREAM:
			ok = actual == 0;
			break;
		default:
			ok = actual == expected;
			break;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_ES_WRONG_EXPECTED_VERSION),
				 errmsg("wrong expected version for stream \"%s\"",
						text_to_cstring(stream)),
				 errdetail_internal("%s", conflict_detail(stream, expected, actual)),
				 errhint("Load the stream again and retry the command.")));
}
