// eventstore from Node with node-postgres, which sends every parameter
// untyped (type OID 0): the server must resolve es_append / es_load without
// "function is not unique" errors.  Buffers travel as binary parameters.
// Connects with the PG* environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
// Exits non-zero on the first failed check.
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const { Client } = require('pg');

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

async function main() {
  const client = new Client();
  await client.connect();
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

  await client.end();
  console.log(`node client: ${checks} checks passed`);
}

main().catch((err) => {
  console.error('node client FAILED:', err.message);
  process.exit(1);
});
