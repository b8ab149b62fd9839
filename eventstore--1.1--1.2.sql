-- eventstore 1.1 -> 1.2.
-- Every change to the SQL surface since 1.1, in the order the issues land.
-- src/sql/NN_*.sql holds the same objects as a fresh 1.2 install creates
-- them; test/suites/15_upgrade.sh checks that both roads end in the same
-- schema (docs/releasing.md).
\echo Use "ALTER EXTENSION eventstore UPDATE TO '1.2'" to load this file. \quit

-- The schema is the store's before anything else runs (src/sql/00_claim_schema.sql).
SELECT eventstore.es_claim_schema();

-- (Nothing else yet: 1.2's changes go here.)

-- The claim again, last (src/sql/99_claim_check.sql).
SELECT eventstore.es_claim_schema();
