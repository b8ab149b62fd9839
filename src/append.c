/*-------------------------------------------------------------------------
 *
 * append.c
 *	  The SQL-callable forms of es_append: they turn their arguments into
 *	  EsStreamAppend / EsNewEvent arrays, hand them to append_exec.c, and
 *	  turn what it answers into the rows of eventstore.append_result.
 *
 *	  es_append(stream, type, data, expected_version, metadata, event_id,
 *	            data_bin)                     one event
 *	  es_append(batch jsonb)                  one stream or several, as JSON
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

/* Fields of eventstore.append_result: stream, version, position, event_id, replayed. */
#define APPEND_RESULT_FIELDS	5

/*
 * The result tuplestore.  Take the row type from the calling node when it
 * has one (it always has for a call in FROM or in the select list):
 * get_call_result_type() rebuilds it from pg_proc on every call, about 9,000
 * instructions, 3% of a single-event append (docs/benchmarks.md).
 */
static void
init_result(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		expected = rsinfo != NULL && IsA(rsinfo, ReturnSetInfo) &&
		rsinfo->expectedDesc != NULL;

	InitMaterializedSRF(fcinfo, expected ? MAT_SRF_USE_EXPECTED_DESC : 0);
}

/*
 * Run the append (with a condition, for es_append_if: dcb_append.c) and
 * answer one row per event, in the caller's order.  The fifth field,
 * replayed, is 1.1's: under 1.0's append_result (the library serving a
 * database not yet updated) the rows have the first four only.
 */
void
es_append_into_result(FunctionCallInfo fcinfo, EsStreamAppend *streams, int nstreams,
					  EsNewEvent *events, int nevents, const EsCondition *cond)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EsAppended *appended = es_append_execute(streams, nstreams, events, nevents, cond);
	int			i;

	if (rsinfo->setDesc->natts > APPEND_RESULT_FIELDS)
		elog(ERROR, "eventstore.append_result has %d fields, more than this library knows",
			 rsinfo->setDesc->natts);
	for (i = 0; i < nevents; i++)
	{
		EsStreamAppend *sa = &streams[appended[i].stream];
		Datum		values[APPEND_RESULT_FIELDS];
		bool		nulls[APPEND_RESULT_FIELDS] = {false, false, false, false, false};

		values[0] = PointerGetDatum(sa->stream);
		values[1] = Int64GetDatum(appended[i].version);
		values[2] = Int64GetDatum(appended[i].position);
		values[3] = UUIDPGetDatum(&events[i].id);
		values[4] = BoolGetDatum(sa->already_stored);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* es_append(stream, type, data, expected_version, metadata, event_id, data_bin) */
PG_FUNCTION_INFO_V1(es_append_event);
Datum
es_append_event(PG_FUNCTION_ARGS)
{
	EsStreamAppend sa;
	EsNewEvent	ev;

	init_result(fcinfo);

	memset(&sa, 0, sizeof(sa));
	memset(&ev, 0, sizeof(ev));
	sa.stream = es_check_stream_name(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	ev.type = es_check_name(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1), "event type");
	ev.data = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	sa.expected = PG_ARGISNULL(3) ? ES_EXPECT_ANY : es_check_expected_form(PG_GETARG_INT64(3));
	ev.metadata = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	if (!PG_ARGISNULL(5))
	{
		ev.id = *PG_GETARG_UUID_P(5);
		ev.id_given = true;
	}
	ev.data_bin = PG_ARGISNULL(6) ? NULL : PG_GETARG_BYTEA_PP(6);
	/* tags: 1.2's eighth argument; 1.0's and 1.1's SQL passes seven. */
	if (PG_NARGS() > 7 && !PG_ARGISNULL(7))
		ev.tags = es_tags_from_array(PG_GETARG_ARRAYTYPE_P(7));
	es_check_payload(ev.data, ev.data_bin);
	if (ev.metadata != NULL && !JB_ROOT_IS_OBJECT(ev.metadata))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event metadata must be a JSON object")));

	sa.first = 0;
	sa.count = 1;
	es_append_into_result(fcinfo, &sa, 1, &ev, 1, NULL);
	return (Datum) 0;
}

/* ---- the JSON batch form ---- */

typedef struct BatchBuilder
{
	bool		streamless_ok;	/* es_append_if: entries may leave out the stream */
	EsStreamAppend *streams;
	int			nstreams;
	int			maxstreams;
	EsNewEvent *events;
	int			nevents;
	int			maxevents;
} BatchBuilder;

static const char *
jbv_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		default:
			return "object or array";
	}
}

