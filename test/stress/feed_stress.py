#!/usr/bin/python3
"""Stress test of the global feed (spec guarantee 5: the feed never skips).

Several appenders append to random streams, sleep a little before COMMIT
(so that transactions commit out of position order) and sometimes roll
back.  Meanwhile several readers page the feed with after_position and a
small max_count, and three consumer-group members (0, 1, 2 of 3) do the same
with group_member/group_size.  When the appenders are done and the feed is
drained, every committed event must have been seen exactly once by each
reader, in increasing position order, and the group members together must
have seen each event exactly once, each stream by one member only.

Deletes are mixed in (docs/lifecycle.md, "The feed rule"): a deleter
soft-deletes or tombstones streams that the appenders also write to.  An
event deleted after a reader passed it may have been seen; but a page that
started after a delete committed never returns an event of that delete,
and every event that still exists at the end was seen by every reader.

Usage: feed_stress.py DSN [seconds]   (the database has the extension)
"""
import random
import sys
import threading
import time

import psycopg2
import psycopg2.errors

DSN = sys.argv[1]
DURATION = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
APPENDERS = 4
READERS = 2
GROUP = 3

errors = []
done = threading.Event()
# (monotonic time the delete's COMMIT returned, positions it deleted)
deletes = []
deleted_positions = set()
# (reader, monotonic time its page started, a position the page returned)
page_starts = []


def connect():
    conn = psycopg2.connect(DSN)
    conn.autocommit = True
    return conn


def appender(n):
    rnd = random.Random(n)
    conn = connect()
    cur = conn.cursor()
    try:
        end = time.monotonic() + DURATION
        while time.monotonic() < end:
            cur.execute("BEGIN")
            try:
                append_some(cur, rnd)
            except psycopg2.errors.DeadlockDetected:
                # Separate es_append calls of one transaction lock their
                # streams in call order, so they can deadlock (only one call
                # is deadlock-free); the victim rolls back, like an abort.
                cur.execute("ROLLBACK")
                continue
            except psycopg2.Error as e:
                if e.pgcode != "ES006":
                    raise
                # A tombstoned stream refuses every append.
                cur.execute("ROLLBACK")
                continue
            time.sleep(rnd.random() * 0.02)
            cur.execute("ROLLBACK" if rnd.random() < 0.2 else "COMMIT")
    except Exception as e:  # noqa: BLE001 - reported below
        errors.append("appender %d: %r" % (n, e))
    finally:
        conn.close()


def append_some(cur, rnd):
    """One to three es_append calls, some of them multi-stream."""
    for _ in range(rnd.randint(1, 3)):
        stream = "s%d-%d" % (rnd.randint(0, 3), rnd.randint(0, 20))
        if rnd.random() < 0.2:
            stream = "d-%d" % rnd.randint(0, 9)
        if rnd.random() < 0.3:
            cur.execute(
                "SELECT count(*) FROM eventstore.es_append(jsonb_build_array("
                "jsonb_build_object('stream', %s, 'events', jsonb_build_array("
                "jsonb_build_object('type', 'M'), jsonb_build_object('type', 'M'))),"
                "jsonb_build_object('stream', %s, 'events', jsonb_build_array("
                "jsonb_build_object('type', 'M')))))",
                (stream, stream + "x"))
        else:
            cur.execute("SELECT count(*) FROM eventstore.es_append(%s, 'E')", (stream,))


def deleter():
    """Soft-delete (sometimes tombstone) the d-* streams while they are written."""
    rnd = random.Random(99)
    conn = connect()
    cur = conn.cursor()
    try:
        end = time.monotonic() + DURATION
        while time.monotonic() < end:
            stream = "d-%d" % rnd.randint(0, 9)
            cur.execute("BEGIN")
            cur.execute("SELECT state FROM eventstore.es_stream_info(%s)", (stream,))
            state = cur.fetchone()[0]
            if state != "active":
                cur.execute("ROLLBACK")
                time.sleep(0.005)
                continue
            # The soft delete takes the stream's lock (it waited for every
            # appender of the stream); its events are then kept aside, where
            # this transaction reads their positions.  A tombstone of the
            # soft-deleted stream in the same transaction removes them.
            try:
                cur.execute("SELECT eventstore.es_delete_stream(%s)", (stream,))
            except psycopg2.errors.DeadlockDetected:
                # Appenders whose separate calls lock streams in call order
                # can close a cycle through the delete waiting in the same
                # stream's queue; when the delete is the victim it simply
                # did not happen.
                cur.execute("ROLLBACK")
                continue
            cur.execute("SELECT position FROM eventstore.deleted_events WHERE stream = %s",
                        (stream,))
            positions = {r[0] for r in cur.fetchall()}
            cur.execute("SELECT count(*) FROM eventstore.events WHERE stream = %s", (stream,))
            if cur.fetchone()[0] != 0:
                errors.append("deleter: %s half-deleted" % stream)
            if rnd.random() < 0.1:
                cur.execute("SELECT eventstore.es_tombstone_stream(%s)", (stream,))
            time.sleep(rnd.random() * 0.01)
            cur.execute("COMMIT")
            deletes.append((time.monotonic(), positions))
            deleted_positions.update(positions)
            time.sleep(rnd.random() * 0.02)
    except Exception as e:  # noqa: BLE001
        errors.append("deleter: %r" % e)
    finally:
        conn.close()


