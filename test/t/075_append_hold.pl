# eventstore.max_append_hold: a writer that appends and keeps its
# transaction open cannot hold the feed for longer than a superuser allows
# (docs/global-feed.md, section 3.1; issue 11, item 3).
#
# - By default (1min, issue 21 item 10), a writer idle in transaction that
#   set nothing is ended a minute after its append and the feed moves on
#   (started first, in a database of its own, and checked last, so that the
#   minute passes while the rest runs).
# - feed_holders shows the holders of its own database only.
# - With the limit switched off for its role (0, a superuser's choice), a
#   writer idle in transaction (after switching
#   idle_in_transaction_session_timeout off for itself) holds the feed:
#   es_wait times out, a feed page stops before it, feed_holders shows it.
# - The writer cannot change the limit (superuser only).
# - With a limit set for the writer's role, an honest subscriber's es_wait
#   returns once the limit has passed: the holder (idle, or busy in
#   pg_sleep) has been ended, its event is a gap, the later event is read.
# - In serialized mode feed_holders shows the holder of the feed lock.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('append_hold');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE feed');
$node->safe_psql('feed', q{
	CREATE EXTENSION eventstore;
	CREATE ROLE es_app LOGIN;
	CREATE ROLE es_ops LOGIN;
	SELECT eventstore.es_grant_writer('es_app');
	SELECT eventstore.es_grant_reader('es_ops');
});

# ---- the default: a holder that set nothing, in a database of its own
$node->safe_psql('postgres', 'CREATE DATABASE dflt');
$node->safe_psql('dflt', q{
	CREATE EXTENSION eventstore;
	CREATE ROLE es_dflt LOGIN;
	SELECT eventstore.es_grant_writer('es_dflt');
});
is($node->safe_psql('dflt', 'SHOW eventstore.max_append_hold'), '1min', 'the default limit is 1min');
my $dflt_base = $node->safe_psql('dflt', 'SELECT eventstore.es_feed_head()');
my $hd = $node->background_psql('dflt', extra_params => [ '-U', 'es_dflt' ]);
$hd->query_safe('SET idle_in_transaction_session_timeout = 0');
my $piddflt = $hd->query_safe('SELECT pg_backend_pid()');
$hd->query_safe("BEGIN; SELECT eventstore.es_append('dflt-hold', 'E')");
$node->safe_psql('dflt', "SELECT eventstore.es_append('dflt-later', 'E')");
is( $node->safe_psql('dflt',
		'SELECT deadline - held_since FROM eventstore.feed_holders'),
	'00:01:00', 'default: the holder\'s deadline is a minute after its append');

# The limit off for es_app: a superuser's choice, per role.
$node->safe_psql('postgres', 'ALTER ROLE es_app SET eventstore.max_append_hold = 0');

sub append_one
{
	my ($stream) = @_;
	return $node->safe_psql('feed',
		"SELECT position FROM eventstore.es_append('$stream', 'E')");
}

sub feed_after
{
	my ($after) = @_;
	return $node->safe_psql('feed',
		"SELECT coalesce(string_agg(stream, ',' ORDER BY position), '')"
		  . " FROM eventstore.es_load(after_position => $after)");
}

# A writer's session that has appended and stays in its transaction.
sub start_holder
{
	my ($stream) = @_;
	my $h = $node->background_psql('feed', extra_params => [ '-U', 'es_app' ]);
	$h->query_safe('SET idle_in_transaction_session_timeout = 0');
	my $pid = $h->query_safe('SELECT pg_backend_pid()');
	$h->query_safe("BEGIN; SELECT eventstore.es_append('$stream', 'E')");
	return ($h, $pid);
}

# ---- with the limit off the holder holds the feed
my $base = $node->safe_psql('feed', 'SELECT eventstore.es_feed_head()');
my ($h1, $pid1) = start_holder('hold-1');
append_one('later-1');
is(feed_after($base), '', 'no limit: the feed stops before the idle holder');
is($node->safe_psql('feed', "SELECT eventstore.es_wait($base, 300)"),
	'f', 'no limit: es_wait times out');
is( $node->safe_psql(
		'feed',
		"SELECT pid, mode, state, backend_state, deadline IS NULL, held_at = $base"
		  . " FROM eventstore.feed_holders WHERE database = 'feed'"),
	"$pid1|concurrent|holding|idle in transaction|t|t",
	'feed_holders shows the holder, its state and no deadline');
is( $node->safe_psql(
		'feed', 'SELECT count(*) FROM eventstore.feed_holders',
		extra_params => [ '-U', 'es_ops' ]),
	'1',
	'a reader grant can read feed_holders, which shows this database\'s holder only');
my ($rc, $out, $err) = $node->psql('feed', 'SET eventstore.max_append_hold = 0',
	extra_params => [ '-U', 'es_app' ]);
