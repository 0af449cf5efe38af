// execute through the official SDK client: an allowed call reaches the real
// upstream with the credential injected by the vault, and the client never
// sees the credential; denied calls are isError results with a reason code
// and a next step, and never reach the upstream.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { McpError, ErrorCode } from '@modelcontextprotocol/sdk/types.js';

import {
  connect, execute, leakedForms, nonce, startStack, upstreamRequests, upstreamRequestsWith,
} from './harness.mjs';

let stack;
let session;
before(async () => {
  stack = await startStack();
  session = await connect(stack, { protocolVersion: '2025-11-25' });
});
after(async () => {
  await session?.close();
  await stack?.stop();
});

describe('execute allowed', () => {
  test('GET returns the upstream JSON as structuredContent', async () => {
    const tag = nonce();
    const result = await execute(session.client,
      { method: 'GET', path: '/v1/hello', query: { tag }, reason: 'SDK end-to-end test' });
    assert.notEqual(result.isError, true, JSON.stringify(result));
    const s = result.structuredContent;
    assert.equal(s.denied, false);
    assert.equal(s.status, 200);
    assert.equal(s.body_encoding, 'json');
    assert.equal(s.body_truncated, false);
    assert.match(s.headers['content-type'], /application\/json/);
    assert.ok(s.request_id);
    assert.equal(s.body.ok, true);
    assert.equal(s.body.echo.method, 'GET');
    assert.equal(s.body.echo.path, '/v1/hello');
    assert.equal(s.body.echo.query.tag, tag);
    // The text content says the same for clients that ignore structuredContent.
    assert.equal(result.content[0].type, 'text');
    assert.match(result.content[0].text, /HTTP 200/);
    assert.ok(result.content[0].text.includes(tag));
  });

  test('the upstream got Authorization: Bearer SECRET and the client never sees it', async () => {
    const tag = nonce();
    const body = JSON.stringify({ msg: 'hi', tag });
    const result = await execute(session.client, {
      method: 'POST', path: '/v1/items', query: { tag }, body,
      headers: { 'Content-Type': 'application/json' },
    });
    assert.notEqual(result.isError, true, JSON.stringify(result));
    assert.equal(result.structuredContent.status, 200);

    const seen = upstreamRequestsWith(stack, tag);
    assert.equal(seen.length, 1, 'exactly one request reached the upstream');
    assert.equal(seen[0].method, 'POST');
    assert.equal(seen[0].path, '/v1/items');
    assert.equal(seen[0].body, body);
    assert.equal(seen[0].headers.Authorization, `Bearer ${stack.secret}`);

    // The echo upstream reflects the Authorization header in its body and
    // in X-Echo-Authorization: the vault scrubbed both.
    const echoed = result.structuredContent.body.echo.headers.Authorization;
    assert.ok(echoed && !echoed.includes(stack.secret), echoed);
    assert.match(JSON.stringify(result), /REDACTED/);
    // Nothing the client received, on any message, holds the secret in any
    // encoding.
    assert.deepEqual(leakedForms(session.transport.receivedText(), stack.secret), []);
    assert.deepEqual(leakedForms(session.stderr(), stack.secret), []);
  });
});

describe('execute denied', () => {
  const cases = [
    { method: 'GET', path: '/v1/admin/users', code: 'RULE_DENY' },
    { method: 'DELETE', path: '/v1/hello', code: 'NO_RULE_MATCHED' },
    { method: 'GET', path: '/v1/../admin', code: 'NO_RULE_MATCHED' },
    { method: 'GET', path: '/v1/../../etc/passwd', code: 'PATH_REJECTED' },
    { method: 'GET', path: '/v1/%2e%2e/v1/admin/x', code: 'RULE_DENY' },
  ];
  for (const { method, path, code } of cases) {
    test(`${method} ${path} is denied with ${code}`, async () => {
      const tag = nonce();
      const before = upstreamRequests(stack).length;
      const result = await execute(session.client, { method, path, query: { tag } });
      assert.equal(result.isError, true, JSON.stringify(result));
      const s = result.structuredContent;
      assert.equal(s.denied, true);
      assert.equal(s.code, code);
      assert.ok(s.message.length > 0);
      assert.ok(s.next_step.length > 0, 'a denial says what to do next');
      assert.ok(s.request_id);
      assert.match(result.content[0].text, new RegExp(`\\(${code}\\)`));
      assert.match(result.content[0].text, /What to do:/);
      assert.deepEqual(upstreamRequestsWith(stack, tag), [], 'a denied request reached the upstream');
      assert.equal(upstreamRequests(stack).length, before);
    });
  }

  test('an unknown capability is denied with CAPABILITY_NOT_FOUND', async () => {
    const result = await session.client.callTool({
      name: 'execute', arguments: { capability: 'no-such-api', method: 'GET', path: '/v1/x' },
    });
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent.code, 'CAPABILITY_NOT_FOUND');
    assert.match(result.structuredContent.next_step, /list_capabilities/);
  });

  test('bad arguments are an isError result the model can read', async () => {
    const result = await session.client.callTool({
      name: 'execute', arguments: { capability: 'demo-api', method: 'GET' },
    });
    assert.equal(result.isError, true);
    assert.match(result.content[0].text, /path/);
  });

  test('an unknown tool is a JSON-RPC -32602 error', async () => {
    await assert.rejects(
      session.client.callTool({ name: 'get_the_key', arguments: {} }),
      (error) => error instanceof McpError && error.code === ErrorCode.InvalidParams,
    );
  });

  test('the adapter keeps serving after all of the above', async () => {
    assert.deepEqual(await session.client.ping(), {});
    assert.deepEqual(leakedForms(session.transport.receivedText(), stack.secret), []);
    assert.deepEqual(session.errors, []);
  });
});
