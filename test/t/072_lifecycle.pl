# Stream lifecycle across crashes and logical replication (docs/lifecycle.md,
# docs/operations.md "Erasure and what remains elsewhere"):
#  - a crash in the middle of a delete (the events moved, not committed) or
#    of a retention cleanup leaves the stream untouched; a committed delete or tombstone is whole
#    after the crash, and the tombstone still refuses appends; positions
#    of deleted events are not handed out again after the restart;
#  - deletes replicate as deletes: a logical-replication subscriber of the
#    events table loses the erased stream's events and keeps the others.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use EsPublication;

my $pub = PostgreSQL::Test::Cluster->new('life_pub');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$pub->start;
$pub->safe_psql('postgres', 'CREATE EXTENSION eventstore');
$pub->safe_psql('postgres', q{
    SELECT count(*) FROM generate_series(1, 200) g,
        LATERAL eventstore.es_append('big-1', 'E', jsonb_build_object('n', g));
    SELECT count(*) FROM generate_series(1, 200) g,
        LATERAL eventstore.es_append('kept-1', 'E', jsonb_build_object('n', g));
    SELECT eventstore.es_set_retention('kept-1', max_count => 200);
    -- a setting not applied yet (es_set_retention would apply it at once)
    UPDATE eventstore.stream_state SET max_count = 10 WHERE stream = 'kept-1';
    SELECT count(*) FROM generate_series(1, 3) g,
        LATERAL eventstore.es_append('done-1', 'E', jsonb_build_object('n', g));
    SELECT count(*) FROM generate_series(1, 3) g,
        LATERAL eventstore.es_append('gone-1', 'E', jsonb_build_object('n', g));});

my $state = q{SELECT concat_ws('/', (SELECT count(*) FROM eventstore.events WHERE stream = '%s'),
    (SELECT count(*) FROM eventstore.deleted_events WHERE stream = '%s'),
    (SELECT state FROM eventstore.es_stream_info('%s')))};

# Committed before the crash: a soft delete and a tombstone.
$pub->safe_psql('postgres', q{SELECT eventstore.es_delete_stream('done-1')});
$pub->safe_psql('postgres', q{SELECT eventstore.es_tombstone_stream('gone-1')});

# In flight at the crash: a retention cleanup that removed 190 events of
# another stream, and a delete that has moved all 200 events of big-1.
my $cleanup = $pub->background_psql('postgres');
$cleanup->query_safe('BEGIN');
is($cleanup->query_safe(q{SELECT deleted FROM eventstore.es_apply_retention()}), '190',
    'inside the cleanup transaction 190 events are removed');
my $inflight = $pub->background_psql('postgres');
$inflight->query_safe('BEGIN');
$inflight->query_safe(q{SELECT eventstore.es_delete_stream('big-1')});
is($inflight->query_safe(sprintf($state, 'big-1', 'big-1', 'big-1')), '0/200/deleted',
    'inside the deleting transaction the events are moved');
$pub->stop('immediate');
$inflight->quit;
$cleanup->quit;
$pub->start;

is($pub->safe_psql('postgres', q{SELECT count(*) || '/' || min(version) FROM eventstore.events WHERE stream = 'kept-1'}),
    '200/1', 'a cleanup in flight at the crash leaves the stream untouched');

is($pub->safe_psql('postgres', sprintf($state, 'big-1', 'big-1', 'big-1')), '200/0/active',
    'a delete in flight at the crash leaves the stream untouched');
is($pub->safe_psql('postgres', sprintf($state, 'done-1', 'done-1', 'done-1')), '0/3/deleted',
    'a committed soft delete is whole after the crash');
is($pub->safe_psql('postgres', sprintf($state, 'gone-1', 'gone-1', 'gone-1')), '0/0/tombstoned',
    'a committed tombstone is whole after the crash');
my ($ret, $out, $err) = $pub->psql('postgres',
    q{SELECT * FROM eventstore.es_append('gone-1', 'E', NULL, 0)},
    extra_params => ['-v', 'VERBOSITY=verbose']);
like($err, qr/ES006/, 'the tombstone still refuses appends after the crash');
# The deleted events of done-1 and gone-1 held the highest positions (401 to
# 406); the counter is rebuilt after the crash, and must not hand them out
# again.
is($pub->safe_psql('postgres', q{SELECT version || ':' || position FROM eventstore.es_append('big-1', 'E', NULL, 200)}),
    '201:407', 'appends continue, above the positions of deleted events');

# Logical replication: a subscriber of the events table.
my $sub = PostgreSQL::Test::Cluster->new('life_sub');
$sub->init;
$sub->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$sub->start;
$sub->safe_psql('postgres', 'CREATE EXTENSION eventstore');
prepare_subscriber($sub);
$pub->safe_psql('postgres', q{
    SELECT count(*) FROM eventstore.es_append('person-7', 'Registered', '{"email": "p7@example.org"}');
    SELECT count(*) FROM eventstore.es_append('person-7', 'Moved', '{"city": "Lyon"}');
    SELECT count(*) FROM eventstore.es_append('person-8', 'Registered', '{"email": "p8@example.org"}');});
$pub->safe_psql('postgres', publication_sql($pub));
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres',
    "CREATE SUBSCRIPTION events CONNECTION '$connstr' PUBLICATION events");
$pub->wait_for_catchup('events');
$sub->poll_query_until('postgres',
    q{SELECT count(*) = 3 FROM eventstore.events WHERE stream LIKE 'person-%'})
  or die 'the subscriber did not receive the events';

$pub->safe_psql('postgres', q{SELECT eventstore.es_erase_stream('person-7', 'erasure request 7')});
$pub->wait_for_catchup('events');
is($sub->safe_psql('postgres',
    q{SELECT string_agg(stream || ':' || version, ',' ORDER BY stream, version) FROM eventstore.events WHERE stream LIKE 'person-%'}),
    'person-8:1', 'the subscriber sees the erasure as deletes and keeps the other stream');
is($sub->safe_psql('postgres',
    q{SELECT count(*) FROM eventstore.events WHERE data::text LIKE '%p7@%'}),
    '0', 'no copy of the erased payload is left on the subscriber');

$sub->stop;
$pub->stop;
done_testing();