like($err, qr/permission denied to set parameter "eventstore.max_append_hold"/,
	'a writer cannot change the limit');
is(feed_after($base), '', 'still held after all that');
$h1->query_safe('ROLLBACK');
is(feed_after($base), 'later-1', 'the feed moves when the holder ends');
$h1->quit;

# ---- with a limit the holder is ended and the subscriber moves on
$node->safe_psql('postgres', "ALTER ROLE es_app SET eventstore.max_append_hold = '1s'");
$base = $node->safe_psql('feed', 'SELECT eventstore.es_feed_head()');
my ($h2, $pid2) = start_holder('hold-2');
is($h2->query_safe('SHOW eventstore.max_append_hold'), '1s', 'the role has the limit');
append_one('later-2');
is($node->safe_psql('feed', "SELECT eventstore.es_wait($base, 120000)"),
	't', 'limit: es_wait returns once the idle holder has been ended');
is(feed_after($base), 'later-2', 'limit: the later event is read, the held one is a gap');
is($node->safe_psql('feed', "SELECT eventstore.es_stream_version('hold-2')"),
	'0', 'the holder\'s append was rolled back');
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid2"),
	'the idle holder\'s backend is gone');
ok($node->log_contains("terminating backend $pid2: its appending transaction held the global feed"),
	'the log says who was ended and why');
eval { $h2->quit };

# A holder that is busy (pg_sleep) rather than idle.
$base = $node->safe_psql('feed', 'SELECT eventstore.es_feed_head()');
my $h3 = $node->background_psql('feed', extra_params => [ '-U', 'es_app' ]);
my $pid3 = $h3->query_safe('SELECT pg_backend_pid()');
$h3->query_until(qr/sleeping/,
	"BEGIN;\nSELECT eventstore.es_append('hold-3', 'E');\n\\echo sleeping\nSELECT pg_sleep(600);\n");
append_one('later-3');
is($node->safe_psql('feed', "SELECT eventstore.es_wait($base, 120000)"),
	't', 'limit: es_wait returns once the busy holder has been ended');
is(feed_after($base), 'later-3', 'limit: the busy holder\'s event is a gap');
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid3"),
	'the busy holder\'s backend is gone');
eval { $h3->quit };

# A plain feed page enforces the limit too (not only es_wait).
$base = $node->safe_psql('feed', 'SELECT eventstore.es_feed_head()');
my ($h4, $pid4) = start_holder('hold-4');
append_one('later-4');
ok( $node->poll_query_until(
		'feed',
		"SELECT count(*) = 1 FROM eventstore.es_load(after_position => $base)"),
	'limit: polling feed pages move past the holder');
eval { $h4->quit };

# ---- the default, a minute after the append: the holder is ended
is($node->safe_psql('dflt', "SELECT eventstore.es_wait($dflt_base, 120000)"),
	't', 'default: es_wait returns once the holder has been ended');
is($node->safe_psql('dflt',
		"SELECT coalesce(string_agg(stream, ',' ORDER BY position), '')"
		  . " FROM eventstore.es_load(after_position => $dflt_base)"),
	'dflt-later', 'default: the later event is read, the held one is a gap');
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $piddflt"),
	'default: the holder\'s backend is gone');
eval { $hd->quit };
$node->stop;

# ---- serialized mode: the holder of the feed lock shows in feed_holders
my $ser = PostgreSQL::Test::Cluster->new('append_hold_serialized');
$ser->init;
$ser->start;
$ser->safe_psql('postgres', 'CREATE DATABASE feed');
$ser->safe_psql('feed', 'SET client_min_messages = warning; CREATE EXTENSION eventstore');
my $sh = $ser->background_psql('feed');
my $spid = $sh->query_safe('SELECT pg_backend_pid()');
$sh->query_safe("BEGIN; SELECT eventstore.es_append('ser-1', 'E')");
is( $ser->safe_psql(
		'feed',
		"SELECT pid, mode, state, backend_state FROM eventstore.feed_holders"),
	"$spid|serialized|holding|idle in transaction",
	'serialized mode: feed_holders shows the holder of the feed lock');
$ser->safe_psql('postgres', 'CREATE DATABASE other');
$ser->safe_psql('other', 'SET client_min_messages = warning; CREATE EXTENSION eventstore');
is($ser->safe_psql('other', 'SELECT count(*) FROM eventstore.feed_holders'), '0',
	'serialized mode: another database\'s feed_holders does not show it');
is($ser->safe_psql('feed', 'SELECT eventstore.es_feed_head()'), '0',
	'serialized mode: readers are not held (nothing committed yet)');
$sh->query_safe('COMMIT');
$sh->quit;
$ser->stop;
done_testing();
