-- Dynamic consistency boundaries (docs/dcb.md): tags, reads by query,
-- appends with a condition, the examples of dcb.events, and bad input.
SET search_path = eventstore, public;
SELECT coalesce(max(position), 0) AS base FROM eventstore.events \gset
-- try(), naming a failed condition's conflicting event by its type and
-- tags, and the detail's item
CREATE FUNCTION dcb_try(stmt text, base bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    IF SQLSTATE = 'ES016' THEN
        -- the conflicting event by its type and tags, not its position:
        -- positions depend on earlier files and on whether aborted appends
        -- leave gaps (80_serialized_mode runs this file without gaps)
        RETURN 'ES016: condition failed at '
            || coalesce((SELECT e.type || coalesce(' [' || array_to_string(e.tags, ', ') || ']', '')
                         || CASE WHEN e.position > base THEN '' ELSE ' of an earlier file' END
                         FROM eventstore.events e
                         WHERE e.position = (detail::jsonb->>'position')::bigint),
                        'an event no longer stored')
            || coalesce(', item ' || (detail::jsonb->>'item'), '');
    END IF;
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- ---- tags ----
SELECT stream, version, position - :base AS pos FROM es_append('dcbcourse-1', 'CourseDefined', '{"capacity": 2}', tags => ARRAY['course:1']);
SELECT stream, version FROM es_append('{"stream": "dcbstudent-1", "events": [{"type": "Registered", "tags": ["student:1"]}, {"type": "Noted"}]}');
-- every read returns them
SELECT version, type, tags FROM es_load('dcbstudent-1');
SELECT position - :base AS pos, type, tags FROM es_load(after_position => :base, with_payload => false);
SELECT type, tags FROM es_load_events(ARRAY(SELECT event_id FROM eventstore.events WHERE stream = 'dcbcourse-1'));
-- the index of tagged events: one row per tag, none for the untagged event
SELECT tag, type, position - :base AS pos FROM eventstore.event_tags WHERE position > :base ORDER BY position, tag;
-- one-event form called as 1.1 did (seven arguments, positional and named) still works
SELECT version FROM es_append('dcbplain-1', 'T', '{}', NULL, NULL, NULL, NULL);
SELECT version FROM es_append(stream => 'dcbplain-1', type => 'T');
SELECT tags FROM es_load('dcbplain-1');
-- an empty list is no tags
SELECT count(*) FROM es_append('dcbplain-2', 'T', tags => '{}');
SELECT tags IS NULL AS no_tags FROM es_load('dcbplain-2');

-- ---- reads by query ----
SELECT count(*) FROM es_append('{"stream": "dcbmix-1", "events": [
    {"type": "A", "tags": ["t:1"]}, {"type": "B", "tags": ["t:1"]},
    {"type": "A", "tags": ["t:1", "t:2"]}, {"type": "A", "tags": ["t:2"]}, {"type": "C"}]}');
SELECT position - :base AS pos, type, tags FROM es_load_query('{"items": [{"types": ["A"], "tags": ["t:1"]}]}', :base);
-- every tag of an item must be present
SELECT position - :base AS pos, type, tags FROM es_load_query('{"items": [{"tags": ["t:2", "t:1"]}]}', :base);
-- items are OR-ed, each event once, in position order
SELECT position - :base AS pos, type, tags FROM es_load_query('{"items": [{"tags": ["t:2"]}, {"types": ["B", "C"]}]}', :base);
-- paged: after a position, at most max_count
SELECT position - :base AS pos, type FROM es_load_query('{"items": [{"tags": ["t:1"]}, {"tags": ["t:2"]}]}', :base, 2);
SELECT position - :base AS pos, type FROM es_load_query('{"all": true}', :base + 8, 2);
-- to_position bounds the read
SELECT count(*) FROM es_load_query('{"all": true}', :base, to_position => :base + 3);

-- ---- the condition ----
-- no matching event after `after`: stored
SELECT position - :base AS after FROM es_load_query('{"items": [{"types": ["A"], "tags": ["t:1"]}]}', :base) ORDER BY position DESC LIMIT 1 \gset a_
SELECT stream ~ '^\$dcb-' AS own_stream, version FROM es_append_if('{"events": [{"type": "A", "tags": ["t:1"]}]}',
    '{"items": [{"types": ["A"], "tags": ["t:1"]}]}', :base + :a_after);
-- the same decision again: the event just stored conflicts; the detail names it
SELECT dcb_try(format($$SELECT es_append_if('{"events": [{"type": "A", "tags": ["t:1"]}]}',
    '{"items": [{"types": ["A"], "tags": ["t:1"]}]}', %s)$$, :base + :a_after), :base);
-- another type with the same tag, or another tag: no conflict
SELECT count(*) FROM es_append_if('{"events": [{"type": "B", "tags": ["t:1"]}]}',
    '{"items": [{"types": ["Z"], "tags": ["t:1"]}]}', :base);
