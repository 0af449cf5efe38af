// The initialize handshake, driven by the official SDK Client, on every
// protocol revision latchkey-mcp supports and on an unknown one; and
// tools/list with its schemas as each revision defines them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, NEWEST_VERSION, startStack, SUPPORTED_VERSIONS } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

const TOOL_NAMES = ['execute', 'explain_access', 'list_capabilities', 'session_status',
  'test_capability', 'whoami'];

describe('handshake', () => {
  for (const version of SUPPORTED_VERSIONS) {
    test(`protocol revision ${version} is negotiated as requested`, async () => {
      const session = await connect(stack, { protocolVersion: version });
      try {
        assert.equal(session.transport.initializeResult.protocolVersion, version);
        const info = session.client.getServerVersion();
        assert.equal(info.name, 'latchkey-mcp');
        assert.ok(info.version);
        const capabilities = session.client.getServerCapabilities();
        assert.ok(capabilities.tools, 'server announces tools');
        assert.equal(capabilities.tools.listChanged, true);
        assert.ok(capabilities.logging, 'server announces logging');
        assert.match(session.client.getInstructions() ?? '', /list_capabilities/);
        // The session is usable after the handshake.
        assert.deepEqual(await session.client.ping(), {});
        const { tools } = await session.client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);
        const result = await session.client.callTool({ name: 'list_capabilities', arguments: {} });
        assert.notEqual(result.isError, true);
        assert.match(result.content[0].text, /demo-api/);
        // structuredContent exists from 2025-06-18 on, only text before.
        assert.equal('structuredContent' in result, version >= '2025-06-18');
        assert.deepEqual(session.errors, []);
      } finally {
        await session.close();
      }
    });
  }

  test('an unknown protocol revision is answered with the newest supported one', async () => {
    const session = await connect(stack, { protocolVersion: '2099-01-01' });
    try {
      assert.equal(session.transport.initializeResult.protocolVersion, NEWEST_VERSION);
      assert.deepEqual(await session.client.ping(), {});
      const { tools } = await session.client.listTools();
      assert.equal(tools.length, TOOL_NAMES.length);
    } finally {
      await session.close();
    }
  });

  test('the SDK default (its newest revision) is accepted as is', async () => {
    const session = await connect(stack);
    try {
      const sent = JSON.parse(session.transport.sent[0]);
      assert.equal(sent.method, 'initialize');
      assert.equal(session.transport.initializeResult.protocolVersion, sent.params.protocolVersion);
    } finally {
      await session.close();
    }
  });
});

describe('tools/list', () => {
  test('every tool has a JSON Schema input and output schema (2025-06-18 and later)', async () => {
    const session = await connect(stack, { protocolVersion: '2025-06-18' });
    try {
      const { tools } = await session.client.listTools();
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      for (const name of TOOL_NAMES) {
        const tool = byName[name];
        assert.ok(tool, name);
        assert.ok(tool.description.length > 80, `${name} has a real description`);
        assert.ok(tool.title, `${name} has a title`);
        assert.equal(tool.inputSchema.type, 'object');
        assert.equal(tool.outputSchema.type, 'object');
        assert.ok(tool.annotations, `${name} has annotations`);
      }
      const input = byName.execute.inputSchema;
      assert.deepEqual([...input.required].sort(), ['capability', 'method', 'path']);
      for (const property of ['capability', 'method', 'path', 'query', 'headers', 'body', 'reason']) {
        assert.ok(input.properties[property], `execute takes ${property}`);
      }
      assert.equal(input.additionalProperties, false);
      assert.equal(byName.execute.annotations.readOnlyHint, false);
      assert.equal(byName.list_capabilities.annotations.readOnlyHint, true);
      assert.ok(byName.execute.outputSchema.properties.next_step);
      assert.deepEqual(byName.list_capabilities.inputSchema.properties, {});
      // No credential-shaped field is offered to the model.
      const text = JSON.stringify(tools).toLowerCase();
      assert.ok(!text.includes('"token"') && !text.includes('"secret_id"'));
    } finally {
      await session.close();
    }
  });

  test('2024-11-05 clients get no outputSchema, title or annotations', async () => {
    const session = await connect(stack, { protocolVersion: '2024-11-05' });
    try {
      const { tools } = await session.client.listTools();
      for (const tool of tools) {
        assert.equal(tool.inputSchema.type, 'object');
        assert.equal(tool.outputSchema, undefined, tool.name);
        assert.equal(tool.annotations, undefined, tool.name);
        assert.equal(tool.title, undefined, tool.name);
      }
    } finally {
      await session.close();
    }
  });

  test('2025-03-26 clients get annotations but no outputSchema', async () => {
    const session = await connect(stack, { protocolVersion: '2025-03-26' });
    try {
      const { tools } = await session.client.listTools();
      for (const tool of tools) {
        assert.ok(tool.annotations, tool.name);
        assert.equal(tool.outputSchema, undefined, tool.name);
      }
    } finally {
      await session.close();
    }
  });
});
