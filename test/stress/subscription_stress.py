#!/usr/bin/python3
"""Stress test of managed subscriptions (docs/subscriptions.md, SPEC 13).

Appenders write to 12 streams of category sst, sleeping before COMMIT (so
that transactions commit out of position order) and rolling 20 % back.
Two subscriptions read the category: st_rr (round robin) and st_pin
(pinned), each with four consumer threads.  A consumer is an in-database
projection: it fetches in one transaction, logging each delivery in
sst_fetch_log; then, in a second transaction, it applies each event to
sst_applied and acks (or, 5 % of the time, nacks with retry) in the same
transaction, logging the settle in sst_settle_log.  A killer thread ends
consumer backends at random (pg_terminate_backend) at any point of those
transactions; a killed consumer comes back under a new name, as consumers
come and go.  Leases are 400 ms, so a killed consumer's events return soon,
and 3 % of the batches are handled in 500 ms: their acks must be refused
(ES024/ES025) and roll the projection's writes back.

When the appenders are done, the consumers drain the subscriptions; then:
  * none lost, none applied twice: for each subscription, sst_applied holds
    every committed event of the category exactly once (the ack in the
    projection's transaction makes it exactly-once);
  * pinned: no two events of one stream were ever in flight at once (each
    delivery of a stream starts after the previous one ended: its settle,
    or its lease running out), and the events of a stream were applied in
    version order.
Usage: subscription_stress.py DSN [seconds]   (the database has the extension)
"""
import random
import sys
import threading
import time

import psycopg2

DSN = sys.argv[1]
DURATION = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
SUBS = ['st_rr', 'st_pin']
CONSUMERS = 4
STREAMS = 12

errors = []
appending = threading.Event()
stop = threading.Event()
kills = [0]


def connect(app='sst'):
    conn = psycopg2.connect(DSN, application_name=app)
    conn.autocommit = True
    return conn


def setup():
    c = connect()
    cur = c.cursor()
    cur.execute("""
        DROP TABLE IF EXISTS sst_applied, sst_fetch_log, sst_settle_log;
        CREATE TABLE sst_applied (sub text, position bigint, stream text, version bigint,
                                  consumer text, seq bigserial);
        CREATE TABLE sst_fetch_log (sub text, position bigint, stream text, version bigint,
                                    consumer text, delivery int, lease_until timestamptz,
                                    fetched_at timestamptz);
        CREATE TABLE sst_settle_log (sub text, position bigint, consumer text, delivery int,
                                     action text, at timestamptz);
        SELECT eventstore.es_drop_subscription('st_rr'), eventstore.es_drop_subscription('st_pin');
        SELECT eventstore.es_create_subscription('st_rr', category => 'sst', lease_ms => 400,
                                                 max_retries => 1000);
        SELECT eventstore.es_create_subscription('st_pin', category => 'sst', strategy => 'pinned',
                                                 lease_ms => 400, max_retries => 1000);
    """)
    c.close()


def appender(n):
    rnd = random.Random(n)
    conn = connect()
    try:
        while not appending.is_set():
            cur = conn.cursor()
            cur.execute("BEGIN")
            # One call per transaction: several calls on random streams
            # could deadlock each other (docs/append.md).
            cur.execute("SELECT count(*) FROM eventstore.es_append(jsonb_build_object("
                        "'stream', %s::text, 'events', (SELECT jsonb_agg(jsonb_build_object('type', 'Step'))"
                        " FROM generate_series(1, %s))))",
                        ('sst-%d' % rnd.randrange(STREAMS), rnd.randint(1, 3)))
            time.sleep(rnd.random() * 0.02)
            cur.execute("ROLLBACK" if rnd.random() < 0.2 else "COMMIT")
    except Exception as e:  # noqa: BLE001
        errors.append('appender %d: %r' % (n, e))
    finally:
        conn.close()


def consumer(sub, n):
    rnd = random.Random(hash((sub, n)))
    life = 0
    while not stop.is_set():
        life += 1
        name = '%s-%d-%d' % (sub, n, life)
        try:
            conn = connect('sst-consumer')
            cur = conn.cursor()
            while not stop.is_set():
                cur.execute("BEGIN")
                cur.execute("SELECT position, stream, version, delivery, lease_until"
                            " FROM eventstore.es_fetch(%s, %s, 10, 200)", (sub, name))
                rows = cur.fetchall()
                for pos, stream, version, delivery, lease_until in rows:
                    cur.execute("INSERT INTO sst_fetch_log VALUES (%s, %s, %s, %s, %s, %s, %s,"
                                " clock_timestamp())",
                                (sub, pos, stream, version, name, delivery, lease_until))
                cur.execute("COMMIT")
                if not rows:
                    continue
                # Now and then a consumer is slower than its lease: its
                # ack must then be refused, rolling back its projection.
                time.sleep(0.5 if rnd.random() < 0.03 else rnd.random() * 0.01)
                cur.execute("BEGIN")
                retry = [r for r in rows if rnd.random() < 0.05]
                ack = [r for r in rows if r not in retry]
                for pos, stream, version, delivery, _ in ack:
                    cur.execute("INSERT INTO sst_applied (sub, position, stream, version, consumer)"
                                " VALUES (%s, %s, %s, %s, %s)", (sub, pos, stream, version, name))
                for action, part in (('ack', ack), ('retry', retry)):
                    for pos, _, _, delivery, _ in part:
                        cur.execute("INSERT INTO sst_settle_log VALUES (%s, %s, %s, %s, %s,"
                                    " clock_timestamp())", (sub, pos, name, delivery, action))
                if ack:
                    cur.execute("SELECT eventstore.es_ack(%s, %s, %s::bigint[])",
                                (sub, name, [r[0] for r in ack]))
                if retry:
                    cur.execute("SELECT eventstore.es_nack(%s, %s, %s::bigint[], 'retry', 'stress', 20)",
                                (sub, name, [r[0] for r in retry]))
                cur.execute("COMMIT")
        except psycopg2.Error as e:
            # Killed (57P01), or our lease ran out while we were slow (ES025):
            # the events come back; a new consumer takes over.
            if e.pgcode not in (None, '57P01', 'ES025', 'ES024') and not stop.is_set():
                errors.append('consumer %s: %s %s' % (name, e.pgcode, e))
                stop.set()
        finally:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass


