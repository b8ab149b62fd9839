#!/usr/bin/python3
"""Bounded stress run of es_append: many clients, a few hot streams.

Each client (a thread with its own connection) runs a fixed number of
transactions against a handful of hot streams:
  - single-stream appends of 1-3 events with the exact expected version it
    has just read (another client often gets there first: a conflict, ES001,
    is expected and counted);
  - multi-stream appends over 2-4 of the streams, listed in random order,
    with exact expected versions or "any" (no deadlock may ever happen);
  - now and then a transaction that appends and then rolls back on purpose;
  - now and then, after a commit, a retry of the very same append, which must
    return the same rows and write nothing.
A client records an append as acknowledged only after its COMMIT returned,
in memory, never in the database; at the end the acknowledged rows are
written to a file and loaded into a side table, and SQL checks that:
  - every stream's versions are exactly 1..n, positions and ids are unique;
  - positions rise with versions inside each stream;
  - every acknowledged event is stored with the same stream, version,
    position and id, and nothing is stored that was not acknowledged;
  - no (stream, version) or id was acknowledged twice.
Each reply is checked as it arrives: one row per event in the caller's
order, and an exact claim n wins versions n+1, n+2, ... (exactly one winner).
Any error other than a conflict (a deadlock, a unique violation, ...) is a
failure.  Exit status 0 when everything holds, 1 with a message otherwise.

Usage: stress.py --db DB [--clients 8] [--transactions 250] [--out DIR] [--seed N]
Connection: PGHOST, PGPORT, PGUSER from the environment.
"""
import argparse
import json
import os
import random
import sys
import threading
import time
import uuid

import psycopg2

STREAMS = ["hot-%d" % i for i in range(5)]
SINGLE_STREAMS = STREAMS[:3]   # the hottest: single appends go here only


# Set at the first unexpected error: the other clients stop too, so that a
# broken build fails in seconds instead of grinding through deadlock timeouts.
STOP = threading.Event()


