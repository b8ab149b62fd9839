-- How es_append stores rows (src/event_insert.c): constraints, row triggers,
-- several appends in one statement, and a table that was altered.
SET search_path = eventstore, public;

-- Several appends in one statement see each other's rows.
SELECT a.stream, a.version
  FROM generate_series(1, 3) g,
       LATERAL es_append('cci-1', 'Step', jsonb_build_object('g', g), expected_version => g - 1) a;
SELECT version, data FROM es_load('cci-1');

-- Row triggers fire: BEFORE may change payload and metadata, AFTER sees the row.
CREATE TABLE public.event_audit (position bigint, stream text, version bigint);
CREATE FUNCTION public.tag_metadata() RETURNS trigger LANGUAGE plpgsql
    SET search_path = eventstore, public AS $$
BEGIN
    IF NEW.type = 'Skip' THEN RETURN NULL; END IF;
    IF NEW.type = 'Move' THEN NEW.version := NEW.version + 10; END IF;
    IF NEW.type = 'Rename' THEN NEW.stream := 'other-1'; END IF;
    NEW.metadata := coalesce(NEW.metadata, '{}') || '{"tagged": true}';
    RETURN NEW;
END $$;
CREATE FUNCTION public.audit_event() RETURNS trigger LANGUAGE plpgsql
    SET search_path = eventstore, public AS $$
BEGIN
    INSERT INTO public.event_audit VALUES (NEW.position, NEW.stream, NEW.version);
    RETURN NULL;
END $$;
CREATE TRIGGER tag BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION public.tag_metadata();
CREATE TRIGGER audit AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION public.audit_event();
SELECT stream, version FROM es_append('trig-1', 'Created', '{}', expected_version => 0);
SELECT stream, version FROM es_append('[{"stream": "trig-2", "events": [{"type": "A"}, {"type": "B"}]}]'::jsonb);
SELECT stream, version, metadata FROM es_load('trig-1') UNION ALL
SELECT stream, version, metadata FROM es_load('trig-2') ORDER BY 1, 2;
SELECT a.stream, a.version FROM public.event_audit a JOIN events e USING (position) ORDER BY 1, 2;
-- ... but may not drop an event or move it (SQLSTATE 39P01); nothing is stored.
SELECT try($$SELECT es_append('trig-3', 'Skip')$$);
SELECT try($$SELECT es_append('trig-3', 'Move')$$);
SELECT try($$SELECT es_append('trig-3', 'Rename')$$);
SELECT es_stream_version('trig-3'), es_stream_version('other-1');
DROP TRIGGER tag ON events;
DROP TRIGGER audit ON events;

-- A CHECK constraint added later is enforced, and dropping it is noticed.
ALTER TABLE events ADD CONSTRAINT no_bad_type CHECK (type <> 'Bad');
SELECT try($$SELECT es_append('chk-1', 'Bad')$$);
SELECT stream, version FROM es_append('chk-1', 'Good');
ALTER TABLE events DROP CONSTRAINT no_bad_type;
SELECT stream, version FROM es_append('chk-1', 'Bad');
-- The built-in ones too (version > 0 cannot fail through es_append; one payload can).
SELECT try($$SELECT es_append('chk-1', 'Both', '{}', data_bin => '\x00')$$);

-- A column eventstore does not know is refused with a clear error, then fine again.
ALTER TABLE events ADD COLUMN extra int;
SELECT try($$SELECT es_append('col-1', 'T')$$);
ALTER TABLE events DROP COLUMN extra;
SELECT stream, version FROM es_append('col-1', 'T');
-- es_load returns the table's rows; with a dropped column in the table they
-- are converted to the result type, never misread.
SELECT stream, version, type, category FROM es_load('col-1');
SELECT stream, version, type, category FROM es_load(after_position => 0, category => 'col');
SELECT stream, version, data IS NULL AS no_data
  FROM es_load(after_position => 0, category => 'col', with_payload => false);
-- A dropped column in the middle of the row (as an upgrade might leave):
-- reads still return the right values in the right columns; appends refuse.
BEGIN;
ALTER TABLE events DROP COLUMN data_bin;
SELECT stream, version, type, category, metadata, created_at IS NOT NULL AS has_time
  FROM es_load('col-1');
SELECT stream, version, type, category FROM es_load(after_position => 0, category => 'col');
SELECT try($$SELECT es_append('col-1', 'T')$$);
ROLLBACK;

-- An AFTER trigger may itself append (nested es_append).
CREATE FUNCTION public.echo_event() RETURNS trigger LANGUAGE plpgsql
    SET search_path = eventstore, public AS $$
BEGIN
    IF NEW.stream = 'outer-1' THEN PERFORM eventstore.es_append('echo-1', 'Echo'); END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER echo AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION public.echo_event();
SELECT stream, version FROM es_append('outer-1', 'T');
SELECT stream, version FROM es_load('echo-1');
DROP TRIGGER echo ON events;

-- Index expressions and predicates are compiled once per backend
-- (src/events_rel.c): an expression index created, dropped and created
-- again with another expression in this session gets the right entries.
-- (count by the index, count by a sequential scan, whether the index was used)
CREATE FUNCTION public.index_agrees(cond text, index_name text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    by_index bigint;
    by_scan  bigint;
    plan     text := '';
    line     text;
BEGIN
    SET LOCAL enable_seqscan = off;
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) SELECT count(*) FROM eventstore.events WHERE ' || cond LOOP
        plan := plan || line;
    END LOOP;
    EXECUTE 'SELECT count(*) FROM eventstore.events WHERE ' || cond INTO by_index;
    SET LOCAL enable_seqscan = on;
    SET LOCAL enable_indexscan = off;
    SET LOCAL enable_bitmapscan = off;
    EXECUTE 'SELECT count(*) FROM eventstore.events WHERE ' || cond INTO by_scan;
    RETURN format('%s by the index, %s by a scan, index used: %s', by_index, by_scan,
                  position(index_name IN plan) > 0);
END $$;
SELECT count(*) FROM es_append('ix-1', 'K', '{"k": "a", "j": "b"}');
CREATE INDEX user_k_idx ON events ((data ->> 'k')) WHERE type = 'K';
SELECT count(*) FROM es_append('ix-1', 'K', '{"k": "a", "j": "b"}');
SELECT count(*) FROM es_append('ix-1', 'L', '{"k": "a", "j": "b"}');
SELECT public.index_agrees($$(data ->> 'k') = 'a' AND type = 'K'$$, 'user_k_idx');
DROP INDEX user_k_idx;
CREATE INDEX user_j_idx ON events ((data ->> 'j')) WHERE type = 'L';
SELECT count(*) FROM es_append('ix-1', 'L', '{"k": "a", "j": "b"}');
SELECT public.index_agrees($$(data ->> 'j') = 'b' AND type = 'L'$$, 'user_j_idx');
DROP INDEX user_j_idx;
DROP FUNCTION public.index_agrees(text, text);

-- Nothing above left a version gap or a duplicate.
SELECT stream, count(*) AS events, max(version) AS last
  FROM events WHERE stream IN ('cci-1', 'trig-1', 'trig-2', 'chk-1', 'col-1', 'outer-1', 'echo-1', 'ix-1')
 GROUP BY stream HAVING count(*) <> max(version);
