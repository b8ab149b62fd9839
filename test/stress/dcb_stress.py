#!/usr/bin/python3
"""Stress test of append conditions (spec guarantee 14, docs/dcb.md).

Clients run the commands of dcb.events concurrently, each command in one
READ COMMITTED transaction: read the events matching its query
(es_load_query), decide, append with the condition (es_append_if) and, now
and then, sleep before COMMIT or roll back, so that transactions overlap.
A failed condition (ES016) is retried from a fresh read.

  - subscribe a student to a course: a course takes CAPACITY students, a
    student at most STUDENT_LIMIT courses, and never the same course twice;
  - register a user name, unique among open accounts; close an account,
    which releases its name;
  - create an invoice with the next number (a type-only query).

Afterwards the stored events are checked against the rules: no course over
its capacity, no student over the limit or twice in a course, no name
registered twice while open, invoice numbers 1..n without a gap or a
duplicate.  The run must also have seen conflicts (ES016), or it proved
nothing.

Usage: dcb_stress.py DSN [commands per client] [clients]
"""
import json
import random
import sys
import threading
import time

import psycopg2

DSN = sys.argv[1]
COMMANDS = int(sys.argv[2]) if len(sys.argv) > 2 else 150
CLIENTS = int(sys.argv[3]) if len(sys.argv) > 3 else 8
COURSES = 4
CAPACITY = 5
STUDENTS = 12
STUDENT_LIMIT = 2
NAMES = ["ann", "bob", "cy"]

errors = []
stats = {"conflicts": 0, "stored": 0, "refused": 0, "rolled_back": 0}
lock = threading.Lock()


def query(*items):
    return json.dumps({"items": list(items)})


def read(cur, q):
    cur.execute("SELECT position, type, tags, data FROM eventstore.es_load_query(%s, 0, 100000)", (q,))
    rows = cur.fetchall()
    return rows, (rows[-1][0] if rows else 0)


def append_if(cur, events, q, after):
    cur.execute("SELECT count(*) FROM eventstore.es_append_if(%s, %s, %s)",
                (json.dumps({"events": events}), q, after))


def subscribe(cur, student, course):
    q = query({"types": ["CourseDefined", "StudentSubscribed"], "tags": ["course:%d" % course]},
              {"types": ["StudentSubscribed"], "tags": ["student:%d" % student]})
    rows, after = read(cur, q)
    in_course = [r for r in rows if r[1] == "StudentSubscribed" and "course:%d" % course in r[2]]
    of_student = [r for r in rows if r[1] == "StudentSubscribed" and "student:%d" % student in r[2]]
    if any("student:%d" % student in r[2] for r in in_course):
        return False
    if len(in_course) >= CAPACITY or len(of_student) >= STUDENT_LIMIT:
        return False
    append_if(cur, [{"type": "StudentSubscribed",
                     "tags": ["student:%d" % student, "course:%d" % course]}], q, after)
    return True


def register_or_close(cur, name):
    q = query({"types": ["AccountRegistered", "AccountClosed"], "tags": ["username:" + name]})
    rows, after = read(cur, q)
    is_open = bool(rows) and rows[-1][1] == "AccountRegistered"
    append_if(cur, [{"type": "AccountClosed" if is_open else "AccountRegistered",
                     "tags": ["username:" + name]}], q, after)
    return True


def invoice(cur):
    q = query({"types": ["InvoiceCreated"]})
    rows, after = read(cur, q)
    n = rows[-1][3]["number"] if rows else 0
    append_if(cur, [{"type": "InvoiceCreated", "data": {"number": n + 1}}], q, after)
    return True


def client(k):
    rnd = random.Random(k)
    conn = psycopg2.connect(DSN)
    cur = conn.cursor()
    try:
        for _ in range(COMMANDS):
            kind = rnd.random()
            for _attempt in range(20):
                try:
                    if kind < 0.6:
                        ok = subscribe(cur, rnd.randrange(STUDENTS), rnd.randrange(COURSES))
                    elif kind < 0.85:
                        ok = register_or_close(cur, rnd.choice(NAMES))
                    else:
                        ok = invoice(cur)
                    if rnd.random() < 0.3:
                        time.sleep(rnd.random() * 0.005)
                    if ok and rnd.random() < 0.05:
                        conn.rollback()
                        with lock:
                            stats["rolled_back"] += 1
                    else:
                        conn.commit()
                        with lock:
                            stats["stored" if ok else "refused"] += 1
                    break
                except psycopg2.Error as e:
                    if e.pgcode != "ES016":
                        raise
                    conn.rollback()
                    with lock:
                        stats["conflicts"] += 1
    except Exception as e:  # noqa: BLE001 - any other error fails the run
        errors.append("client %d: %r" % (k, e))
    finally:
        conn.close()


def check():
    conn = psycopg2.connect(DSN)
    cur = conn.cursor()
    cur.execute("SELECT position, type, tags, data FROM eventstore.events ORDER BY position")
    rows = cur.fetchall()
    conn.close()
    failures = []
    per_course, per_student, pairs = {}, {}, set()
    names = {}
    numbers = []
    for _pos, typ, tags, data in rows:
        tags = tags or []
        if typ == "StudentSubscribed":
            s = [t for t in tags if t.startswith("student:")][0]
            c = [t for t in tags if t.startswith("course:")][0]
            per_course[c] = per_course.get(c, 0) + 1
            per_student[s] = per_student.get(s, 0) + 1
            if (s, c) in pairs:
                failures.append("%s subscribed twice to %s" % (s, c))
            pairs.add((s, c))
        elif typ in ("AccountRegistered", "AccountClosed"):
            n = tags[0]
            was_open = names.get(n, False)
            if typ == "AccountRegistered" and was_open:
                failures.append("%s registered twice while open" % n)
            if typ == "AccountClosed" and not was_open:
                failures.append("%s closed while not open" % n)
            names[n] = typ == "AccountRegistered"
        elif typ == "InvoiceCreated":
            numbers.append(data["number"])
    for c, n in per_course.items():
        if n > CAPACITY:
            failures.append("%s has %d students, capacity %d" % (c, n, CAPACITY))
    for s, n in per_student.items():
        if n > STUDENT_LIMIT:
            failures.append("%s has %d courses, limit %d" % (s, n, STUDENT_LIMIT))
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        failures.append("invoice numbers are not 1..%d without gaps: %s" % (len(numbers), sorted(numbers)[:20]))
    return failures, len(rows), sum(per_course.values()), len(numbers)


def main():
    setup = psycopg2.connect(DSN)
    setup.autocommit = True
    cur = setup.cursor()
    for c in range(COURSES):
        cur.execute("SELECT count(*) FROM eventstore.es_append(%s, 'CourseDefined', %s, tags => ARRAY[%s])",
                    ("course-%d" % c, json.dumps({"capacity": CAPACITY}), "course:%d" % c))
    setup.close()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures, events, subscriptions, invoices = check()
    print("%d events: %d subscriptions, %d invoices; %d commands stored, %d refused by the rules, "
          "%d rolled back, %d conditions failed (ES016) and retried"
          % (events, subscriptions, invoices, stats["stored"], stats["refused"],
             stats["rolled_back"], stats["conflicts"]))
    bad = False
    for e in errors:
        print("not ok - " + e)
        bad = True
    for f in failures[:20]:
        print("not ok - " + f)
        bad = True
    if stats["conflicts"] == 0:
        print("not ok - no condition ever failed: the run did not exercise concurrency")
        bad = True
    if not bad:
        print("ok - no over-booked course, no student over the limit, no name taken twice, no invoice gap")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