static void
batch_error(const char *msg, const char *detail_key, JsonbValue *v)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid append batch: %s", msg),
			 detail_key ? errdetail("Key \"%s\" has a value of type %s.", detail_key,
									jbv_type_name(v)) : 0,
			 errhint("A batch is {\"stream\": ..., \"expected_version\": ..., \"events\": [{\"type\": ..., \"data\": ...}]} or an array of such objects.")));
}

/*
 * An object key as a C string, for comparisons and messages: in `buf` when it
 * fits (every key we know does), else copied.  A copy of every key of a
 * 10,000-event batch took a tenth of the call's memory (docs/append.md).
 */
#define KEYBUF_LEN 32

static const char *
jbv_key(JsonbValue *k, char *buf)
{
	if (k->val.string.len < KEYBUF_LEN)
	{
		memcpy(buf, k->val.string.val, k->val.string.len);
		buf[k->val.string.len] = '\0';
		return buf;
	}
	return pnstrdup(k->val.string.val, k->val.string.len);
}

static bool
jbv_is_container(JsonbValue *v, bool object)
{
	if (v->type != jbvBinary)
		return false;
	return object ? JsonContainerIsObject(v->val.binary.data)
		: JsonContainerIsArray(v->val.binary.data);
}

static text *
jbv_text(JsonbValue *v, const char *key)
{
	if (v->type != jbvString)
		batch_error("a string is required", key, v);
	return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
}

/* "expected_version": null | integer | "any" | "no_stream" | "stream_exists" */
static int64
jbv_expected(JsonbValue *v)
{
	if (v->type == jbvNull)
		return ES_EXPECT_ANY;
	if (v->type == jbvNumeric)
	{
		char	   *repr = DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(v->val.numeric)));
		Datum		d;

		if (strpbrk(repr, ".eE") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid expected version: %s", repr),
					 errhint("An expected version is a whole number.")));
		d = DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric));

		return es_check_expected_form(DatumGetInt64(d));
	}
	if (v->type == jbvString)
		return es_parse_expected_name(pnstrdup(v->val.string.val, v->val.string.len));
	batch_error("expected_version must be null, a number or a string", "expected_version", v);
	return 0;					/* keep compiler quiet */
}

