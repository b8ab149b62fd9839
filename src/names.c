/*-------------------------------------------------------------------------
 *
 * names.c
 *	  What a stream name means beyond itself: its category, and the hash
 *	  that routes it (consumer groups, shards).
 *
 * The rules a name must follow are checks, in validate.c; these are
 * answers, and they never refuse a name.
 *
 *-------------------------------------------------------------------------
 */
#include "eventstore.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"

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
 * FNV-1a 64 over the UTF-8 bytes of a name.  Written out (not hashtext) so
 * that it is the same on every platform and PostgreSQL version: consumer
 * groups (es_stream_hash) and shard routing (shard.c) depend on it.
 */
uint64
es_name_hash(text *name)
{
	int			len = VARSIZE_ANY_EXHDR(name);
	const char *src = VARDATA_ANY(name);
	const unsigned char *bytes;
	uint64		h = UINT64CONST(0xcbf29ce484222325);
	int			i;

	/* Hash what a UTF-8 database would store, whatever ours uses. */
	bytes = (const unsigned char *) pg_server_to_any(src, len, PG_UTF8);
	if ((const char *) bytes != src)
		len = strlen((const char *) bytes);
	for (i = 0; i < len; i++)
	{
		h ^= bytes[i];
		h *= UINT64CONST(0x100000001b3);
	}
	return h;
}
