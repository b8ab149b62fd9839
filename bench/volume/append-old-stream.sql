-- Volume benchmark (bench/volume.sh): one event to a random stream among the
-- :nshort loaded ten-event streams, no version claim: the append finds the
-- stream's last version in a cold part of the (stream, version) index.
\set k random(0, :nshort - 1)
SELECT * FROM eventstore.es_append((ARRAY['account', 'order', 'payment', 'shipment', 'customer'])[:k % 5 + 1] || '-' || :k,
                                   'Deposited', :data, metadata => :meta);
