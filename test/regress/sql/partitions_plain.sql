-- The partitioned layout's functions on a plain store (the default layout,
-- docs/partitioning.md): they refuse with 55000, or answer that there is
-- nothing partitioned.
SET search_path = eventstore, public;
\set VERBOSITY sqlstate
SELECT relkind FROM pg_class WHERE oid = 'eventstore.events'::regclass;
SELECT es_make_partitions(100);
SELECT es_archive_events(100);
SELECT es_archive_horizon();
SELECT count(*) FROM es_partitions();
-- Feed reads are not affected: there is no archive horizon.
SELECT count(*) >= 0 AS reads FROM es_load_feed(0, 10);
\set VERBOSITY default
