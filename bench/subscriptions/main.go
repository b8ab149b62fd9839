// The client of bench/subscriptions.sh: subscribers of the global feed under
// load, and catch-up reading of a backlog.  Built offline in GOPATH mode
// against Debian's pgx v4 (/usr/share/gocode), like test/clients/go.
// Connects with the PG* environment.
//
//	subscriptions live    -writers 16 -subscribers 8 -duration 20s -reps 3 -out DIR
//	subscriptions catchup -expect N -page 1000 -reps 2 -out DIR
//	subscriptions cpu 5s     (how busy the machine is: % of all CPUs)
//
// live runs, in every repetition and in a rotating order, one phase per
// mode: 16 writers appending single events while 8 subscribers follow the
// global feed woken by es_wait, by LISTEN/NOTIFY, or by a 10 ms poll; the
// writers alone with and without pg_notify in their append transaction; and
// one writer with one es_wait subscriber.
//
// Latency, as measured here: for an event at position p and a subscriber s,
// seen(s, p) - acked(p), where acked(p) is when the writer's es_append
// statement (its own transaction, so its COMMIT) returned to the writer,
// and seen(s, p) is when s decoded p's row from a feed page.  Both are read
// from one monotonic clock: writers and subscribers are goroutines of this
// process.  A subscriber can see an event a little before its writer has
// processed the reply (the commit is visible to others before the reply
// reaches the client), so a latency can be negative; such samples are kept
// as they are and counted.
//
// Invariant: every subscriber sees every position the writers appended, in
// increasing order, exactly once, and nothing else.  Any error or breach
// ends the program with status 1.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

var (
	ctx  = context.Background()
	base = time.Now()
	run  = randomHex(3)
)

// The same payload as bench/run.sh's workloads: 90 bytes of JSON data, 60 of metadata.
const (
	eventData = `{"amount": 100, "currency": "EUR", "account": "DE00 1234 5678", "note": "benchmark event"}`
	eventMeta = `{"correlation_id": "4f9c3c1e-5d2a-4a41-9f41-8a2f7c1d0e55"}`

	appendSQL = `SELECT "position" FROM eventstore.es_append($1, 'Deposited', $2::jsonb,
	    expected_version => $3, metadata => $4::jsonb)`
	// The same append with a NOTIFY in the same statement, hence in the
	// same transaction: the notification is sent when the append commits.
	appendNotifySQL = `SELECT a."position", pg_notify('es_bench', a."position"::text)
	    FROM eventstore.es_append($1, 'Deposited', $2::jsonb,
	    expected_version => $3, metadata => $4::jsonb) AS a`
	feedSQL   = `SELECT * FROM eventstore.es_load_feed($1, $2)`
	selectSQL = `SELECT * FROM eventstore.events WHERE "position" > $1 ORDER BY "position" LIMIT $2`
	waitSQL   = `SELECT eventstore.es_wait($1, $2)`
)

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func now() int64 { return int64(time.Since(base)) }

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "subscriptions: FAILED: "+format+"\n", args...)
	os.Exit(1)
}

func connect(db string, onNotify func()) *pgx.Conn {
	cfg, err := pgx.ParseConfig("dbname=" + db)
	if err != nil {
		fail("connection settings: %v", err)
	}
	if onNotify != nil {
		cfg.OnNotification = func(*pgconn.PgConn, *pgconn.Notification) { onNotify() }
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		fail("connect: %v", err)
	}
	return conn
}

// A phase: how many writers and subscribers, whether the writers notify,
// and how subscribers wake ("wait", "notify", "poll"; "" without subscribers).
type phase struct {
	name    string
	writers int
	subs    int
	notify  bool
	wake    string
}

type writerResult struct {
	pos, ack, rtt []int64 // position, acknowledgement time, round trip
	err           error
}

type subResult struct {
	pos, seen []int64
	pages     int
	err       error
}

