# pg_upgrade of a cluster holding a store (docs/operations.md, "Upgrades").
# pg_upgrade restores the schema with pg_dump --binary-upgrade, which creates
# the extension's members one by one while the store's event triggers exist,
# then moves the table files over.  Afterwards every event, snapshot,
# checkpoint and recorded table addition is there, user-added indexes work,
# versions continue, new positions are above every old one, and the DDL
# guard still holds.  Both clusters are PostgreSQL 15 (the only version
# installed here); the steps are those of a major-version upgrade.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old = PostgreSQL::Test::Cluster->new('old');
$old->init;
$old->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$old->start;
$old->safe_psql('postgres', 'CREATE DATABASE shop');
$old->safe_psql('shop', q{
    CREATE EXTENSION eventstore;
    SELECT count(*) FROM generate_series(1, 20) g,
        LATERAL eventstore.es_append(jsonb_build_object('stream', 'order-' || g,
            'events', jsonb_build_array(
                jsonb_build_object('type', 'Placed', 'data', jsonb_build_object('sku', 'sku-' || g)),
                jsonb_build_object('type', 'Paid'))));
    SELECT eventstore.es_snapshot('order-1', 2, '{"state": "paid"}');
    SELECT eventstore.es_advance_position('projector', 30);
    CREATE INDEX events_sku_idx ON eventstore.events ((data ->> 'sku'));
});

my $rows_sql = q{
    SELECT md5(string_agg(e::text, ',' ORDER BY position)) FROM eventstore.events e
    UNION ALL SELECT md5(string_agg(s::text, ',' ORDER BY stream, kind)) FROM eventstore.snapshots s
    UNION ALL SELECT md5(string_agg(c::text, ',' ORDER BY handler, stream)) FROM eventstore.checkpoints c
    UNION ALL SELECT string_agg(kind || ':' || name, ',' ORDER BY kind, name) FROM eventstore.table_additions};
my $before = $old->safe_psql('shop', $rows_sql);
my $max_before = $old->safe_psql('shop', 'SELECT max(position) FROM eventstore.events');
$old->stop;

my $new = PostgreSQL::Test::Cluster->new('new');
$new->init;
$new->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");

my $workdir = "${PostgreSQL::Test::Utils::tmp_check}/pg_upgrade_work";
mkdir $workdir;
chdir $workdir;
command_ok(
    [
        'pg_upgrade', '--no-sync',
        '-d', $old->data_dir, '-D', $new->data_dir,
        '-b', $old->config_data('--bindir'), '-B', $new->config_data('--bindir'),
        '-s', $new->host, '-p', $old->port, '-P', $new->port
    ],
    'pg_upgrade of a cluster holding a store');

$new->start;
is($new->safe_psql('shop', $rows_sql), $before,
    'every event, snapshot, checkpoint and recorded addition survived pg_upgrade');
is($new->safe_psql('shop',
    q{SELECT version || ':' || (position > } . $max_before . q{)::text FROM eventstore.es_append('order-1', 'Shipped', NULL, 2)}),
    '3:true', 'versions continue and new positions are above every old one');
is($new->safe_psql('shop', q{
    SET enable_seqscan = off;
    EXPLAIN (COSTS OFF) SELECT * FROM eventstore.events WHERE data ->> 'sku' = 'sku-7'}) =~ /events_sku_idx|events_\d+_expr_idx/ ? 1 : 0,
    1, 'the user-added index is there and used');   # (on each partition, in the partitioned layout)
my ($ret, $out, $err) = $new->psql('shop', 'DROP EXTENSION eventstore CASCADE',
    extra_params => ['-v', 'VERBOSITY=verbose']);
like($err, qr/ES005/, 'the DDL guard holds after pg_upgrade');
is($new->safe_psql('shop', q{SELECT position FROM eventstore.es_load(after_position => 40)}),
    $new->safe_psql('shop', q{SELECT max(position) FROM eventstore.events}),
    'the feed serves the new event after pg_upgrade');

$new->stop;
done_testing();
