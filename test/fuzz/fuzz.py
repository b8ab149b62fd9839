#!/usr/bin/python3
"""Fuzzing of the es_* functions: random arguments, boundary numbers, random
batch documents, from one connection, one call per transaction.

Why here and not only in the regression tests: those pin the answers we
thought of; this throws what nobody thought of at every SQL-callable
function and checks the three things that must hold for any input
(SPEC guarantee 7):
  - the backend never crashes: the connection survives every call (the
    suite also looks for "terminated by signal" in the server's log);
  - every error carries a proper SQLSTATE: one of docs/errors.md, or a
    data exception (class 22) from PostgreSQL's own input functions;
    never XX000 (internal error, an elog) or anything unexpected;
  - an error changes nothing stored: the store's fingerprint (the highest
    position, digests of snapshots and checkpoints) is the same after a
    failed call as before it.  Events are append-only (UPDATE and DELETE
    are refused by the store's triggers) and every stored event takes a
    new, higher position, so the highest position shows any event stored;
    a count would make each call scan the growing table.
At the end the store must still be sound: dense versions in every stream,
unique positions and ids.

Usage: fuzz.py --db DB [--iterations N] [--seed N] [--errors docs/errors.md]
Connection: PGHOST, PGPORT, PGUSER from the environment.  Exit status 0
when everything holds; 1 with the failing call (and the seed that repeats
the run) otherwise.
"""
import argparse
import json
import random
import re
import sys
import uuid

import psycopg2

BIG = [0, 1, -1, -2, 2, 3, 7, 100, 1000, 99999, 100000, 100001,
       2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**53 + 1,
       2**63 - 1, -2**63]
WEIRD_TEXT = ["", " ", "   ", "-", "-lead", "a-", "--", "a\tb", "a\nb", "\x1b[31m",
              "\x7f", "\u0085", "\u00a0x", "x\u3000", "\u202eexe.txt", "\u2066a",
              "\u061c", "\u200d", "'", "\"", "\\", "%s", "%n", "\ufeff",
              "x" * 255, "x" * 256, "é" * 127, "é" * 128, "🛒" * 63, "🛒" * 64,
              "order-42", "заказ-7", "注文-1", "a b", "NULL", "null", "0"]


