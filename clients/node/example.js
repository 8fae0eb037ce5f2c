#!/usr/bin/env node
// Switchboard from Node.js: @grpc/grpc-js with stubs loaded from ../../proto at run time by
// @grpc/proto-loader (generated/ holds matching TypeScript declarations, see regen.sh).
//
//   node example.js --server localhost:50051 --api-key sk_test_switchboard
//
// Three scenarios, each checked as it goes (an unexpected answer throws and the program exits
// non-zero): a users round-trip, a payment created twice under one idempotency key (one
// payment), and a chat session that joins, hears itself and leaves.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.join(__dirname, '..', '..', 'proto');
// The same options regen.sh gives proto-loader-gen-types: field names as in the .proto,
// int64 as decimal strings (no precision lost), enums by name, oneofs named.
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
// Every call gets a deadline: a server that does not answer fails the example, never hangs it.
const DEADLINE_MS = 10_000;

function load() {
  const files = ['users', 'payments', 'chat'].map((name) => `switchboard/v1/${name}.proto`);
  const definition = protoLoader.loadSync(files, { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  return grpc.loadPackageDefinition(definition).switchboard.v1;
}

const deadline = () => ({ deadline: Date.now() + DEADLINE_MS });

/** Calls a unary method as a promise. */
function call(client, method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, deadline(), (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** Asserts that a call fails with the gRPC status `code`; returns the error. */
async function expectCode(code, promise) {
  try {
    await promise;
  } catch (error) {
    assert.equal(error.code, code, `expected status ${code}, got ${error.code}: ${error.details}`);
    return error;
  }
  assert.fail(`expected status ${code}, but the call succeeded`);
}

function metadata(pairs) {
  const result = new grpc.Metadata();
  for (const [key, value] of Object.entries(pairs)) result.set(key, value);
  return result;
}

async function usersRoundTrip(v1, channel) {
  const users = new v1.UserService(null, null, { channelOverride: channel });
  const suffix = crypto.randomUUID().slice(0, 8);
  const email = `node-${suffix}@example.com`;
  const created = await call(users, 'CreateUser', { user: { username: `node-${suffix}`, email, age: 30 } });
  assert.ok(Number(created.id) > 0, `CreateUser returned ${JSON.stringify(created)}`);
  assert.equal(created.email, email);

  const got = await call(users, 'GetUser', { id: created.id });
  assert.equal(got.username, `node-${suffix}`);
  assert.equal(got.age, 30);

  const updated = await call(users, 'UpdateUser', {
    user: { id: created.id, age: 31 },
    update_mask: { paths: ['age'] },
  });
  assert.equal(updated.age, 31);
  assert.equal(updated.email, email, 'fields outside the mask stay');

  const listed = await call(users, 'ListUsers', { query: suffix });
  assert.deepEqual(listed.users.map((u) => u.id), [created.id]);

  const invalid = await expectCode(
    grpc.status.INVALID_ARGUMENT,
    call(users, 'CreateUser', { user: { username: 'x', email: 'not-an-email', age: 1 } }),
  );
  assert.match(invalid.details, /user\.email/, 'the error names the bad field');

  await call(users, 'DeleteUser', { id: created.id });
  await expectCode(grpc.status.NOT_FOUND, call(users, 'GetUser', { id: created.id }));
  console.log(`users: created, read, updated, listed and deleted user ${created.id}`);
}

async function paymentWithIdempotencyKey(v1, channel, apiKey) {
  const payments = new v1.PaymentService(null, null, { channelOverride: channel });
  const key = `node-order-${crypto.randomUUID()}`;
  const request = { amount_minor: '9999', currency: 'USD', customer_id: 'cust_node', description: 'Node example' };
  const withKeys = () => metadata({ 'x-api-key': apiKey, 'idempotency-key': key });

  const first = await call(payments, 'CreatePayment', request, withKeys());
  assert.match(first.id, /^pay_[0-9a-f]{32}$/);
  assert.equal(first.status, 'SUCCEEDED');
  assert.equal(first.amount_minor, '9999');

  // A retry (say, after a timeout) with the same key is the same payment, not a second one.
  const retry = await call(payments, 'CreatePayment', request, withKeys());
  assert.equal(retry.id, first.id, 'the same idempotency key must give the same payment');

  // The same key for a different request is refused.
  await expectCode(
    grpc.status.INVALID_ARGUMENT,
    call(payments, 'CreatePayment', { ...request, amount_minor: '1' }, withKeys()),
  );

  const got = await call(payments, 'GetPayment', { id: first.id }, metadata({ 'x-api-key': apiKey }));
  assert.equal(got.id, first.id);
  assert.equal(got.status, 'SUCCEEDED');
  await expectCode(grpc.status.UNAUTHENTICATED, call(payments, 'GetPayment', { id: first.id }));
  console.log(`payments: ${first.id} created once under idempotency-key ${key}`);
}

function chatSession(v1, channel, name) {
  const chat = new v1.ChatService(null, null, { channelOverride: channel });
  const text = `hello from ${name}`;
  const seen = [];
  return new Promise((resolve, reject) => {
    const stream = chat.Chat(new grpc.Metadata(), deadline());
    const fail = (error) => {
      stream.cancel();
      reject(error);
    };
    stream.on('data', (event) => {
      try {
        seen.push(event.event);
        if (event.event === 'welcome') {
          assert.equal(event.welcome.name, name);
          assert.ok(event.welcome.members.includes(name), `${name} is among the members`);
          stream.write({ say: { text } });
        } else if (event.event === 'message' && event.message.text === text) {
          assert.equal(event.message.from, name);
          assert.ok(Number(event.sequence) > 0, 'a room message has a sequence number');
          stream.write({ list_members: {} });
        } else if (event.event === 'members') {
          assert.ok(event.members.names.includes(name), `${name} is in ${event.members.names}`);
          stream.write({ quit: {} });
        }
      } catch (error) {
        fail(error);
      }
    });
    stream.on('error', fail);
    stream.on('end', () => {
      try {
        assert.equal(seen[0], 'welcome', `the first event is the welcome: ${seen}`);
        for (const kind of ['message', 'members', 'goodbye']) {
          assert.ok(seen.includes(kind), `the session saw a ${kind} event: ${seen}`);
        }
        console.log(`chat: ${name} joined, heard its own message, saw the member list and left`);
        resolve();
      } catch (error) {
        reject(error);
      }
    });
    stream.write({ join: { name } });
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      server: { type: 'string', default: process.env.SWITCHBOARD_SERVER ?? 'localhost:50051' },
      'api-key': { type: 'string', default: process.env.SWITCHBOARD_API_KEY ?? 'sk_test_switchboard' },
      name: { type: 'string', default: `node-${crypto.randomUUID().slice(0, 6)}` },
      scenario: { type: 'string', default: 'all' },
    },
  });
  const scenarios = {
    users: (v1, channel) => usersRoundTrip(v1, channel),
    payments: (v1, channel) => paymentWithIdempotencyKey(v1, channel, values['api-key']),
    chat: (v1, channel) => chatSession(v1, channel, values.name),
  };
  if (values.scenario !== 'all' && !(values.scenario in scenarios)) {
    throw new Error(`--scenario must be all, users, payments or chat, not ${values.scenario}`);
  }
  const chosen = values.scenario === 'all' ? Object.keys(scenarios) : [values.scenario];
  const v1 = load();
  // One channel shared by every stub: one HTTP/2 connection.
  const channel = new grpc.Channel(values.server, grpc.credentials.createInsecure(), {});
  try {
    for (const name of chosen) await scenarios[name](v1, channel);
  } finally {
    channel.close();
  }
  console.log('node example: all checks passed');
}

main().catch((error) => {
  console.error(`FAILED: ${error.details ?? error.message}`);
  process.exitCode = 1;
});
