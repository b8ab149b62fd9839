-- The rules for names (docs/append.md, "Names"), one validator for every
-- kind of name and every function that takes one (issue 11).
SET search_path = eventstore, public;
-- valid: letters of any script, digits, punctuation, inner white space
SELECT stream, version FROM es_append('order-42', 'OrderPlaced');
SELECT stream, version FROM es_append('заказ-7', 'Создан');
SELECT stream, version FROM es_append('注文-1', '注文された');
SELECT stream, version FROM es_append('cart-🛒-1', 'Item Added');
SELECT stream, version FROM es_append('order-', 'T');
SELECT stream, version FROM es_append('a--b', 'T');
SELECT DISTINCT stream, category FROM eventstore.events
 WHERE stream IN ('order-42', 'заказ-7', '注文-1', 'cart-🛒-1', 'order-', 'a--b') ORDER BY 1;
SELECT * FROM es_advance_position('projection v2', 1);
SELECT * FROM es_snapshot('order-42', 1, '{}', kind => 'state:v2');

SELECT count(*) AS before_events FROM eventstore.events \gset
SELECT count(*) AS before_checkpoints FROM eventstore.checkpoints \gset

-- a bad name, as each kind of name, in each function that takes one
CREATE TEMP TABLE bad_names (label text, name text);
INSERT INTO bad_names VALUES
    ('empty',            ''),
    ('space only',       ' '),
    ('spaces only',      '   '),
    ('leading space',    ' lead'),
    ('trailing space',   'trail '),
    ('tab inside',       E'a\tb'),
    ('newline inside',   E'a\nb'),
    ('escape inside',    E'a\u001bb'),
    ('DEL inside',       E'a\u007fb'),
    ('C1 control',       E'a\u0085b'),
    ('leading nbsp',     U&'\00A0x'),
    ('trailing ideographic space', U&'x\3000'),
    ('right-to-left override', U&'invoice-\202Efdp.exe'),
    ('left-to-right isolate',  U&'a\2066b'),
    ('arabic letter mark',     U&'a\061Cb');

SELECT label,
       try(format('SELECT es_append(%L, %L)', name, 'T')) AS stream,
       try(format('SELECT es_append(%L, %L)', 'ok-1', name)) AS type,
       try(format('SELECT es_advance_position(%L, 1)', name)) AS handler,
       try(format('SELECT es_snapshot(%L, 1, %L, kind => %L)', 'order-42', '{}', name)) AS kind
  FROM bad_names ORDER BY label;
-- the batch form and the readers use the same rules (SQLSTATEs only: the
-- messages are those above)
SELECT label,
       left(try(format('SELECT es_append(%L)', jsonb_build_object('stream', name,
           'events', jsonb_build_array(jsonb_build_object('type', 'T'))))), 5) AS batch_stream,
       left(try(format('SELECT es_append(%L)', jsonb_build_object('stream', 'ok-1',
           'events', jsonb_build_array(jsonb_build_object('type', name))))), 5) AS batch_type,
       left(try(format('SELECT es_load(%L)', name)), 5) AS load_stream,
       left(try(format('SELECT es_stream_version(%L)', name)), 5) AS stream_version,
       left(try(format('SELECT es_load(0, category => %L)', name)), 5) AS category,
       left(try(format('SELECT es_load(0, types => ARRAY[%L])', name)), 5) AS types,
       left(try(format('SELECT es_advance_position(%L, 1, %L)', 'proj', name)), 5) AS checkpoint_stream,
       left(try(format('SELECT es_load_snapshot(%L, %L)', 'order-42', name)), 5) AS load_kind
  FROM bad_names ORDER BY label;

-- a stream that begins with "-" would have the empty category
SELECT try($$SELECT es_append('-lead', 'T')$$);
SELECT try($$SELECT es_append('{"stream": "-lead", "events": [{"type": "T"}]}')$$);
SELECT try($$SELECT es_snapshot('-lead', 1, '{}')$$);
SELECT try($$SELECT es_advance_position('proj', 1, '-lead')$$);
SELECT try($$SELECT es_load(0, category => '')$$);

-- an empty stream is not the feed: NULL is
SELECT try($$SELECT es_advance_position('proj', 500, '')$$);
SELECT try($$SELECT es_handler_position('proj', '')$$);
\set VERBOSITY default
SELECT es_advance_position('proj', 500, '');
SELECT es_append(E'bad\u001bname', 'T');
-- the detail shows the name sent, escaped so that it prints on one line and in order
SELECT es_append(E'inv-\u202Efdp.exe', 'T');
SELECT es_append(E'\u00a0Item "Added\\', 'T');
SELECT es_append('cart-1', E'ItemAdded\u3000');
SELECT es_append('-order', 'T');
SELECT es_append(repeat('ab', 200), 'T');

-- nothing of the refused calls is stored
SELECT count(*) - :before_events AS added_events FROM eventstore.events;
SELECT count(*) - :before_checkpoints AS added_checkpoints FROM eventstore.checkpoints;
