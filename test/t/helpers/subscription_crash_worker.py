#!/usr/bin/python3
"""Load of the subscription crash test (090_subscriptions_crash.pl).

run:   two appenders (category crs) and, for each subscription named, two
       consumers that apply each event to crs_applied and ack it in the
       same transaction (an exactly-once projection), until their
       connections break (the test kills the server).  Every ack whose
       COMMIT returned is logged to ACKFILE as "sub,position", flushed at
       once: acknowledged acks the store must still hold after the crash.
drain: consumers only, until every event of the category is applied for
       every subscription; exits 1 after 120 s.
append: appenders only, until their connections break (for the projection
       worker's test, 091_projection_worker.pl; every 50th event is a
       poison event its handler refuses).

Usage: subscription_crash_worker.py run|drain|append CONNINFO ACKFILE SUB...
"""
import random
import sys
import threading
import time

import psycopg2

mode, conninfo, ackfile = sys.argv[1:4]
subs = sys.argv[4:]
lock = threading.Lock()
out = open(ackfile, 'a')
done = threading.Event()


def connect():
    conn = psycopg2.connect(conninfo, application_name='crs_worker')
    conn.autocommit = True
    return conn


def appender(n):
    rnd = random.Random(n)
    try:
        cur = connect().cursor()
        while not done.is_set():
            k = rnd.randrange(50)
            cur.execute("SELECT count(*) FROM eventstore.es_append(%s, 'Step', %s::jsonb)",
                        ('crs-%d' % rnd.randrange(8),
                         '{"poison": "yes"}' if k == 0 and mode == 'append' else '{}'))
            if mode == 'append':
                time.sleep(0.005)   # a pace the projection keeps up with
    except psycopg2.Error:
        pass


def consumer(sub, n):
    name = '%s-%s-%d-%d' % (mode, sub, n, int(time.time() * 1000) % 100000)
    try:
        cur = connect().cursor()
        while not done.is_set():
            cur.execute("SELECT position, stream, version FROM eventstore.es_fetch(%s, %s, 20, 200)",
                        (sub, name))
            rows = cur.fetchall()
            if not rows:
                continue
            try:
                cur.execute("BEGIN")
                for pos, stream, version in rows:
                    cur.execute("INSERT INTO crs_applied VALUES (%s, %s, %s, %s)", (sub, pos, stream, version))
                cur.execute("SELECT eventstore.es_ack(%s, %s, %s::bigint[])", (sub, name, [r[0] for r in rows]))
                cur.execute("COMMIT")
            except psycopg2.Error as e:
                if e.pgcode not in ('ES024', 'ES025'):
                    raise
                cur.execute("ROLLBACK")
                continue
            with lock:
                for r in rows:
                    out.write('%s,%d\n' % (sub, r[0]))
                out.flush()
    except psycopg2.Error:
        pass


def drained():
    cur = connect().cursor()
    cur.execute("SELECT count(*) FROM eventstore.events e, unnest(%s::text[]) s"
                " WHERE e.category = 'crs' AND NOT EXISTS"
                " (SELECT 1 FROM crs_applied a WHERE a.sub = s AND a.position = e.position)", (subs,))
    return cur.fetchone()[0] == 0


threads = [threading.Thread(target=consumer, args=(s, i)) for s in subs for i in range(2)]
if mode == 'append':
    threads = []
if mode in ('run', 'append'):
    threads += [threading.Thread(target=appender, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
rc = 0
if mode == 'drain':
    deadline = time.time() + 120
    while not drained():
        if time.time() > deadline:
            rc = 1
            break
        time.sleep(0.3)
    done.set()
for t in threads:
    t.join()
sys.exit(rc)
