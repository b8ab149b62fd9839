-- A PL/Proxy router for a store sharded by stream over four databases
-- (docs/scale-out.md).  Run it in the proxy database with psql, giving
-- the four shards' connection strings:
--
--   psql -d proxy -v p0='dbname=shard0 host=...' -v p1=... -v p2=... -v p3=... -f plproxy.sql
--
-- Each shard database has run CREATE EXTENSION eventstore and
-- SELECT eventstore.es_set_shard(k, 4) for its number k, so a call that
-- reaches the wrong shard fails there (ES020, ES021) instead of forking a
-- stream.  The proxy database has the extension too, for its routing
-- functions es_shard_of and es_shard_of_batch only: its own store stays
-- empty.  Clients call es_proxy.* with the arguments of eventstore.*.
--
-- To shard by category instead, replace 'stream' by 'category' in every
-- RUN ON below, and give es_set_shard the same choice.  For another shard
-- count, replace 4 everywhere and list that many partitions.
\set ON_ERROR_STOP 1

CREATE EXTENSION IF NOT EXISTS plproxy;
CREATE EXTENSION IF NOT EXISTS eventstore;

-- The partitions, in shard order: partition k is shard k.  modular_mapping
-- takes the value of RUN ON modulo the count, so any count works.
CREATE SERVER es_shards FOREIGN DATA WRAPPER plproxy
    OPTIONS (modular_mapping '1', p0 :'p0', p1 :'p1', p2 :'p2', p3 :'p3');
CREATE USER MAPPING FOR PUBLIC SERVER es_shards;

CREATE SCHEMA es_proxy;

-- ---- appends ----

-- One event: routed by its stream.
CREATE FUNCTION es_proxy.es_append(
    stream text, type text, data jsonb DEFAULT NULL, expected_version bigint DEFAULT NULL,
    metadata jsonb DEFAULT NULL, event_id uuid DEFAULT NULL, data_bin bytea DEFAULT NULL)
RETURNS TABLE (stream text, version bigint, "position" bigint, event_id uuid)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON eventstore.es_shard_of(stream, 4, 'stream');
    TARGET eventstore.es_append;
$$;

-- A batch: routed by its streams, all of which must belong to one shard
-- (es_shard_of_batch raises ES021 here, before any shard is called).
CREATE FUNCTION es_proxy.es_append(batch jsonb)
RETURNS TABLE (stream text, version bigint, "position" bigint, event_id uuid)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON eventstore.es_shard_of_batch(batch, 4, 'stream');
    TARGET eventstore.es_append;
$$;

-- ---- streams ----

CREATE FUNCTION es_proxy.es_load(
    stream text, from_version bigint DEFAULT NULL, max_count integer DEFAULT 1000,
    backward boolean DEFAULT false)
RETURNS TABLE ("position" bigint, stream text, version bigint, event_id uuid, type text,
               category text, data jsonb, data_bin bytea, metadata jsonb, created_at timestamptz)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON eventstore.es_shard_of(stream, 4, 'stream');
    TARGET eventstore.es_load;
$$;

CREATE FUNCTION es_proxy.es_stream_version(stream text)
RETURNS bigint
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON eventstore.es_shard_of(stream, 4, 'stream');
    TARGET eventstore.es_stream_version;
$$;

-- ---- snapshots ----

CREATE FUNCTION es_proxy.es_snapshot(
    stream text, version bigint, data jsonb DEFAULT NULL, kind text DEFAULT 'default',
    data_bin bytea DEFAULT NULL, OUT version bigint, OUT saved boolean)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON eventstore.es_shard_of(stream, 4, 'stream');
    TARGET eventstore.es_snapshot;
$$;

CREATE FUNCTION es_proxy.es_load_snapshot(stream text, kind text DEFAULT 'default')
RETURNS TABLE (stream text, kind text, version bigint, data jsonb, data_bin bytea,
               created_at timestamptz)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON eventstore.es_shard_of(stream, 4, 'stream');
    TARGET eventstore.es_load_snapshot;
$$;

