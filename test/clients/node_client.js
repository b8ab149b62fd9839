// eventstore from Node with node-postgres, which sends every parameter
// untyped (type OID 0): the server must resolve es_append / es_load without
// "function is not unique" errors.  Buffers travel as binary parameters.
// An untyped first argument of es_load reads a stream, so the feed is read
// with named notation (after_position => $1).  Connects with the PG*
// environment (PGHOST, PGPORT, PGUSER, PGDATABASE); ES_RESTART_CMD restarts
// the server between two calls.  Exits non-zero on the first failed check.
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const { execSync } = require('child_process');
const { Client, DatabaseError } = require('pg');

const run = crypto.randomUUID().slice(0, 8);   // fresh stream names per run
const s = (name) => `${name}-${run}`;
let checks = 0;
function ok(cond, what) {
  assert.ok(cond, what);
  checks++;
}
async function expectCode(client, code, sql, params, what) {
  try {
    await client.query(sql, params);
  } catch (err) {
    assert.strictEqual(err.code, code, `${what}: got ${err.code} ${err.message}`);
    checks++;
    return err;
  }
  assert.fail(`${what}: no error, expected ${code}`);
}

// A client whose connection may die under it: node-postgres reports that as
// an 'error' event, which would end the process if nobody listened.
async function connect() {
  const c = new Client();
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function main() {
  let client = await connect();
  const head0 = (await client.query('SELECT eventstore.es_feed_head() AS h')).rows[0].h;
  const allBytes = Buffer.from([...Array(256).keys()]);          // 0x00 .. 0xff
  const json = { total: 12.5, items: ['a', 'ü', '✓'], nested: { n: null, t: true }, quote: 'x"y\\z' };

  // Single event, positional parameters, JSON payload (object serialized by pg).
  let r = await client.query('SELECT * FROM eventstore.es_append($1, $2, $3, $4)',
    [s('order'), 'OrderPlaced', json, 0]);
  ok(r.rows.length === 1 && r.rows[0].version === '1', 'first version is 1');
  ok(Number(r.rows[0].position) > 0, 'position returned');
  // Positional with metadata and a caller-chosen id.
  const paidId = crypto.randomUUID();
  r = await client.query('SELECT * FROM eventstore.es_append($1, $2, $3, $4, $5, $6)',
    [s('order'), 'OrderPaid', JSON.stringify({ amount: 12.5 }), 1, { correlation_id: 'c-1' }, paidId]);
  ok(r.rows[0].version === '2' && r.rows[0].event_id === paidId, 'positional with id');
  // Binary payload, positional (data_bin is the 7th parameter).
  r = await client.query('SELECT * FROM eventstore.es_append($1, $2, NULL, $3, NULL, NULL, $4)',
    [s('order'), 'Proto', 2, allBytes]);
  ok(r.rows[0].version === '3', 'binary positional');
  // Binary payload, named parameters.
  r = await client.query('SELECT * FROM eventstore.es_append($1, $2, data_bin => $3, expected_version => $4)',
    [s('blob'), 'Proto', allBytes, 0]);
  ok(r.rows[0].version === '1', 'binary named');
  r = await client.query('SELECT * FROM eventstore.es_append(stream => $1, type => $2, data => $3, metadata => $4)',
    [s('blob'), 'Json', { k: 1 }, { user: 'u' }]);
  ok(r.rows[0].version === '2', 'json named');

  // A batch, JSON form: data_bin as bytea hex text.
  const batch = {
    stream: s('cart'), expected_version: 'no_stream', events: [
      { type: 'ItemAdded', data: { sku: 'a' } },
      { type: 'ItemAdded', data: { sku: 'b' }, metadata: { user: 'u1' } },
      { type: 'Note', data_bin: '\\x' + allBytes.toString('hex') },
    ],
  };
  r = await client.query('SELECT * FROM eventstore.es_append($1)', [batch]);
  ok(r.rows.map((x) => x.version).join() === '1,2,3', 'batch versions');
  // Multi-stream: an array must be sent as JSON text (pg turns JS arrays into
  // PostgreSQL array literals).
  const transfer = [
    { stream: s('account-1'), expected_version: 0, events: [{ type: 'Debited', data: { amount: 30 } }] },
    { stream: s('account-2'), expected_version: 0, events: [{ type: 'Credited', data: { amount: 30 } }] },
  ];
  r = await client.query('SELECT * FROM eventstore.es_append($1)', [JSON.stringify(transfer)]);
  ok(r.rows.length === 2 && r.rows.every((x) => x.version === '1'), 'multi-stream');

  // Version conflict: ES001, and nothing was written.
  await expectCode(client, 'ES001', 'SELECT * FROM eventstore.es_append($1, $2, $3, $4)',
    [s('order'), 'Late', {}, 1], 'stale expected version');
  await expectCode(client, 'ES001', 'SELECT * FROM eventstore.es_append($1)',
    [JSON.stringify(transfer)], 'multi-stream conflict');
  r = await client.query('SELECT eventstore.es_stream_version($1) AS v', [s('account-2')]);
  ok(r.rows[0].v === '1', 'conflict wrote nothing');
  // Reused id: ES002; an identical retry is idempotent.
  await expectCode(client, 'ES002', 'SELECT * FROM eventstore.es_append($1, $2, $3, $4, $5, $6)',
    [s('other'), 'OrderPaid', {}, null, null, paidId], 'reused id');
  r = await client.query('SELECT * FROM eventstore.es_append($1, $2, $3, $4, $5, $6)',
    [s('order'), 'OrderPaid', JSON.stringify({ amount: 12.5 }), 1, { correlation_id: 'c-1' }, paidId]);
  ok(r.rows[0].version === '2', 'idempotent retry returns the stored version');

  // Load: payloads round-trip (JSON equal as values, binary byte-exact).
  r = await client.query('SELECT * FROM eventstore.es_load($1)', [s('order')]);
  ok(r.rows.length === 3, 'three events in the order stream');
  assert.deepStrictEqual(r.rows[0].data, json); checks++;
  assert.deepStrictEqual(r.rows[1].metadata, { correlation_id: 'c-1' }); checks++;
  ok(Buffer.isBuffer(r.rows[2].data_bin) && r.rows[2].data_bin.equals(allBytes), 'binary byte-exact');
  ok(r.rows[2].data === null, 'binary event has no JSON');
  r = await client.query('SELECT * FROM eventstore.es_load($1, $2, $3, $4)', [s('cart'), null, 2, true]);
  ok(r.rows.map((x) => x.version).join() === '3,2', 'backward page');
  ok(r.rows[0].data_bin.equals(allBytes), 'batch binary byte-exact');
  r = await client.query('SELECT * FROM eventstore.es_load($1, $2)', [s('blob'), 1]);
  ok(r.rows[0].data_bin.equals(allBytes) && r.rows[1].data.k === 1, 'blob stream');

  // Symbolic expected versions as string parameters.
  r = await client.query('SELECT * FROM eventstore.es_append($1, $2, $3, eventstore.es_expected_version($4))',
    [s('sym'), 'Opened', {}, 'no_stream']);
  ok(r.rows[0].version === '1', 'no_stream by name');
  await expectCode(client, 'ES001', 'SELECT * FROM eventstore.es_append($1, $2, $3, eventstore.es_expected_version($4))',
    [s('sym'), 'Opened', {}, 'no_stream'], 'no_stream on an existing stream');
  await expectCode(client, '22023', 'SELECT * FROM eventstore.es_append($1, $2, $3, eventstore.es_expected_version($4))',
    [s('sym'), 'Opened', {}, -2], 'an undocumented negative version');

  // A conflict handled by its SQLSTATE: reload the version and retry.
  let expected = 1;
  for (;;) {
    try {
      r = await client.query('SELECT * FROM eventstore.es_append($1, $2, $3, $4)',
        [s('order'), 'OrderNoted', { note: 1 }, expected]);
      break;
    } catch (err) {
      assert.strictEqual(err.code, 'ES001', err.message);
      expected = Number((await client.query('SELECT eventstore.es_stream_version($1) AS v', [s('order')])).rows[0].v);
    }
  }
  ok(expected === 3 && r.rows[0].version === '4', 'retry after a conflict');

  // Page the feed three events at a time from where this run began; an
  // untyped first argument would read a stream, so the position goes by name.
  const mine = { [s('order')]: 4, [s('sym')]: 1, [s('blob')]: 2, [s('cart')]: 3, [s('account-1')]: 1, [s('account-2')]: 1 };
  let last = head0;
  let seen = 0;
  for (;;) {
    r = await client.query('SELECT position, stream FROM eventstore.es_load(after_position => $1, max_count => $2)',
      [last, 3]);
    if (r.rows.length === 0) break;
    for (const row of r.rows) {
      ok(BigInt(row.position) > BigInt(last), 'feed positions increase');
      last = row.position;
      if (row.stream in mine) seen++;
    }
  }
  ok(seen === Object.values(mine).reduce((a, b) => a + b), `the feed shows each of this run's events once (${seen})`);

  // es_wait on a second connection wakes when this one appends.
  const waiter = await connect();
  const woke = waiter.query('SELECT eventstore.es_wait($1, $2) AS moved', [last, 60000]);
  await client.query('SELECT * FROM eventstore.es_append($1, $2)', [s('wake'), 'Wake']);
  ok((await woke).rows[0].moved === true, 'es_wait returns true once the feed moved');
  await waiter.end();

  // A consumer of a managed subscription (docs/subscriptions.md): fetch a
  // batch (waiting up to 1 s), handle it, ack it; consumers can come and go.
  const sub = `sc${run}`;
  await client.query('SELECT eventstore.es_create_subscription($1, category => $2)', [sub, sub]);
  for (let i = 0; i < 3; i++) await client.query('SELECT * FROM eventstore.es_append($1, $2)', [`${sub}-${i}`, 'Placed']);
  const handled = [];
  for (let round = 0; round < 20 && handled.length < 3; round++) {
    const batch = (await client.query('SELECT position, stream FROM eventstore.es_fetch($1, $2, 100, 1000)', [sub, 'node-1'])).rows;
    handled.push(...batch.map((e) => e.stream));                           // the handler
    await client.query('SELECT eventstore.es_ack($1, $2, $3)', [sub, 'node-1', batch.map((e) => e.position)]);
  }
  ok(handled.sort().join() === [0, 1, 2].map((i) => `${sub}-${i}`).join(), 'the consumer handled each event once');
  await client.query('SELECT eventstore.es_drop_subscription($1)', [sub]);

  // The server restarts between two calls: the next call fails, the client
  // reconnects and retries with the same event id (safe to repeat).
  execSync(process.env.ES_RESTART_CMD, { stdio: 'inherit' });
  const shippedId = crypto.randomUUID();
  const shipped = ['SELECT * FROM eventstore.es_append($1, $2, $3, $4, event_id => $5)',
    [s('order'), 'OrderShipped', { ok: true }, 4, shippedId]];
  let reconnects = 0;
  for (;;) {
    try {
      r = await client.query(...shipped);
      break;
    } catch (err) {
      // A server error says why (57P01: the server shut down); a dead socket
      // is a system error (EPIPE, ECONNRESET) or "Connection terminated".
      assert.ok(!(err instanceof DatabaseError) || /^(08|57P)/.test(err.code), `after the restart: ${err.message}`);
      assert.ok(++reconnects <= 150, `could not reconnect: ${err.message}`);
      client.end().catch(() => {});
      await new Promise((res) => setTimeout(res, 200));
      try { client = await connect(); } catch (e) { /* the server is not back yet */ }
    }
  }
  // Behind a transaction-mode pooler (ES_POOLED) the restart may not reach
  // the client at all: the pooler opens a fresh server connection.
  ok((reconnects > 0 || process.env.ES_POOLED) && r.rows[0].version === '5',
    'the call after the restart failed, the retry appended version 5');
  r = await client.query(...shipped);
  ok(r.rows[0].version === '5', 'a repeated retry returns the stored version');
  r = await client.query('SELECT eventstore.es_stream_version($1) AS v', [s('order')]);
  ok(r.rows[0].v === '5', 'a repeated retry writes nothing');

  await client.end();
  console.log(`node client: ${checks} checks passed`);
}

main().catch((err) => {
  console.error('node client FAILED:', err.message);
  process.exit(1);
});
