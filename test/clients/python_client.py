"""eventstore from Python with psycopg2, which sends parameters as typed
literals (integers as int4, bytes as '...'::bytea).  Run with /usr/bin/python3
(Debian's python3-psycopg2).  Connects with the PG* environment;
ES_RESTART_CMD restarts the server between two calls.  Exits non-zero on the
first failed check."""
import os
import subprocess
import sys
import threading
import time
import uuid

import psycopg2
from psycopg2.extras import Json

run = uuid.uuid4().hex[:8]  # fresh stream names per run


def s(name):
    return "%s-%s" % (name, run)


checks = 0


def ok(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def expect_code(cur, code, sql, params, what):
    global checks
    cur.execute("SAVEPOINT t")
    try:
        cur.execute(sql, params)
    except psycopg2.Error as e:
        cur.execute("ROLLBACK TO SAVEPOINT t")
        if e.pgcode != code:
            raise AssertionError("%s: got %s %s" % (what, e.pgcode, e))
        checks += 1
        return
    raise AssertionError("%s: no error, expected %s" % (what, code))


def main():
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT eventstore.es_feed_head()")
    head0 = cur.fetchone()[0]
    all_bytes = bytes(range(256))
    payload = {"total": 12.5, "items": ["a", "\u00fc", "\u2713"], "nested": {"n": None, "t": True},
               "quote": 'x"y\\z'}

    # Single event, positional, JSON payload.
    cur.execute("SELECT * FROM eventstore.es_append(%s, %s, %s, %s)",
                (s("order"), "OrderPlaced", Json(payload), 0))
    rows = cur.fetchall()
    ok(len(rows) == 1 and rows[0][1] == 1 and rows[0][2] > 0, "first append")
    paid_id = str(uuid.uuid4())
    cur.execute("SELECT * FROM eventstore.es_append(%s, %s, %s, %s, %s, %s)",
                (s("order"), "OrderPaid", Json({"amount": 12.5}), 1, Json({"correlation_id": "c-1"}), paid_id))
    row = cur.fetchone()
    ok(row[1] == 2 and str(row[3]) == paid_id, "positional with id")
    # Binary payload, positional and named.
    cur.execute("SELECT * FROM eventstore.es_append(%s, %s, NULL, %s, NULL, NULL, %s)",
                (s("order"), "Proto", 2, psycopg2.Binary(all_bytes)))
    ok(cur.fetchone()[1] == 3, "binary positional")
    cur.execute("SELECT * FROM eventstore.es_append(%s, %s, data_bin => %s, expected_version => %s)",
                (s("blob"), "Proto", all_bytes, 0))
    ok(cur.fetchone()[1] == 1, "binary named")
    # Explicitly typed parameters (as JDBC or psycopg 3 would send them).
    cur.execute("SELECT * FROM eventstore.es_append(%s::text, %s::text, %s::jsonb, %s::bigint, %s::jsonb)",
                (s("blob"), "Json", Json({"k": 1}), 1, Json({"user": "u"})))
    ok(cur.fetchone()[1] == 2, "typed parameters")

    # A batch (JSON form) and a multi-stream append.
    batch = {"stream": s("cart"), "expected_version": "no_stream", "events": [
        {"type": "ItemAdded", "data": {"sku": "a"}},
        {"type": "ItemAdded", "data": {"sku": "b"}, "metadata": {"user": "u1"}},
        {"type": "Note", "data_bin": "\\x" + all_bytes.hex()}]}
    cur.execute("SELECT * FROM eventstore.es_append(%s)", (Json(batch),))
    ok([r[1] for r in cur.fetchall()] == [1, 2, 3], "batch versions")
    transfer = [
        {"stream": s("account-1"), "expected_version": 0, "events": [{"type": "Debited", "data": {"amount": 30}}]},
        {"stream": s("account-2"), "expected_version": 0, "events": [{"type": "Credited", "data": {"amount": 30}}]}]
    cur.execute("SELECT * FROM eventstore.es_append(%s)", (Json(transfer),))
    ok(sorted((r[0], r[1]) for r in cur.fetchall()) == [(s("account-1"), 1), (s("account-2"), 1)], "multi-stream")

    # Errors inside a transaction (savepoints), codes ES001 and ES002.
    conn.autocommit = False
    expect_code(cur, "ES001", "SELECT * FROM eventstore.es_append(%s, %s, %s, %s)",
                (s("order"), "Late", Json({}), 1), "stale expected version")
    expect_code(cur, "ES001", "SELECT * FROM eventstore.es_append(%s)", (Json(transfer),), "multi-stream conflict")
    expect_code(cur, "ES002", "SELECT * FROM eventstore.es_append(%s, %s, %s, %s, %s, %s)",
                (s("other"), "OrderPaid", Json({}), None, None, paid_id), "reused id")
    conn.commit()
    conn.autocommit = True
    cur.execute("SELECT eventstore.es_stream_version(%s)", (s("account-2"),))
    ok(cur.fetchone()[0] == 1, "conflict wrote nothing")
    cur.execute("SELECT * FROM eventstore.es_append(%s, %s, %s, %s, %s, %s)",
                (s("order"), "OrderPaid", Json({"amount": 12.5}), 1, Json({"correlation_id": "c-1"}), paid_id))
    ok(cur.fetchone()[1] == 2, "idempotent retry")

    # Load: JSON equal as values, binary byte-exact.
    cur.execute("SELECT version, type, data, data_bin, metadata FROM eventstore.es_load(%s)", (s("order"),))
    rows = cur.fetchall()
    ok(len(rows) == 3, "three events")
    ok(rows[0][2] == payload, "JSON round trip")
    ok(rows[1][4] == {"correlation_id": "c-1"}, "metadata round trip")
    ok(bytes(rows[2][3]) == all_bytes and rows[2][2] is None, "binary byte-exact")
    cur.execute("SELECT version, data_bin FROM eventstore.es_load(%s, %s, %s, %s)", (s("cart"), None, 2, True))
    rows = cur.fetchall()
    ok([r[0] for r in rows] == [3, 2] and bytes(rows[0][1]) == all_bytes, "backward page, batch binary")
    cur.execute("SELECT version, data, data_bin FROM eventstore.es_load(%s, from_version => %s)", (s("blob"), 1))
    rows = cur.fetchall()
    ok(bytes(rows[0][2]) == all_bytes and rows[1][1] == {"k": 1}, "blob stream")

    # A conflict handled by its SQLSTATE: reload the version and retry.
    expected = 1
    while True:
        try:
            cur.execute("SELECT version FROM eventstore.es_append(%s, %s, %s, %s)",
                        (s("order"), "OrderNoted", Json({"note": 1}), expected))
            break
        except psycopg2.Error as e:
            if e.pgcode != "ES001":
                raise
            cur.execute("SELECT eventstore.es_stream_version(%s)", (s("order"),))
            expected = cur.fetchone()[0]
    ok(expected == 3 and cur.fetchone()[0] == 4, "retry after a conflict")

    # Page the feed three events at a time from where this run began.
    mine = {s("order"): 4, s("blob"): 2, s("cart"): 3, s("account-1"): 1, s("account-2"): 1}
    last, seen = head0, 0
    while True:
        cur.execute("SELECT position, stream FROM eventstore.es_load(after_position => %s, max_count => %s)",
                    (last, 3))
        page = cur.fetchall()
        if not page:
            break
        for position, stream in page:
            ok(position > last, "feed positions increase")
            last = position
            seen += stream in mine
    ok(seen == sum(mine.values()), "the feed shows each of this run's events once (%d)" % seen)

    # es_wait on a second connection wakes when this one appends.
    result = {}

    def wait():
        with psycopg2.connect("") as w:
            wc = w.cursor()
            wc.execute("SELECT eventstore.es_wait(%s, %s)", (last, 60000))
            result["moved"] = wc.fetchone()[0]
        w.close()
    waiter = threading.Thread(target=wait)
    waiter.start()
    cur.execute("SELECT * FROM eventstore.es_append(%s, %s)", (s("wake"), "Wake"))
    waiter.join()
    ok(result.get("moved") is True, "es_wait returns true once the feed moved")

    # A consumer of a managed subscription (docs/subscriptions.md): fetch a
    # batch (waiting up to 1 s), handle it, ack it; consumers can come and go.
    sub = "sc" + run
    cur.execute("SELECT eventstore.es_create_subscription(%s, category => %s)", (sub, sub))
    for i in range(3):
        cur.execute("SELECT * FROM eventstore.es_append(%s, 'Placed')", ("%s-%d" % (sub, i),))
    handled = []
    for _ in range(20):
        cur.execute("SELECT position, stream FROM eventstore.es_fetch(%s, 'py-1', 100, 1000)", (sub,))
        batch = cur.fetchall()
        handled += [stream for _, stream in batch]                      # the handler
        cur.execute("SELECT eventstore.es_ack(%s, 'py-1', %s::bigint[])", (sub, [p for p, _ in batch]))
        if len(handled) == 3:
            break
    ok(sorted(handled) == ["%s-%d" % (sub, i) for i in range(3)], "the consumer handled each event once")
    cur.execute("SELECT eventstore.es_drop_subscription(%s)", (sub,))

    # The server restarts between two calls: the next call fails, the client
    # reconnects and retries with the same event id (safe to repeat).
    subprocess.run(os.environ["ES_RESTART_CMD"], shell=True, check=True)
    shipped = ("SELECT version FROM eventstore.es_append(%s, %s, %s, %s, event_id => %s)",
               (s("order"), "OrderShipped", Json({"ok": True}), 4, str(uuid.uuid4())))
    reconnects = 0
    while True:
        try:
            cur.execute(*shipped)
            break
        except psycopg2.OperationalError as e:  # the connection is gone (57P01, 08006, ...)
            reconnects += 1
            if reconnects > 150:
                raise
            conn.close()
            time.sleep(0.2)
            try:
                conn = psycopg2.connect("")
                conn.autocommit = True
                cur = conn.cursor()
            except psycopg2.OperationalError:
                pass
    # Behind a transaction-mode pooler (ES_POOLED) the restart may not reach
    # the client at all: the pooler opens a fresh server connection.
    ok((reconnects > 0 or os.environ.get("ES_POOLED")) and cur.fetchone()[0] == 5,
       "the call after the restart failed, the retry appended version 5")
    cur.execute(*shipped)
    ok(cur.fetchone()[0] == 5, "a repeated retry returns the stored version")
    cur.execute("SELECT eventstore.es_stream_version(%s)", (s("order"),))
    ok(cur.fetchone()[0] == 5, "a repeated retry writes nothing")

    conn.close()
    print("python client: %d checks passed" % checks)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # any failure: say what, exit non-zero
        print("python client FAILED: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
