#!/usr/bin/python3
"""A store sharded by stream over four databases behind PL/Proxy (issue 16).

Usage: plproxy_stress.py PROXY_DSN SHARD0_DSN SHARD1_DSN SHARD2_DSN SHARD3_DSN

The proxy runs docs/examples/plproxy.sql; each shard ran es_set_shard(k, 4).
Checks, each printed as ok / not ok:
  - every public call works through the proxy (appends single and batch,
    stream loads, snapshots, checkpoints, feed heads, es_wait per shard);
  - a version conflict arrives through the proxy as ES001;
  - a batch whose streams belong to several shards is refused at the proxy
    (ES021) and a misrouted call is refused by the shard (ES020, and ES021
    for a batch routed by its first stream only); nothing of them is stored;
  - stress: writers append through the proxy with expected versions (single
    events and batches within one shard) while a merged subscriber follows
    all four feeds with a vector of positions; afterwards every stream is on
    its owning shard only, with dense versions, the subscriber saw every
    event exactly once and each stream's events in version order, and its
    checkpoint vector (one checkpoint per shard) equals its read positions.
Bounded by its operation counts, not by time.
"""
import random
import sys
import threading

import psycopg2

NSHARDS = 4
WRITERS = 4
OPS_PER_WRITER = 150
STREAMS = ['acct-%d' % i for i in range(24)]
MAX_PAGES = 20000

proxy_dsn = sys.argv[1]
shard_dsns = sys.argv[2:2 + NSHARDS]
failures = []


def connect(dsn):
    c = psycopg2.connect(dsn)
    c.autocommit = True
    return c


def ok(cond, what):
    print(('ok - ' if cond else 'not ok - ') + what)
    if not cond:
        failures.append(what)


