// eventstore from Go with pgx v4 (Debian's golang-github-jackc-pgx-v4-dev),
// built offline in GOPATH mode against /usr/share/gocode.  pgx prepares each
// statement and encodes parameters in the types the server inferred, so the
// SQL must leave no doubt about the form it calls: the feed form of es_load
// is called with named notation (after_position => $1).  Connects with the
// PG* environment plus the pgx settings in ES_CONNINFO (behind a pooler:
// statement_cache_mode=describe); ES_RESTART_CMD restarts the server between
// two calls.
// Exits non-zero on the first failed check (test/suites/70_clients.sh).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

var (
	ctx    = context.Background()
	run    = randomHex(4) // fresh stream names per run
	checks = 0
)

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func s(name string) string { return name + "-" + run }

func fail(format string, args ...interface{}) {
	fmt.Printf("go client FAILED: "+format+"\n", args...)
	os.Exit(1)
}

func ok(cond bool, what string) {
	if !cond {
		fail("%s", what)
	}
	checks++
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

// The SQLSTATE of a server error, "" for anything else (a broken connection).
func sqlstate(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func connect() *pgx.Conn {
	conn, err := pgx.Connect(ctx, os.Getenv("ES_CONNINFO"))
	must(err, "connect")
	return conn
}

// One event appended; returns its version.
func appendOne(conn *pgx.Conn, stream, typ string, data interface{}, expected int64) (int64, error) {
	var v int64
	err := conn.QueryRow(ctx, "SELECT version FROM eventstore.es_append($1, $2, $3, $4)",
		stream, typ, data, expected).Scan(&v)
	return v, err
}

func streamVersion(conn *pgx.Conn, stream string) int64 {
	var v int64
	must(conn.QueryRow(ctx, "SELECT eventstore.es_stream_version($1)", stream).Scan(&v), "stream version")
	return v
}

func main() {
	conn := connect()
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	var head0 int64
	must(conn.QueryRow(ctx, "SELECT eventstore.es_feed_head()").Scan(&head0), "feed head")

	// JSON payload (a Go map, encoded as jsonb), then a binary one by name.
	v, err := appendOne(conn, s("order"), "OrderPlaced", map[string]interface{}{"total": 12.5, "note": "ü✓"}, 0)
	must(err, "json append")
	ok(v == 1, "first version is 1")
	must(conn.QueryRow(ctx, "SELECT version FROM eventstore.es_append(stream => $1, type => $2, data_bin => $3, expected_version => $4)",
		s("order"), "Proto", allBytes, int64(1)).Scan(&v), "binary append")
	ok(v == 2, "binary event is version 2")

	// A conflict is ES001: reload the version and retry.
	_, err = appendOne(conn, s("order"), "OrderPaid", map[string]int{"amount": 12}, 1)
	ok(sqlstate(err) == "ES001", "stale expected version gives ES001, got "+fmt.Sprint(err))
	v, err = appendOne(conn, s("order"), "OrderPaid", map[string]int{"amount": 12}, streamVersion(conn, s("order")))
	must(err, "retry after conflict")
	ok(v == 3, "retry appends version 3")

	// Several streams in one call, all or nothing (the JSON batch form).
	transfer := fmt.Sprintf(`[
		{"stream": %q, "expected_version": "no_stream", "events": [{"type": "Debited", "data": {"amount": 30}}]},
		{"stream": %q, "expected_version": "no_stream", "events": [{"type": "Credited", "data": {"amount": 30}}]}]`,
		s("account-1"), s("account-2"))
	rows, err := conn.Query(ctx, "SELECT stream, version FROM eventstore.es_append($1)", transfer)
	must(err, "multi-stream append")
	n := 0
	for rows.Next() {
		var st string
		must(rows.Scan(&st, &v), "scan")
		ok(v == 1, "multi-stream version 1")
		n++
	}
	must(rows.Err(), "multi-stream rows")
	ok(n == 2, "multi-stream returns two rows")
	// The first stream's claim is right, the second's wrong: neither is written.
	conflict := fmt.Sprintf(`[
		{"stream": %q, "expected_version": 1, "events": [{"type": "Debited", "data": {"amount": 5}}]},
		{"stream": %q, "expected_version": "no_stream", "events": [{"type": "Credited", "data": {"amount": 5}}]}]`,
		s("account-1"), s("account-2"))
	_, err = conn.Exec(ctx, "SELECT eventstore.es_append($1)", conflict)
	ok(sqlstate(err) == "ES001", "multi-stream conflict gives ES001, got "+fmt.Sprint(err))
	ok(streamVersion(conn, s("account-1")) == 1 && streamVersion(conn, s("account-2")) == 1,
		"a conflicting multi-stream call writes no stream")

	// Read the stream: JSON and binary payloads come back as stored.
	rows, err = conn.Query(ctx, "SELECT version, type, data, data_bin FROM eventstore.es_load($1)", s("order"))
	must(err, "load")
	var versions []int64
	for rows.Next() {
		var typ string
		var data map[string]interface{}
		var bin []byte
		must(rows.Scan(&v, &typ, &data, &bin), "scan event")
		versions = append(versions, v)
		if v == 1 {
			ok(data["total"] == 12.5 && data["note"] == "ü✓" && bin == nil, "JSON round trip")
		}
		if v == 2 {
			ok(data == nil && bytes.Equal(bin, allBytes), "binary byte-exact")
		}
	}
	must(rows.Err(), "load rows")
	ok(fmt.Sprint(versions) == "[1 2 3]", "stream versions 1 2 3, got "+fmt.Sprint(versions))
	must(conn.QueryRow(ctx, "SELECT version FROM eventstore.es_load($1, backward => true, max_count => 1)",
		s("order")).Scan(&v), "backward")
	ok(v == 3, "backward read starts at the last event")

	// Page the feed two events at a time from where this run began.
	seen := 0
	last := head0
	for {
		rows, err = conn.Query(ctx, "SELECT position, stream FROM eventstore.es_load(after_position => $1, max_count => $2)",
			last, int64(2))
		must(err, "feed page")
		page := 0
		for rows.Next() {
			var pos int64
			var st string
			must(rows.Scan(&pos, &st), "scan feed")
			ok(pos > last, "feed positions increase")
			last = pos
			if strings.HasSuffix(st, "-"+run) {
				seen++
			}
			page++
		}
		must(rows.Err(), "feed rows")
		if page == 0 {
			break
		}
	}
	ok(seen == 5, fmt.Sprintf("the feed shows this run's 5 events once each, saw %d", seen))

	// es_wait on a second connection wakes when this one appends.
	waiter := connect()
	woke := make(chan error, 1)
	go func() {
		var moved bool
		err := waiter.QueryRow(ctx, "SELECT eventstore.es_wait($1, $2)", last, int32(60000)).Scan(&moved)
		if err == nil && !moved {
			err = errors.New("es_wait timed out")
		}
		woke <- err
	}()
	_, err = appendOne(conn, s("wake"), "Wake", nil, 0)
	must(err, "append for the waiter")
	must(<-woke, "es_wait")
	checks++
	waiter.Close(ctx)

	// A consumer of a managed subscription (docs/subscriptions.md): fetch a
	// batch (waiting up to 1 s), handle it, ack it; consumers can come and go.
	sub := "sc" + run
	_, err = conn.Exec(ctx, "SELECT eventstore.es_create_subscription($1, category => $2)", sub, sub)
	must(err, "create subscription")
	for i := 0; i < 3; i++ {
		_, err = appendOne(conn, fmt.Sprintf("%s-%d", sub, i), "Placed", nil, 0)
		must(err, "append for the consumer")
	}
	handled := map[string]int{}
	for round := 0; round < 20 && len(handled) < 3; round++ {
		rows, err := conn.Query(ctx, "SELECT position, stream FROM eventstore.es_fetch($1, 'go-1', 100, 1000)", sub)
		must(err, "es_fetch")
		var positions []int64
		for rows.Next() {
			var pos int64
			var stream string
			must(rows.Scan(&pos, &stream), "scan")
			handled[stream]++ // the handler
			positions = append(positions, pos)
		}
		must(rows.Err(), "es_fetch rows")
		_, err = conn.Exec(ctx, "SELECT eventstore.es_ack($1, 'go-1', $2)", sub, positions)
		must(err, "es_ack")
	}
	ok(len(handled) == 3 && handled[sub+"-0"] == 1 && handled[sub+"-1"] == 1 && handled[sub+"-2"] == 1,
		"the consumer handled each event once")
	_, err = conn.Exec(ctx, "SELECT eventstore.es_drop_subscription($1)", sub)
	must(err, "drop subscription")

	// The server restarts between two calls: the next call fails, the client
	// reconnects and retries with the same event id, which is safe to repeat.
	cmd := exec.Command("sh", "-c", os.Getenv("ES_RESTART_CMD"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	must(cmd.Run(), "restart the server")
	id := "00000000-0000-4000-8000-" + run + "0000"
	appendWithID := func() (int64, error) {
		var v int64
		err := conn.QueryRow(ctx, "SELECT version FROM eventstore.es_append($1, $2, $3, $4, event_id => $5)",
			s("order"), "OrderShipped", map[string]bool{"ok": true}, int64(3), id).Scan(&v)
		return v, err
	}
	reconnects := 0
	for {
		v, err = appendWithID()
		if err == nil {
			break
		}
		if sqlstate(err) != "" && !strings.HasPrefix(sqlstate(err), "57P") && !strings.HasPrefix(sqlstate(err), "08") {
			fail("append after restart: %v", err)
		}
		if reconnects++; reconnects > 150 {
			fail("could not reconnect: %v", err)
		}
		conn.Close(ctx)
		time.Sleep(200 * time.Millisecond)
		if c, cerr := pgx.Connect(ctx, os.Getenv("ES_CONNINFO")); cerr == nil {
			conn = c
		}
	}
	// Behind a transaction-mode pooler (ES_POOLED) the restart may not reach
	// the client at all: the pooler opens a fresh server connection.
	ok((reconnects > 0 || os.Getenv("ES_POOLED") != "") && v == 4,
		"the call after the restart failed, the retry after reconnecting appended version 4")
	v, err = appendWithID()
	must(err, "repeated retry")
	ok(v == 4 && streamVersion(conn, s("order")) == 4, "a repeated retry writes nothing")

	conn.Close(ctx)
	fmt.Printf("go client: %d checks passed\n", checks)
}
