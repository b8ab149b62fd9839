-- append-hot-stream, eventstore: every client appends to one hot stream; it reads
-- the stream's version, then appends with that expected version.  A
-- conflict returns 0 (bench.try_es_append), a success 1.
SELECT eventstore.es_stream_version('hot-' || :run) AS v \gset
SELECT bench.try_es_append('hot-' || :run, 'Deposited', :data, :v, :meta);
