-- Every bad input gets an error with a specific SQLSTATE; nothing changes.
SET search_path = eventstore, public;
SELECT count(*) AS before FROM eventstore.events \gset

SELECT try($$SELECT es_append(NULL, 'T')$$);
SELECT try($$SELECT es_append('', 'T')$$);
SELECT try($$SELECT es_append(repeat('x', 256), 'T')$$);
SELECT try($$SELECT es_append('s-1', NULL)$$);
SELECT try($$SELECT es_append('s-1', '')$$);
SELECT try($$SELECT es_append('s-1', repeat('t', 300))$$);
SELECT try($$SELECT es_append('s-1', 'T', '{}', -2)$$);
SELECT try($$SELECT es_append('s-1', 'T', '{}', -9223372036854775808)$$);
SELECT try($$SELECT es_append('s-1', 'T', '{}', data_bin => '\x00')$$);
SELECT try($$SELECT es_append('s-1', 'T', '{}', metadata => '[1]')$$);
SELECT try($$SELECT es_append('s-1', 'T', '{bad json')$$);
SELECT try($$SELECT es_append('s-1', 'T', '{}', event_id => 'not-a-uuid')$$);
SELECT try($$SELECT es_append('s-1', 'T', '{}', 'x')$$);
-- the batch form
SELECT try($$SELECT es_append(NULL::jsonb)$$);
SELECT try($$SELECT es_append('[]'::jsonb)$$);
SELECT try($$SELECT es_append('42'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1"}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": []}'::jsonb)$$);
SELECT try($$SELECT es_append('{"events": [{"type": "T"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": 7, "events": [{"type": "T"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": [{"data": {}}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": [1]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": {"type": "T"}}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "evnets": [{"type": "T"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": [{"type": "T", "colour": 1}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "expected_version": "maybe", "events": [{"type": "T"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "expected_version": -3, "events": [{"type": "T"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "expected_version": 1.5, "events": [{"type": "T"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "expected_version": 1e30, "events": [{"type": "T"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": [{"type": "T", "metadata": 5}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": [{"type": "T", "data": {}, "data_bin": "\\x00"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": [{"type": "T", "data_bin": "\\xZZ"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": [{"type": "T", "id": "nope"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "events": [
    {"type": "T", "id": "33333333-3333-3333-3333-333333333333"},
    {"type": "T", "id": "33333333-3333-3333-3333-333333333333"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('[{"stream": "s-1", "events": [{"type": "T"}]},
                                 {"stream": "s-1", "events": [{"type": "U"}]}]'::jsonb)$$);
SELECT try(format($$SELECT es_append(%L::jsonb)$$,
    jsonb_build_object('stream', 's-1', 'events',
        (SELECT jsonb_agg(jsonb_build_object('type', 'T')) FROM generate_series(1, 10001)))));

-- es_load and es_stream_version
SELECT try($$SELECT * FROM es_load(NULL)$$);
SELECT try($$SELECT * FROM es_load('')$$);
SELECT try($$SELECT * FROM es_load('s-1', -1)$$);
SELECT try($$SELECT * FROM es_load('s-1', 1, 0)$$);
SELECT try($$SELECT * FROM es_load('s-1', 1, -5)$$);
SELECT try($$SELECT * FROM es_load('s-1', 1, 100001)$$);
-- max_count NULL reads the whole stream (test/regress/sql/queries.sql)
SELECT try($$SELECT es_stream_version(NULL)$$);
SELECT try($$SELECT es_stream_version(repeat('x', 1000))$$);

-- stored events are immutable, for every role, in every replication role
SELECT try($$UPDATE eventstore.events SET type = 'X'$$);
SELECT try($$DELETE FROM eventstore.events$$);
SELECT try($$TRUNCATE eventstore.events$$);
SET session_replication_role = replica;
SELECT try($$DELETE FROM eventstore.events$$);
RESET session_replication_role;

-- nothing changed
SELECT count(*) = :before AS unchanged FROM eventstore.events;

-- symbolic expected versions: anything but the documented forms is 22023
SELECT try($$SELECT es_expected_version('maybe')$$);
SELECT try($$SELECT es_expected_version('')$$);
SELECT try($$SELECT es_expected_version('-2')$$);
SELECT try($$SELECT es_expected_version('1.5')$$);
SELECT try($$SELECT es_expected_version('NO_STREAM')$$);
SELECT try($$SELECT es_expected_version('99999999999999999999')$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "expected_version": "-2", "events": [{"type": "T"}]}'::jsonb)$$);
-- in a batch document a version is a JSON number, never a string (issue 21, item 11)
SELECT try_detail($$SELECT es_append('{"stream": "s-1", "expected_version": "1", "events": [{"type": "T"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": "s-1", "expected_version": " 1", "events": [{"type": "T"}]}'::jsonb)$$);
SELECT try($$SELECT es_append('[{"stream": "s-1", "expected_version": "0", "events": [{"type": "T"}]}]'::jsonb)$$);
SELECT es_expected_version('1') AS text_form_takes_numbers;
