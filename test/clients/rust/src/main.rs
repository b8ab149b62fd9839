// eventstore from Rust with tokio-postgres (Debian's crates, offline).
// tokio-postgres prepares each statement and checks every Rust value against
// the type the server inferred for its parameter (an i64 for a text
// parameter is an error, not a conversion), so the SQL must leave no doubt
// about the form it calls: the feed form of es_load goes by name
// (after_position => $1).  Connects with PGHOST, PGPORT, PGUSER and
// PGDATABASE; ES_RESTART_CMD restarts the server between two calls.  Exits
// non-zero on the first failed check (test/suites/70_clients.sh).
use serde_json::{json, Value};
use std::env;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::{Client, Error, NoTls};
use uuid::Uuid;

struct Checks {
    run: String,
    passed: u32,
}

impl Checks {
    fn ok(&mut self, cond: bool, what: &str) {
        if !cond {
            println!("rust client FAILED: {}", what);
            std::process::exit(1);
        }
        self.passed += 1;
    }

    fn s(&self, name: &str) -> String {
        format!("{}-{}", name, self.run)
    }
}

fn must<T>(r: Result<T, Error>, what: &str) -> T {
    r.unwrap_or_else(|e| {
        println!("rust client FAILED: {}: {}", what, e);
        std::process::exit(1);
    })
}

// The SQLSTATE of a server error, None for anything else (a closed connection).
fn sqlstate(e: &Error) -> Option<&str> {
    e.code().map(|c| c.code())
}

async fn connect() -> Result<Client, Error> {
    let var = |k: &str| env::var(k).unwrap_or_default();
    let conninfo = format!("host={} port={} user={} dbname={}",
                           var("PGHOST"), var("PGPORT"), var("PGUSER"), var("PGDATABASE"));
    let (client, connection) = tokio_postgres::connect(&conninfo, NoTls).await?;
    // The connection task ends with an error when the server goes away; the
    // next call on the client then fails, which is where we handle it.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn append_one(c: &Client, stream: &str, typ: &str, data: Value, expected: i64) -> Result<i64, Error> {
    let row = c.query_one("SELECT version FROM eventstore.es_append($1, $2, $3, $4)",
                          &[&stream, &typ, &data, &expected]).await?;
    Ok(row.get(0))
}

