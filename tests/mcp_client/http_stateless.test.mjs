// The stateless revision 2026-07-28 against the real stack, over stdio and
// over HTTP: no initialize, the protocol version and client capabilities
// in every request's _meta, server/discover, and a real execute.
// (The SDK client pinned here predates 2026-07-28, so the wire messages are
// written by hand.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';

import { leakedForms, nonce, startStack, upstreamRequestsWith } from './harness.mjs';
import { startHttpAdapter } from './http_adapter.mjs';

const VERSION = '2026-07-28';
const meta = {
  'io.modelcontextprotocol/protocolVersion': VERSION,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'stateless-test', version: '1' },
};

let stack;
let adapter;
before(async () => {
  stack = await startStack();
  adapter = await startHttpAdapter(stack);
});
after(async () => {
  await adapter?.stop();
  await stack?.stop();
});

// StdioPeer speaks newline-delimited JSON-RPC to a latchkey-mcp process.
class StdioPeer {
  constructor() {
    this.child = spawn(stack.mcp_binary, [`--broker_socket=${stack.broker_socket}`], {
      env: { LATCHKEY_AGENT_TOKEN: stack.agent_token }, stdio: ['pipe', 'pipe', 'ignore'],
    });
    this.waiting = new Map();
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const message = JSON.parse(line);
      const resolve = this.waiting.get(message.id);
      if (resolve) { this.waiting.delete(message.id); resolve(message); }
    });
  }

  request(id, method, params = {}) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${method} in 20 s`)), 20_000);
      this.waiting.set(id, (message) => { clearTimeout(timer); resolve(message); });
      this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  close() {
    this.child.stdin.end();
    return new Promise((resolve) => this.child.once('exit', resolve));
  }
}

// httpRequest POSTs one stateless message; resolves to the JSON-RPC answer
// (the last message of an event stream, or the JSON body) and the status.
async function httpRequest(id, method, params = {}) {
  const response = await fetch(adapter.url, {
    method: 'POST',
    headers: {
      ...adapter.headers,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': VERSION,
      'Mcp-Method': method,
      ...(params.name ? { 'Mcp-Name': params.name } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
  });
  const text = await response.text();
  let message;
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const events = text.split('\n\n').filter((e) => e.startsWith('event: message\ndata: '));
    message = JSON.parse(events.at(-1).slice('event: message\ndata: '.length));
  } else {
    message = JSON.parse(text);
  }
  return { status: response.status, message, text, sessionId: response.headers.get('mcp-session-id') };
}

function checkDiscover(result) {
  assert.equal(result.resultType, 'complete');
  assert.deepEqual(result.supportedVersions,
    ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']);
  assert.ok(result.capabilities.tools);
  assert.equal(result.serverInfo.name, 'latchkey-mcp');
  assert.ok(result.instructions.length > 0);
}

function checkExecute(message, tag, text) {
  assert.ok(message.result, JSON.stringify(message));
  assert.equal(message.result.resultType, 'complete');
  assert.notEqual(message.result.isError, true, JSON.stringify(message));
  assert.equal(message.result.structuredContent.status, 200);
  assert.equal(upstreamRequestsWith(stack, tag).length, 1);
  assert.deepEqual(leakedForms(text, stack.secret), []);
}

function executeParams(tag) {
  return {
    name: 'execute',
    arguments: { capability: 'demo-api', method: 'GET', path: '/v1/hello', query: { tag } },
    _meta: meta,
  };
}

describe('2026-07-28 over stdio', () => {
  test('server/discover, tools/list and execute without initialize', async () => {
    const peer = new StdioPeer();
    try {
      const discover = await peer.request(1, 'server/discover', { _meta: meta });
      checkDiscover(discover.result);
      const list = await peer.request(2, 'tools/list', { _meta: meta });
      assert.equal(list.result.resultType, 'complete');
      assert.ok(list.result.tools.some((t) => t.name === 'execute'));
      const tag = nonce();
      const call = await peer.request(3, 'tools/call', executeParams(tag));
      checkExecute(call, tag, JSON.stringify(call));
      // The handshake revisions still work on the same process.
      const init = await peer.request(4, 'initialize', {
        protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'legacy', version: '1' },
      });
      assert.equal(init.result.protocolVersion, '2025-11-25');
    } finally {
      await peer.close();
    }
  });

  test('an unsupported _meta version is -32022 with the supported list', async () => {
    const peer = new StdioPeer();
    try {
      const answer = await peer.request(1, 'tools/list',
        { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } });
      assert.equal(answer.error.code, -32022);
      assert.deepEqual(answer.error.data.supported, ['2026-07-28']);
    } finally {
      await peer.close();
    }
  });

  test('initialize asking for 2026-07-28 gets the newest handshake revision', async () => {
    const peer = new StdioPeer();
    try {
      const init = await peer.request(1, 'initialize', {
        protocolVersion: '2026-07-28', capabilities: {}, clientInfo: { name: 'x', version: '1' },
      });
      assert.equal(init.result.protocolVersion, '2025-11-25');
    } finally {
      await peer.close();
    }
  });
});

describe('2026-07-28 over HTTP', () => {
  test('server/discover and execute with no session', async () => {
    const discover = await httpRequest(1, 'server/discover', { _meta: meta });
    assert.equal(discover.status, 200);
    assert.equal(discover.sessionId, null);
    checkDiscover(discover.message.result);
    const tag = nonce();
    const call = await httpRequest(2, 'tools/call', executeParams(tag));
    assert.equal(call.status, 200);
    checkExecute(call.message, tag, call.text);
  });

  test('an unsupported _meta version is HTTP 400 with -32022', async () => {
    const answer = await fetch(adapter.url, {
      method: 'POST',
      headers: { ...adapter.headers, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 1, method: 'tools/list',
        params: { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } },
      }),
    });
    assert.equal(answer.status, 400);
    assert.equal((await answer.json()).error.code, -32022);
  });
});
