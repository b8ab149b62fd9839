-- eventstore 1.1 -> 1.2.
-- Every change to the SQL surface since 1.1, in the order the issues land.
-- src/sql/NN_*.sql holds the same objects as a fresh 1.2 install creates
-- them; test/suites/15_upgrade.sh checks that both roads end in the same
-- schema (docs/releasing.md).
\echo Use "ALTER EXTENSION eventstore UPDATE TO '1.2'" to load this file. \quit

-- The schema is the store's before anything else runs (src/sql/00_claim_schema.sql).
SELECT eventstore.es_claim_schema();

-- Issue 27: fill factor 100 on the indexes of eventstore.events that grow
-- at the right end of their key ranges (src/sql/00_schema.sql).  In the
-- partitioned layout they are the template's and each partition's (the
-- parent has none; a partition's copy of the correlation index is named
-- <partition>_substr_position_idx); pages already split keep their space,
-- new splits fill their pages.
DO $fillfactor$
DECLARE
    idx pg_catalog.regclass;
BEGIN
    FOR idx IN
        SELECT i.indexrelid::pg_catalog.regclass
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) i.indrelid
        JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid
        WHERE t.relnamespace OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.regnamespace
          AND (t.relname OPERATOR(pg_catalog.=) ANY (ARRAY['events', 'events_template']::pg_catalog.name[])
               OR t.oid OPERATOR(pg_catalog.=) ANY (
                   SELECT h.inhrelid FROM pg_catalog.pg_inherits h
                   WHERE h.inhparent OPERATOR(pg_catalog.=) 'eventstore.events'::pg_catalog.regclass))
          AND c.relname OPERATOR(pg_catalog.~)
              '(_pkey|_stream_version_key|_event_id_key|_category_position_idx|_correlation_id_idx|_substr_position_idx)$'
    LOOP
        EXECUTE pg_catalog.format('ALTER INDEX %s SET (fillfactor = 100)', idx);
    END LOOP;
END
$fillfactor$;

-- The claim again, last (src/sql/99_claim_check.sql).
SELECT eventstore.es_claim_schema();