def reader(name, seen, group_member=None):
    conn = connect()
    cur = conn.cursor()
    pos = 0
    try:
        while True:
            # Was the run over before this page?  Then an empty page means drained.
            finished = done.is_set()
            started = time.monotonic()
            if group_member is None:
                cur.execute("SELECT position, stream FROM eventstore.es_load("
                            "after_position => %s, max_count => 7)", (pos,))
            else:
                cur.execute("SELECT position, stream FROM eventstore.es_load("
                            "after_position => %s, max_count => 7, group_member => %s,"
                            " group_size => %s)", (pos, group_member, GROUP))
            rows = cur.fetchall()
            for position, stream in rows:
                if position <= pos:
                    errors.append("%s: position %d after %d" % (name, position, pos))
                seen.append((position, stream))
                page_starts.append((name, started, position))
                pos = position
            if not rows:
                if finished:
                    break
                time.sleep(0.002)
    except Exception as e:  # noqa: BLE001
        errors.append("%s: %r" % (name, e))
    finally:
        conn.close()


def main():
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM eventstore.events")
    if cur.fetchone()[0] != 0:
        sys.exit("the database must start without events")

    readers_seen = [[] for _ in range(READERS)]
    group_seen = [[] for _ in range(GROUP)]
    threads = [threading.Thread(target=appender, args=(i,)) for i in range(APPENDERS)]
    rthreads = [threading.Thread(target=reader, args=("reader %d" % i, readers_seen[i]))
                for i in range(READERS)]
    rthreads += [threading.Thread(target=reader, args=("member %d" % i, group_seen[i], i))
                 for i in range(GROUP)]
    threads.append(threading.Thread(target=deleter))
    for t in threads + rthreads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in rthreads:
        t.join()

    cur.execute("SELECT position, stream FROM eventstore.events ORDER BY position")
    stored = cur.fetchall()
    cur.execute("SELECT count(DISTINCT position) FROM eventstore.events")
    print("stored %d events, %d deleted in %d deletes"
          % (len(stored), len(deleted_positions), len(deletes)))
    if len(stored) < 50:
        errors.append("too few events were appended: %d" % len(stored))
    if not deletes:
        errors.append("no stream was deleted")
    stored_set = set(stored)
    for i, seen in enumerate(readers_seen):
        # Seen: every event still stored, plus events deleted after they were read.
        kept = [e for e in seen if e in stored_set]
        extra = [e for e in seen if e not in stored_set and e[0] not in deleted_positions]
        if kept != stored or extra:
            missing = sorted(stored_set - set(seen))[:5]
            errors.append("reader %d saw %d events, %d stored; missing e.g. %r; unknown %r"
                          % (i, len(seen), len(stored), missing, extra[:5]))
    # No page that started after a delete committed returned one of its events.
    for committed, positions in deletes:
        for name, started, position in page_starts:
            if started > committed and position in positions:
                errors.append("%s: position %d returned after its delete committed"
                              % (name, position))
    union = sorted(e for seen in group_seen for e in seen if e in stored_set)
    if union != stored:
        errors.append("the group saw %d events, %d stored" % (len(union), len(stored)))
    owner = {}
    for member, seen in enumerate(group_seen):
        for _, stream in seen:
            if owner.setdefault(stream, member) != member:
                errors.append("stream %s went to members %d and %d"
                              % (stream, owner[stream], member))
                break
    print("group shares: %s" % [len(s) for s in group_seen])
    if errors:
        for e in errors[:20]:
            print("FAIL: " + e)
        sys.exit(1)
    print("ok: every reader saw every committed event once, in order")


main()
