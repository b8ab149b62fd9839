-- dcb-read-query, eventstore: the StudentSubscribed events of one course in
-- one term (an item with a type and two tags), 50 of them.
\set c random(0, 199)
\set t random(0, 1)
SELECT * FROM eventstore.es_load_query(
    ('{"items": [{"types": ["StudentSubscribed"], "tags": ["course:' || :c || '", "term:' || :t || '"]}]}')::jsonb);
