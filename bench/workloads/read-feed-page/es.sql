-- read-feed-page, eventstore: one feed page of 1,000 events after a random position.
\set p random(0, :maxpos - 1000)
SELECT * FROM eventstore.es_load(after_position => :p, max_count => 1000);
