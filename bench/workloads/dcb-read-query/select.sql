-- dcb-read-query, plain SELECT: the same rows and columns through the same
-- index (event_tags' primary key on the first tag, every tag checked on
-- the row), in position order.
\set c random(0, 199)
\set t random(0, 1)
SELECT e.* FROM eventstore.events e
WHERE e.position IN (SELECT t.position FROM eventstore.event_tags t
                     WHERE t.tag = 'course:' || :c AND t.type = 'StudentSubscribed')
  AND e.tags @> ARRAY['course:' || :c, 'term:' || :t]
ORDER BY e.position;
