-- Scale-out by stream: the routing hash, the shard identity and the check
-- that makes a shard refuse streams that are not its own (src/shard.c;
-- design in docs/scale-out.md).

-- The shard identity: at most one row, written by es_set_shard only.  A
-- row rather than a setting so that it travels with the data in pg_dump.
-- No constraints of its own: es_set_shard checks the values.
CREATE TABLE eventstore.shard_config (
    shard       integer     NOT NULL,
    shard_count integer     NOT NULL,
    shard_by    text        NOT NULL,
    set_at      timestamptz NOT NULL
);
COMMENT ON TABLE eventstore.shard_config IS
    'This store''s place in a sharded store: empty when it is not a shard. Written by es_set_shard and es_unset_shard only.';
COMMENT ON COLUMN eventstore.shard_config.shard IS 'This store''s shard number, 0 to shard_count - 1.';
COMMENT ON COLUMN eventstore.shard_config.shard_count IS 'How many shards the store has.';
COMMENT ON COLUMN eventstore.shard_config.shard_by IS 'stream or category: what es_shard_of hashes.';
COMMENT ON COLUMN eventstore.shard_config.set_at IS 'When es_set_shard last set it.';
SELECT pg_catalog.pg_extension_config_dump('eventstore.shard_config', '');
REVOKE ALL ON TABLE eventstore.shard_config FROM PUBLIC;

CREATE FUNCTION eventstore.es_shard_of(stream text, shard_count integer, shard_by text DEFAULT 'stream')
RETURNS integer
AS 'MODULE_PATHNAME', 'es_shard_of'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventstore.es_shard_of(text, integer, text) IS
    'The shard (0 to shard_count - 1) that owns a stream: FNV-1a 64 of the UTF-8 bytes of the stream name (shard_by ''stream'') or of its category (shard_by ''category''), mixed by MurmurHash3''s 64-bit finalizer, modulo shard_count. Stable across platforms and PostgreSQL versions.';

CREATE FUNCTION eventstore.es_shard_of_batch(batch jsonb, shard_count integer, shard_by text DEFAULT 'stream')
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    shards integer[];
    streams text[];
    bad text;
BEGIN
    -- The shape es_append checks, with its SQLSTATEs (src/append.c): a
    -- router refuses what the shard would refuse, and a malformed batch is
    -- 22023, not a missing stream name.
    IF batch IS NULL THEN
        RAISE EXCEPTION 'append batch must not be null' USING ERRCODE = '22004';
    END IF;
    IF pg_catalog.jsonb_typeof(batch) NOT IN ('object', 'array') THEN
        RAISE EXCEPTION 'invalid append batch: the batch must be a JSON object or array'
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('It is a JSON %s.', pg_catalog.jsonb_typeof(batch));
    END IF;
    SELECT pg_catalog.jsonb_typeof(e.value) INTO bad
      FROM pg_catalog.jsonb_array_elements(
               CASE pg_catalog.jsonb_typeof(batch) WHEN 'array' THEN batch
                    ELSE pg_catalog.jsonb_build_array(batch) END) e
     WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'object'
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'invalid append batch: each stream entry must be a JSON object'
            USING ERRCODE = '22023', DETAIL = pg_catalog.format('An entry is a JSON %s.', bad);
    END IF;
    SELECT pg_catalog.jsonb_typeof(e.value OPERATOR(pg_catalog.->) 'stream') INTO bad
      FROM pg_catalog.jsonb_array_elements(
               CASE pg_catalog.jsonb_typeof(batch) WHEN 'array' THEN batch
                    ELSE pg_catalog.jsonb_build_array(batch) END) e
     WHERE pg_catalog.jsonb_typeof(e.value OPERATOR(pg_catalog.->) 'stream') OPERATOR(pg_catalog.<>) 'string'
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'invalid append batch: a string is required'
            USING ERRCODE = '22023', DETAIL = pg_catalog.format('Key "stream" has a value of type %s.', bad);
    END IF;
    SELECT pg_catalog.array_agg(DISTINCT eventstore.es_shard_of(e.value OPERATOR(pg_catalog.->>) 'stream', shard_count, shard_by)),
           pg_catalog.array_agg(e.value OPERATOR(pg_catalog.->>) 'stream')
      INTO shards, streams
      FROM pg_catalog.jsonb_array_elements(
               CASE pg_catalog.jsonb_typeof(batch) WHEN 'array' THEN batch
                    ELSE pg_catalog.jsonb_build_array(batch) END) e;
    IF shards IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'no events to append',
            DETAIL = 'The batch is an empty array.';
    END IF;
    IF pg_catalog.cardinality(shards) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'ES021',
            MESSAGE = 'append spans several shards',
            DETAIL = pg_catalog.format('Streams %s belong to shards %s (%s shards by %s).',
                                       streams, shards, shard_count, shard_by),
            HINT = 'One call appends within one shard; shard by category to keep a category''s streams together.';
    END IF;
    RETURN shards[1];
END
$$;
COMMENT ON FUNCTION eventstore.es_shard_of_batch(jsonb, integer, text) IS
    'For a router: the shard of every stream of an es_append batch, or SQLSTATE ES021 when its streams belong to several shards.';

CREATE FUNCTION eventstore.es_set_shard(shard integer, shard_count integer, shard_by text DEFAULT 'stream')
RETURNS void
AS 'MODULE_PATHNAME', 'es_set_shard'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_set_shard(integer, integer, text) IS
    'Make this store shard number shard (0 to shard_count - 1) of shard_count, by stream or by category: es_append then refuses streams of other shards (SQLSTATE ES020, ES021). Refused when the store already holds a stream of another shard.';

CREATE FUNCTION eventstore.es_unset_shard()
RETURNS void
AS 'MODULE_PATHNAME', 'es_unset_shard'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_unset_shard() IS
    'Make this store no shard: es_append accepts every stream again.';

CREATE FUNCTION eventstore.es_shard_info(
    OUT shard integer, OUT shard_count integer, OUT shard_by text, OUT set_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.shard, c.shard_count, c.shard_by, c.set_at FROM eventstore.shard_config c
$$;
COMMENT ON FUNCTION eventstore.es_shard_info() IS
    'This store''s shard number, shard count and shard_by, as es_set_shard set them; no row when it is not a shard.';
