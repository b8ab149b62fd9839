# The partitioned layout (docs/partitioning.md) through crashes and
# replication:
#  - appends across many small partitions survive an immediate shutdown
#    (crash recovery), and appending goes on, making partitions;
#  - a hot standby serves stream reads of a stream that spans partitions,
#    including partitions made while it was streaming;
#  - a logical-replication subscriber with a partitioned store of its own
#    receives every event, every event id and every stream start, through a
#    publication of the parent with publish_via_partition_root, and can take
#    over the appends (versions continue) once it is detached.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $digest = q{SELECT md5(string_agg(concat_ws('|', position, stream, version, event_id, type,
    data, metadata, created_at), ',' ORDER BY position)) FROM eventstore.events};
my $ids = q{SELECT md5(string_agg(event_id || ':' || position, ',' ORDER BY event_id)) FROM eventstore.event_ids};
my $starts = q{SELECT md5(string_agg(stream || ':' || position, ',' ORDER BY stream)) FROM eventstore.stream_starts};
my $nparts = q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'eventstore.events'::regclass};

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 'logical');
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'\neventstore.partition_size = 5");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION eventstore');
$primary->safe_psql('postgres', q{SELECT count(*) FROM (
    SELECT eventstore.es_append('acct-' || (g % 3), 'Deposited', jsonb_build_object('n', g))
    FROM generate_series(1, 30) g) x});
cmp_ok($primary->safe_psql('postgres', $nparts), '>=', 6, 'appends made partitions');

# Crash recovery.
my $before = $primary->safe_psql('postgres', $digest);
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql('postgres', $digest), $before, 'every event is back after an immediate shutdown');
is($primary->safe_psql('postgres', q{SELECT version FROM eventstore.es_append('acct-0', 'After', NULL, 10)}),
    '11', 'versions continue after recovery');

# Hot standby.
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;
$primary->safe_psql('postgres', q{SELECT count(*) FROM (
    SELECT eventstore.es_append('acct-1', 'Deposited', jsonb_build_object('n', g))
    FROM generate_series(1, 20) g) x});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $digest), $primary->safe_psql('postgres', $digest),
    'the standby has every event, in partitions made while it streamed');
is($standby->safe_psql('postgres', q{SELECT count(*) || '/' || min(version) || '/' || max(version)
    FROM eventstore.es_load('acct-1', max_count => NULL)}), '30/1/30',
    'es_load on the standby reads a stream across partitions');
is($standby->safe_psql('postgres', q{SELECT eventstore.es_stream_version('acct-1')}), '30',
    'es_stream_version on the standby');
$standby->stop;

# Logical replication into a partitioned subscriber.
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'\neventstore.partition_size = 5");
$sub->start;
$sub->safe_psql('postgres', 'CREATE EXTENSION eventstore');
# Rows applied by the subscription need their partitions there (at most
# 100 a call, each call in a transaction of its own).
$sub->safe_psql('postgres', "SELECT eventstore.es_make_partitions($_)") for (500, 1000);
$primary->safe_psql('postgres', q{CREATE PUBLICATION events
    FOR TABLE eventstore.events, eventstore.event_ids, eventstore.stream_starts WITH (publish_via_partition_root = true)});
my $connstr = $primary->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION events CONNECTION '$connstr' PUBLICATION events");
$primary->safe_psql('postgres', q{SELECT count(*) FROM (
    SELECT eventstore.es_append('later-' || (g % 4), 'L', jsonb_build_object('n', g))
    FROM generate_series(1, 25) g) x});
$primary->wait_for_catchup('events');
my $count = $primary->safe_psql('postgres', 'SELECT count(*) FROM eventstore.events');
$sub->poll_query_until('postgres', "SELECT count(*) = $count FROM eventstore.events")
  or die 'subscriber did not receive the events';
is($sub->safe_psql('postgres', $digest), $primary->safe_psql('postgres', $digest),
    'the subscriber has every event, identical, routed to its own partitions');
$sub->poll_query_until('postgres', "SELECT count(*) = $count FROM eventstore.event_ids")
  or die 'subscriber did not receive the event ids';
is($sub->safe_psql('postgres', $ids), $primary->safe_psql('postgres', $ids),
    'the subscriber has every event id');
$sub->poll_query_until('postgres', q{SELECT count(*) = 4 FROM eventstore.stream_starts WHERE stream LIKE 'later-%'})
  or die 'subscriber did not receive the stream starts';
is($sub->safe_psql('postgres', $starts), $primary->safe_psql('postgres', $starts),
    'the subscriber has every stream start');

# The subscriber takes over: es_append there trusts its stream_starts.
$sub->safe_psql('postgres', 'DROP SUBSCRIPTION events');
my $head = $primary->safe_psql('postgres', q{SELECT eventstore.es_stream_version('later-1')});
is($sub->safe_psql('postgres', qq{SELECT version FROM eventstore.es_append('later-1', 'Taken', NULL, $head)}),
    $head + 1, 'versions continue on the subscriber after it takes over');

$sub->stop;
$primary->stop;
done_testing();
