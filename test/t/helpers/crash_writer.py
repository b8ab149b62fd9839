#!/usr/bin/python3
"""One appender of the crash-cycle test (070_crash_cycles.pl).

Appends until its connection breaks (the test kills the server under it),
and logs every append whose reply arrived, one line per event,
"event_id,stream,version,position", flushed at once: the acknowledged
appends that the store must still hold after the crash.  A call that was
sent but got no reply is not logged: it may or may not be stored.

Each writer appends to its own streams with exact expected versions (read
from the store at start, so it continues after a restart), and to shared
streams with no claim, in three forms: one event, a batch to one stream, a
multi-stream call.  Every event carries an id.

Usage: crash_writer.py CONNINFO ACKFILE WRITER_ID SEED MAX_CALLS
"""
import random
import sys
import uuid

import psycopg2
import psycopg2.extras


def main():
    conninfo, ackfile, wid, seed, max_calls = sys.argv[1:6]
    rng = random.Random(int(seed))
    conn = psycopg2.connect(conninfo, application_name="crash_writer_%s" % wid)
    conn.autocommit = True
    cur = conn.cursor()
    mine = ["w%s-%d" % (wid, i) for i in range(4)]
    shared = ["shared-%d" % i for i in range(3)]
    version = {}
    for s in mine:
        cur.execute("SELECT eventstore.es_stream_version(%s)", (s,))
        version[s] = cur.fetchone()[0]
    out = open(ackfile, "a")
    try:
        for _ in range(int(max_calls)):
            form = rng.randrange(3)
            if form == 0:
                s = rng.choice(mine)
                cur.execute("SELECT stream, version, position, event_id FROM eventstore.es_append("
                            "%s, 'One', '{\"n\": 1}', %s, event_id => %s::uuid)",
                            (s, version[s], str(uuid.uuid4())))
            else:
                streams = [rng.choice(mine)] if form == 1 else \
                    rng.sample(mine, rng.randint(1, 3)) + rng.sample(shared, 1)
                entries = []
                for s in streams:
                    entries.append({
                        "stream": s,
                        "expected_version": version.get(s),
                        "events": [{"type": "Many", "data": {"i": i}, "id": str(uuid.uuid4())}
                                   for i in range(rng.randint(1, 5))]})
                cur.execute("SELECT stream, version, position, event_id FROM eventstore.es_append(%s::jsonb)",
                            (psycopg2.extras.Json(entries),))
            rows = cur.fetchall()
            for stream, v, pos, eid in rows:
                out.write("%s,%s,%d,%d\n" % (eid, stream, v, pos))
                if stream in version:
                    version[stream] = max(version[stream], v)
            out.flush()
    except psycopg2.Error as e:
        # The expected end: the server went away under us (the connection
        # broke, with no SQLSTATE, or the server said it is terminating).
        # Anything else (a conflict on our own streams, a bad reply) is a
        # failure.
        if not conn.closed and e.pgcode not in (None, "57P01", "57P02", "57P03"):
            print("writer %s: unexpected error %s: %s" % (wid, e.pgcode, e), file=sys.stderr)
            sys.exit(1)
    out.close()


if __name__ == "__main__":
    main()
