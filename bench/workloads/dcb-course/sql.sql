-- dcb-course, PL/pgSQL with advisory locks per (type, tag): the same command.
\set s random(1, 100000)
\set c random(1, 10000)
SELECT bench.subscribe_sql(:s, :c);
