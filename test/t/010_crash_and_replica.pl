# Crash recovery and streaming replication.
#  - after an immediate shutdown (a crash), committed events are all there and
#    new appends get positions above every stored one, versions continue;
#  - a hot standby serves stream reads; appends there are refused (25006);
#    so are lifecycle functions, while es_stream_info works.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION eventstore');

$primary->safe_psql('postgres', q{
    SELECT count(*) FROM generate_series(1, 50) g,
        LATERAL eventstore.es_append(jsonb_build_object('stream', 'crash-' || g,
            'events', jsonb_build_array(jsonb_build_object('type', 'A'), jsonb_build_object('type', 'B'))))});
my $before = $primary->safe_psql('postgres',
    'SELECT count(*) || \'/\' || max(position) FROM eventstore.events');
is($before, '100/100', 'events stored before the crash');

# A transaction in flight at the crash: its positions must not become visible.
my $inflight = $primary->background_psql('postgres');
$inflight->query_safe('BEGIN');
$inflight->query_safe(q{SELECT * FROM eventstore.es_append('crash-inflight', 'Lost', NULL, 0)});

$primary->stop('immediate');
$inflight->quit;
$primary->start;

is($primary->safe_psql('postgres', 'SELECT count(*) FROM eventstore.events'),
    '100', 'committed events survive the crash, the in-flight one is gone');
is($primary->safe_psql('postgres', q{SELECT eventstore.es_stream_version('crash-inflight')}),
    '0', 'the in-flight stream does not exist');
my $after = $primary->safe_psql('postgres',
    q{SELECT version || ':' || (position > 100)::text FROM eventstore.es_append('crash-1', 'C', NULL, 2)});
is($after, '3:true', 'after the crash versions continue and positions are above every stored one');

# Hot standby.
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$standby->start;
$primary->safe_psql('postgres', q{SELECT * FROM eventstore.es_append('replica-1', 'R', '{"x": 1}', 0)});
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', q{SELECT type || data::text FROM eventstore.es_load('replica-1')}),
    'R{"x": 1}', 'es_load works on the standby');
is($standby->safe_psql('postgres', q{SELECT eventstore.es_stream_version('crash-1')}),
    '3', 'es_stream_version works on the standby');
my ($ret, $out, $err) = $standby->psql('postgres',
    q{SELECT * FROM eventstore.es_append('replica-1', 'R', NULL, 1)}, extra_params => ['-v', 'VERBOSITY=verbose']);
like($err, qr/25006/, 'appending on the standby is refused with 25006');

# Lifecycle (docs/lifecycle.md): a delete replays to the standby, where the
# stream's state can be read and lifecycle functions are refused.
$primary->safe_psql('postgres', q{SELECT eventstore.es_delete_stream('replica-1')});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT state || '/' || version || '/' || last_version FROM eventstore.es_stream_info('replica-1')}),
    'deleted/0/1', 'es_stream_info works on the standby and shows the replayed delete');
($ret, $out, $err) = $standby->psql('postgres',
    q{SELECT eventstore.es_restore_stream('replica-1')}, extra_params => ['-v', 'VERBOSITY=verbose']);
like($err, qr/25006/, 'lifecycle functions are refused on the standby with 25006');

$standby->stop;
$primary->stop;
done_testing();
