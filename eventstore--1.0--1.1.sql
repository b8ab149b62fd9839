-- eventstore 1.0 -> 1.1.
-- Every change to the SQL surface between the two releases, in the order
-- the issues landed.  src/sql/NN_*.sql holds the same objects as a fresh
-- 1.1 install creates them; test/suites/15_upgrade.sh checks that both
-- roads end in the same schema.
\echo Use "ALTER EXTENSION eventstore UPDATE TO '1.1'" to load this file. \quit

-- Issue 10: the C symbols of the snapshot functions now mirror their SQL
-- names.  The 1.0 symbols stay in the library (src/snapshot.c), so this
-- only rebinds; signatures, defaults and attributes are those of 1.0.
CREATE OR REPLACE FUNCTION eventstore.es_snapshot(
    stream   text,
    version  bigint,
    data     jsonb DEFAULT NULL,
    kind     text  DEFAULT 'default',
    data_bin bytea DEFAULT NULL,
    OUT version bigint,
    OUT saved   boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'es_snapshot'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION eventstore.es_load_snapshot(
    stream text,
    kind   text DEFAULT 'default')
RETURNS TABLE (stream text, kind text, version bigint, data jsonb, data_bin bytea,
               created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_load_snapshot'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 1;

CREATE OR REPLACE FUNCTION eventstore.es_load_with_snapshot(
    stream    text,
    kind      text    DEFAULT 'default',
    max_count integer DEFAULT 1000)
RETURNS TABLE (is_snapshot boolean, "position" bigint, stream text, version bigint,
               event_id uuid, type text, data jsonb, data_bin bytea, metadata jsonb,
               created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_load_with_snapshot'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;
