// eventstore from Java with JDBC (Debian's libpostgresql-jdbc-java), plain
// javac/java.  JDBC sends typed parameters: setLong is int8, setBytes bytea,
// setString varchar; a JSON payload goes with setObject(..., Types.OTHER) so
// that the server types it (docs/clients.md).  Connects over TCP to
// 127.0.0.1:$PGPORT, database $PGDATABASE, user $PGUSER, plus the URL
// options in ES_JDBC_OPTIONS (behind a pooler: prepareThreshold=0); ES_RESTART_CMD
// restarts the server between two calls.  Exits non-zero on the first failed
// check (test/suites/70_clients.sh).
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

public class EventstoreClient {
    static final String RUN = UUID.randomUUID().toString().substring(0, 8);   // fresh stream names per run
    static final String URL = "jdbc:postgresql://127.0.0.1:" + System.getenv("PGPORT") + "/"
            + System.getenv("PGDATABASE") + "?user=" + System.getenv("PGUSER")
            + (System.getenv("ES_JDBC_OPTIONS") == null ? "" : "&" + System.getenv("ES_JDBC_OPTIONS"));
    static int checks = 0;

    static String s(String name) { return name + "-" + RUN; }

    static void ok(boolean cond, String what) {
        if (!cond) throw new AssertionError(what);
        checks++;
    }

