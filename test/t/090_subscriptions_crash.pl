# Managed subscriptions across server crashes (docs/subscriptions.md,
# section 7; SPEC guarantee 13): nothing lost, and an in-database
# projection that acks in its own transaction applies no event twice.
#
# Each cycle runs appenders and, for a round-robin and a pinned
# subscription, consumers that apply each event to crs_applied and ack in
# the same transaction (helpers/subscription_crash_worker.py, beside this file),
# logging every ack whose COMMIT returned.  Then the server is killed with
# SIGKILL (one backend, or the whole server, alternately) and started again.
# After each restart: every acknowledged ack's event is in crs_applied
# (the projection kept what was acked), and no event is applied twice.  At
# the end consumers drain both subscriptions: every committed event is
# applied exactly once for each, and the pools are empty.
#
# ES_SUBSCRIPTION_CRASH_CYCLES sets the number of cycles (default 3).
use strict;
use warnings;
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $cycles = $ENV{ES_SUBSCRIPTION_CRASH_CYCLES} // 3;
my $worker = dirname(__FILE__) . '/helpers/subscription_crash_worker.py';
my @subs = ('crs_rr', 'crs_pin');

my $node = PostgreSQL::Test::Cluster->new('subscriptions_crash');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$node->append_conf('postgresql.conf', "restart_after_crash = on");
$node->append_conf('postgresql.conf', "log_statement = none");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION eventstore;
	CREATE TABLE crs_applied (sub text, "position" bigint, stream text, version bigint);
	CREATE TABLE crs_acked (sub text, "position" bigint);
	SELECT eventstore.es_create_subscription('crs_rr', category => 'crs', lease_ms => 500);
	SELECT eventstore.es_create_subscription('crs_pin', category => 'crs', strategy => 'pinned', lease_ms => 500);
});
my $conninfo = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';

sub lines_in
{
	my ($file) = @_;
	open(my $fh, '<', $file) or return 0;
	my $n = 0;
	$n++ while <$fh>;
	close($fh);
	return $n;
}

sub wait_for
{
	my ($cond) = @_;
	for (1 .. 1200)
	{
		return 1 if $cond->();
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

for my $cycle (1 .. $cycles)
{
	my $file = "$PostgreSQL::Test::Utils::tmp_check/crs_acked.$cycle";
	my $err = '';
	my $h = IPC::Run::start([ '/usr/bin/python3', $worker, 'run', $conninfo, $file, @subs ],
		'>', \my $out, '2>', \$err);
	ok(wait_for(sub { lines_in($file) >= 200 }), "cycle $cycle: consumers have acked events");
	if ($cycle % 2)
	{
		my $pid = $node->safe_psql('postgres',
			q{SELECT pid FROM pg_stat_activity WHERE application_name = 'crs_worker' ORDER BY random() LIMIT 1});
		kill 'KILL', $pid;
		ok($node->poll_query_until('postgres', 'SELECT true'),
			"cycle $cycle: the server is back after a SIGKILL of one backend");
	}
	else
	{
		my @pids = ($node->{_pid}, split(/\s+/, `pgrep -P $node->{_pid}`));
		kill 'KILL', @pids;
		$node->{_pid} = undef;
		ok(wait_for(sub { !grep { kill 0, $_ } @pids }), "cycle $cycle: the server's processes are gone");
		$node->start;
		pass("cycle $cycle: the server starts after a SIGKILL of the whole server");
	}
	ok($h->finish, "cycle $cycle: the worker ended by the crash only") or diag($err);

	$node->safe_psql('postgres', "COPY crs_acked FROM '$file' (FORMAT csv)");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM crs_acked k WHERE NOT EXISTS
			(SELECT 1 FROM crs_applied a WHERE a.sub = k.sub AND a.position = k.position)}),
		'0', "cycle $cycle: every acknowledged ack's projection row survived");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT 1 FROM crs_applied GROUP BY sub, position HAVING count(*) > 1) d}),
		'0', "cycle $cycle: no event applied twice");
}

my $err = '';
ok(IPC::Run::run([ '/usr/bin/python3', $worker, 'drain', $conninfo, '/dev/null', @subs ], '2>', \$err),
	'after the crashes, the consumers drain both subscriptions') or diag($err);
for my $sub (@subs)
{
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM eventstore.events e WHERE e.category = 'crs' AND NOT EXISTS
			(SELECT 1 FROM crs_applied a WHERE a.sub = '$sub' AND a.position = e.position)}),
		'0', "$sub: no event lost across the crashes");
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM (SELECT 1 FROM crs_applied WHERE sub = '$sub' GROUP BY position HAVING count(*) > 1) d}),
		'0', "$sub: exactly once: no event applied twice across the crashes");
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM eventstore.subscription_events WHERE subscription = '$sub'}),
		'0', "$sub: the pool is empty");
}
note('events: ' . $node->safe_psql('postgres', q{SELECT count(*) FROM eventstore.events WHERE category = 'crs'}));
$node->stop;
done_testing();