class Client(threading.Thread):
    def __init__(self, n, args, seed):
        super().__init__(name="client-%d" % n)
        self.n = n
        self.args = args
        self.rng = random.Random(seed)
        self.acked = []          # (stream, version, position, event_id, client, txn)
        self.conflicts = 0
        self.serialization_failures = 0   # 40001, only in SERIALIZABLE runs
        self.rolled_back = 0
        self.retries = 0
        self.committed = {"single": 0, "multi": 0}   # acknowledged appends by kind
        self.errors = []         # unexpected errors: each one fails the run
        self.unknown = []        # event ids whose commit outcome is unknown

    def event(self, stream, txn, k):
        """One event; about a third leave the id to the server."""
        ev = {"type": "Stressed", "data": {"client": self.n, "txn": txn, "k": k, "stream": stream}}
        if self.rng.random() < 0.67:
            ev["id"] = str(uuid.uuid4())
        return ev

    def plan_single(self, cur, txn):
        stream = self.rng.choice(SINGLE_STREAMS)
        cur.execute("SELECT eventstore.es_stream_version(%s)", (stream,))
        version = cur.fetchone()[0]
        events = [self.event(stream, txn, k) for k in range(self.rng.randint(1, 3))]
        return {"stream": stream, "expected_version": version, "events": events}

    def plan_multi(self, cur, txn):
        streams = self.rng.sample(STREAMS, self.rng.randint(2, 4))   # random order
        batch = []
        for s in streams:
            if self.rng.random() < 0.3:
                expected = "any"
            else:
                cur.execute("SELECT eventstore.es_stream_version(%s)", (s,))
                expected = cur.fetchone()[0]
            batch.append({"stream": s, "expected_version": expected,
                          "events": [self.event(s, txn, k) for k in range(self.rng.randint(1, 2))]})
        return batch

    def append(self, cur, batch):
        cur.execute("SELECT stream, version, position, event_id::text"
                    " FROM eventstore.es_append(%s::jsonb)", (json.dumps(batch),))
        return cur.fetchall()

    def run(self):
        # Whatever goes wrong in a client must fail the run, not vanish
        # with the thread.
        try:
            self.work()
        except Exception as e:  # noqa: BLE001
            self.errors.append("client crashed: %r" % (e,))
        if self.errors:
            STOP.set()

    def work(self):
        conn = psycopg2.connect(dbname=self.args.db, application_name=self.name)
        conn.autocommit = False
        cur = conn.cursor()
        # A bug that blocks forever must fail the run, not hang it.
        cur.execute("SET statement_timeout = '30s'")
        cur.execute("SET default_transaction_isolation = %s", (self.args.isolation,))
        conn.commit()
        for txn in range(self.args.transactions):
            if STOP.is_set():
                break
            try:
                if self.rng.random() < 0.6:
                    kind, batch = "single", self.plan_single(cur, txn)
                else:
                    kind, batch = "multi", self.plan_multi(cur, txn)
                rows = self.append(cur, batch)
            except psycopg2.Error as e:
                conn.rollback()
                if e.pgcode == "ES001":     # lost the race: expected
                    self.conflicts += 1
                    continue
                if e.pgcode == "40001" and self.args.isolation == "serializable":
                    self.serialization_failures += 1   # SSI's retry signal: rolled back
                    continue
                self.errors.append("txn %d: %s %s" % (txn, e.pgcode, str(e).strip()))
                STOP.set()
                continue
            bad = self.misplaced(batch, rows)
            if bad:
                self.errors.append("txn %d: %s" % (txn, bad))
                STOP.set()
            if self.rng.random() < 0.05:
                conn.rollback()          # appended, then given up: must leave no trace
                self.rolled_back += 1
                continue
            ids = [r[3] for r in rows]
            try:
                conn.commit()
            except psycopg2.Error as e:
                if e.pgcode == "40001" and self.args.isolation == "serializable":
                    conn.rollback()          # a serialization failure at COMMIT: rolled back
                    self.serialization_failures += 1
                    continue
                # The outcome of a failed COMMIT is unknown to the client.
                self.unknown.extend(ids)
                self.errors.append("txn %d: commit failed: %s %s" % (txn, e.pgcode, str(e).strip()))
                STOP.set()
                try:
                    conn.rollback()
                except psycopg2.Error:
                    pass
                continue
            self.committed[kind] += 1
            for r in rows:
                self.acked.append((r[0], r[1], r[2], r[3], self.n, txn))
            if self.rng.random() < 0.1:
                self.retry(conn, cur, txn, batch, rows)
        conn.close()

    @staticmethod
    def misplaced(batch, rows):
        """The winner of an exact claim n must get versions n+1, n+2, ... in the caller's order."""
        items = batch if isinstance(batch, list) else [batch]
        k = 0
        for item in items:
            for j in range(len(item["events"])):
                stream, version = rows[k][0], rows[k][1]
                if stream != item["stream"]:
                    return "row %d is for stream %s, expected %s" % (k, stream, item["stream"])
                if isinstance(item["expected_version"], int) and version != item["expected_version"] + 1 + j:
                    return ("append to %s claiming version %d was stored at version %d"
                            % (stream, item["expected_version"], version - j))
                k += 1
        if k != len(rows):
            return "%d rows returned for %d events" % (len(rows), k)
        return None

    def retry(self, conn, cur, txn, batch, rows):
        """Resend an acknowledged append with the ids it got: same rows, nothing written."""
        items = batch if isinstance(batch, list) else [batch]
        k = 0
        for item in items:
            for ev in item["events"]:
                ev["id"] = rows[k][3]
                k += 1
        try:
            again = self.append(cur, batch)
            conn.commit()
        except psycopg2.Error as e:
            conn.rollback()
            if e.pgcode == "40001" and self.args.isolation == "serializable":
                self.serialization_failures += 1
                return
            self.errors.append("txn %d: retry of an acknowledged append failed: %s %s"
                               % (txn, e.pgcode, str(e).strip()))
            STOP.set()
            return
        self.retries += 1
        if again != rows:
            self.errors.append("txn %d: retry returned %r, first reply was %r" % (txn, again, rows))
            STOP.set()