    static long appendOne(Connection c, String stream, String type, String json, long expected) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("SELECT version FROM eventstore.es_append(?, ?, ?, ?)")) {
            st.setString(1, stream);
            st.setString(2, type);
            st.setObject(3, json, Types.OTHER);
            st.setLong(4, expected);
            try (ResultSet rs = st.executeQuery()) { rs.next(); return rs.getLong(1); }
        }
    }

    // The append that the server restart interrupts, with a fixed event id.
    static long appendShipped(Connection c, UUID id) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(
                "SELECT version FROM eventstore.es_append(?, ?, ?, ?, event_id => ?)")) {
            st.setString(1, s("order"));
            st.setString(2, "OrderShipped");
            st.setObject(3, "{\"ok\": true}", Types.OTHER);
            st.setLong(4, 3);
            st.setObject(5, id);
            try (ResultSet rs = st.executeQuery()) { rs.next(); return rs.getLong(1); }
        }
    }

    static long one(Connection c, String sql, Object... params) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) st.setObject(i + 1, params[i]);
            try (ResultSet rs = st.executeQuery()) { rs.next(); return rs.getLong(1); }
        }
    }

    interface SqlCall { void call() throws SQLException; }

    static String stateOf(SqlCall call) {
        try { call.call(); return null; } catch (SQLException e) { return e.getSQLState(); }
    }

    public static void main(String[] args) throws Exception {
        Connection c = DriverManager.getConnection(URL);
        byte[] allBytes = new byte[256];
        for (int i = 0; i < 256; i++) allBytes[i] = (byte) i;
        long head0 = one(c, "SELECT eventstore.es_feed_head()");

        // JSON payload, then a binary one by name.
        ok(appendOne(c, s("order"), "OrderPlaced", "{\"total\": 12.5, \"note\": \"\u00fc\u2713\"}", 0) == 1, "first version is 1");
        try (PreparedStatement st = c.prepareStatement(
                "SELECT version FROM eventstore.es_append(stream => ?, type => ?, data_bin => ?, expected_version => ?)")) {
            st.setString(1, s("order"));
            st.setString(2, "Proto");
            st.setBytes(3, allBytes);
            st.setLong(4, 1);
            try (ResultSet rs = st.executeQuery()) { rs.next(); ok(rs.getLong(1) == 2, "binary event is version 2"); }
        }

        // A conflict is ES001: reload the version and retry.
        final Connection c0 = c;
        ok("ES001".equals(stateOf(() -> appendOne(c0, s("order"), "OrderPaid", "{\"amount\": 12}", 1))),
           "stale expected version gives ES001");
        long current = one(c, "SELECT eventstore.es_stream_version(?)", s("order"));
        ok(appendOne(c, s("order"), "OrderPaid", "{\"amount\": 12}", current) == 3, "retry appends version 3");

        // Several streams in one call, all or nothing (the JSON batch form).
        String transfer = "[{\"stream\": \"" + s("account-1") + "\", \"expected_version\": \"no_stream\", \"events\": [{\"type\": \"Debited\", \"data\": {\"amount\": 30}}]},"
                + " {\"stream\": \"" + s("account-2") + "\", \"expected_version\": \"no_stream\", \"events\": [{\"type\": \"Credited\", \"data\": {\"amount\": 30}}]}]";
        try (PreparedStatement st = c.prepareStatement("SELECT stream, version FROM eventstore.es_append(?::jsonb)")) {
            st.setString(1, transfer);
            int n = 0;
            try (ResultSet rs = st.executeQuery()) { while (rs.next()) { ok(rs.getLong(2) == 1, "multi-stream version 1"); n++; } }
            ok(n == 2, "multi-stream returns two rows");
        }
        String conflict = "[{\"stream\": \"" + s("account-1") + "\", \"expected_version\": 1, \"events\": [{\"type\": \"Debited\"}]},"
                + " {\"stream\": \"" + s("account-2") + "\", \"expected_version\": \"no_stream\", \"events\": [{\"type\": \"Credited\"}]}]";
        ok("ES001".equals(stateOf(() -> one(c0, "SELECT count(*) FROM eventstore.es_append(?::jsonb)", conflict))),
           "multi-stream conflict gives ES001");
        ok(one(c, "SELECT eventstore.es_stream_version(?)", s("account-1")) == 1
           && one(c, "SELECT eventstore.es_stream_version(?)", s("account-2")) == 1,
           "a conflicting multi-stream call writes no stream");

        // Read the stream: JSON and binary payloads come back as stored.
        List<Long> versions = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("SELECT version, data ->> 'note', data_bin FROM eventstore.es_load(?)")) {
            st.setString(1, s("order"));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    long v = rs.getLong(1);
                    versions.add(v);
                    if (v == 1) ok("\u00fc\u2713".equals(rs.getString(2)) && rs.getBytes(3) == null, "JSON round trip");
                    if (v == 2) ok(Arrays.equals(rs.getBytes(3), allBytes), "binary byte-exact");
                }
            }
        }
        ok(versions.equals(Arrays.asList(1L, 2L, 3L)), "stream versions 1 2 3, got " + versions);
        ok(one(c, "SELECT version FROM eventstore.es_load(?, backward => true, max_count => 1)", s("order")) == 3,
           "backward read starts at the last event");

        // Page the feed two events at a time from where this run began.
        long last = head0;
        int seen = 0;
        try (PreparedStatement st = c.prepareStatement(
                "SELECT position, stream FROM eventstore.es_load(after_position => ?, max_count => ?)")) {
            while (true) {
                st.setLong(1, last);
                st.setLong(2, 2);
                int page = 0;
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        ok(rs.getLong(1) > last, "feed positions increase");
                        last = rs.getLong(1);
                        if (rs.getString(2).endsWith("-" + RUN)) seen++;
                        page++;
                    }
                }
                if (page == 0) break;
            }
        }
        ok(seen == 5, "the feed shows this run's 5 events once each, saw " + seen);

        // es_wait on a second connection wakes when this one appends.
        final long after = last;
        CompletableFuture<Boolean> woke = CompletableFuture.supplyAsync(() -> {
            try (Connection w = DriverManager.getConnection(URL);
                 PreparedStatement st = w.prepareStatement("SELECT eventstore.es_wait(?, ?)")) {
                st.setLong(1, after);
                st.setInt(2, 60000);
                try (ResultSet rs = st.executeQuery()) { rs.next(); return rs.getBoolean(1); }
            } catch (SQLException e) {
                throw new RuntimeException(e);
            }
        });
        appendOne(c, s("wake"), "Wake", null, 0);
        ok(woke.get(), "es_wait returns true once the feed moved");

        // A consumer of a managed subscription (docs/subscriptions.md): fetch
        // a batch (waiting up to 1 s), handle it, ack it; consumers come and go.
        String sub = "sc" + RUN;
        try (PreparedStatement st = c.prepareStatement("SELECT eventstore.es_create_subscription(?, category => ?)")) {
            st.setString(1, sub); st.setString(2, sub); st.execute();
        }
        for (int i = 0; i < 3; i++) appendOne(c, sub + "-" + i, "Placed", null, 0);
        List<String> handled = new ArrayList<>();
        for (int round = 0; round < 20 && handled.size() < 3; round++) {
            List<Long> positions = new ArrayList<>();
            try (PreparedStatement st = c.prepareStatement("SELECT position, stream FROM eventstore.es_fetch(?, 'java-1', 100, 1000)")) {
                st.setString(1, sub);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) { positions.add(rs.getLong(1)); handled.add(rs.getString(2)); }  // the handler
                }
            }
            try (PreparedStatement st = c.prepareStatement("SELECT eventstore.es_ack(?, 'java-1', ?)")) {
                st.setString(1, sub);
                st.setArray(2, c.createArrayOf("bigint", positions.toArray()));
                st.execute();
            }
        }
        handled.sort(null);
        ok(handled.equals(Arrays.asList(sub + "-0", sub + "-1", sub + "-2")), "the consumer handled each event once");
        try (PreparedStatement st = c.prepareStatement("SELECT eventstore.es_drop_subscription(?)")) {
            st.setString(1, sub); st.execute();
        }

        // The server restarts between two calls: the next call fails, the
        // client reconnects and retries with the same event id (safe to repeat).
        Process p = new ProcessBuilder("sh", "-c", System.getenv("ES_RESTART_CMD")).inheritIO().start();
        ok(p.waitFor() == 0, "server restarted");
        UUID id = UUID.randomUUID();
        int reconnects = 0;
        long v;
        while (true) {
            try {
                v = appendShipped(c, id);
                break;
            } catch (SQLException e) {
                String state = e.getSQLState();
                if (state == null || !(state.startsWith("08") || state.startsWith("57P"))) throw e;
                if (++reconnects > 150) throw e;
                try { c.close(); } catch (SQLException ignored) { }
                Thread.sleep(200);
                try { c = DriverManager.getConnection(URL); } catch (SQLException ignored) { }
            }
        }
        // Behind a transaction-mode pooler (ES_POOLED) the restart may not reach
        // the client at all: the pooler opens a fresh server connection.
        ok((reconnects > 0 || System.getenv("ES_POOLED") != null) && v == 4,
           "the call after the restart failed, the retry after reconnecting appended version 4");
        ok(appendShipped(c, id) == 4, "a repeated retry returns the stored version");
        ok(one(c, "SELECT eventstore.es_stream_version(?)", s("order")) == 4, "a repeated retry writes nothing");
        c.close();
        System.out.println("java client: " + checks + " checks passed");
    }
}
