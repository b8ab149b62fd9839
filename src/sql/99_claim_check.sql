-- The claim again, last: an object that another session created in the
-- schema while this script ran (before it took the schema over) is refused
-- here rather than left behind (00_claim_schema.sql).
SELECT eventstore.es_claim_schema();