def sqlstate_of(conn, sql, args=()):
    """Run sql, return None on success or the error's SQLSTATE and message."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            cur.fetchall()
        return None, None
    except psycopg2.Error as e:
        return e.pgcode, (e.pgerror or '').strip()


proxy = connect(proxy_dsn)
shards = [connect(d) for d in shard_dsns]
pcur = proxy.cursor()


def shard_of(stream):
    pcur.execute("SELECT eventstore.es_shard_of(%s, 4)", (stream,))
    return pcur.fetchone()[0]


def total_events():
    n = 0
    for s in shards:
        with s.cursor() as cur:
            cur.execute("SELECT count(*) FROM eventstore.events")
            n += cur.fetchone()[0]
    return n


by_shard = {}
for st in STREAMS:
    by_shard.setdefault(shard_of(st), []).append(st)
ok(sorted(by_shard) == list(range(NSHARDS)) and all(len(v) >= 2 for v in by_shard.values()),
   'the test streams cover every shard, at least two on each')

# ---- every public call through the proxy ----
pcur.execute("SELECT stream, version FROM es_proxy.es_append('acct-0', 'Opened', '{\"n\": 0}', 0)")
ok(pcur.fetchall() == [('acct-0', 1)], 'single append through the proxy')
home = shard_of('acct-0')
with shards[home].cursor() as cur:
    cur.execute("SELECT version FROM eventstore.events WHERE stream = 'acct-0'")
    ok(cur.fetchall() == [(1,)], 'the event is stored on the stream\'s shard %d' % home)
pair = by_shard[home][:2]
batch = '[{"stream": "%s", "expected_version": 1, "events": [{"type": "A"}, {"type": "B"}]},' \
        ' {"stream": "%s", "events": [{"type": "C"}]}]' % (pair[0], pair[1])
pcur.execute("SELECT stream, version FROM es_proxy.es_append(%s::jsonb)", (batch,))
ok(pcur.fetchall() == [(pair[0], 2), (pair[0], 3), (pair[1], 1)],
   'multi-stream batch within one shard through the proxy')
pcur.execute("SELECT version, type FROM es_proxy.es_load('acct-0')")
ok(pcur.fetchall() == [(1, 'Opened'), (2, 'A'), (3, 'B')], 'stream load through the proxy')
pcur.execute("SELECT es_proxy.es_stream_version('acct-0'), es_proxy.es_stream_version('acct-none')")
ok(pcur.fetchone() == (3, 0), 'stream version through the proxy')
pcur.execute("SELECT saved FROM es_proxy.es_snapshot('acct-0', 3, '{\"balance\": 7}')")
ok(pcur.fetchone() == (True,), 'snapshot saved through the proxy')
pcur.execute("SELECT version, data->>'balance' FROM es_proxy.es_load_snapshot('acct-0')")
ok(pcur.fetchall() == [(3, '7')], 'snapshot loaded through the proxy')
pcur.execute("SELECT is_snapshot, version FROM es_proxy.es_load_with_snapshot('acct-0')")
ok(pcur.fetchall() == [(True, 3)], 'snapshot plus events after it through the proxy')
pcur.execute("SELECT advanced FROM es_proxy.es_advance_stream_position('h', 'acct-0', 2)")
pcur.execute("SELECT es_proxy.es_handler_position('h', 'acct-0')")
ok(pcur.fetchone() == (2,), 'per-stream checkpoint through the proxy')
pcur.execute("SELECT shard, head FROM es_proxy.es_feed_heads() ORDER BY shard")
heads = pcur.fetchall()
ok([h[0] for h in heads] == list(range(NSHARDS)), 'feed heads of every shard')
empty = [s for s in range(NSHARDS) if s != home][0]
pcur.execute("SELECT es_proxy.es_wait(%s, %s, 0)", (empty, dict(heads)[empty]))
ok(pcur.fetchone() == (False,), 'es_wait on one shard: nothing new there')
pcur.execute("SELECT es_proxy.es_wait(%s, 0, 0)", (home,))
ok(pcur.fetchone() == (True,), 'es_wait on one shard: its events are there')

# ---- errors through the proxy ----
before = total_events()
pcur.execute("""CREATE FUNCTION pg_temp.remote_pid(shard integer) RETURNS integer
    LANGUAGE plproxy AS $$ CLUSTER 'es_shards'; RUN ON shard; SELECT pg_backend_pid(); $$""")
pcur.execute("SELECT pg_temp.remote_pid(%s), pg_temp.remote_pid(%s)", (home, home))
pid_before, pid_again = pcur.fetchone()
code, msg = sqlstate_of(proxy, "SELECT * FROM es_proxy.es_append('acct-0', 'X', '{}', 1)")
ok(code == 'ES001', 'a version conflict arrives through the proxy as ES001 (%s)' % msg)
print('# PL/Proxy relays a remote error as: %s' % msg.replace('\n', ' | '))
pcur.execute("SELECT es_proxy.es_stream_version('acct-0'), pg_temp.remote_pid(%s)", (home,))
version_after, pid_after = pcur.fetchone()
ok(version_after == 3, 'the proxy works on after a remote error')
ok(pid_before == pid_again and pid_after != pid_before,
   'PL/Proxy keeps its connection to a shard between calls, and drops it after a remote error')
other = [s for s in range(NSHARDS) if s != home][0]
cross = '[{"stream": "%s", "events": [{"type": "T"}]}, {"stream": "%s", "events": [{"type": "T"}]}]' \
        % (by_shard[home][0], by_shard[other][0])
code, msg = sqlstate_of(proxy, "SELECT * FROM es_proxy.es_append(%s::jsonb)", (cross,))
ok(code == 'ES021' and 'REMOTE ERROR' not in msg,
   'a cross-shard batch is refused at the proxy with ES021, no shard called (%s)' % msg)
# A naive router that sends a batch to the shard of its first stream: the
# shard refuses it.
pcur.execute("""CREATE OR REPLACE FUNCTION pg_temp.naive_append(first_stream text, batch jsonb)
    RETURNS TABLE (stream text, version bigint, "position" bigint, event_id uuid)
    LANGUAGE plproxy AS $$ CLUSTER 'es_shards'; RUN ON eventstore.es_shard_of(first_stream, 4);
    SELECT * FROM eventstore.es_append(batch); $$""")
code, msg = sqlstate_of(proxy, "SELECT * FROM pg_temp.naive_append(%s, %s::jsonb)",
                        (by_shard[home][0], cross))
ok(code == 'ES021' and 'REMOTE ERROR' in msg,
   'a cross-shard batch routed by its first stream is refused by the shard with ES021')
wrong = (home + 1) % NSHARDS
code, msg = sqlstate_of(shards[wrong], "SELECT * FROM eventstore.es_append('acct-0', 'X')")
ok(code == 'ES020', 'a misrouted call is refused by the shard with ES020')
ok(total_events() == before, 'nothing of the refused calls is stored')

# A misrouted call waits for no lock: with the shard's events table locked
# by another session, it is refused at once (a wait would end at lock_timeout
# with 55P03 instead).
locker = connect(shard_dsns[wrong])
locker.autocommit = False
locker.cursor().execute("LOCK TABLE eventstore.events IN ACCESS EXCLUSIVE MODE")
probe = connect(shard_dsns[wrong])
probe.cursor().execute("SET lock_timeout = '30s'")
code, msg = sqlstate_of(probe, "SELECT * FROM eventstore.es_append('acct-0', 'X')")
ok(code == 'ES020', 'a misrouted call is refused before any lock (%s)' % code)
locker.rollback()
locker.close()
probe.close()

# ---- stress: writers through the proxy, a merged subscriber ----
appended = []               # (stream, version) acknowledged to writers
conflicts = [0]
errors = []
lock = threading.Lock()
writers_done = threading.Event()


def writer(seed):
    rnd = random.Random(seed)
    c = connect(proxy_dsn)
    cur = c.cursor()
    for _ in range(OPS_PER_WRITER):
        try:
            if rnd.random() < 0.25:
                s = rnd.randrange(NSHARDS)
                sts = rnd.sample(by_shard[s], 2)
                entries = []
                for st in sts:
                    cur.execute("SELECT es_proxy.es_stream_version(%s)", (st,))
                    v = cur.fetchone()[0]
                    entries.append('{"stream": "%s", "expected_version": %d, "events": [{"type": "T"}, {"type": "U"}]}'
                                   % (st, v))
                cur.execute("SELECT stream, version FROM es_proxy.es_append(%s::jsonb)",
                            ('[' + ','.join(entries) + ']',))
            else:
                st = rnd.choice(STREAMS)
                cur.execute("SELECT es_proxy.es_stream_version(%s)", (st,))
                v = cur.fetchone()[0]
                cur.execute("SELECT stream, version FROM es_proxy.es_append(%s, 'T', '{}', %s)", (st, v))
            rows = cur.fetchall()
            with lock:
                appended.extend(rows)
        except psycopg2.Error as e:
            if e.pgcode == 'ES001':
                with lock:
                    conflicts[0] += 1
            else:
                with lock:
                    errors.append('%s %s' % (e.pgcode, e.pgerror))
    c.close()


seen = {}                   # event_id -> count
last_version = {}
order_errors = []
vector = [0] * NSHARDS


def subscriber():
    c = connect(proxy_dsn)
    cur = c.cursor()
    idle_after_done = False
    # Bounded, so that a feed that never runs dry fails instead of hanging.
    for _ in range(MAX_PAGES):
        done = writers_done.is_set()
        cur.execute("SELECT shard, position, stream, version, event_id FROM es_proxy.es_load_feed(%s::bigint[], 50)"
                    " ORDER BY shard, position", (vector,))
        rows = cur.fetchall()
        for shard, pos, stream, version, eid in rows:
            seen[eid] = seen.get(eid, 0) + 1
            if version != last_version.get(stream, 0) + 1:
                order_errors.append('%s: version %d after %d' % (stream, version, last_version.get(stream, 0)))
            last_version[stream] = version
            if pos <= vector[shard]:
                order_errors.append('shard %d: position %d after %d' % (shard, pos, vector[shard]))
            vector[shard] = pos
        for s in range(NSHARDS):
            cur.execute("SELECT advanced FROM es_proxy.es_advance_position('merged', %s, %s)", (s, vector[s]))
        if not rows:
            if idle_after_done:
                break
            idle_after_done = done
    else:
        order_errors.append('the subscriber read %d pages and did not reach the end' % MAX_PAGES)
    c.close()


# Start after what the checks above wrote: the subscriber reads from 0.
threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
sub = threading.Thread(target=subscriber)
sub.start()
for t in threads:
    t.start()
for t in threads:
    t.join()
writers_done.set()
sub.join()

ok(not errors, 'writers got no error but ES001 (%s)' % '; '.join(errors[:3]))
print('# %d events appended by the writers, %d conflicts (ES001)' % (len(appended), conflicts[0]))
ok(len(appended) > 0, 'the writers appended')

dense = True
misplaced = []
stored_ids = set()
for k, s in enumerate(shards):
    with s.cursor() as cur:
        cur.execute("SELECT stream, count(*), max(version) FROM eventstore.events GROUP BY stream")
        for stream, n, maxv in cur.fetchall():
            if n != maxv:
                dense = False
            if shard_of(stream) != k:
                misplaced.append((stream, k))
        cur.execute("SELECT event_id FROM eventstore.events")
        stored_ids.update(r[0] for r in cur.fetchall())
ok(dense, 'versions are dense per stream on every shard')
ok(not misplaced, 'every stream is stored on its owning shard only (%s)' % misplaced[:3])
stored_versions = set()
for k, s in enumerate(shards):
    with s.cursor() as cur:
        cur.execute("SELECT stream, version FROM eventstore.events")
        stored_versions.update(cur.fetchall())
ok(set(appended) <= stored_versions, 'every acknowledged append is stored')
ok(all(n == 1 for n in seen.values()), 'the merged subscriber saw no event twice')
ok(set(seen) == stored_ids, 'the merged subscriber saw every stored event (%d of %d)'
   % (len(set(seen) & stored_ids), len(stored_ids)))
ok(not order_errors, 'per-stream version order and per-shard position order hold in the merged feed (%s)'
   % order_errors[:3])
pcur.execute("SELECT shard, position FROM es_proxy.es_handler_positions('merged') ORDER BY shard")
ok([p for _, p in pcur.fetchall()] == vector, 'the checkpoint vector (one per shard) equals the read positions')

print('# %d failures' % len(failures))
sys.exit(1 if failures else 0)
