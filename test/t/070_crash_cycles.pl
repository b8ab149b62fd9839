# Crash cycles under append load: no acknowledged append is ever lost.
#
# Each cycle starts appenders (helpers/crash_writer.py, beside this file) that log
# every append whose reply arrived, waits until each has some
# acknowledged, then kills the server under them with SIGKILL, alternately:
#  - one appending backend (the postmaster then resets every backend and
#    shared memory, as after any backend crash);
#  - the postmaster and all its children at once (a kill of the whole
#    server), then a start.
# After every restart: every acknowledged event is stored with the same
# stream, version and position; every stream's versions are dense 1..n;
# positions and ids are unique; a new append gets a position above all.
#
# ES_CRASH_CYCLES sets the number of cycles (default 4, as in `make test`),
# ES_CRASH_WRITERS the appenders per cycle (default 3).
use strict;
use warnings;
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $cycles = $ENV{ES_CRASH_CYCLES} // 4;
my $nwriters = $ENV{ES_CRASH_WRITERS} // 3;
my $min_acked = 30;		# lines each writer logs before the kill
my $writer = dirname(__FILE__) . '/helpers/crash_writer.py';

my $node = PostgreSQL::Test::Cluster->new('crash_cycles');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'eventstore'");
$node->append_conf('postgresql.conf', "restart_after_crash = on");
# Appends commit synchronously whatever the setting (position.c): with it off,
# an acknowledged append lost in a crash shows that they do not.
$node->append_conf('postgresql.conf', "synchronous_commit = off");
# The default, log_statement = all, would log every append of the writers.
$node->append_conf('postgresql.conf', "log_statement = none");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION eventstore');
my $conninfo = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';
my $acked_total = 0;

sub lines_in
{
	my ($file) = @_;
	open(my $fh, '<', $file) or return 0;
	my $n = 0;
	while (my $line = <$fh>)
	{
		$n++;
	}
	close($fh);
	return $n;
}

# Bounded wait for a condition (no assertion on time: only a ceiling).
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
	my $how = $cycle % 2 ? 'one backend' : 'the whole server';
	my (@harness, @files, @errs);
	for my $w (1 .. $nwriters)
	{
		my $file = "$PostgreSQL::Test::Utils::tmp_check/acked.$cycle.$w";
		my $err = '';
		push @files, $file;
		push @errs, \$err;
		push @harness, IPC::Run::start(
			[ '/usr/bin/python3', $writer, $conninfo, $file, $w, $cycle * 100 + $w, 1000000 ],
			'>', \my $out, '2>', \$err);
	}
	ok(wait_for(sub { !grep { lines_in($_) < $min_acked } @files }),
		"cycle $cycle: every writer has appends acknowledged");

	if ($cycle % 2)
	{
		my $pid = $node->safe_psql('postgres',
			q{SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'crash_writer%' LIMIT 1});
		kill 'KILL', $pid;
	}
	else
	{
		my @pids = ($node->{_pid}, split(/\s+/, `pgrep -P $node->{_pid}`));
		kill 'KILL', @pids;
		$node->{_pid} = undef;
		ok(wait_for(sub { !grep { kill 0, $_ } @pids }),
			"cycle $cycle: the server's processes are gone");
	}
	for my $i (0 .. $#harness)
	{
		ok($harness[$i]->finish, "cycle $cycle: writer " . ($i + 1) . " ended by the crash only")
		  or diag(${ $errs[$i] });
	}
	if ($cycle % 2)
	{
		ok($node->poll_query_until('postgres', 'SELECT true'),
			"cycle $cycle: the server is back after a SIGKILL of $how");
	}
	else
	{
		$node->start;
		pass("cycle $cycle: the server starts after a SIGKILL of $how");
	}

	# Every acknowledged event of every cycle so far.
	$node->safe_psql('postgres', q{
		CREATE TABLE IF NOT EXISTS acked (event_id uuid, stream text, version bigint, "position" bigint);
		TRUNCATE acked});
	for my $c (1 .. $cycle)
	{
		for my $w (1 .. $nwriters)
		{
			my $file = "$PostgreSQL::Test::Utils::tmp_check/acked.$c.$w";
			$node->safe_psql('postgres', "COPY acked FROM '$file' (FORMAT csv)") if -s $file;
		}
	}
	$acked_total = $node->safe_psql('postgres', 'SELECT count(*) FROM acked');
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM acked a WHERE NOT EXISTS (
			SELECT 1 FROM eventstore.events e
			 WHERE e.event_id = a.event_id AND e.stream = a.stream
			   AND e.version = a.version AND e.position = a.position)}),
		'0', "cycle $cycle: all $acked_total acknowledged events are stored as acknowledged");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT stream FROM eventstore.events GROUP BY stream
		                       HAVING count(*) <> max(version) OR min(version) <> 1) s}),
		'0', "cycle $cycle: versions are dense in every stream");
	is($node->safe_psql('postgres', q{
		SELECT (count(*) - count(DISTINCT position)) + (count(*) - count(DISTINCT event_id))
		  FROM eventstore.events}),
		'0', "cycle $cycle: positions and ids are unique");
	is($node->safe_psql('postgres', q{
		SELECT p > (SELECT max(position) FROM eventstore.events WHERE stream <> 'after-crash')
		  FROM (SELECT position p FROM eventstore.es_append('after-crash', 'T')) s}),
		't', "cycle $cycle: a new append gets a position above every stored one");
}

note("crash cycles: $cycles, writers per cycle: $nwriters, acknowledged events checked: $acked_total");
$node->stop;
done_testing();
