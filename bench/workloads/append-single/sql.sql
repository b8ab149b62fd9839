-- append-single, SQL baseline: the same scheme as es.sql through the PL/pgSQL append.
\set e :n % 100
\set s :n / 100
SELECT * FROM bench.sql_append('acct-' || :run || '-' || :client_id || '-' || :s, 'Deposited', :data, :e, :meta);
\set n :n + 1
