-- Edge cases of es_append (issue 11): a nested append from a BEFORE trigger,
-- duplicate keys in a batch document, partial multi-stream retries, and the
-- memory a large batch takes.
SET search_path = eventstore, public;

-- A BEFORE INSERT trigger that appends to the stream being stored would take
-- the same versions as the outer call: refused with 39P01, nothing stored.
CREATE FUNCTION public.nested_before() RETURNS trigger LANGUAGE plpgsql
    SET search_path = eventstore, public AS $$
BEGIN
    IF NEW.type = 'Outer' THEN
        PERFORM eventstore.es_append(coalesce(NEW.data->>'target', NEW.stream), 'Inner');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER nested_before BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION public.nested_before();
SELECT try($$SELECT es_append('nest-1', 'Outer')$$);
-- every stream of the outer call counts, not only the row's own
SELECT try($$SELECT es_append('[{"stream": "nest-2", "events": [{"type": "Outer", "data": {"target": "nest-1"}}]},
                                {"stream": "nest-1", "events": [{"type": "Other"}]}]')$$);
\set VERBOSITY default
SELECT es_append('nest-1', 'Outer');
SELECT es_stream_version('nest-1'), es_stream_version('nest-2');
DROP TRIGGER nested_before ON events;
-- to another stream it works, and so it does from an AFTER trigger
CREATE OR REPLACE FUNCTION public.nested_before() RETURNS trigger LANGUAGE plpgsql
    SET search_path = eventstore, public AS $$
BEGIN
    IF NEW.type = 'Outer' THEN
        PERFORM eventstore.es_append(NEW.stream || '-audit', 'Inner');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER nested_before BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION public.nested_before();
SELECT stream, version FROM es_append('nest-3', 'Outer');
SELECT es_stream_version('nest-3-audit');
DROP TRIGGER nested_before ON events;
CREATE TRIGGER nested_after AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION public.nested_before();
CREATE OR REPLACE FUNCTION public.nested_before() RETURNS trigger LANGUAGE plpgsql
    SET search_path = eventstore, public AS $$
BEGIN
    IF NEW.type = 'Outer' THEN
        PERFORM eventstore.es_append(NEW.stream, 'Inner');
    END IF;
    RETURN NEW;
END $$;
SELECT stream, version FROM es_append('nest-4', 'Outer');
SELECT version, type FROM es_load('nest-4');
DROP TRIGGER nested_after ON events;
DROP FUNCTION public.nested_before();

-- Duplicate keys: the batch is jsonb, whose input keeps the last of
-- duplicate keys before es_append sees the document (docs/append.md).
SELECT stream, version FROM es_append('{"stream": "dup-a", "stream": "dup-b", "events": [{"type": "T"}]}');
SELECT es_stream_version('dup-a'), es_stream_version('dup-b');

-- A multi-stream retry finds every entry stored, or none: an entry without
-- ids would otherwise be appended again.
SELECT stream, version FROM es_append('[
    {"stream": "retry-a", "events": [{"type": "T", "id": "0193a5c2-0000-7000-8000-00000000000a"}]},
    {"stream": "retry-b", "events": [{"type": "T"}]}]');
SELECT try($$SELECT es_append('[
    {"stream": "retry-a", "events": [{"type": "T", "id": "0193a5c2-0000-7000-8000-00000000000a"}]},
    {"stream": "retry-b", "events": [{"type": "T"}]}]')$$);
SELECT es_append('[
    {"stream": "retry-a", "events": [{"type": "T", "id": "0193a5c2-0000-7000-8000-00000000000a"}]},
    {"stream": "retry-b", "events": [{"type": "T"}]}]');
SELECT es_stream_version('retry-a'), es_stream_version('retry-b');
-- with an id on every event, the same call is a retry
SELECT stream, version FROM es_append('[
    {"stream": "retry-c", "events": [{"type": "T", "id": "0193a5c2-0000-7000-8000-00000000000c"}]},
    {"stream": "retry-d", "events": [{"type": "T", "id": "0193a5c2-0000-7000-8000-00000000000d"}]}]');
SELECT stream, version FROM es_append('[
    {"stream": "retry-c", "events": [{"type": "T", "id": "0193a5c2-0000-7000-8000-00000000000c"}]},
    {"stream": "retry-d", "events": [{"type": "T", "id": "0193a5c2-0000-7000-8000-00000000000d"}]}]');
SELECT es_stream_version('retry-c'), es_stream_version('retry-d');

-- Memory of the largest batch (10,000 events of about 100 bytes of JSON
-- each): the backend's memory at the end of the call (an AFTER trigger on the
-- last row reads pg_backend_memory_contexts, when everything the call
-- allocated is still held), against the size of the document.  Without
-- MessageContext, where PostgreSQL keeps the statement's text, parse tree and
-- plan, each holding the document once more whatever the function does.
-- docs/append.md ("Memory") reports the figures; this bounds the call's part.
CREATE TEMP TABLE mem (bytes bigint);
CREATE FUNCTION public.note_memory() RETURNS trigger LANGUAGE plpgsql
    SET search_path = eventstore, public AS $$
BEGIN
    INSERT INTO mem SELECT sum(total_bytes) FROM pg_backend_memory_contexts
                     WHERE name <> 'MessageContext';
    RETURN NULL;
END $$;
CREATE TRIGGER note_memory AFTER INSERT ON events FOR EACH ROW
    WHEN (NEW.stream = 'big-1' AND NEW.version = 10000) EXECUTE FUNCTION public.note_memory();
SELECT jsonb_build_object('stream', 'big-1', 'events', jsonb_agg(jsonb_build_object(
           'type', 'Measured', 'data', jsonb_build_object('n', i, 'text', repeat('x', 80)))))::text AS big
  FROM generate_series(1, 10000) i \gset
INSERT INTO mem SELECT sum(total_bytes) FROM pg_backend_memory_contexts WHERE name <> 'MessageContext';
SELECT count(*) FROM es_append(:'big');
DROP TRIGGER note_memory ON events;
DROP FUNCTION public.note_memory();
SELECT octet_length(:'big') AS document_bytes \gset
SELECT count(*) AS measured, (max(bytes) - min(bytes)) / :document_bytes < 4 AS less_than_4x_the_document FROM mem;
