// Revocation mid-session: an operator revokes the adapter's broker session
// with latchkeyctl (BrokerAdmin.RevokeSession) while the SDK client is
// connected; the next execute is refused with SESSION_REVOKED, the client
// gets notifications/tools/list_changed, and the adapter does not quietly
// open a new session.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  LoggingMessageNotificationSchema, ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

import { connect, ctl, execute, nonce, startStack, upstreamRequestsWith, waitFor } from './harness.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

async function sessionPrefix(client) {
  const status = await client.callTool({ name: 'session_status', arguments: {} });
  assert.notEqual(status.isError, true, JSON.stringify(status));
  return status.structuredContent;
}

async function brokerSession(prefix) {
  const { sessions = [] } = await ctl(stack, 'session', 'list');
  const matching = sessions.filter((s) => s.id.startsWith(prefix));
  assert.equal(matching.length, 1, `one broker session starts with ${prefix}`);
  return matching[0];
}

describe('revocation', () => {
  test('a session revoked by an operator refuses the next execute with SESSION_REVOKED', async () => {
    const session = await connect(stack);
    const logs = [];
    session.client.setNotificationHandler(LoggingMessageNotificationSchema,
      (note) => { logs.push(note.params); });
    let listChanged = 0;
    session.client.setNotificationHandler(ToolListChangedNotificationSchema,
      () => { listChanged += 1; });
    try {
      const ok = await execute(session.client, { method: 'GET', path: '/v1/before' });
      assert.equal(ok.structuredContent.status, 200);
      const status = await sessionPrefix(session.client);
      assert.equal(status.revoked, false);
      assert.equal(status.session_id_prefix.length, 8);
      assert.deepEqual(status.capabilities, ['demo-api']);
      // The client only ever sees a prefix of the session id.
      const full = await brokerSession(status.session_id_prefix);
      assert.ok(!session.transport.receivedText().includes(full.id));

      const revoked = await ctl(stack, 'session', 'revoke', full.id);
      assert.equal(revoked.revoked, true);

      const tag = nonce();
      const denied = await execute(session.client, { method: 'GET', path: '/v1/after', query: { tag } });
      assert.equal(denied.isError, true, JSON.stringify(denied));
      assert.equal(denied.structuredContent.denied, true);
      assert.equal(denied.structuredContent.code, 'SESSION_REVOKED');
      assert.match(denied.structuredContent.next_step, /\S/);
      assert.match(denied.content[0].text, /SESSION_REVOKED/);
      assert.deepEqual(upstreamRequestsWith(stack, tag), [], 'the revoked request reached the upstream');

      // The client is told that what it may use changed, once.
      await waitFor(() => listChanged === 1, { what: 'notifications/tools/list_changed' });
      const { tools } = await session.client.listTools();
      assert.equal(tools.length, 6, 'the tools stay; session_status explains');

      // The revocation is reported to the client as an error log message.
      await waitFor(() => logs.some((l) => l.data?.event === 'session_revoked'),
        { what: 'a session_revoked log notification' });
      const log = logs.find((l) => l.data?.event === 'session_revoked');
      assert.equal(log.level, 'error');
      assert.equal(log.data.session_id_prefix, status.session_id_prefix);

      // Not replaced: session_status says revoked, and it stays refused.
      const after = await session.client.callTool({ name: 'session_status', arguments: {} });
      assert.equal(after.isError, true);
      assert.equal(after.structuredContent.revoked, true);
      assert.equal(after.structuredContent.session_id_prefix, status.session_id_prefix);
      assert.match(after.content[0].text, /REVOKED/);
      const again = await execute(session.client, { method: 'GET', path: '/v1/again' });
      assert.equal(again.structuredContent.code, 'SESSION_REVOKED');
      const { sessions = [] } = await ctl(stack, 'session', 'list');
      // This stack has had no other adapter yet.
      const open = sessions.filter((s) => !s.revoked);
      assert.deepEqual(open, [], 'the adapter opened no new session');
      assert.equal(listChanged, 1, 'list_changed is sent once per revocation');
      assert.deepEqual(session.errors.map(String), []);
    } finally {
      await session.close();
    }
  });

  test('another adapter (another session) is unaffected by the revocation', async () => {
    const first = await connect(stack);
    const second = await connect(stack);
    try {
      const a = await sessionPrefix(first.client);
      const b = await sessionPrefix(second.client);
      assert.notEqual(a.session_id_prefix, b.session_id_prefix);
      const target = await brokerSession(a.session_id_prefix);
      await ctl(stack, 'session', 'revoke', target.id);
      const denied = await execute(first.client, { method: 'GET', path: '/v1/x' });
      assert.equal(denied.structuredContent.code, 'SESSION_REVOKED');
      const allowed = await execute(second.client, { method: 'GET', path: '/v1/x' });
      assert.notEqual(allowed.isError, true);
      assert.equal(allowed.structuredContent.status, 200);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
