// The approval gate end to end: the SDK client's execute waits as
// APPROVAL_PENDING with an approval_id, an operator approves or denies with
// `latchkeyctl approval`, the client polls with the id; a pending approval
// times out; an every-request approval is used once; the pending queue of
// an agent is bounded. Every step is checked in the audit log, operator
// decisions with the operator's uid.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, execute, nonce, startStack, upstreamRequestsWith } from './harness.mjs';
import { auditRecords, createCapability, ctlFails, ctlJson } from './gates_harness.mjs';

let stack;
let session;

before(async () => {
  stack = await startStack();
  await createCapability(stack, 'approve-first', 'approval: APPROVAL_MODE_FIRST_REQUEST_OF_SESSION');
  await createCapability(stack, 'approve-every', 'approval: APPROVAL_MODE_EVERY_REQUEST');
  await createCapability(stack, 'approve-quick',
    'approval: APPROVAL_MODE_EVERY_REQUEST\napproval_timeout { seconds: 1 }');
  session = await connect(stack, { protocolVersion: '2025-11-25' });
  await session.client.listTools();  // validate structuredContent from here on
});
after(async () => {
  await session?.close();
  await stack?.stop();
});

async function pending(capability, path, extra = {}) {
  const tag = nonce();
  const result = await execute(session.client,
    { capability, method: 'POST', path, query: { tag }, ...extra });
  assert.equal(result.isError, true, JSON.stringify(result));
  const s = result.structuredContent;
  assert.equal(s.code, 'APPROVAL_PENDING', JSON.stringify(s));
  assert.match(s.approval_id, /^[0-9a-f]{16}$/);
  assert.equal(s.approval_state, 'pending');
  assert.ok(s.approval_expire_time);
  assert.match(s.next_step, /approval_id/);
  assert.match(result.content[0].text, /latchkeyctl approval approve|approval_id/);
  assert.deepEqual(upstreamRequestsWith(stack, tag), [], 'a pending request reached the upstream');
  return { id: s.approval_id, tag, request_id: s.request_id };
}

function poll(capability, path, tag, approvalId) {
  return execute(session.client,
    { capability, method: 'POST', path, query: { tag }, approval_id: approvalId });
}

function recordsOf(id) {
  return auditRecords(stack).filter((r) => r.approval_id === id);
}

