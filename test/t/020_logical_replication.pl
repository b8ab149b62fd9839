# The events table can be published with logical replication (CDC):
#  - a logical decoding slot sees appends in commit order (which can differ
#    from position order when appenders commit out of order);
#  - a subscriber receives every event, identical, including binary payloads.
# Also run on partitioned stores (test/suites/82_partitioned.sh).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use EsPublication;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$pub->start;
$pub->safe_psql('postgres', 'CREATE EXTENSION eventstore');
$pub->safe_psql('postgres',
    q{SELECT pg_create_logical_replication_slot('cdc', 'test_decoding')});

# A takes the lower position and commits last; B commits first.
my $a = $pub->background_psql('postgres');
$a->query_safe('BEGIN');
my $pos_a = $a->query_safe(q{SELECT position FROM eventstore.es_append('cdc-a', 'First', NULL, 0)});
my $pos_b = $pub->safe_psql('postgres',
    q{SELECT position FROM eventstore.es_append('cdc-b', 'Second', NULL, 0)});
$a->query_safe('COMMIT');
$a->quit;
chomp $pos_a;
cmp_ok($pos_a, '<', $pos_b, 'the transaction that commits last holds the lower position');

my $changes = $pub->safe_psql('postgres', q{
    SELECT string_agg(substring(c.data from 'stream\[text\]:''([^'']*)'''), ',' ORDER BY c.n)
    FROM pg_logical_slot_get_changes('cdc', NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n)
    WHERE c.data ~ '^table eventstore\.events(_[0-9]+)?: INSERT:'});
is($changes, 'cdc-b,cdc-a', 'logical decoding delivers the appends in commit order');
$pub->safe_psql('postgres', q{SELECT pg_drop_replication_slot('cdc')});

# A subscriber with the same schema (the extension installed there too).
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$sub->start;
$sub->safe_psql('postgres', 'CREATE EXTENSION eventstore');
prepare_subscriber($sub);

$pub->safe_psql('postgres', publication_sql($pub));
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres',
    "CREATE SUBSCRIPTION events CONNECTION '$connstr' PUBLICATION events");
$pub->safe_psql('postgres', q{
    SELECT count(*) FROM eventstore.es_append('cdc-bin', 'Proto', data_bin => '\x00ff10'::bytea);
    SELECT count(*) FROM eventstore.es_append('[
        {"stream": "cdc-x", "events": [{"type": "X", "data": {"n": 1}}]},
        {"stream": "cdc-y", "events": [{"type": "Y", "data": {"n": 2}}]}]');});
$pub->wait_for_catchup('events');
$sub->poll_query_until('postgres', q{SELECT count(*) = 5 FROM eventstore.events})
  or die 'subscriber did not receive the events';

my $digest = q{SELECT md5(string_agg(concat_ws('|', position, stream, version, event_id, type,
    data, encode(data_bin, 'hex'), metadata, created_at), ',' ORDER BY position)) FROM eventstore.events};
is($sub->safe_psql('postgres', $digest), $pub->safe_psql('postgres', $digest),
    'the subscriber has every event, identical');
is($sub->safe_psql('postgres', q{SELECT encode(data_bin, 'hex') FROM eventstore.es_load('cdc-bin')}),
    '00ff10', 'binary payloads arrive byte-exact');

$sub->stop;
$pub->stop;
done_testing();