CHECKS = [
    ("streams whose versions are not exactly 1..n",
     """SELECT stream, count(*), min(version), max(version) FROM eventstore.events
        GROUP BY stream HAVING min(version) <> 1 OR max(version) <> count(*)
                            OR count(DISTINCT version) <> count(*)"""),
    ("event ids stored more than once",
     "SELECT event_id, count(*) FROM eventstore.events GROUP BY event_id HAVING count(*) > 1"),
    ("positions stored more than once",
     "SELECT position, count(*) FROM eventstore.events GROUP BY position HAVING count(*) > 1"),
    ("events whose position is not above the previous version's",
     """SELECT stream, version, position FROM (
            SELECT stream, version, position,
                   lag(position) OVER (PARTITION BY stream ORDER BY version) AS prev
            FROM eventstore.events) s WHERE position <= prev"""),
    ("(stream, version) acknowledged more than once",
     "SELECT stream, version, count(*) FROM stress.acked GROUP BY 1, 2 HAVING count(*) > 1"),
    ("event ids acknowledged more than once",
     "SELECT event_id, count(*) FROM stress.acked GROUP BY 1 HAVING count(*) > 1"),
    ("acknowledged events missing or stored differently",
     """SELECT a.* FROM stress.acked a
        WHERE NOT EXISTS (SELECT 1 FROM eventstore.events e
                          WHERE e.event_id = a.event_id AND e.stream = a.stream
                            AND e.version = a.version AND e.position = a.position)"""),
    ("stored events that were never acknowledged",
     """SELECT e.stream, e.version, e.position, e.event_id FROM eventstore.events e
        WHERE NOT EXISTS (SELECT 1 FROM stress.acked a WHERE a.event_id = e.event_id)
          AND e.event_id <> ALL (%(unknown)s::uuid[])"""),
]


def verify(db, out_dir, acked, unknown):
    path = os.path.join(out_dir, "acked.csv")
    with open(path, "w") as f:
        for row in acked:
            f.write(",".join(str(x) for x in row) + "\n")
    conn = psycopg2.connect(dbname=db)
    cur = conn.cursor()
    cur.execute("DROP SCHEMA IF EXISTS stress CASCADE; CREATE SCHEMA stress;"
                " CREATE TABLE stress.acked (stream text, version bigint, position bigint,"
                " event_id uuid, client int, txn int)")
    with open(path) as f:
        cur.copy_expert("COPY stress.acked FROM STDIN WITH (FORMAT csv)", f)
    conn.commit()
    failures = 0
    for what, sql in CHECKS:
        cur.execute(sql, {"unknown": unknown})
        bad = cur.fetchall()
        if bad:
            failures += 1
            print("VIOLATION: %s (%d), e.g.:" % (what, len(bad)))
            for row in bad[:5]:
                print("    %r" % (row,))
        else:
            print("ok: no %s" % what)
    cur.execute("SELECT count(*), count(DISTINCT stream) FROM eventstore.events")
    stored, streams = cur.fetchone()
    conn.close()
    return failures, stored, streams


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--transactions", type=int, default=250, help="per client")
    ap.add_argument("--out", default=".")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--isolation", default="read committed",
                    choices=["read committed", "repeatable read", "serializable"])
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    os.makedirs(args.out, exist_ok=True)
    print("stress: %d clients x %d transactions on %d hot streams, %s, seed %d"
          % (args.clients, args.transactions, len(STREAMS), args.isolation, seed))

    clients = [Client(n, args, seed + n) for n in range(args.clients)]
    for c in clients:
        c.start()
    # A guard against a hang only (statement_timeout is 30 s); no timing is asserted.
    deadline = time.monotonic() + 240
    for c in clients:
        c.join(max(1, deadline - time.monotonic()))
        if c.is_alive():
            print("FAILED: %s did not finish (hung?)" % c.name)
            os._exit(1)

    acked = [row for c in clients for row in c.acked]
    unknown = [i for c in clients for i in c.unknown]
    errors = [(c.name, e) for c in clients for e in c.errors]
    print("acknowledged appends: %d single-stream, %d multi-stream"
          % (sum(c.committed["single"] for c in clients), sum(c.committed["multi"] for c in clients)))
    print("acknowledged events: %d, conflicts (ES001): %d, rolled back on purpose: %d,"
          " idempotent retries: %d, serialization failures: %d, unknown outcomes: %d"
          % (len(acked), sum(c.conflicts for c in clients), sum(c.rolled_back for c in clients),
             sum(c.retries for c in clients), sum(c.serialization_failures for c in clients),
             len(unknown)))

    failures, stored, streams = verify(args.db, args.out, acked, unknown)
    print("stored events: %d in %d streams" % (stored, streams))
    for name, e in errors:
        print("FAILURE in %s: %s" % (name, e))
    if errors:
        failures += 1
        print("(the clients stopped at the first unexpected error)")
    if not all(sum(c.committed[k] for c in clients) for k in ("single", "multi")):
        print("VIOLATION: no single- or no multi-stream append was acknowledged; the run proves nothing")
        failures += 1
    if failures:
        print("FAILED: %d check(s) failed (seed %d)" % (failures, seed))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