class Fuzz:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.conn = psycopg2.connect(dbname=args.db)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute("SET statement_timeout = '20s'")
        self.allowed = self.documented_codes(args.errors)
        self.ids = [str(uuid.uuid4()) for _ in range(20)]   # reused on purpose
        self.streams = ["fz-%d" % i for i in range(12)] + ["fz2-%d" % i for i in range(4)]
        self.calls = 0
        self.errors = {}
        self.failures = []

    @staticmethod
    def documented_codes(path):
        codes = set(re.findall(r"^\| `([0-9A-Z]{5})` \|", open(path).read(), re.M))
        if not codes:
            sys.exit("no SQLSTATEs found in %s" % path)
        return codes

    # ---- random values ----

    def pick(self, *choices):
        return self.rng.choice(choices)

    def name(self, pool=None):
        r = self.rng.random()
        if r < 0.8:
            return self.rng.choice(pool or self.streams)
        if r < 0.85:
            return None
        if r < 0.95:
            return self.rng.choice(WEIRD_TEXT)
        return "".join(chr(self.rng.choice([self.rng.randint(1, 0x7f),
                                            self.rng.randint(0x80, 0x2fff)]))
                       for _ in range(self.rng.randint(1, 12)))

    def number(self):
        r = self.rng.random()
        if r < 0.15:
            return None
        if r < 0.7:
            return self.rng.choice(BIG)
        return self.rng.randint(-5, 50)

    def json_value(self, depth=0):
        r = self.rng.random()
        if depth > 3 or r < 0.3:
            if self.rng.random() < 0.005:
                return "\u0000"     # jsonb refuses it (22P05)
            return self.rng.choice([None, True, False, 0, -1, 1.5, 1e30, "s", "",
                                    2**63, -2**63 - 1, "x" * self.rng.randint(0, 300)])
        if r < 0.65:
            return {self.rng.choice(["a", "b", "type", "data", "id", "", "k%d" % self.rng.randint(0, 9)]):
                    self.json_value(depth + 1) for _ in range(self.rng.randint(0, 4))}
        return [self.json_value(depth + 1) for _ in range(self.rng.randint(0, 4))]

    def json_text(self):
        """Text for a jsonb argument: mostly valid JSON, sometimes not."""
        r = self.rng.random()
        if r < 0.1:
            return None
        if r < 0.2:
            return self.rng.choice(["{", "[1,", "nul", "{\"a\":}", "\"\\ud800\"", "1e999999", ""])
        return json.dumps(self.json_value())

    def event_id(self):
        r = self.rng.random()
        if r < 0.4:
            return None
        if r < 0.8:
            return self.rng.choice(self.ids)
        if r < 0.9:
            return str(uuid.uuid4())
        return self.rng.choice(["", "not-a-uuid", "00000000-0000-0000-0000-000000000000", 42, None])

    def uuid_param(self):
        v = self.event_id()
        return None if v is None else str(v)

    def event(self):
        ev = {}
        if self.rng.random() < 0.9:
            ev["type"] = self.rng.choice(["T", "Placed", "Paid"]) if self.rng.random() < 0.8 else self.name()
        if self.rng.random() < 0.6:
            ev["data"] = self.json_value()
        if self.rng.random() < 0.15:
            ev["data_bin"] = self.rng.choice(["\\x00ff", "\\x", "\\xzz", "abc", 5, None])
        if self.rng.random() < 0.3:
            ev["metadata"] = self.rng.choice([{"correlation_id": "c"}, [], "m", None, {}])
        if self.rng.random() < 0.5:
            ev["id"] = self.event_id()
        if self.rng.random() < 0.05:
            ev[self.rng.choice(["typ", "Data", "version", ""])] = 1
        return ev

    def entry(self):
        e = {}
        if self.rng.random() < 0.93:
            e["stream"] = self.name()
        if self.rng.random() < 0.6:
            e["expected_version"] = self.rng.choice(
                [self.number(), "any", "no_stream", "exists", "maybe", 1.5, 1e30, -3, [], {}])
        r = self.rng.random()
        if r < 0.9:
            n = self.rng.choice([0, 1, 1, 2, 3, 5, 20])
            e["events"] = [self.event() for _ in range(n)]
        elif r < 0.95:
            e["events"] = self.rng.choice([{}, "x", None, 3, [[]], [1, 2]])
        if self.rng.random() < 0.05:
            e["stream_name"] = "x"
        return e

    def batch(self):
        r = self.rng.random()
        if r < 0.002:
            # over the limit, or right at it
            n = self.rng.choice([10000, 10001])
            return json.dumps({"stream": self.rng.choice(self.streams),
                               "events": [{"type": "T"} for _ in range(n)]})
        if r < 0.45:
            return json.dumps(self.entry())
        if r < 0.9:
            return json.dumps([self.entry() for _ in range(self.rng.randint(0, 5))])
        return self.json_text()

    # ---- the calls ----

    def call(self):
        f = self.rng.randrange(19)
        n, t = self.name, self.json_text
        if f == 0:
            return ("SELECT * FROM eventstore.es_append(%s::text, %s::text, %s::jsonb, %s::bigint, %s::jsonb, %s::uuid, %s::bytea)",
                    [n(), self.name(["T", "Placed"]), t(), self.number(), t(),
                     self.uuid_param(), self.pick(None, None, b"\x00\x01", "\\x0g")])
        if f in (1, 2, 3):
            return ("SELECT * FROM eventstore.es_append(%s::jsonb)", [self.batch()])
        if f == 4:
            return ("SELECT * FROM eventstore.es_load(%s::text, %s::bigint, %s::integer, %s::boolean)",
                    [n(), self.number(), self.number(), self.pick(None, True, False)])
        if f == 5:
            types = self.pick(None, [], ["T"], ["T", None], [self.name()], [[1]])
            return ("SELECT * FROM eventstore.es_load(%s::bigint, %s::bigint, %s::bigint, %s::boolean, %s::text, %s::text[], %s::integer, %s::integer)",
                    [self.number(), self.number(), self.number(), self.pick(None, True, False),
                     self.name(["fz", "fz2", "order"]) if self.rng.random() < 0.5 else None,
                     None if types == [[1]] else types, self.number(), self.number()])
        if f == 6:
            return ("SELECT eventstore.es_stream_version(%s::text)", [n()])
        if f == 7:
            return ("SELECT * FROM eventstore.es_snapshot(%s::text, %s::bigint, %s::jsonb, %s::text, %s::bytea)",
                    [n(), self.number(), t(), self.name(["default", "v2"]),
                     self.pick(None, None, b"\x01", b"")])
        if f == 8:
            return ("SELECT * FROM eventstore.es_load_snapshot(%s::text, %s::text)",
                    [n(), self.name(["default", "v2"])])
        if f == 9:
            return ("SELECT * FROM eventstore.es_load_with_snapshot(%s::text, %s::text, %s::integer)",
                    [n(), self.name(["default", "v2"]), self.number()])
        if f == 10:
            return ("SELECT * FROM eventstore.es_advance_position(%s::text, %s::bigint, %s::text)",
                    [self.name(["h1", "h2", "h3"]), self.number(), n() if self.rng.random() < 0.5 else None])
        if f == 11:
            return ("SELECT eventstore.es_handler_position(%s::text, %s::text)",
                    [self.name(["h1", "h2"]), n() if self.rng.random() < 0.5 else None])
        if f == 12:
            return ("SELECT eventstore.es_lock_handler(%s::text, %s::text, %s::boolean)",
                    [self.name(["h1", "h2"]), n() if self.rng.random() < 0.5 else None,
                     self.pick(None, True, False)])
        if f == 13:
            # short timeouts only: a long wait proves nothing here
            return ("SELECT eventstore.es_wait(%s::bigint, %s::integer)",
                    [self.number(), self.pick(None, 0, 1, -1, 5, -2**31)])
        # Managed subscriptions (docs/subscriptions.md): a few names, random
        # limits and positions, short waits only.
        subs = ["fzs", "fzp", "nope"]
        if f == 14:
            return ("SELECT eventstore.es_create_subscription(%s::text, %s::text, %s::text[], %s::bigint, %s::text, %s::integer, %s::integer, %s::integer)",
                    [self.name(subs), self.pick(None, "fz", "fz2", "a-b", ""),
                     self.pick(None, [], ["T"], ["T", None]), self.pick(0, 0, None, -1, 2**63 - 1, self.number()),
                     self.pick("pinned", "round_robin", None, "random"),
                     self.pick(100, 500, self.number()), self.pick(0, 2, self.number()),
                     self.pick(1, 10, self.number())])
        if f == 15:
            return ("SELECT * FROM eventstore.es_fetch(%s::text, %s::text, %s::integer, %s::integer)",
                    [self.name(subs), self.name(["c1", "c2"]), self.pick(1, 5, self.number()),
                     self.pick(None, 0, 1, -1, 5, 3600001)])
        if f == 16:
            return ("SELECT eventstore.es_ack(%s::text, %s::text, %s::bigint[])",
                    [self.name(subs), self.name(["c1", "c2"]),
                     self.pick(None, [], [self.number()], [1, 1], [None], list(range(1, 6)))])
        if f == 17:
            return ("SELECT eventstore.es_nack(%s::text, %s::text, %s::bigint[], %s::text, %s::text, %s::integer)",
                    [self.name(subs), self.name(["c1", "c2"]),
                     self.pick(None, [], [self.number()], list(range(1, 6))),
                     self.pick("retry", "park", "skip", None, "drop"), self.pick(None, "r", "x" * 10001),
                     self.pick(0, 10, self.number())])
        return ("SELECT eventstore.es_stream_hash(%s::text), eventstore.es_feed_head()", [n()])

    def fingerprint(self):
        self.cur.execute("""
            SELECT (SELECT coalesce(max(position), 0) FROM eventstore.events),
                   (SELECT md5(coalesce(string_agg(s::text, ',' ORDER BY stream, kind), ''))
                      FROM eventstore.snapshots s),
                   (SELECT md5(coalesce(string_agg(c::text, ',' ORDER BY handler, stream), ''))
                      FROM eventstore.checkpoints c),
                   (SELECT md5(coalesce(string_agg(e::text, ',' ORDER BY subscription, position), ''))
                      FROM eventstore.subscription_events e),
                   (SELECT md5(coalesce(string_agg(p::text, ',' ORDER BY subscription, position), ''))
                      FROM eventstore.subscription_parked p),
                   (SELECT md5(coalesce(string_agg(s::text, ',' ORDER BY name), ''))
                      FROM eventstore.subscriptions s)""")
        return self.cur.fetchone()

    def fail(self, msg):
        self.failures.append(msg)
        print("not ok - %s (repeat with --seed %d)" % (msg, self.args.seed))

    def run(self):
        before = self.fingerprint()
        for i in range(self.args.iterations):
            sql, params = self.call()
            self.calls += 1
            try:
                self.cur.execute(sql, params)
                self.cur.fetchall()
                before = self.fingerprint()
                continue
            except psycopg2.Error as e:
                code = e.pgcode
                message = str(e).strip()
                # psycopg2 files both a lost connection and some server
                # errors (class 54, 57) under OperationalError: tell them
                # apart by the connection's state.
                if self.conn.closed:
                    self.fail("connection lost (backend crash?) at call %d: %s %r: %s"
                              % (i, sql, str(params)[:500], message))
                    return
            self.errors[code] = self.errors.get(code, 0) + 1
            if code is None or not (code in self.allowed or code.startswith("22")):
                self.fail("call %d: unexpected SQLSTATE %s: %s %r: %s"
                          % (i, code, sql, str(params)[:500], message))
            after = self.fingerprint()
            if after != before:
                self.fail("call %d failed with %s but the store changed: %s -> %s (%s %s)"
                          % (i, code, before, after, sql, str(params)[:500]))
                before = after
            if len(self.failures) >= 5:
                return

    def check_store(self):
        self.cur.execute("""
            SELECT (SELECT count(*) FROM (SELECT stream FROM eventstore.events GROUP BY stream
                     HAVING count(*) <> max(version) OR min(version) <> 1) s),
                   (SELECT count(*) - count(DISTINCT position) FROM eventstore.events),
                   (SELECT count(*) - count(DISTINCT event_id) FROM eventstore.events),
                   (SELECT count(*) FROM eventstore.events)""")
        gaps, dup_pos, dup_ids, total = self.cur.fetchone()
        if gaps or dup_pos or dup_ids:
            self.fail("store unsound: %d streams with version gaps, %d duplicate positions, %d duplicate ids"
                      % (gaps, dup_pos, dup_ids))
        return total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--errors", default="docs/errors.md")
    args = p.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**31)
    fz = Fuzz(args)
    fz.run()
    total = 0 if fz.conn.closed else fz.check_store()
    ok_calls = fz.calls - sum(fz.errors.values())
    print("fuzz: seed %d, %d calls, %d succeeded, %d errors (%s), %d events stored"
          % (args.seed, fz.calls, ok_calls, sum(fz.errors.values()),
             ", ".join("%s x%d" % kv for kv in sorted(fz.errors.items(), key=lambda kv: -kv[1])),
             total))
    sys.exit(1 if fz.failures else 0)


if __name__ == "__main__":
    main()
