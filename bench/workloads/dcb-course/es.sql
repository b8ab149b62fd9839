-- dcb-course, eventstore: one subscription command (bench/workloads/dcb-course/setup.sql).
\set s random(1, 100000)
\set c random(1, 10000)
SELECT bench.subscribe_es(:s, :c);
