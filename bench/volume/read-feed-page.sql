-- Volume benchmark (bench/volume.sh): one feed page of 1,000 events after a
-- random position in [:lo, :hi].
\set p random(:lo, :hi)
SELECT * FROM eventstore.es_load_feed(after_position => :p, max_count => 1000);
