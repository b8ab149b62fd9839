-- dcb-course: 10,000 courses of 30 seats, and the command written twice.
CREATE SCHEMA IF NOT EXISTS bench;

-- eventstore: the courses, and the command over es_load_query / es_append_if.
-- (a transaction per 500 courses: each append holds its stream's and tags'
-- locks to the end of its transaction)
DO $$
BEGIN
    FOR c IN 1..10000 LOOP
        PERFORM eventstore.es_append('course-' || c, 'CourseDefined', '{"capacity": 30}', tags => ARRAY['course:' || c]);
        IF c % 500 = 0 THEN COMMIT; END IF;
    END LOOP;
END
$$;

CREATE FUNCTION bench.subscribe_es(student int, course int) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    q jsonb := jsonb_build_object('items', jsonb_build_array(
        jsonb_build_object('types', '["CourseDefined", "StudentSubscribed"]'::jsonb,
                           'tags', jsonb_build_array('course:' || course)),
        jsonb_build_object('types', '["StudentSubscribed"]'::jsonb,
                           'tags', jsonb_build_array('student:' || student))));
    e record;
    after bigint;
    capacity int;
    taken int;
    mine int;
BEGIN
    LOOP
        after := 0; capacity := NULL; taken := 0; mine := 0;
        FOR e IN SELECT * FROM eventstore.es_load_query(q) LOOP
            after := e.position;
            IF e.type = 'CourseDefined' THEN
                capacity := (e.data->>'capacity')::int;
            ELSE
                IF e.tags @> ARRAY['course:' || course] THEN
                    IF e.tags @> ARRAY['student:' || student] THEN
                        RETURN 'already subscribed';
                    END IF;
                    taken := taken + 1;
                END IF;
                IF e.tags @> ARRAY['student:' || student] THEN
                    mine := mine + 1;
                END IF;
            END IF;
        END LOOP;
        IF capacity IS NULL THEN RETURN 'no such course'; END IF;
        IF taken >= capacity THEN RETURN 'course full'; END IF;
        IF mine >= 5 THEN RETURN 'student has 5 courses'; END IF;
        BEGIN
            PERFORM eventstore.es_append_if(jsonb_build_object('events', jsonb_build_array(jsonb_build_object(
                'type', 'StudentSubscribed',
                'tags', jsonb_build_array('course:' || course, 'student:' || student)))), q, after);
            RETURN 'subscribed';
        EXCEPTION WHEN SQLSTATE 'ES016' THEN
            NULL;   -- decided on a stale answer: read again
        END;
    END LOOP;
END
$$;

-- The baseline: tagged events in a table of their own, with the same
-- (tag, type, position) index; the command locks its query's (type, tag)
-- keys exclusively, in key order, then reads and appends.
CREATE TABLE bench.dcb_events (
    position bigserial PRIMARY KEY,
    type     text NOT NULL,
    tags     text[] NOT NULL,
    data     jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bench.dcb_tags (
    tag      text NOT NULL,
    type     text NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (tag, type, position)
);
WITH c AS (
    INSERT INTO bench.dcb_events (type, tags, data)
    SELECT 'CourseDefined', ARRAY['course:' || c], '{"capacity": 30}' FROM generate_series(1, 10000) c
    RETURNING position, type, tags)
INSERT INTO bench.dcb_tags SELECT c.tags[1], c.type, c.position FROM c;

CREATE FUNCTION bench.subscribe_sql(student int, course int) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e record;
    capacity int;
    taken int := 0;
    mine int := 0;
    p bigint;
    k bigint;
BEGIN
    -- the keys of the query's (type, tag) pairs, sorted, exclusive
    FOR k IN SELECT DISTINCT hashtextextended(t || '/' || g, 0) AS key
             FROM (VALUES ('CourseDefined', 'course:' || course), ('StudentSubscribed', 'course:' || course),
                          ('StudentSubscribed', 'student:' || student)) v(t, g)
             ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;
    FOR e IN SELECT ev.* FROM bench.dcb_events ev
             WHERE ev.position IN (
                 SELECT t.position FROM bench.dcb_tags t
                 WHERE (t.tag = 'course:' || course AND t.type IN ('CourseDefined', 'StudentSubscribed'))
                    OR (t.tag = 'student:' || student AND t.type = 'StudentSubscribed'))
             ORDER BY ev.position LOOP
        IF e.type = 'CourseDefined' THEN
            capacity := (e.data->>'capacity')::int;
        ELSE
            IF e.tags @> ARRAY['course:' || course] THEN
                IF e.tags @> ARRAY['student:' || student] THEN
                    RETURN 'already subscribed';
                END IF;
                taken := taken + 1;
            END IF;
            IF e.tags @> ARRAY['student:' || student] THEN
                mine := mine + 1;
            END IF;
        END IF;
    END LOOP;
    IF capacity IS NULL THEN RETURN 'no such course'; END IF;
    IF taken >= capacity THEN RETURN 'course full'; END IF;
    IF mine >= 5 THEN RETURN 'student has 5 courses'; END IF;
    INSERT INTO bench.dcb_events (type, tags) VALUES ('StudentSubscribed', ARRAY['course:' || course, 'student:' || student])
    RETURNING position INTO p;
    INSERT INTO bench.dcb_tags VALUES ('course:' || course, 'StudentSubscribed', p), ('student:' || student, 'StudentSubscribed', p);
    RETURN 'subscribed';
END
$$;