SELECT count(*) FROM es_append_if('{"events": [{"type": "A", "tags": ["t:9"]}]}',
    '{"items": [{"types": ["A"], "tags": ["t:9"]}]}', :base);
-- without after: any matching event fails it
SELECT dcb_try($$SELECT es_append_if('{"events": [{"type": "A"}]}', '{"items": [{"types": ["C"]}]}')$$, :base);
-- with streams and expected versions: both checked, all or nothing
SELECT count(*) AS before FROM eventstore.events \gset
SELECT stream ~ '^\$dcb-' AS own_stream, version FROM es_append_if('[{"stream": "dcbmix-1", "expected_version": 5, "events": [{"type": "D"}]},
    {"events": [{"type": "D", "tags": ["t:3"]}]}]', '{"items": [{"tags": ["t:3"]}]}');
-- the version is wrong now (ES001), then the condition fails (ES016): nothing more is stored
SELECT dcb_try($$SELECT es_append_if('[{"stream": "dcbmix-1", "expected_version": 5, "events": [{"type": "D"}]}]',
    '{"items": [{"tags": ["t:4"]}]}')$$, :base);
SELECT dcb_try($$SELECT es_append_if('[{"stream": "dcbmix-1", "expected_version": 6, "events": [{"type": "D"}]}]',
    '{"items": [{"tags": ["t:3"]}]}')$$, :base);
SELECT count(*) - :before AS stored FROM eventstore.events;
-- an idempotent retry (same ids) returns the stored rows, without checking
SELECT replayed FROM es_append_if('{"events": [{"type": "R", "id": "00000000-0000-4000-8000-00000000dcb1", "tags": ["t:r"]}]}',
    '{"items": [{"tags": ["t:r"]}]}');
SELECT replayed, stream FROM es_append_if('{"events": [{"type": "R", "id": "00000000-0000-4000-8000-00000000dcb1", "tags": ["t:r"]}]}',
    '{"items": [{"tags": ["t:r"]}]}');

-- ---- dcb.events: course subscriptions (capacity, per-student limit) ----
CREATE FUNCTION dcb_subscribe(student int, course int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    q jsonb := jsonb_build_object('items', jsonb_build_array(
        jsonb_build_object('types', '["CourseDefined", "CourseCapacityChanged", "StudentSubscribed"]'::jsonb,
                           'tags', jsonb_build_array('course:' || course)),
        jsonb_build_object('types', '["StudentSubscribed"]'::jsonb,
                           'tags', jsonb_build_array('student:' || student))));
    e record;
    after bigint := 0;
    capacity int;
    taken int := 0;
    student_courses int := 0;
BEGIN
    FOR e IN SELECT * FROM eventstore.es_load_query(q) LOOP
        after := e.position;
        IF e.type IN ('CourseDefined', 'CourseCapacityChanged') THEN
            capacity := (e.data->>'capacity')::int;
        ELSIF e.tags @> ARRAY['course:' || course] THEN
            taken := taken + 1;
            IF e.tags @> ARRAY['student:' || student] THEN
                RETURN 'already subscribed';
            END IF;
        END IF;
        IF e.type = 'StudentSubscribed' AND e.tags @> ARRAY['student:' || student] THEN
            student_courses := student_courses + 1;
        END IF;
    END LOOP;
    IF capacity IS NULL THEN RETURN 'no such course'; END IF;
    IF taken >= capacity THEN RETURN 'course full'; END IF;
    IF student_courses >= 3 THEN RETURN 'student has 3 courses'; END IF;
    PERFORM eventstore.es_append_if(jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
        'type', 'StudentSubscribed',
        'tags', jsonb_build_array('student:' || student, 'course:' || course)))), q, after);
    RETURN 'subscribed';
END
$$;
SELECT count(*) FROM generate_series(1, 5) c,
    es_append('dcbcourse-c' || c, 'CourseDefined', jsonb_build_object('capacity', 2), tags => ARRAY['course:' || c]);
-- one command per transaction: a read cannot pass the transaction's own
-- appends, which are not committed yet (docs/dcb.md)
SELECT dcb_subscribe(1, 1);
SELECT dcb_subscribe(1, 1);
SELECT dcb_subscribe(2, 1);
SELECT dcb_subscribe(3, 1);
SELECT dcb_subscribe(9, 1);
SELECT dcb_subscribe(3, 2);
SELECT dcb_subscribe(3, 3);
SELECT dcb_subscribe(3, 4);
SELECT dcb_subscribe(3, 5);
SELECT dcb_subscribe(3, 9);
SELECT dcb_try($$SELECT dcb_subscribe(4, 4), dcb_subscribe(5, 4)$$, :base);
-- a decision that another append overtook fails (ES016): read, someone subscribes, then append
SELECT coalesce(max(position), 0) AS after FROM es_load_query('{"items": [{"types": ["StudentSubscribed"], "tags": ["course:5"]}]}') \gset
SELECT dcb_subscribe(7, 5);
SELECT dcb_try(format($$SELECT es_append_if('{"events": [{"type": "StudentSubscribed", "tags": ["student:8", "course:5"]}]}',
    '{"items": [{"types": ["StudentSubscribed"], "tags": ["course:5"]}]}', %s)$$, :after), :base);
