-- eventstore 1.0 -> 1.1.
-- Every change to the SQL surface between the two releases, in the order
-- the issues landed.  src/sql/NN_*.sql holds the same objects as a fresh
-- 1.1 install creates them; test/suites/15_upgrade.sh checks that both
-- roads end in the same schema.
\echo Use "ALTER EXTENSION eventstore UPDATE TO '1.1'" to load this file. \quit