CREATE FUNCTION es_proxy.es_load_with_snapshot(
    stream text, kind text DEFAULT 'default', max_count integer DEFAULT 1000)
RETURNS TABLE (is_snapshot boolean, "position" bigint, stream text, version bigint,
               event_id uuid, type text, data jsonb, data_bin bytea, metadata jsonb,
               created_at timestamptz)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON eventstore.es_shard_of(stream, 4, 'stream');
    TARGET eventstore.es_load_with_snapshot;
$$;

-- ---- the sharded feed: one position per shard ----
-- Positions are per shard.  A subscriber keeps a vector: after_positions[k + 1]
-- is how far it has read shard k.

-- One page of every shard at once, each row tagged with its shard.  Each
-- shard reads its own element of the vector (es_shard_info says which).
CREATE FUNCTION es_proxy.es_load_feed(after_positions bigint[], max_count bigint DEFAULT 1000)
RETURNS TABLE (shard integer, "position" bigint, stream text, version bigint, event_id uuid,
               type text, category text, data jsonb, data_bin bytea, metadata jsonb,
               created_at timestamptz)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON ALL;
    SELECT i.shard, e."position", e.stream, e.version, e.event_id, e.type, e.category,
           e.data, e.data_bin, e.metadata, e.created_at
      FROM eventstore.es_shard_info() i,
           eventstore.es_load(($1)[i.shard + 1], $2) e;
$$;

-- One shard's feed, as eventstore.es_load(after_position, max_count) there.
CREATE FUNCTION es_proxy.es_load_shard_feed(shard integer, after_position bigint,
                                            max_count bigint DEFAULT 1000)
RETURNS TABLE (shard integer, "position" bigint, stream text, version bigint, event_id uuid,
               type text, category text, data jsonb, data_bin bytea, metadata jsonb,
               created_at timestamptz)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON shard;
    SELECT i.shard, e."position", e.stream, e.version, e.event_id, e.type, e.category,
           e.data, e.data_bin, e.metadata, e.created_at
      FROM eventstore.es_shard_info() i,
           eventstore.es_load($2, $3) e;
$$;

-- Every shard's feed head.
CREATE FUNCTION es_proxy.es_feed_heads()
RETURNS TABLE (shard integer, head bigint)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON ALL;
    SELECT i.shard, eventstore.es_feed_head() AS head FROM eventstore.es_shard_info() i;
$$;

-- Wait for one shard's feed to pass a position (es_wait there).
CREATE FUNCTION es_proxy.es_wait(shard integer, after_position bigint, timeout_ms integer DEFAULT 10000)
RETURNS boolean
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON shard;
    SELECT eventstore.es_wait(after_position, timeout_ms);
$$;

-- ---- checkpoints: one per (handler, shard), kept on that shard ----

-- A feed handler's checkpoint on one shard.
CREATE FUNCTION es_proxy.es_advance_position(handler text, shard integer, new_position bigint,
                                             OUT "position" bigint, OUT advanced boolean)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON shard;
    SELECT p."position", p.advanced FROM eventstore.es_advance_position($1, $3) p;
$$;

-- A feed handler's checkpoint vector: one row per shard.
CREATE FUNCTION es_proxy.es_handler_positions(handler text)
RETURNS TABLE (shard integer, "position" bigint)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON ALL;
    SELECT i.shard, eventstore.es_handler_position(handler) AS "position"
      FROM eventstore.es_shard_info() i;
$$;

-- A per-stream handler's checkpoint lives on the stream's shard.
CREATE FUNCTION es_proxy.es_advance_stream_position(handler text, stream text, version bigint,
                                                    OUT "position" bigint, OUT advanced boolean)
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON eventstore.es_shard_of(stream, 4, 'stream');
    SELECT p."position", p.advanced FROM eventstore.es_advance_position($1, $3, $2) p;
$$;

CREATE FUNCTION es_proxy.es_handler_position(handler text, stream text)
RETURNS bigint
LANGUAGE plproxy AS $$
    CLUSTER 'es_shards';
    RUN ON eventstore.es_shard_of(stream, 4, 'stream');
    TARGET eventstore.es_handler_position;
$$;
