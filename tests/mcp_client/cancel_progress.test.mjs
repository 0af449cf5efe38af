// Cancellation (AbortSignal → notifications/cancelled) of a call in flight
// at a slow upstream, and progress notifications for a progressToken, both
// as the official SDK client does them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, execute, nonce, startStack, upstreamRequestsWith, waitFor } from './harness.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

function receivedMethods(session, method) {
  return session.transport.received.map((line) => JSON.parse(line)).filter((m) => m.method === method);
}

describe('cancellation', () => {
  test('aborting an in-flight execute cancels it and no response follows', async () => {
    const session = await connect(stack);
    try {
      const tag = nonce();
      const slowMs = 3000;
      const started = Date.now();
      const controller = new AbortController();
      const progress = [];
      const call = execute(session.client,
        { method: 'GET', path: '/v1/slow', query: { ms: String(slowMs), tag } },
        { signal: controller.signal, onprogress: (p) => progress.push(p) });
      // Abort once the request is really waiting at the upstream.
      await waitFor(() => upstreamRequestsWith(stack, tag).length === 1,
        { what: 'the slow request at the upstream' });
      const abortedAt = Date.now();
      controller.abort(new Error('user pressed stop'));
      await assert.rejects(call, /user pressed stop|abort/i);
      assert.ok(Date.now() - abortedAt < 1000, 'the client is released at once');

      // The SDK told the server; the adapter cancelled the broker call.
      const cancelled = session.transport.sent.map((line) => JSON.parse(line))
        .filter((m) => m.method === 'notifications/cancelled');
      assert.equal(cancelled.length, 1);
      const callMessage = session.transport.sent.map((line) => JSON.parse(line))
        .find((m) => m.method === 'tools/call' && m.params.arguments.query?.tag === tag);
      assert.equal(cancelled[0].params.requestId, callMessage.id);
      await waitFor(() => session.stderr().includes('"tool_call_cancelled"'),
        { what: 'the adapter to log tool_call_cancelled' });

      // Wait past the upstream's answer: no late response and no "done"
      // progress for the cancelled request reach the client (the SDK would
      // report either as an error).
      await sleep(Math.max(0, started + slowMs + 700 - Date.now()));
      assert.deepEqual(session.errors.map(String), []);
      const responses = session.transport.received.map((line) => JSON.parse(line))
        .filter((m) => m.id === callMessage.id);
      assert.deepEqual(responses, [], 'a cancelled request gets no response');
      assert.deepEqual(progress.map((p) => p.progress), [0], 'only the start was reported');

      // The session goes on: ping and a new call work.
      assert.deepEqual(await session.client.ping(), {});
      const next = await execute(session.client, { method: 'GET', path: '/v1/after-cancel' });
      assert.equal(next.structuredContent.status, 200);
    } finally {
      await session.close();
    }
  });
});

describe('progress', () => {
  test('a progressToken gets a progress notification while the call runs', async () => {
    const session = await connect(stack);
    try {
      const progress = [];
      let resolved = false;
      const result = await execute(session.client,
        { method: 'GET', path: '/v1/slow', query: { ms: '500' } },
        { onprogress: (p) => progress.push({ ...p, afterResult: resolved }) })
        .finally(() => { resolved = true; });
      assert.equal(result.structuredContent.status, 200);
      // One notification when the call starts (progress 0 of 1); the result
      // marks completion. No terminal notification adjacent to the response:
      // SDK 1.x would report it as an unknown-token error
      // (modelcontextprotocol/typescript-sdk#2580).
      assert.deepEqual(progress.map((p) => [p.progress, p.total, p.afterResult]), [[0, 1, false]]);
      assert.match(progress[0].message, /execute/);
      // It carried the SDK's progress token.
      const notes = receivedMethods(session, 'notifications/progress');
      const call = session.transport.sent.map((line) => JSON.parse(line))
        .find((m) => m.method === 'tools/call');
      assert.equal(notes.length, 1);
      assert.equal(notes[0].params.progressToken, call.params._meta.progressToken);
      // Progress came before the response on the wire.
      const lines = session.transport.received.map((line) => JSON.parse(line));
      const noteAt = lines.findIndex((m) => m.method === 'notifications/progress');
      const responseAt = lines.findIndex((m) => m.id === call.id);
      assert.ok(noteAt >= 0 && noteAt < responseAt);
      assert.deepEqual(session.errors.map(String), []);
    } finally {
      await session.close();
    }
  });

  test('progress works for every tool, not only execute', async () => {
    const session = await connect(stack);
    try {
      const progress = [];
      const result = await session.client.callTool(
        { name: 'session_status', arguments: {} }, undefined,
        { onprogress: (p) => progress.push(p) });
      assert.notEqual(result.isError, true);
      assert.deepEqual(progress.map((p) => p.progress), [0]);
      assert.match(progress[0].message, /session_status/);
      assert.deepEqual(session.errors.map(String), []);
    } finally {
      await session.close();
    }
  });

  test('without a progressToken no progress is sent', async () => {
    const session = await connect(stack);
    try {
      const result = await execute(session.client, { method: 'GET', path: '/v1/hello' });
      assert.equal(result.structuredContent.status, 200);
      assert.deepEqual(receivedMethods(session, 'notifications/progress'), []);
    } finally {
      await session.close();
    }
  });
});
