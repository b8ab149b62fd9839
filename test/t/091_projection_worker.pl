# The projection worker across crashes (docs/subscriptions.md, section 7):
# a pinned subscription whose handler is a SQL function, run by the
# background worker (eventstore.projection_databases) in batches with the
# ack in the handler's transaction.  Appenders run while the server is
# killed with SIGKILL twice (the worker's own backend, then the whole
# server).  Afterwards every event is applied exactly once, except the
# poison events, which are parked after their retries without stopping the
# projection; per stream, events were applied in version order.
use strict;
use warnings;
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $worker = dirname(__FILE__) . '/helpers/subscription_crash_worker.py';
my $node = PostgreSQL::Test::Cluster->new('projection_worker');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$node->append_conf('postgresql.conf', "eventstore.projection_databases = 'postgres'");
$node->append_conf('postgresql.conf', "restart_after_crash = on");
$node->append_conf('postgresql.conf', "log_statement = none");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION eventstore;
	CREATE TABLE public.pw_applied (seq bigserial, "position" bigint, stream text, version bigint);
	CREATE FUNCTION public.pw_project(e eventstore.events) RETURNS void
	LANGUAGE plpgsql SET search_path = public AS $$
	BEGIN
		IF e.data->>'poison' = 'yes' THEN
			RAISE EXCEPTION 'poison event at %', e.position;
		END IF;
		INSERT INTO pw_applied ("position", stream, version) VALUES (e.position, e.stream, e.version);
	END
	$$;
	SELECT eventstore.es_create_subscription('pw', category => 'crs', strategy => 'pinned',
	                                         max_retries => 2, handler => 'public.pw_project(eventstore.events)');
});
my $conninfo = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';

ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'eventstore projections'}),
	'the projection worker runs');

for my $cycle (1 .. 2)
{
	my $err = '';
	my $h = IPC::Run::start([ '/usr/bin/python3', $worker, 'append', $conninfo, '/dev/null' ],
		'>', \my $out, '2>', \$err);
	ok($node->poll_query_until('postgres', 'SELECT count(*) >= ' . (300 * $cycle) . ' FROM pw_applied'),
		"cycle $cycle: the worker applies events");
	if ($cycle == 1)
	{
		my $pid = $node->safe_psql('postgres',
			q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'eventstore projections'});
		kill 'KILL', $pid;
		ok($node->poll_query_until('postgres', 'SELECT true'),
			'cycle 1: the server is back after a SIGKILL of the projection worker');
	}
	else
	{
		my @pids = ($node->{_pid}, split(/\s+/, `pgrep -P $node->{_pid}`));
		kill 'KILL', @pids;
		$node->{_pid} = undef;
		for (1 .. 600)
		{
			last unless grep { kill 0, $_ } @pids;
			select(undef, undef, undef, 0.1);
		}
		$node->start;
		pass('cycle 2: the server starts after a SIGKILL of the whole server');
	}
	$h->finish;
	ok($node->poll_query_until('postgres',
			q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'eventstore projections'}),
		"cycle $cycle: the projection worker runs again");
}

# Drain: every event applied or parked.
ok($node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM eventstore.events WHERE category = 'crs')
	     = (SELECT count(DISTINCT position) FROM pw_applied)
	     + (SELECT count(*) FROM eventstore.subscription_parked_events WHERE subscription = 'pw')}),
	'after the crashes, the worker catches up: every event applied or parked');
is($node->safe_psql('postgres', q{SELECT count(*) FROM (SELECT 1 FROM pw_applied GROUP BY position HAVING count(*) > 1) d}),
	'0', 'exactly once: no event applied twice across the crashes');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM eventstore.subscription_parked_events p JOIN eventstore.events e ON e.position = p.position
	WHERE p.subscription = 'pw' AND e.data->>'poison' IS DISTINCT FROM 'yes'}),
	'0', 'only poison events are parked');
is($node->safe_psql('postgres', q{
	SELECT count(*) > 0 AND bool_and(p.reason LIKE 'max retries reached: P0001: poison event at %')
	FROM eventstore.subscription_parked_events p WHERE p.subscription = 'pw'}),
	't', "poison events were parked with the handler's error, after their retries");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT version, lag(version) OVER (PARTITION BY stream ORDER BY seq) AS prev
	                      FROM pw_applied) x WHERE version < prev}),
	'0', 'per stream, events applied in version order');
note('events: ' . $node->safe_psql('postgres', q{SELECT count(*) FROM eventstore.events WHERE category = 'crs'}));
$node->stop;
done_testing();