static void
parse_event(BatchBuilder *b, JsonbValue *ev_value)
{
	EsNewEvent *ev;
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	if (!jbv_is_container(ev_value, true))
		batch_error("each event must be a JSON object", NULL, NULL);
	if (b->nevents >= ES_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many events in one append"),
				 errdetail("The limit is %d events per call.", ES_MAX_BATCH)));
	if (b->nevents == b->maxevents)
	{
		b->maxevents *= 2;
		b->events = repalloc(b->events, sizeof(EsNewEvent) * b->maxevents);
	}
	ev = &b->events[b->nevents++];
	memset(ev, 0, sizeof(*ev));

	it = JsonbIteratorInit(ev_value->val.binary.data);
	tok = JsonbIteratorNext(&it, &k, true);
	while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		char		keybuf[KEYBUF_LEN];
		const char *key = jbv_key(&k, keybuf);

		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "type") == 0)
			ev->type = es_check_name(jbv_text(&v, key), "event type");
		else if (strcmp(key, "data") == 0)
			ev->data = v.type == jbvNull ? NULL : JsonbValueToJsonb(&v);
		else if (strcmp(key, "metadata") == 0)
		{
			if (v.type == jbvNull)
				ev->metadata = NULL;
			else if (jbv_is_container(&v, true))
				ev->metadata = JsonbValueToJsonb(&v);
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("event metadata must be a JSON object")));
		}
		else if (strcmp(key, "data_bin") == 0)
		{
			if (v.type != jbvNull)
			{
				text	   *t = jbv_text(&v, key);

				ev->data_bin = DatumGetByteaPP(DirectFunctionCall1(byteain,
																   CStringGetDatum(text_to_cstring(t))));
			}
		}
		else if (strcmp(key, "occurred_at") == 0)
		{
			if (v.type != jbvNull)
			{
				ev->occurred_at = es_check_occurred_at(jbv_text(&v, key));
				ev->has_occurred_at = true;
			}
		}
		else if (strcmp(key, "tags") == 0)
			ev->tags = es_tags_from_jsonb(&v);
		else if (strcmp(key, "id") == 0)
		{
			if (v.type != jbvNull)
			{
				text	   *t = jbv_text(&v, key);

				ev->id = *DatumGetUUIDP(DirectFunctionCall1(uuid_in,
															CStringGetDatum(text_to_cstring(t))));
				ev->id_given = true;
			}
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized key \"%s\" in an event", key),
					 errhint("An event has the keys type, data, data_bin, metadata, id, occurred_at and tags.")));
	}
	if (ev->type == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event type must not be null"),
				 errhint("Every event needs a \"type\".")));
	es_check_payload(ev->data, ev->data_bin);
}

/*
 * es_append_if: the events of an entry without a stream each get a stream
 * of their own, "$dcb-<event id>", version 1 (docs/dcb.md): every event of
 * the store belongs to a stream, and a stream of its own never makes two
 * appends wait for each other.  The id is fixed here, so a retry with the
 * same ids finds the same streams.
 */
static void
split_streamless(BatchBuilder *b, bool have_events)
{
	EsStreamAppend *sa = &b->streams[b->nstreams - 1];
	int			first = sa->first;
	int			count = sa->count;
	int			i;

	if (sa->expected != ES_EXPECT_ANY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an entry without a stream cannot have an expected version"),
				 errhint("Its events each get a stream of their own.")));
	if (!have_events || count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no events in an entry without a stream")));
	b->nstreams--;
	for (i = 0; i < count; i++)
	{
		EsNewEvent *ev = &b->events[first + i];
		char	   *id;

		if (!ev->id_given)
		{
			es_new_event_id(&ev->id);
			ev->id_preset = true;
		}
		if (b->nstreams == b->maxstreams)
		{
			b->maxstreams *= 2;
			b->streams = repalloc(b->streams, sizeof(EsStreamAppend) * b->maxstreams);
		}
		sa = &b->streams[b->nstreams++];
		memset(sa, 0, sizeof(*sa));
		sa->expected = ES_EXPECT_ANY;
		sa->first = first + i;
		sa->count = 1;
		id = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&ev->id)));
		sa->stream = cstring_to_text(psprintf("$dcb-%s", id));
	}
}