type phaseResult struct {
	ph       phase
	rep      int
	appends  int
	elapsed  time.Duration
	lat      []int64 // ns, every (event, subscriber) pair: seen - acked
	fromCall []int64 // ns, the same pairs: seen - when the append call was sent
	rtt      []int64 // ns, the writers' append round trips
	negative int
	pages    int
	cpuBusy  float64 // % of the machine's CPU time busy while the writers ran
}

type liveOpts struct {
	db       string
	duration time.Duration
	poll     time.Duration
	page     int
	settle   time.Duration
	rate     int // appends per second, all writers together; 0: as fast as they can
}

// One writer: appends single events to streams of its own (100 events each,
// exact expected version, as workload 1 of bench/run.sh) until the deadline,
// one every interval ns when interval > 0 (a writer that falls behind does
// not catch up in a burst: the load stays what was asked for, or less).
func writer(conn *pgx.Conn, notify bool, prefix string, start <-chan struct{}, deadline *int64,
	interval int64) writerResult {
	var r writerResult
	<-start
	end := atomic.LoadInt64(deadline)
	next := now()
	for n := 0; now() < end; n++ {
		if interval > 0 {
			if d := next - now(); d > 0 {
				time.Sleep(time.Duration(d))
			}
			next += interval
			if t := now(); next < t {
				next = t
			}
		}
		t0 := now()
		pos, err := appendOne(conn, notify, fmt.Sprintf("%s-%d", prefix, n/100), int64(n%100))
		t1 := now()
		if err != nil {
			r.err = err
			return r
		}
		r.pos = append(r.pos, pos)
		r.ack = append(r.ack, t1)
		r.rtt = append(r.rtt, t1-t0)
	}
	return r
}

// One single-event append in its own transaction; returns the event's position.
func appendOne(conn *pgx.Conn, notify bool, stream string, expected interface{}) (int64, error) {
	var pos int64
	if notify {
		err := conn.QueryRow(ctx, appendNotifySQL, stream, eventData, expected, eventMeta).Scan(&pos, nil)
		return pos, err
	}
	err := conn.QueryRow(ctx, appendSQL, stream, eventData, expected, eventMeta).Scan(&pos)
	return pos, err
}

