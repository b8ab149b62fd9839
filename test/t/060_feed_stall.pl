# The global feed: what holds it back and what does not, es_wait, and feed
# reads on a hot standby (docs/global-feed.md, sections 3, 4 and 8).
#
# - An open transaction that wrote in another database, an idle-in-
#   transaction writer of a plain table in the same database and a long
#   REPEATABLE READ transaction do not stall the feed.
# - An in-flight appender of the same database holds the feed back until it
#   commits, and only until then.
# - es_wait wakes on a commit, times out with false, honours
#   statement_timeout (57014), also in serialized mode (no preload: polling).
# - On a hot standby, feed reads raise 0A000 while stream reads work.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('feed_primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE feed');
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('feed', 'CREATE EXTENSION eventstore; CREATE TABLE plain (x int)');
$node->safe_psql('other', 'CREATE TABLE t (x int)');
is($node->safe_psql('feed', 'SELECT eventstore.es_feed_mode()'), 'concurrent', 'concurrent mode');

sub append_one
{
	my ($n, $stream) = @_;
	return $n->safe_psql('feed',
		"SELECT position FROM eventstore.es_append('$stream', 'E')");
}

sub feed_after
{
	my ($n, $after) = @_;
	return $n->safe_psql('feed',
		"SELECT coalesce(string_agg(stream, ',' ORDER BY position), '')"
		  . " FROM eventstore.es_load(after_position => $after)");
}

# ---- what does not stall the feed
my $other = $node->background_psql('other');
$other->query_safe('BEGIN; INSERT INTO t VALUES (1)');
my $idle = $node->background_psql('feed');
$idle->query_safe('BEGIN; INSERT INTO plain VALUES (1)');
my $report = $node->background_psql('feed');
$report->query_safe(
	'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM eventstore.events');

my $p1 = append_one($node, 'free-1');
is(feed_after($node, 0), 'free-1',
	'writers in another database and idle non-appenders do not stall the feed');
is($node->safe_psql('feed', 'SELECT eventstore.es_feed_head()'), $p1, 'head is the new event');

# ---- an in-flight appender of this database stalls it until it commits
my $appender = $node->background_psql('feed');
$appender->query_safe("BEGIN; SELECT eventstore.es_append('slow-1', 'E')");
my $p3 = append_one($node, 'fast-1');
ok($p3 > $p1 + 1, 'the later append got a higher position');
is(feed_after($node, $p1), '', 'the feed stops before the in-flight appender');
is($node->safe_psql('feed', 'SELECT eventstore.es_feed_head()'), $p1, 'head held back');
is($node->safe_psql('feed', "SELECT count(*) FROM eventstore.es_load('fast-1')"),
	'1', 'the later event is readable as a stream meanwhile');
$appender->query_safe('COMMIT');
is(feed_after($node, $p1), 'slow-1,fast-1', 'after the commit the feed continues in order');

$other->query_safe('COMMIT');
$idle->query_safe('COMMIT');
$report->query_safe('COMMIT');

# ---- es_wait
sub check_wait_wakes
{
	my ($n, $what) = @_;
	my $head = $n->safe_psql('feed', 'SELECT eventstore.es_feed_head()');
	my $w = $n->background_psql('feed');
	$w->query_until(qr/waiting/,
		"\\echo waiting\nSELECT eventstore.es_wait($head, 120000);\n");
	# Append only once the waiter sleeps, so that the wake-up is tested.
	$n->poll_query_until('feed',
		"SELECT count(*) = 1 FROM pg_stat_activity"
		  . " WHERE wait_event_type = 'Extension' AND query LIKE '%es_wait%'")
	  or die "es_wait did not sleep";
	$n->safe_psql('feed',
		"SELECT pg_sleep(0.3); SELECT count(*) FROM eventstore.es_append('wake-1', 'E')");
	is($w->query_safe("SELECT 'done'"), "t\ndone", "es_wait wakes on a commit ($what)");
	$w->quit;
	is($n->safe_psql('feed', "SELECT eventstore.es_wait(eventstore.es_feed_head(), 200)"),
		'f', "es_wait times out with false ($what)");
	my ($rc, $out, $err) = $n->psql('feed',
		"\\set VERBOSITY verbose\nSET statement_timeout = 300;"
		  . " SELECT eventstore.es_wait(eventstore.es_feed_head(), 120000);");
	like($err, qr/57014/, "es_wait honours statement_timeout ($what)");
}
check_wait_wakes($node, 'condition variable');

# ---- hot standby: feed reads refused, stream reads work
$node->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('feed_standby');
$standby->init_from_backup($node, 'b1', has_streaming => 1);
$standby->start;
append_one($node, 'replicated-1');
$node->wait_for_catchup($standby);
is($standby->safe_psql('feed', "SELECT count(*) FROM eventstore.es_load('replicated-1')"),
	'1', 'stream reads work on the standby');
for my $q ('SELECT * FROM eventstore.es_load(after_position => 0)',
	'SELECT eventstore.es_feed_head()', 'SELECT eventstore.es_wait(0, 10)')
{
	my ($rc, $out, $err) = $standby->psql('feed', "\\set VERBOSITY verbose\n$q");
	like($err, qr/0A000: cannot read the global feed on a hot standby/, "refused on a standby: $q");
}
$standby->stop;

# ---- serialized mode (not preloaded): es_wait polls
my $ser = PostgreSQL::Test::Cluster->new('feed_serialized');
$ser->init;
$ser->start;
$ser->safe_psql('postgres', 'CREATE DATABASE feed');
$ser->safe_psql('feed', 'SET client_min_messages = warning; CREATE EXTENSION eventstore');
is($ser->safe_psql('feed', 'SELECT eventstore.es_feed_mode()'), 'serialized', 'serialized mode');
append_one($ser, 'ser-1');
is(feed_after($ser, 0), 'ser-1', 'feed read in serialized mode');
check_wait_wakes($ser, 'polling');
$ser->stop;

$node->stop;
done_testing();