static void
parse_stream(BatchBuilder *b, JsonbValue *sv)
{
	EsStreamAppend *sa;
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	bool		have_events = false;

	if (!jbv_is_container(sv, true))
		batch_error("each stream entry must be a JSON object", NULL, NULL);
	if (b->nstreams == b->maxstreams)
	{
		b->maxstreams *= 2;
		b->streams = repalloc(b->streams, sizeof(EsStreamAppend) * b->maxstreams);
	}
	sa = &b->streams[b->nstreams++];
	memset(sa, 0, sizeof(*sa));
	sa->expected = ES_EXPECT_ANY;
	sa->first = b->nevents;

	it = JsonbIteratorInit(sv->val.binary.data);
	tok = JsonbIteratorNext(&it, &k, true);
	while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		char		keybuf[KEYBUF_LEN];
		const char *key = jbv_key(&k, keybuf);

		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "stream") == 0)
			sa->stream = es_check_stream_name(jbv_text(&v, key));
		else if (strcmp(key, "expected_version") == 0)
			sa->expected = jbv_expected(&v);
		else if (strcmp(key, "events") == 0)
		{
			JsonbIterator *eit;
			JsonbValue	e;

			if (!jbv_is_container(&v, false))
				batch_error("\"events\" must be an array", key, &v);
			have_events = true;
			eit = JsonbIteratorInit(v.val.binary.data);
			while ((tok = JsonbIteratorNext(&eit, &e, true)) != WJB_DONE)
			{
				if (tok == WJB_ELEM)
					parse_event(b, &e);
			}
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized key \"%s\" in an append batch", key),
					 errhint("A stream entry has the keys stream, expected_version and events.")));
	}
	sa->count = b->nevents - sa->first;
	if (sa->stream == NULL && b->streamless_ok)
	{
		split_streamless(b, have_events);
		return;
	}
	if (sa->stream == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stream name must not be null"),
				 errhint("Every entry of a batch needs a \"stream\".")));

	/*
	 * "events": [] with an expected version checks a stream that the command
	 * read but does not write (docs/append.md); without one it says nothing.
	 */
	if (!have_events || (sa->count == 0 && sa->expected == ES_EXPECT_ANY))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no events to append to stream \"%s\"", text_to_cstring(sa->stream)),
				 have_events ? errhint("An entry with \"events\": [] must give an expected version to check.") : 0));
}

/*
 * Turn a batch document into the arrays es_append_execute takes.
 * streamless_ok: es_append_if's entries may leave out "stream".
 */
void
es_parse_append_batch(Jsonb *batch, bool streamless_ok,
					  EsStreamAppend **streams, int *nstreams,
					  EsNewEvent **events, int *nevents)
{
	BatchBuilder b;
	JsonbValue	v;

	b.streamless_ok = streamless_ok;
	b.maxstreams = 4;
	b.nstreams = 0;
	b.streams = palloc(sizeof(EsStreamAppend) * b.maxstreams);
	b.maxevents = 16;
	b.nevents = 0;
	b.events = palloc(sizeof(EsNewEvent) * b.maxevents);

	if (JB_ROOT_IS_OBJECT(batch))
	{
		v.type = jbvBinary;
		v.val.binary.data = &batch->root;
		v.val.binary.len = VARSIZE(batch) - VARHDRSZ;
		parse_stream(&b, &v);
	}
	else if (JB_ROOT_IS_ARRAY(batch) && !JB_ROOT_IS_SCALAR(batch))
	{
		JsonbIterator *it = JsonbIteratorInit(&batch->root);
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_ELEM)
				parse_stream(&b, &v);
		}
		if (b.nstreams == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("no events to append"),
					 errdetail("The batch is an empty array.")));
	}
	else
		batch_error("the batch must be a JSON object or array", NULL, NULL);
	*streams = b.streams;
	*nstreams = b.nstreams;
	*events = b.events;
	*nevents = b.nevents;
}

/* es_append(batch jsonb) */
PG_FUNCTION_INFO_V1(es_append_batch);
Datum
es_append_batch(PG_FUNCTION_ARGS)
{
	EsStreamAppend *streams;
	EsNewEvent *events;
	int			nstreams;
	int			nevents;

	init_result(fcinfo);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("append batch must not be null")));
	es_parse_append_batch(PG_GETARG_JSONB_P(0), false, &streams, &nstreams,
						  &events, &nevents);
	es_append_into_result(fcinfo, streams, nstreams, events, nevents, NULL);
	return (Datum) 0;
}
