# Logical replication of a store in either layout, for the TAP tests.
#
# A store may be partitioned (test/suites/82_partitioned.sh sets
# eventstore.partition_size for every node through TEMP_CONFIG).  Then the
# publication goes through the root, with the tables that keep ids unique and
# tell which streams exist, and a subscriber needs its partitions before rows
# arrive (docs/partitioning.md, "Logical replication").
package EsPublication;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT = qw(publication_sql prepare_subscriber);

sub is_partitioned
{
    my ($node) = @_;
    return $node->safe_psql('postgres',
        q{SELECT relkind FROM pg_class WHERE oid = 'eventstore.events'::regclass}) eq 'p';
}

# The CREATE PUBLICATION events statement for the store on $node.
sub publication_sql
{
    my ($node) = @_;
    return 'CREATE PUBLICATION events FOR TABLE eventstore.events'
      unless is_partitioned($node);
    return 'CREATE PUBLICATION events FOR TABLE eventstore.events, eventstore.event_ids, '
      . 'eventstore.stream_starts WITH (publish_via_partition_root = true)';
}

# Partitions for the rows a subscriber on $node will receive.
sub prepare_subscriber
{
    my ($node) = @_;
    $node->safe_psql('postgres', 'SELECT eventstore.es_make_partitions(1000)')
      if is_partitioned($node);
}

1;