SELECT count(*) AS course_5 FROM es_load_query('{"items": [{"types": ["StudentSubscribed"], "tags": ["course:5"]}]}');

-- ---- dcb.events: unique user names, released when the account is closed ----
CREATE FUNCTION dcb_register(name text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    q jsonb := jsonb_build_object('items', jsonb_build_array(jsonb_build_object(
        'types', '["AccountRegistered", "AccountClosed"]'::jsonb, 'tags', jsonb_build_array('username:' || name))));
    e record;
    after bigint := 0;
    taken boolean := false;
BEGIN
    FOR e IN SELECT * FROM eventstore.es_load_query(q) LOOP
        after := e.position;
        taken := e.type = 'AccountRegistered';
    END LOOP;
    IF taken THEN RETURN 'name taken'; END IF;
    PERFORM eventstore.es_append_if(jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
        'type', 'AccountRegistered', 'tags', jsonb_build_array('username:' || name)))), q, after);
    RETURN 'registered';
END
$$;
SELECT dcb_register('alice');
SELECT dcb_register('alice');
SELECT dcb_register('bob');
SELECT count(*) FROM es_append_if('{"events": [{"type": "AccountClosed", "tags": ["username:alice"]}]}', NULL);
SELECT dcb_register('alice');

-- ---- dcb.events: gapless invoice numbers (a type-only query) ----
CREATE FUNCTION dcb_invoice() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    q jsonb := '{"items": [{"types": ["InvoiceCreated"]}]}';
    e record;
    after bigint := 0;
    n bigint := 0;
BEGIN
    FOR e IN SELECT * FROM eventstore.es_load_query(q, 0, 100000) LOOP
        after := e.position;
        n := (e.data->>'number')::bigint;
    END LOOP;
    PERFORM eventstore.es_append_if(jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
        'type', 'InvoiceCreated', 'data', jsonb_build_object('number', n + 1)))), q, after);
    RETURN n + 1;
END
$$;
SELECT dcb_invoice();
SELECT dcb_invoice();
SELECT dcb_invoice();
SELECT max(position) AS after FROM es_load_query('{"items": [{"types": ["InvoiceCreated"]}]}') \gset
SELECT dcb_invoice();
SELECT dcb_try(format($$SELECT es_append_if('{"events": [{"type": "InvoiceCreated", "data": {"number": 4}}]}',
    '{"items": [{"types": ["InvoiceCreated"]}]}', %s)$$, :after), :base);
SELECT array_agg((data->>'number')::int ORDER BY position) FROM es_load_query('{"items": [{"types": ["InvoiceCreated"]}]}');

-- ---- dcb.events: an idempotent command (the same command id twice) ----
CREATE FUNCTION dcb_command(token text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    q jsonb := jsonb_build_object('items', jsonb_build_array(jsonb_build_object('tags', jsonb_build_array('idempotency:' || token))));
    after bigint := 0;
BEGIN
    IF EXISTS (SELECT FROM eventstore.es_load_query(q)) THEN
        RETURN 'done already';
    END IF;
    PERFORM eventstore.es_append_if(jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
        'type', 'SomethingDone', 'tags', jsonb_build_array('idempotency:' || token)))), q, after);
    RETURN 'done';
END
$$;
SELECT dcb_command('c-1');
SELECT dcb_command('c-1');
SELECT dcb_command('c-2');
-- the same command racing: the second append's condition fails
SELECT dcb_try($$SELECT es_append_if('{"events": [{"type": "SomethingDone", "tags": ["idempotency:c-3"]}]}', '{"items": [{"tags": ["idempotency:c-3"]}]}', 0)$$, :base);
SELECT dcb_try($$SELECT es_append_if('{"events": [{"type": "SomethingDone", "tags": ["idempotency:c-3"]}]}', '{"items": [{"tags": ["idempotency:c-3"]}]}', 0)$$, :base);

