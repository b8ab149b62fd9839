-- Workload 2, SQL baseline: as w2_es.sql.
SELECT bench.sql_stream_version('hot-' || :run) AS v \gset
SELECT bench.try_sql_append('hot-' || :run, 'Deposited', :data, :v, :meta);
