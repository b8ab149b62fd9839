-- append-hot-stream, SQL baseline: as es.sql.
SELECT bench.sql_stream_version('hot-' || :run) AS v \gset
SELECT bench.try_sql_append('hot-' || :run, 'Deposited', :data, :v, :meta);
