#!/usr/bin/env bash
# The eventstore demo (`make demo`): starts a throwaway PostgreSQL cluster,
# creates the extension, walks through its main job with explanations, then
# stops the cluster and removes it.  Uses the system-wide installation of
# PostgreSQL (`make install` put eventstore there).
set -u
cd "$(dirname "$0")/.."

# The shared cluster helpers, pointed at the system-wide binaries and a
# scratch directory of our own.
TMP_INSTALL=/
TMP_CHECK=$(mktemp -d "${TMPDIR:-/tmp}/eventstore-demo.XXXXXX")
. test/lib/cluster.sh
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin

if [ ! -f "$($PG_CONFIG --pkglibdir)/eventstore.so" ]; then
    echo "eventstore is not installed system-wide: run 'make demo' (or 'make install') first"; exit 1
fi

cleanup() {
    es_stop_cluster demo
    rm -rf "$TMP_CHECK"
}
trap cleanup EXIT

bold=; plain=
if [ -t 1 ]; then bold=$(tput bold 2>/dev/null || true); plain=$(tput sgr0 2>/dev/null || true); fi
say()  { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
note() { echo; printf '%s\n' "$@"; }
# show SQL [fails]: print the statement, then run it and print the answer.
# Errors are shown with their SQLSTATE; psql's LOCATION line is dropped.  A
# statement not marked "fails" that fails makes the demo exit non-zero.
unexpected=0
show() {
    local out
    echo
    printf '%s\n' "$1" | sed 's/^/    /'
    out=$("$PGBIN/psql" -X -q -d demo --pset=footer=off -v VERBOSITY=verbose \
        -c "SET search_path = eventstore, public" -c "$1" 2>&1 | grep -v '^LOCATION:' | sed '/^$/d')
    printf '%s\n' "$out" | sed 's/^/    /'
    if printf '%s' "$out" | grep -q '^ERROR:'; then
        [ "${2:-}" = fails ] || unexpected=$((unexpected + 1))
    elif [ "${2:-}" = fails ]; then
        echo "    (expected an error here)"; unexpected=$((unexpected + 1))
    fi
}

say "Starting a throwaway PostgreSQL $PG_MAJOR cluster in $TMP_CHECK"
es_start_cluster demo "shared_preload_libraries = 'eventstore'" || exit 1
"$PGBIN/psql" -X -q -d postgres -c "CREATE DATABASE demo" || exit 1
note "shared_preload_libraries = 'eventstore' lets appending transactions commit concurrently."

say "Install the extension"
show "CREATE EXTENSION eventstore;"
show "SELECT es_feed_mode();"

say "1. Append events to a stream"
note "A stream is the history of one thing, here order 42.  Each event gets the next" \
     "version of its stream and a global position in the feed of all events." \
     "expected_version => 0 says: this stream must not exist yet."
show "SELECT * FROM es_append('order-42', 'OrderPlaced', '{\"customer\": \"ada\", \"total\": 30}', expected_version => 0);"
show "SELECT * FROM es_append('order-42', 'ItemAdded', '{\"sku\": \"book\", \"price\": 12}', expected_version => 1,
                          metadata => '{\"correlation_id\": \"web-1\"}');"
note "Binary payloads (protobuf, ...) go into data_bin:"
show "SELECT stream, version FROM es_append('order-42', 'PaymentProto', data_bin => '\\x0a036164611018'::bytea, expected_version => 2);"

say "2. Optimistic concurrency: a version conflict"
note "Two clerks both read version 3 and both try to append.  The first wins:"
show "SELECT stream, version FROM es_append('order-42', 'OrderShipped', '{}', expected_version => 3);"
note "The second one's claim is stale; it gets SQLSTATE ES001 and nothing is written:"
show "SELECT stream, version FROM es_append('order-42', 'OrderCancelled', '{}', expected_version => 3);" fails
show "SELECT es_stream_version('order-42');"

say "3. A money transfer between two accounts, atomic"
note "One es_append call can write to several streams, each with its own expected" \
     "version.  All events are stored, or none."
show "SELECT stream, version FROM es_append('[
  {\"stream\": \"account-alice\", \"expected_version\": 0, \"events\": [{\"type\": \"Opened\", \"data\": {\"balance\": 100}}]},
  {\"stream\": \"account-bob\",   \"expected_version\": 0, \"events\": [{\"type\": \"Opened\", \"data\": {\"balance\": 0}}]}]');"
show "SELECT stream, version FROM es_append('[
  {\"stream\": \"account-alice\", \"expected_version\": 1, \"events\": [{\"type\": \"Debited\",  \"data\": {\"amount\": 30}}]},
  {\"stream\": \"account-bob\",   \"expected_version\": 1, \"events\": [{\"type\": \"Credited\", \"data\": {\"amount\": 30}}]}]');"
note "A second transfer computed from stale balances (alice is at version 2 now):" \
     "bob's side would be fine, but the whole call fails, so no money appears from nowhere."
show "SELECT stream, version FROM es_append('[
  {\"stream\": \"account-alice\", \"expected_version\": 1, \"events\": [{\"type\": \"Debited\",  \"data\": {\"amount\": 80}}]},
  {\"stream\": \"account-bob\",   \"expected_version\": 2, \"events\": [{\"type\": \"Credited\", \"data\": {\"amount\": 80}}]}]');" fails
show "SELECT es_stream_version('account-alice') AS alice, es_stream_version('account-bob') AS bob;"

say "4. Idempotent retry"
note "The client's connection drops after COMMIT and it does not know whether the append" \
     "happened.  It retries with the same event id: the store answers with the stored" \
     "event and writes nothing."
show "SELECT stream, version, event_id FROM es_append('order-42', 'InvoiceSent', '{}', expected_version => 4,
                          event_id => 'a6f1c2de-0000-4000-8000-000000000042');"
show "SELECT stream, version, event_id FROM es_append('order-42', 'InvoiceSent', '{}', expected_version => 4,
                          event_id => 'a6f1c2de-0000-4000-8000-000000000042');"
show "SELECT es_stream_version('order-42');"
note "Reusing that id for a different event is an error (ES002):"
show "SELECT version FROM es_append('order-43', 'Other', '{}', event_id => 'a6f1c2de-0000-4000-8000-000000000042');" fails

say "5. Load a stream"
note "Forward from the start (a page of at most max_count events):"
show "SELECT version, type, data, metadata FROM es_load('order-42');"
note "Forward from version 2, two events:"
show "SELECT version, type FROM es_load('order-42', from_version => 2, max_count => 2);"
note "Backward from the end, the last two events (e.g. to show recent history):"
show "SELECT version, type FROM es_load('order-42', max_count => 2, backward => true);"
note "The binary payload comes back byte for byte:"
show "SELECT version, type, data_bin FROM es_load('order-42', 3, 1);"
note "The current version of a stream (0 for a stream that does not exist):"
show "SELECT es_stream_version('order-42') AS order_42, es_stream_version('order-99') AS order_99;"

say "6. History is immutable"
show "DELETE FROM eventstore.events WHERE stream = 'order-42';" fails

say "Done: stopping the cluster and removing $TMP_CHECK"
if [ "$unexpected" != 0 ]; then
    echo "demo: $unexpected statement(s) did not behave as shown above"; exit 1
fi