async fn stream_version(c: &Client, stream: &str) -> i64 {
    must(c.query_one("SELECT eventstore.es_stream_version($1)", &[&stream]).await, "stream version").get(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos() ^ std::process::id();
    let mut t = Checks { run: format!("{:08x}", seed), passed: 0 };
    let mut c = must(connect().await, "connect");
    let all_bytes: Vec<u8> = (0..=255).collect();
    let head0: i64 = must(c.query_one("SELECT eventstore.es_feed_head()", &[]).await, "feed head").get(0);

    // JSON payload (serde_json::Value as jsonb), then a binary one by name.
    let order = t.s("order");
    let v = must(append_one(&c, &order, "OrderPlaced", json!({"total": 12.5, "note": "ü✓"}), 0).await, "json append");
    t.ok(v == 1, "first version is 1");
    let row = must(c.query_one("SELECT version FROM eventstore.es_append(stream => $1, type => $2, data_bin => $3, expected_version => $4)",
                               &[&order, &"Proto", &all_bytes, &1i64]).await, "binary append");
    t.ok(row.get::<_, i64>(0) == 2, "binary event is version 2");

    // A symbolic expected version as a string parameter.
    let e = c.query_one("SELECT version FROM eventstore.es_append($1, $2, $3, eventstore.es_expected_version($4))",
                        &[&order, &"Again", &json!({}), &"no_stream"]).await.unwrap_err();
    t.ok(sqlstate(&e) == Some("ES001"), "no_stream on an existing stream gives ES001");

    // A conflict is ES001: reload the version and retry.
    let e = append_one(&c, &order, "OrderPaid", json!({"amount": 12}), 1).await.unwrap_err();
    t.ok(sqlstate(&e) == Some("ES001"), "stale expected version gives ES001");
    let current = stream_version(&c, &order).await;
    let v = must(append_one(&c, &order, "OrderPaid", json!({"amount": 12}), current).await, "retry");
    t.ok(v == 3, "retry appends version 3");

    // Several streams in one call, all or nothing (the JSON batch form).
    let (a1, a2) = (t.s("account-1"), t.s("account-2"));
    let transfer = json!([
        {"stream": a1, "expected_version": "no_stream", "events": [{"type": "Debited", "data": {"amount": 30}}]},
        {"stream": a2, "expected_version": "no_stream", "events": [{"type": "Credited", "data": {"amount": 30}}]}]);
    let rows = must(c.query("SELECT stream, version FROM eventstore.es_append($1)", &[&transfer]).await, "multi-stream");
    t.ok(rows.len() == 2 && rows.iter().all(|r| r.get::<_, i64>(1) == 1), "multi-stream versions 1");
    let conflict = json!([
        {"stream": a1, "expected_version": 1, "events": [{"type": "Debited"}]},
        {"stream": a2, "expected_version": "no_stream", "events": [{"type": "Credited"}]}]);
    let e = c.query("SELECT * FROM eventstore.es_append($1)", &[&conflict]).await.unwrap_err();
    t.ok(sqlstate(&e) == Some("ES001"), "multi-stream conflict gives ES001");
    t.ok(stream_version(&c, &a1).await == 1 && stream_version(&c, &a2).await == 1,
         "a conflicting multi-stream call writes no stream");

    // Read the stream: JSON and binary payloads come back as stored.
    let rows = must(c.query("SELECT version, data, data_bin FROM eventstore.es_load($1)", &[&order]).await, "load");
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    t.ok(versions == vec![1, 2, 3], "stream versions 1 2 3");
    let data: Option<Value> = rows[0].get(1);
    t.ok(data == Some(json!({"total": 12.5, "note": "ü✓"})), "JSON round trip");
    let bin: Option<Vec<u8>> = rows[1].get(2);
    t.ok(bin.as_deref() == Some(&all_bytes[..]), "binary byte-exact");
    let row = must(c.query_one("SELECT version FROM eventstore.es_load($1, backward => true, max_count => 1)",
                               &[&order]).await, "backward");
    t.ok(row.get::<_, i64>(0) == 3, "backward read starts at the last event");

    // Page the feed two events at a time from where this run began.
    let mut last = head0;
    let mut seen = 0;
    loop {
        let page = must(c.query("SELECT position, stream FROM eventstore.es_load(after_position => $1, max_count => $2)",
                                &[&last, &2i64]).await, "feed page");
        if page.is_empty() {
            break;
        }
        for r in &page {
            let pos: i64 = r.get(0);
            t.ok(pos > last, "feed positions increase");
            last = pos;
            if r.get::<_, &str>(1).ends_with(&format!("-{}", t.run)) {
                seen += 1;
            }
        }
    }
    t.ok(seen == 5, &format!("the feed shows this run's 5 events once each, saw {}", seen));

    // es_wait on a second connection wakes when this one appends.
    let waiter = must(connect().await, "connect waiter");
    let woke = tokio::spawn(async move {
        waiter.query_one("SELECT eventstore.es_wait($1, $2)", &[&last, &60000i32]).await
            .map(|r| r.get::<_, bool>(0))
    });
    must(append_one(&c, &t.s("wake"), "Wake", json!({}), 0).await, "append for the waiter");
    let moved = must(woke.await.expect("waiter task"), "es_wait");
    t.ok(moved, "es_wait returns true once the feed moved");

    // A consumer of a managed subscription (docs/subscriptions.md): fetch a
    // batch (waiting up to 1 s), handle it, ack it; consumers can come and go.
    let sub = format!("sc{}", t.run);
    must(c.execute("SELECT eventstore.es_create_subscription($1, category => $2)", &[&sub, &sub]).await, "create subscription");
    for i in 0..3 {
        must(append_one(&c, &format!("{}-{}", sub, i), "Placed", json!({}), 0).await, "append for the consumer");
    }
    let mut handled: Vec<String> = Vec::new();
    for _ in 0..20 {
        let batch = must(c.query("SELECT position, stream FROM eventstore.es_fetch($1, 'rust-1', 100, 1000)", &[&sub]).await, "es_fetch");
        handled.extend(batch.iter().map(|r| r.get::<_, String>(1)));                 // the handler
        let positions: Vec<i64> = batch.iter().map(|r| r.get(0)).collect();
        must(c.execute("SELECT eventstore.es_ack($1, 'rust-1', $2)", &[&sub, &positions]).await, "es_ack");
        if handled.len() == 3 { break; }
    }
    handled.sort();
    t.ok(handled == (0..3).map(|i| format!("{}-{}", sub, i)).collect::<Vec<_>>(), "the consumer handled each event once");
    must(c.execute("SELECT eventstore.es_drop_subscription($1)", &[&sub]).await, "drop subscription");

    // The server restarts between two calls: the next call fails, the client
    // reconnects and retries with the same event id (safe to repeat).
    let status = Command::new("sh").arg("-c").arg(env::var("ES_RESTART_CMD").unwrap_or_default())
        .status().expect("run ES_RESTART_CMD");
    t.ok(status.success(), "server restarted");
    let id = Uuid::parse_str(&format!("00000000-0000-4000-8000-{}0000", t.run)).unwrap();
    let sql = "SELECT version FROM eventstore.es_append($1, $2, $3, $4, event_id => $5)";
    let shipped = json!({"ok": true});
    let mut reconnects = 0;
    let v: i64 = loop {
        match c.query_one(sql, &[&order, &"OrderShipped", &shipped, &3i64, &id]).await {
            Ok(r) => break r.get(0),
            Err(e) => {
                let transient = match sqlstate(&e) {
                    None => true,
                    Some(code) => code.starts_with("08") || code.starts_with("57P"),
                };
                reconnects += 1;
                t.ok(transient && reconnects <= 150, &format!("append after the restart: {}", e));
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Ok(fresh) = connect().await {
                    c = fresh;
                }
            }
        }
    };
    t.ok(reconnects > 0 && v == 4, "the call after the restart failed, the retry after reconnecting appended version 4");
    let row = must(c.query_one(sql, &[&order, &"OrderShipped", &shipped, &3i64, &id]).await, "repeated retry");
    t.ok(row.get::<_, i64>(0) == 4 && stream_version(&c, &order).await == 4, "a repeated retry writes nothing");
    println!("rust client: {} checks passed", t.passed);
}