// One subscriber: follows the feed from position from, woken as its mode
// says, until stop is set and it has read up to target.
func subscriber(conn *pgx.Conn, notified *int32, wake string, from int64, o liveOpts,
	ready *sync.WaitGroup, stop *int32, target *int64) subResult {
	var r subResult
	last := from
	var dest []interface{}
	drain := func() error {
		for {
			rows, err := conn.Query(ctx, feedSQL, last, int64(o.page))
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				if dest == nil {
					dest = make([]interface{}, len(rows.FieldDescriptions()))
				}
				var p int64
				dest[0] = &p
				if err := rows.Scan(dest...); err != nil {
					rows.Close()
					return err
				}
				t := now()
				if p <= last {
					rows.Close()
					return fmt.Errorf("feed went backwards: %d after %d", p, last)
				}
				r.pos = append(r.pos, p)
				r.seen = append(r.seen, t)
				last = p
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			r.pages++
			if n < o.page {
				return nil
			}
		}
	}
	done := func() bool {
		return atomic.LoadInt32(stop) == 1 && last >= atomic.LoadInt64(target)
	}
	// Prepare the statements before the writers start.
	if err := drain(); err != nil {
		r.err = err
		ready.Done()
		return r
	}
	var ticker *time.Ticker
	switch wake {
	case "wait":
		var b bool
		if err := conn.QueryRow(ctx, waitSQL, last, int32(1)).Scan(&b); err != nil {
			r.err = err
		}
	case "notify":
		if _, err := conn.Exec(ctx, "LISTEN es_bench"); err != nil {
			r.err = err
		}
	case "poll":
		ticker = time.NewTicker(o.poll)
		defer ticker.Stop()
	}
	ready.Done()
	if r.err != nil {
		return r
	}
	r.pages = 0
	woken := true
	for {
		if woken {
			if err := drain(); err != nil {
				r.err = err
				return r
			}
		}
		if done() {
			return r
		}
		switch wake {
		case "wait":
			// es_wait returns at once when the feed is already past last.
			if err := conn.QueryRow(ctx, waitSQL, last, int32(200)).Scan(&woken); err != nil {
				r.err = err
				return r
			}
		case "notify":
			// A notification that arrived while the last page was read may
			// be for an event committed after that page's snapshot: read again.
			if atomic.SwapInt32(notified, 0) == 1 {
				woken = true
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := conn.PgConn().WaitForNotification(wctx)
			cancel()
			if err != nil && !pgconn.Timeout(err) {
				r.err = err
				return r
			}
			woken = atomic.SwapInt32(notified, 0) == 1
		case "poll":
			<-ticker.C
			woken = true
		}
	}
}

// The machine's CPU counters (/proc/stat, all CPUs, in clock ticks): busy
// and total.  Busy is everything but idle and iowait; it includes the other
// work on the machine, which is the point: it shows how loaded it was.
func cpuTicks() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	fields := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	for i, f := range fields[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		if i >= 8 { // guest time is already counted in user time
			break
		}
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total
}

func runPhase(ph phase, rep, index int, o liveOpts) phaseResult {
	// Writers connect and append one warm-up event each (plans prepared,
	// caches loaded) before the feed's head is taken.
	wconns := make([]*pgx.Conn, ph.writers)
	for i := range wconns {
		wconns[i] = connect(o.db, nil)
		if _, err := appendOne(wconns[i], ph.notify, fmt.Sprintf("warm-%s-%d-%d", run, index, i), nil); err != nil {
			fail("%s: warm-up append: %v", ph.name, err)
		}
	}
	ctl := connect(o.db, nil)
	defer ctl.Close(ctx)
	var head int64
	if err := ctl.QueryRow(ctx, "SELECT eventstore.es_feed_head()").Scan(&head); err != nil {
		fail("es_feed_head: %v", err)
	}

	var stop int32
	var target int64
	var ready sync.WaitGroup
	subs := make([]subResult, ph.subs)
	var swg sync.WaitGroup
	sconns := make([]*pgx.Conn, ph.subs)
	for i := 0; i < ph.subs; i++ {
		notified := new(int32)
		sconns[i] = connect(o.db, func() { atomic.StoreInt32(notified, 1) })
		ready.Add(1)
		swg.Add(1)
		go func(i int, notified *int32) {
			defer swg.Done()
			subs[i] = subscriber(sconns[i], notified, ph.wake, head, o, &ready, &stop, &target)
		}(i, notified)
	}
	ready.Wait()
	time.Sleep(o.settle) // let the subscribers reach their first sleep

	start := make(chan struct{})
	var deadline int64
	writers := make([]writerResult, ph.writers)
	var interval int64
	if o.rate > 0 && ph.writers > 1 { // the one-writer reference stays unpaced
		interval = int64(time.Second) * int64(ph.writers) / int64(o.rate)
	}
	var wwg sync.WaitGroup
	for i := range wconns {
		wwg.Add(1)
		go func(i int) {
			defer wwg.Done()
			writers[i] = writer(wconns[i], ph.notify, fmt.Sprintf("sub-%s-%d-%d", run, index, i), start, &deadline,
				interval)
		}(i)
	}
	busy0, total0 := cpuTicks()
	t0 := now()
	atomic.StoreInt64(&deadline, t0+int64(o.duration))
	close(start)
	wwg.Wait()
	elapsed := time.Duration(now() - t0)
	busy1, total1 := cpuTicks()
	for i, c := range wconns {
		c.Close(ctx)
		if writers[i].err != nil {
			fail("%s rep %d: writer %d: %v", ph.name, rep, i, writers[i].err)
		}
	}

	// Every appended position with its acknowledgement time.
	var all []int64
	var rtt []int64
	for _, w := range writers {
		all = append(all, w.pos...)
		rtt = append(rtt, w.rtt...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	if len(all) == 0 {
		fail("%s rep %d: no event was appended", ph.name, rep)
	}
	for i, p := range all {
		if p <= head {
			fail("%s rep %d: position %d at or below the head %d taken before the writers started", ph.name, rep, p, head)
		}
		if i > 0 && p == all[i-1] {
			fail("%s rep %d: position %d returned to two appends", ph.name, rep, p)
		}
	}
	maxPos := all[len(all)-1]
	ack := make([]int64, maxPos-head)
	call := make([]int64, maxPos-head)
	for _, w := range writers {
		for j, p := range w.pos {
			ack[p-head-1] = w.ack[j]
			call[p-head-1] = w.ack[j] - w.rtt[j]
		}
	}

	atomic.StoreInt64(&target, maxPos)
	atomic.StoreInt32(&stop, 1)
	finished := make(chan struct{})
	go func() { swg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		fail("%s rep %d: subscribers did not reach position %d within 60 s of the writers' end", ph.name, rep, maxPos)
	}
	for _, c := range sconns {
		c.Close(ctx)
	}

	res := phaseResult{ph: ph, rep: rep, appends: len(all), elapsed: elapsed, rtt: rtt}
	if total1 > total0 {
		res.cpuBusy = 100 * float64(busy1-busy0) / float64(total1-total0)
	}
	for i, s := range subs {
		if s.err != nil {
			fail("%s rep %d: subscriber %d: %v", ph.name, rep, i, s.err)
		}
		// Exactly the appended positions, in order, once each.
		if len(s.pos) != len(all) {
			fail("%s rep %d: subscriber %d saw %d events, the writers appended %d%s", ph.name, rep, i,
				len(s.pos), len(all), firstDifference(s.pos, all))
		}
		for j, p := range s.pos {
			if p != all[j] {
				fail("%s rep %d: subscriber %d: %s", ph.name, rep, i, firstDifference(s.pos, all))
			}
			l := s.seen[j] - ack[p-head-1]
			if l < 0 {
				res.negative++
			}
			res.lat = append(res.lat, l)
			res.fromCall = append(res.fromCall, s.seen[j]-call[p-head-1])
		}
		res.pages += s.pages
	}
	return res
}

func firstDifference(got, want []int64) string {
	for j := 0; j < len(got) && j < len(want); j++ {
		if got[j] != want[j] {
			return fmt.Sprintf("; first difference at index %d: saw position %d, expected %d", j, got[j], want[j])
		}
	}
	if len(got) < len(want) {
		return fmt.Sprintf("; missing from position %d on", want[len(got)])
	}
	if len(got) > len(want) {
		return fmt.Sprintf("; extra position %d", got[len(want)])
	}
	return ""
}

// quantiles of ns samples, in ms: p50, p99, max (the same rule as
// bench/correlation.sh: the value at index floor(n * q) of the sorted list).
func quantiles(v []int64) (p50, p99, max float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := append([]int64(nil), v...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	q := func(f float64) float64 {
		i := int(float64(len(s)) * f)
		if i >= len(s) {
			i = len(s) - 1
		}
		return float64(s[i]) / 1e6
	}
	return q(0.5), q(0.99), float64(s[len(s)-1]) / 1e6
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func join(v []float64, format string) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}

func live(args []string) {
	fs := flag.NewFlagSet("live", flag.ExitOnError)
	writers := fs.Int("writers", 16, "appending clients")
	subs := fs.Int("subscribers", 8, "subscribers")
	reps := fs.Int("reps", 3, "repetitions")
	out := fs.String("out", ".", "directory for summary-live.md and phases.tsv")
	o := liveOpts{}
	fs.StringVar(&o.db, "db", "subs", "database")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "writing time per phase")
	fs.DurationVar(&o.poll, "poll", 10*time.Millisecond, "polling interval")
	fs.IntVar(&o.page, "page", 1000, "feed page size (max_count)")
	fs.DurationVar(&o.settle, "settle", 300*time.Millisecond, "pause between subscribers ready and writers start")
	fs.IntVar(&o.rate, "rate", 0, "appends per second of all writers together (0: unpaced)")
	fs.Parse(args)

	phases := []phase{
		{"es_wait", *writers, *subs, false, "wait"},
		{"notify", *writers, *subs, true, "notify"},
		{"poll", *writers, *subs, false, "poll"},
		{"writers", *writers, 0, false, ""},
		{"writers+notify", *writers, 0, true, ""},
		{"es_wait-1", 1, 1, false, "wait"},
	}
	tsv, err := os.Create(filepath.Join(*out, "phases.tsv"))
	if err != nil {
		fail("%v", err)
	}
	defer tsv.Close()
	fmt.Fprintf(tsv, "rep\tphase\twriters\tsubscribers\tappends\tseconds\tappends_per_s\tlat_p50_ms\tlat_p99_ms\tlat_max_ms\tnegative\tpages\trtt_p50_ms\trtt_p99_ms\tcpu_busy_pct\n")

	results := map[string][]phaseResult{}
	index := 0
	for rep := 1; rep <= *reps; rep++ {
		for k := range phases {
			// Rotate the starting phase from one repetition to the next,
			// and run every other repetition backwards, so that no phase
			// always follows the same one (the autovacuum or checkpoint a
			// busy phase leaves behind lands on different phases).
			i := (k + rep - 1) % len(phases)
			if rep%2 == 0 {
				i = (len(phases) - 1 - k + rep - 1) % len(phases)
			}
			ph := phases[i]
			index++
			r := runPhase(ph, rep, index, o)
			results[ph.name] = append(results[ph.name], r)
			tps := float64(r.appends) / r.elapsed.Seconds()
			p50, p99, mx := quantiles(r.lat)
			r50, r99, _ := quantiles(r.rtt)
			fmt.Fprintf(tsv, "%d\t%s\t%d\t%d\t%d\t%.3f\t%.1f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%.3f\t%.3f\t%.1f\n",
				rep, ph.name, ph.writers, ph.subs, r.appends, r.elapsed.Seconds(), tps, p50, p99, mx,
				r.negative, r.pages, r50, r99, r.cpuBusy)
			if ph.subs > 0 {
				fmt.Printf("   rep %d %-15s %2dw %ds appends/s=%6.0f  latency ms p50=%.3f p99=%.3f max=%.3f  cpu %3.0f%%  (%d events x %d subscribers seen, no gap)\n",
					rep, ph.name, ph.writers, ph.subs, tps, p50, p99, mx, r.cpuBusy, r.appends, ph.subs)
			} else {
				fmt.Printf("   rep %d %-15s %2dw    appends/s=%6.0f  append round trip ms p50=%.3f p99=%.3f  cpu %3.0f%%\n",
					rep, ph.name, ph.writers, tps, r50, r99, r.cpuBusy)
			}
		}
	}

	// Summary: latencies pooled over repetitions and subscribers; throughput
	// and ratios as medians over repetitions.
	var b strings.Builder
	fmt.Fprintf(&b, "| mode | writers | subscribers | appends/s (median) | latency p50 ms | p99 ms | max ms | p99 per repetition ms | negative | from the call p50 / p99 ms | feed reads/s per subscriber | machine CPU busy |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n")
	tpsOf := func(name string) []float64 {
		var v []float64
		for _, r := range results[name] {
			v = append(v, float64(r.appends)/r.elapsed.Seconds())
		}
		return v
	}
	label := map[string]string{
		"es_wait": "es_wait", "notify": "LISTEN/NOTIFY", "poll": fmt.Sprintf("polling every %v", o.poll),
		"es_wait-1": "es_wait, one writer",
	}
	p99s := map[string]float64{}
	for _, name := range []string{"es_wait", "notify", "poll", "es_wait-1"} {
		var all, fromCall []int64
		var per, reads, busy []float64
		neg := 0
		for _, r := range results[name] {
			all = append(all, r.lat...)
			fromCall = append(fromCall, r.fromCall...)
			reads = append(reads, float64(r.pages)/r.elapsed.Seconds()/float64(r.ph.subs))
			busy = append(busy, r.cpuBusy)
			_, p99, _ := quantiles(r.lat)
			per = append(per, p99)
			neg += r.negative
		}
		p50, p99, mx := quantiles(all)
		c50, c99, _ := quantiles(fromCall)
		p99s[name] = p99
		ph := results[name][0].ph
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %.3f | %.3f | %.3f | %s | %.1f %% | %.3f / %.3f | %.0f | %.0f %% |\n",
			label[name], ph.writers, ph.subs, median(tpsOf(name)), p50, p99, mx, join(per, "%.2f"),
			100*float64(neg)/float64(len(all)), c50, c99, median(reads), median(busy))
	}
	ratio := func(a, c string) []float64 {
		var v []float64
		for i := range results[a] {
			v = append(v, (float64(results[a][i].appends)/results[a][i].elapsed.Seconds())/
				(float64(results[c][i].appends)/results[c][i].elapsed.Seconds()))
		}
		return v
	}
	fmt.Fprintf(&b, "\n| writers' throughput | appends/s (median) | append round trip p50 / p99 ms | machine CPU busy | ratio to no NOTIFY (per repetition) | median |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---|---:|\n")
	for _, pair := range [][3]string{
		{"writers", "writers", "16 writers alone, no NOTIFY"},
		{"writers+notify", "writers", "16 writers alone, pg_notify in each append transaction"},
		{"es_wait", "es_wait", "with 8 es_wait subscribers, no NOTIFY"},
		{"notify", "es_wait", "with 8 LISTEN subscribers, pg_notify in each append transaction"},
		{"poll", "es_wait", "with 8 polling subscribers, no NOTIFY"},
	} {
		var rtt []int64
		var busy []float64
		for _, r := range results[pair[0]] {
			rtt = append(rtt, r.rtt...)
			busy = append(busy, r.cpuBusy)
		}
		r50, r99, _ := quantiles(rtt)
		rs := ratio(pair[0], pair[1])
		text := strings.Replace(pair[2], "16 writers", fmt.Sprintf("%d writers", *writers), 1)
		text = strings.Replace(text, "8 ", fmt.Sprintf("%d ", *subs), 1)
		fmt.Fprintf(&b, "| %s | %.0f | %.2f / %.2f | %.0f %% | %s | %.2f x |\n", text, median(tpsOf(pair[0])), r50, r99,
			median(busy), join(rs, "%.2f"), median(rs))
	}
	verdict := "MEETS"
	if p99s["es_wait"] >= 5 {
		verdict = "MISSES"
	}
	fmt.Fprintf(&b, "\nTarget (issue 14): es_wait p99 under 5 ms at %d writers + %d subscribers: %s (%.3f ms pooled over %d repetitions); one writer, one subscriber: p99 %.3f ms.\n",
		*writers, *subs, verdict, p99s["es_wait"], *reps, p99s["es_wait-1"])
	fmt.Print("\n" + b.String())
	if err := os.WriteFile(filepath.Join(*out, "summary-live.md"), []byte(b.String()), 0644); err != nil {
		fail("%v", err)
	}
}

// Catch-up: read the whole feed of database db, page by page, with the
// store's feed read and with the plain SELECT; each read must return
// positions 1..expect exactly (the backlog has no gaps).
func readAll(db, sql string, page int, expect int64) (float64, int) {
	conn := connect(db, nil)
	defer conn.Close(ctx)
	var last int64
	var dest []interface{}
	pages := 0
	t0 := time.Now()
	for {
		rows, err := conn.Query(ctx, sql, last, int64(page))
		if err != nil {
			fail("catch-up read: %v", err)
		}
		n := 0
		for rows.Next() {
			if dest == nil {
				dest = make([]interface{}, len(rows.FieldDescriptions()))
			}
			var p int64
			dest[0] = &p
			if err := rows.Scan(dest...); err != nil {
				fail("catch-up read: %v", err)
			}
			if p != last+1 {
				fail("catch-up read (%s): position %d after %d", sql, p, last)
			}
			last = p
			n++
		}
		if err := rows.Err(); err != nil {
			fail("catch-up read: %v", err)
		}
		pages++
		if n < page {
			break
		}
	}
	secs := time.Since(t0).Seconds()
	if last != expect {
		fail("catch-up read (%s) ended at position %d, the backlog has %d events", sql, last, expect)
	}
	return float64(expect) / secs, pages
}

func catchup(args []string) {
	fs := flag.NewFlagSet("catchup", flag.ExitOnError)
	db := fs.String("db", "backlog", "database")
	expect := fs.Int64("expect", 0, "events in the backlog (positions 1..N)")
	page := fs.Int("page", 1000, "page size")
	reps := fs.Int("reps", 2, "repetitions (each reads the backlog once with each reader)")
	out := fs.String("out", ".", "directory for summary-catchup.md")
	fs.Parse(args)
	// One read first, not counted, so that no timed read pays for bringing
	// the backlog into the OS cache.
	rate, _ := readAll(*db, selectSQL, *page, *expect)
	fmt.Printf("   warm-up read (plain SELECT, not counted): %.0f events/s\n", rate)
	var es, sel, ratios []float64
	for rep := 1; rep <= *reps; rep++ {
		// A B, then B A: neither reader always goes first.
		order := []string{"es", "select"}
		if rep%2 == 0 {
			order = []string{"select", "es"}
		}
		var e, s float64
		for _, who := range order {
			sql := feedSQL
			if who == "select" {
				sql = selectSQL
			}
			rate, pages := readAll(*db, sql, *page, *expect)
			fmt.Printf("   rep %d %-7s %d events in %d pages: %.0f events/s\n", rep, who, *expect, pages, rate)
			if who == "es" {
				e = rate
			} else {
				s = rate
			}
		}
		es, sel, ratios = append(es, e), append(sel, s), append(ratios, e/s)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| reader, pages of %d | events/s (median) | per repetition | ratio (median of reps) |\n", *page)
	fmt.Fprintf(&b, "|---|---:|---|---:|\n")
	fmt.Fprintf(&b, "| `es_load_feed(after_position, %d)` | %.0f | %s | %.2f x plain SELECT (%s) |\n",
		*page, median(es), join(es, "%.0f"), median(ratios), join(ratios, "%.2f"))
	fmt.Fprintf(&b, "| plain `SELECT * ... WHERE position > $1 ORDER BY position LIMIT %d` | %.0f | %s | |\n",
		*page, median(sel), join(sel, "%.0f"))
	fmt.Print("\n" + b.String())
	if err := os.WriteFile(filepath.Join(*out, "summary-catchup.md"), []byte(b.String()), 0644); err != nil {
		fail("%v", err)
	}
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: subscriptions live|catchup [options]")
	}
	switch os.Args[1] {
	case "live":
		live(os.Args[2:])
	case "catchup":
		catchup(os.Args[2:])
	case "cpu":
		// How busy the machine is without us (other users' work): % of
		// all CPUs' time over a few seconds.
		d := 5 * time.Second
		if len(os.Args) > 2 {
			var err error
			if d, err = time.ParseDuration(os.Args[2]); err != nil {
				fail("%v", err)
			}
		}
		b0, t0 := cpuTicks()
		time.Sleep(d)
		b1, t1 := cpuTicks()
		fmt.Printf("%.0f\n", 100*float64(b1-b0)/float64(t1-t0))
	default:
		fail("unrecognized command %q", os.Args[1])
	}
}