def killer():
    rnd = random.Random(7)
    conn = connect()
    cur = conn.cursor()
    while not stop.is_set():
        time.sleep(rnd.random() * 0.15)
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'sst-consumer' AND pid <> pg_backend_pid()"
                    " ORDER BY random() LIMIT 1")
        kills[0] += cur.rowcount
    conn.close()


def main():
    setup()
    appenders = [threading.Thread(target=appender, args=(i,)) for i in range(3)]
    threads = appenders + [threading.Thread(target=consumer, args=(s, i)) for s in SUBS for i in range(CONSUMERS)]
    k = threading.Thread(target=killer)
    for t in threads:
        t.start()
    k.start()
    time.sleep(DURATION)
    appending.set()
    for t in appenders:     # their last transactions have ended: the total is final
        t.join()
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM eventstore.events WHERE category = 'sst'")
    total = cur.fetchone()[0]
    deadline = time.time() + 90
    while time.time() < deadline and not stop.is_set():
        cur.execute("SELECT count(*) FROM eventstore.events e, unnest(%s::text[]) s"
                    " WHERE e.category = 'sst' AND NOT EXISTS"
                    " (SELECT 1 FROM sst_applied a WHERE a.sub = s AND a.position = e.position)", (SUBS,))
        if cur.fetchone()[0] == 0:
            break
        time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    k.join()
    if errors:
        print('\n'.join('not ok - ' + e for e in errors[:10]))
        return 1
    fails = 0

    def check(name, sql, expected):
        nonlocal fails
        cur.execute(sql)
        got = cur.fetchone()[0]
        ok = got == expected
        fails += 0 if ok else 1
        print('%s - %s%s' % ('ok' if ok else 'not ok', name, '' if ok else ': got %r, expected %r' % (got, expected)))

    print('# %d events, %d consumer backends killed, %d deliveries, %d retries' % (
        total, kills[0],
        (cur.execute("SELECT count(*) FROM sst_fetch_log") or cur.fetchone()[0]),
        (cur.execute("SELECT count(*) FROM sst_settle_log WHERE action = 'retry'") or cur.fetchone()[0])))
    for sub in SUBS:
        check('%s: no event lost' % sub,
              "SELECT count(*) FROM eventstore.events e WHERE e.category = 'sst' AND NOT EXISTS"
              " (SELECT 1 FROM sst_applied a WHERE a.sub = '%s' AND a.position = e.position)" % sub, 0)
        check('%s: no event applied twice (exactly-once projection)' % sub,
              "SELECT count(*) FROM (SELECT position FROM sst_applied WHERE sub = '%s'"
              " GROUP BY position HAVING count(*) > 1) d" % sub, 0)
        check('%s: nothing applied that is not a committed event' % sub,
              "SELECT count(*) FROM sst_applied a WHERE a.sub = '%s' AND NOT EXISTS"
              " (SELECT 1 FROM eventstore.events e WHERE e.position = a.position)" % sub, 0)
        check('%s: the pool is empty, the checkpoint at the cursor' % sub,
              "SELECT count(*) FROM eventstore.subscription_events WHERE subscription = '%s'" % sub, 0)
    check('st_pin: each delivery of a stream starts after the previous one ended (never two in flight)',
          """WITH d AS (
                 SELECT f.stream, f.fetched_at,
                        least(f.lease_until, (SELECT min(s.at) FROM sst_settle_log s
                                              WHERE s.sub = f.sub AND s.position = f.position
                                                AND s.consumer = f.consumer AND s.delivery = f.delivery)) AS ended
                 FROM sst_fetch_log f WHERE f.sub = 'st_pin'),
             o AS (SELECT d.*, lag(ended) OVER (PARTITION BY stream ORDER BY fetched_at) AS prev_ended FROM d)
             SELECT count(*) FROM o WHERE fetched_at < prev_ended""", 0)
    check('st_pin: per stream, events applied in version order',
          """SELECT count(*) FROM (SELECT version, lag(version) OVER (PARTITION BY stream ORDER BY seq) AS prev
                                   FROM sst_applied WHERE sub = 'st_pin') x WHERE version < prev""", 0)
    check('st_rr: consumers shared the work',
          "SELECT count(DISTINCT split_part(consumer, '-', 3)) > 1 FROM sst_applied WHERE sub = 'st_rr'", True)
    cur.execute("SELECT eventstore.es_drop_subscription('st_rr'), eventstore.es_drop_subscription('st_pin')")
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