-- ---- lifecycle: a soft delete keeps the tags, a restore brings them back
-- (new positions, new event_tags rows), an erasure leaves no tag behind ----
SELECT count(*) FROM es_append('dcblc-1', 'Registered', tags => ARRAY['email:ann@example.org']);
SELECT es_delete_stream('dcblc-1');
SELECT count(*) AS visible FROM es_load_query('{"items": [{"tags": ["email:ann@example.org"]}]}');
SELECT count(*) AS index_rows FROM eventstore.event_tags WHERE tag = 'email:ann@example.org';
SELECT es_restore_stream('dcblc-1');
SELECT type, tags FROM es_load_query('{"items": [{"tags": ["email:ann@example.org"]}]}');
SELECT count(*) AS index_rows FROM eventstore.event_tags t JOIN eventstore.events e USING (position)
WHERE t.tag = 'email:ann@example.org' AND e.stream = 'dcblc-1';
SELECT es_erase_stream('dcblc-1', 'asked');
SELECT count(*) AS index_rows FROM eventstore.event_tags WHERE tag = 'email:ann@example.org';

-- ---- bad input: an error with its SQLSTATE, nothing stored ----
SELECT count(*) AS before FROM eventstore.events \gset
SELECT dcb_try($$SELECT es_append('x-1', 'T', tags => ARRAY['a', NULL])$$, :base);
SELECT dcb_try($$SELECT es_append('x-1', 'T', tags => ARRAY['a', 'a'])$$, :base);
SELECT dcb_try($$SELECT es_append('x-1', 'T', tags => ARRAY['', 'a'])$$, :base);
SELECT dcb_try($$SELECT es_append('x-1', 'T', tags => ARRAY[' a'])$$, :base);
SELECT dcb_try($$SELECT es_append('x-1', 'T', tags => ARRAY[repeat('t', 256)])$$, :base);
SELECT dcb_try($$SELECT es_append('x-1', 'T', tags => ARRAY[E'a\nb'])$$, :base);
SELECT dcb_try($$SELECT es_append('x-1', 'T', tags => ARRAY[['a'], ['b']])$$, :base);
SELECT dcb_try($$SELECT es_append('x-1', 'T', tags => (SELECT array_agg('t' || g) FROM generate_series(1, 33) g))$$, :base);
SELECT dcb_try($$SELECT es_append('{"stream": "x-1", "events": [{"type": "T", "tags": "a"}]}')$$, :base);
SELECT dcb_try($$SELECT es_append('{"stream": "x-1", "events": [{"type": "T", "tags": [1]}]}')$$, :base);
SELECT dcb_try($$SELECT es_append('{"stream": "x-1", "events": [{"type": "T", "tags": [null]}]}')$$, :base);
SELECT dcb_try($$SELECT es_append('{"events": [{"type": "T"}]}')$$, :base);
-- queries
SELECT dcb_try($$SELECT es_load_query(NULL)$$, :base);
SELECT dcb_try($$SELECT es_load_query('[]')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"items": []}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"items": [{}]}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"items": [{"types": [], "tags": []}]}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"items": [{"type": ["A"]}]}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"items": [{"types": ["A"]}], "after": 3}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"items": [{"types": "A"}]}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"items": [{"tags": [""]}]}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"items": [{"tags": [null]}]}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"items": [1]}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"all": false}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"all": true, "items": [{"types": ["A"]}]}')$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"all": true}', -1)$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"all": true}', 0, 0)$$, :base);
SELECT dcb_try($$SELECT es_load_query('{"all": true}', 0, 10, -1)$$, :base);
-- conditions
SELECT dcb_try($$SELECT es_append_if(NULL, '{"all": true}')$$, :base);
SELECT dcb_try($$SELECT es_append_if('{"events": [{"type": "T"}]}', '{"items": []}')$$, :base);
SELECT dcb_try($$SELECT es_append_if('{"events": [{"type": "T"}]}', '{"all": true}', -1)$$, :base);
SELECT dcb_try($$SELECT es_append_if('{"events": [{"type": "T"}]}', '{"all": true}', 9223372036854775807)$$, :base);
SELECT dcb_try($$SELECT es_append_if('{"events": [{"type": "T"}]}', NULL, 0)$$, :base);
SELECT dcb_try($$SELECT es_append_if('{"expected_version": 0, "events": [{"type": "T"}]}', NULL)$$, :base);
SELECT dcb_try($$SELECT es_append_if('{"events": []}', NULL)$$, :base);
SELECT count(*) - :before AS stored FROM eventstore.events;

-- a trigger may not change an event's tags
CREATE FUNCTION public.dcb_retag() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog AS $$
BEGIN NEW.tags := ARRAY['forged']; RETURN NEW; END $$;
CREATE TRIGGER dcb_retag BEFORE INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION public.dcb_retag();
SELECT dcb_try($$SELECT es_append('x-2', 'T', tags => ARRAY['a'])$$, :base);
SELECT dcb_try($$SELECT es_append('x-2', 'T')$$, :base);
DROP TRIGGER dcb_retag ON eventstore.events;
DROP FUNCTION public.dcb_retag();
SELECT count(*) - :before AS stored FROM eventstore.events;
