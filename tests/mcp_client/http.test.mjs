// The official SDK client's StreamableHTTPClientTransport against
// latchkey-mcp --http and the real stack: handshake, sessions, tool calls
// with progress on an event stream, log messages, bearer token and Origin
// checks, session termination.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

import { leakedForms, nonce, startStack, upstreamRequestsWith } from './harness.mjs';
import { startHttpAdapter } from './http_adapter.mjs';

let stack;
let adapter;
before(async () => {
  stack = await startStack();
  adapter = await startHttpAdapter(stack);
});
after(async () => {
  const code = await adapter?.stop();
  assert.equal(code, 0, `latchkey-mcp --http exit code\n${adapter?.stderr()}`);
  await stack?.stop();
});

async function connectHttp({ headers = adapter.headers } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(adapter.url),
    { requestInit: { headers } });
  const client = new Client({ name: 'latchkey-http-test', version: '1.0.0' }, { capabilities: {} });
  const received = [];
  const errors = [];
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  const inner = transport.onmessage;
  transport.onmessage = (message, extra) => {
    received.push(JSON.stringify(message));
    inner?.(message, extra);
  };
  return { client, transport, received, errors };
}

async function post(body, headers) {
  return fetch(adapter.url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

const initialize = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'fetch', version: '1' } },
};

describe('Streamable HTTP with the SDK client', () => {
  test('handshake negotiates 2025-11-25 and opens a session', async () => {
    const { client, transport } = await connectHttp();
    try {
      assert.match(transport.sessionId, /^[0-9a-f]{32}$/);
      assert.equal(transport.protocolVersion, '2025-11-25');
      assert.equal(client.getServerVersion().name, 'latchkey-mcp');
      assert.equal(client.getServerCapabilities().tools.listChanged, true);
      const { tools } = await client.listTools();
      const names = tools.map((tool) => tool.name);
      for (const name of ['list_capabilities', 'execute', 'session_status']) {
        assert.ok(names.includes(name), `${name} in ${names}`);
      }
    } finally {
      await client.close();
    }
  });

  test('execute reaches the upstream, reports progress, and never shows the secret', async () => {
    const { client, received, errors } = await connectHttp();
    try {
      const tag = nonce();
      const progress = [];
      const result = await client.callTool(
        { name: 'execute', arguments: { capability: 'demo-api', method: 'GET', path: '/v1/hello', query: { tag } } },
        undefined, { onprogress: (p) => progress.push(p) });
      assert.notEqual(result.isError, true, JSON.stringify(result));
      assert.equal(result.structuredContent.status, 200);
      assert.equal(result.structuredContent.body.echo.query.tag, tag);
      assert.equal(progress.length, 1, JSON.stringify(progress));
      assert.equal(progress[0].progress, 0);
      const seen = upstreamRequestsWith(stack, tag);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].headers.Authorization, `Bearer ${stack.secret}`);
      const text = received.join('\n') + JSON.stringify(result);
      assert.deepEqual(leakedForms(text, stack.secret), []);
      assert.deepEqual(errors, []);
    } finally {
      await client.close();
    }
  });

  test('log messages reach the client over HTTP', async () => {
    const { client } = await connectHttp();
    try {
      const messages = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema,
        (note) => { messages.push(note.params); });
      await client.setLoggingLevel('info');
      const status = await client.callTool({ name: 'session_status', arguments: {} });
      assert.notEqual(status.isError, true, JSON.stringify(status));
      const deadline = Date.now() + 10_000;
      while (!messages.some((m) => m.data?.event === 'session_opened') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(messages.some((m) => m.data?.event === 'session_opened'), JSON.stringify(messages));
    } finally {
      await client.close();
    }
  });

  test('two clients get two independent sessions', async () => {
    const a = await connectHttp();
    const b = await connectHttp();
    try {
      assert.notEqual(a.transport.sessionId, b.transport.sessionId);
      const [ra, rb] = await Promise.all([
        a.client.callTool({ name: 'session_status', arguments: {} }),
        b.client.callTool({ name: 'session_status', arguments: {} }),
      ]);
      assert.notEqual(ra.isError, true);
      assert.notEqual(rb.isError, true);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  test('a terminated session is gone', async () => {
    const { client, transport } = await connectHttp();
    const id = transport.sessionId;
    await transport.terminateSession();
    await client.close();
    const response = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { ...adapter.headers, 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-11-25' });
    assert.equal(response.status, 404);
  });
});

describe('Streamable HTTP guards', () => {
  test('no or wrong bearer token is 401 and opens nothing', async () => {
    const none = await post(initialize, {});
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'), /^Bearer/);
    const wrong = await post(initialize, { Authorization: `Bearer x${adapter.token}` });
    assert.equal(wrong.status, 401);
    const body = await wrong.json();
    assert.match(body.error.message, /Authorization: Bearer/);
    assert.ok(!JSON.stringify(body).includes(adapter.token));
  });

  test('the SDK client without the token fails to connect', async () => {
    await assert.rejects(connectHttp({ headers: {} }), /401|Unauthorized/);
  });

  test('a foreign Origin is 403 (DNS rebinding)', async () => {
    const response = await post(initialize, { ...adapter.headers, Origin: 'http://attacker.example' });
    assert.equal(response.status, 403);
  });

  test('a loopback Origin is served', async () => {
    const origin = new URL(adapter.url).origin;
    const response = await post(initialize, { ...adapter.headers, Origin: origin });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('mcp-session-id'), /^[0-9a-f]{32}$/);
    const body = await response.json();
    assert.equal(body.result.protocolVersion, '2025-11-25');
  });

  test('a non-loopback --http address is refused at start', () => {
    for (const address of ['0.0.0.0:0', '192.0.2.1:8765', '[::]:0']) {
      const run = spawnSync(stack.mcp_binary, [`--broker_socket=${stack.broker_socket}`, `--http=${address}`], {
        env: { LATCHKEY_AGENT_TOKEN: stack.agent_token, LATCHKEY_MCP_HTTP_TOKEN: adapter.token },
        encoding: 'utf8', timeout: 20_000,
      });
      assert.equal(run.status, 2, `${address}: ${run.stderr}`);
      assert.match(run.stderr, /only listens on loopback/);
    }
  });
});