describe('approval', () => {
  test('pending, then approved by an operator: the poll executes and the session is approved', async () => {
    const { id, tag, request_id } = await pending('approve-first', '/v1/pay',
      { reason: 'pay invoice 7' });
    const listed = await ctlJson(stack, 'approval', 'list', '--pending');
    const mine = listed.approvals.find((a) => a.id === id);
    assert.ok(mine, 'the operator sees the pending approval');
    assert.equal(mine.agent, 'demo-agent');
    assert.equal(mine.capability, 'approve-first');
    assert.equal(mine.path, '/v1/pay');
    assert.equal(mine.reason, 'pay invoice 7');
    assert.equal(mine.state, 'PENDING');

    const still = await poll('approve-first', '/v1/pay', tag, id);
    assert.equal(still.structuredContent.code, 'APPROVAL_PENDING');

    const approved = await ctlJson(stack, 'approval', 'approve', id);
    assert.equal(approved.state, 'APPROVED');
    assert.equal(approved.operatorUid, process.getuid());

    const done = await poll('approve-first', '/v1/pay', tag, id);
    assert.notEqual(done.isError, true, JSON.stringify(done));
    assert.equal(done.structuredContent.status, 200);
    assert.equal(upstreamRequestsWith(stack, tag).length, 1);
    // The rest of the session needs no approval.
    const tag2 = nonce();
    const next = await execute(session.client,
      { capability: 'approve-first', method: 'GET', path: '/v1/other', query: { tag: tag2 } });
    assert.notEqual(next.isError, true, JSON.stringify(next));

    const records = recordsOf(id);
    const asked = records.find((r) => r.request_id === request_id && r.source !== 'intent');
    assert.equal(asked.reason_code, 'APPROVAL_PENDING');
    assert.equal(asked.agent_reason, 'pay invoice 7');
    const decision = records.find((r) => r.source === 'operator');
    assert.equal(decision.decision, 'allow');
    assert.equal(decision.operator_uid, process.getuid());
    assert.equal(decision.peer_uid, process.getuid());
    assert.ok(records.some((r) => r.source === 'broker' && r.decision === 'allow'
      && r.request_id === done.structuredContent.request_id));
    // Deciding again is refused and changes nothing.
    assert.match(await ctlFails(stack, 'approval', 'deny', id), /approved, no longer pending/);
  });

  test('denied by an operator: the poll says APPROVAL_DENIED and nothing is sent', async () => {
    const { id, tag } = await pending('approve-every', '/v1/delete-everything');
    const denied = await ctlJson(stack, 'approval', 'deny', id);
    assert.equal(denied.state, 'DENIED');
    const result = await poll('approve-every', '/v1/delete-everything', tag, id);
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent.code, 'APPROVAL_DENIED');
    assert.equal(result.structuredContent.approval_state, 'denied');
    assert.match(result.structuredContent.next_step, /do not retry/);
    assert.deepEqual(upstreamRequestsWith(stack, tag), []);
    const decision = recordsOf(id).find((r) => r.source === 'operator');
    assert.equal(decision.decision, 'deny');
    assert.equal(decision.reason_code, 'APPROVAL_DENIED');
    assert.equal(decision.operator_uid, process.getuid());
  });

  test('nobody decides: the approval times out, once, audited', async () => {
    const { id, tag } = await pending('approve-quick', '/v1/slowpoke');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const result = await poll('approve-quick', '/v1/slowpoke', tag, id);
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent.code, 'APPROVAL_TIMED_OUT');
    assert.deepEqual(upstreamRequestsWith(stack, tag), []);
    const timedOut = recordsOf(id).filter((r) => r.reason_code === 'APPROVAL_TIMED_OUT');
    // One record of the timeout itself, one of the poll that met it.
    assert.equal(timedOut.length, 2, JSON.stringify(timedOut));
    assert.match(await ctlFails(stack, 'approval', 'approve', id), /timed out/);
    const listed = await ctlJson(stack, 'approval', 'list');
    assert.equal(listed.approvals.find((a) => a.id === id).state, 'TIMED_OUT');
  });

  test('an every-request approval is used by exactly that request, once', async () => {
    const { id, tag } = await pending('approve-every', '/v1/transfer');
    await ctlJson(stack, 'approval', 'approve', id);
    const other = await poll('approve-every', '/v1/another', tag, id);
    assert.equal(other.structuredContent.code, 'APPROVAL_NOT_FOUND');
    const used = await poll('approve-every', '/v1/transfer', tag, id);
    assert.notEqual(used.isError, true, JSON.stringify(used));
    const replay = await poll('approve-every', '/v1/transfer', tag, id);
    assert.equal(replay.structuredContent.code, 'APPROVAL_NOT_FOUND');
    assert.equal(upstreamRequestsWith(stack, tag).length, 1);
  });

  test('APPROVAL_QUEUE_FULL: an agent cannot pile up pending approvals', async () => {
    const ids = [];
    try {
      for (let i = 0; i < 16; i += 1) {
        const result = await execute(session.client,
          { capability: 'approve-every', method: 'POST', path: `/v1/bulk/${i}` });
        assert.equal(result.structuredContent.code, 'APPROVAL_PENDING', `request ${i}`);
        ids.push(result.structuredContent.approval_id);
      }
      const full = await execute(session.client,
        { capability: 'approve-every', method: 'POST', path: '/v1/bulk/one-more' });
      assert.equal(full.structuredContent.code, 'APPROVAL_QUEUE_FULL');
      assert.match(full.structuredContent.next_step, /wait/i);
    } finally {
      for (const id of ids) await ctlJson(stack, 'approval', 'deny', id);
    }
  });
});
