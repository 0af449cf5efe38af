// whoami, explain_access and test_capability through the official SDK
// client against the real stack, and every reason code an agent can meet
// through execute that this stack can provoke (approvals: approval.test.mjs;
// vault and audit outages: outage.test.mjs; SESSION_REVOKED:
// revocation.test.mjs). Each denial must carry its code, a next step and
// never reach the upstream.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, execute, leakedForms, nonce, startStack, upstreamRequestsWith } from './harness.mjs';
import {
  auditRecords, call, createCapability, ctlJson, putSecret, unsealVault,
} from './gates_harness.mjs';

let stack;
let session;
const DEAD_ORIGIN = 'http://127.0.0.1:9';

before(async () => {
  stack = await startStack();
  await createCapability(stack, 'reasoned',
    'require_reason: true\nmax_reason_bytes: 40\nhealth_request { path: "/v1/balance" }');
  await createCapability(stack, 'unhealthy',
    'rules { effect: ALLOW methods: "GET" path: "/status/**" }\n'
    + 'health_request { method: "GET" path: "/status/401" }');
  await createCapability(stack, 'limited', 'rate_limit { requests_per_minute: 1 burst: 1 }');
  await createCapability(stack, 'not-mine', '', { agents: [] });
  await createCapability(stack, 'wrong-origin', '', { origin: DEAD_ORIGIN });
  await createCapability(stack, 'no-secret', '', { secretId: 'missing-secret' });
  await putSecret(stack, 'dead-token', DEAD_ORIGIN, 'dead-token-value-123456');
  await createCapability(stack, 'dead-upstream', '', { secretId: 'dead-token', origin: DEAD_ORIGIN });
  session = await connect(stack, { protocolVersion: '2025-11-25' });
  // Listing the tools makes the SDK client validate every structuredContent
  // against the tool's outputSchema from here on.
  await session.client.listTools();
});
after(async () => {
  await session?.close();
  await stack?.stop();
});

async function denied(args, code) {
  const tag = nonce();
  const result = await execute(session.client, { ...args, query: { tag } });
  assert.equal(result.isError, true, JSON.stringify(result));
  const s = result.structuredContent;
  assert.equal(s.denied, true);
  assert.equal(s.code, code, JSON.stringify(s));
  assert.ok(s.next_step.length > 10, s.next_step);
  assert.match(s.message, /\S/);
  assert.match(result.content[0].text, new RegExp(code));
  assert.deepEqual(upstreamRequestsWith(stack, tag), [], `${code}: the request reached the upstream`);
  const record = auditRecords(stack).find((r) => r.request_id === s.request_id && r.source !== 'intent');
  assert.ok(record, `${code}: no audit record for ${s.request_id}`);
  assert.equal(record.reason_code, code);
  assert.equal(record.decision, 'deny');
  return s;
}

describe('whoami', () => {
  test('names the agent and uid the broker established, and which capabilities it can use', async () => {
    await execute(session.client, { method: 'GET', path: '/v1/warmup' });  // opens the session
    const result = await call(session.client, 'whoami');
    assert.notEqual(result.isError, true, JSON.stringify(result));
    const s = result.structuredContent;
    assert.equal(s.agent, 'demo-agent');
    assert.equal(s.peer_uid, process.getuid());
    assert.match(s.authenticated_by, /token/);
    assert.ok(s.sessions.length >= 1);
    for (const item of s.sessions) assert.equal(item.session_id_prefix.length, 8);
    const byName = Object.fromEntries(s.capabilities.map((c) => [c.name, c]));
    assert.equal(byName['demo-api'].usable, true);
    assert.equal(byName.reasoned.requires_reason, true);
    assert.equal(byName['not-mine'].usable, false);
    assert.equal(byName['not-mine'].code, 'AGENT_NOT_ALLOWED');
    assert.match(byName['not-mine'].next_step, /operator/);
    // Nothing secret: not the token, not the credential, not a full session id.
    const text = session.transport.receivedText();
    assert.ok(!text.includes(stack.agent_token));
    assert.deepEqual(leakedForms(text, stack.secret), []);
    const { sessions } = await ctlJson(stack, 'session', 'list');
    for (const full of sessions) assert.ok(!text.includes(full.id));
  });

  test('a client cannot assert another identity', async () => {
    const result = await call(session.client, 'whoami', { agent: 'root' });
    assert.equal(result.isError, true);
    const other = await connect({ ...stack, agent_token: 'lk_agent_not_a_real_token' },
      { name: 'demo-agent' });
    try {
      const refused = await call(other.client, 'whoami');
      assert.equal(refused.isError, true);
      assert.match(refused.content[0].text, /token was refused/);
      // explain_access needs no session, so the denial shows the code.
      const explained = await call(other.client, 'explain_access',
        { capability: 'demo-api', method: 'GET', path: '/v1/x' });
      assert.equal(explained.structuredContent.code, 'UNAUTHENTICATED');
      assert.match(explained.structuredContent.next_step, /token/);
    } finally {
      await other.close();
    }
  });
});

describe('explain_access', () => {
  test('traces every check and each rule, and executes nothing', async () => {
    const tag = nonce();
    const before = auditRecords(stack).length;
    const result = await call(session.client, 'explain_access',
      { capability: 'demo-api', method: 'DELETE', path: `/v1/admin/./${tag}` });
    assert.notEqual(result.isError, true);
    const s = result.structuredContent;
    assert.equal(s.decision, 'deny');
    assert.equal(s.code, 'RULE_DENY');
    assert.equal(s.normalized_path, `/v1/admin/${tag}`);
    assert.match(s.rule, /DENY/);
    const checks = s.trace.map((t) => t.check);
    assert.deepEqual(checks.slice(0, 7),
      ['identity', 'identifiers', 'capability', 'agent_access', 'revocation', 'session', 'request']);
    const rules = s.trace.find((t) => t.check === 'rules');
    assert.equal(rules.passed, false);
    assert.match(rules.detail, /rules\[0\] ALLOW GET,POST \/v1\/\*\*: no match/);
    assert.match(rules.detail, /rules\[1\] DENY \* \/v1\/admin\/\*\*: matches/);
    assert.equal(auditRecords(stack).length, before, 'explain wrote an audit record');
    assert.deepEqual(upstreamRequestsWith(stack, tag), []);
  });

  test('an allowed request passes every check, with the gates and limits named', async () => {
    const result = await call(session.client, 'explain_access',
      { capability: 'reasoned', method: 'GET', path: '/v1/x', reason: 'checking' });
    const s = result.structuredContent;
    assert.equal(s.decision, 'allow', JSON.stringify(s));
    assert.ok(s.trace.every((t) => t.passed));
    assert.match(s.trace.find((t) => t.check === 'reason').detail, /required and was given/);
    const missing = await call(session.client, 'explain_access',
      { capability: 'reasoned', method: 'GET', path: '/v1/x' });
    assert.equal(missing.structuredContent.code, 'REASON_REQUIRED');
  });
});

describe('test_capability', () => {
  test('reports reachability, auth and latency, never the body', async () => {
    const result = await call(session.client, 'test_capability', { capability: 'reasoned' });
    assert.notEqual(result.isError, true, JSON.stringify(result));
    const s = result.structuredContent;
    assert.equal(s.denied, false);
    assert.equal(s.reachable, true);
    assert.equal(s.auth_ok, true);
    assert.equal(s.status, 200);
    assert.equal(s.status_class, '2xx');
    assert.equal(s.path, '/v1/balance');
    assert.ok(s.latency_ms >= 0);
    assert.ok(!('body' in s));
    // The echo upstream's body repeats the request; none of it comes back.
    assert.ok(!result.content[0].text.includes('echo'));
    // It went through the decision path: audited with the health reason.
    const record = auditRecords(stack).find((r) => r.request_id === s.request_id && r.source !== 'intent');
    assert.equal(record.decision, 'allow');
    assert.equal(record.path, '/v1/balance');
    assert.match(record.agent_reason, /^test_capability/);
  });

  test('a 401 from the upstream is auth_ok false and isError', async () => {
    const result = await call(session.client, 'test_capability', { capability: 'unhealthy' });
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent.reachable, true);
    assert.equal(result.structuredContent.auth_ok, false);
    assert.equal(result.structuredContent.status_class, '4xx');
    assert.match(result.content[0].text, /credential/);
  });

  test('a capability without a health request, or an unreachable one, says so', async () => {
    const none = await call(session.client, 'test_capability', { capability: 'demo-api' });
    assert.equal(none.structuredContent.code, 'INVALID_REQUEST');
    assert.match(none.structuredContent.next_step, /health_request/);
    const unknown = await call(session.client, 'test_capability', { capability: 'nope' });
    assert.equal(unknown.structuredContent.code, 'CAPABILITY_NOT_FOUND');
  });
});

describe('reason codes through execute', () => {
  test('CAPABILITY_NOT_FOUND', () => denied({ capability: 'nope', method: 'GET', path: '/v1/x' },
    'CAPABILITY_NOT_FOUND'));
  test('AGENT_NOT_ALLOWED', () => denied({ capability: 'not-mine', method: 'GET', path: '/v1/x' },
    'AGENT_NOT_ALLOWED'));
  test('RULE_DENY names the deciding rule', async () => {
    const s = await denied({ method: 'GET', path: '/v1/admin/x' }, 'RULE_DENY');
    assert.match(s.rule, /rules\[1\] DENY/);
  });
  test('NO_RULE_MATCHED', () => denied({ method: 'DELETE', path: '/v1/x' }, 'NO_RULE_MATCHED'));
  test('PATH_REJECTED', () => denied({ method: 'GET', path: '/v1/../../etc/passwd' }, 'PATH_REJECTED'));
  test('INVALID_REQUEST for a credential header', () => denied(
    { method: 'GET', path: '/v1/x', headers: { Authorization: 'Bearer mine' } }, 'INVALID_REQUEST'));
  test('REASON_REQUIRED, then the same request with a reason passes and is recorded', async () => {
    await denied({ capability: 'reasoned', method: 'GET', path: '/v1/x' }, 'REASON_REQUIRED');
    const tag = nonce();
    const ok = await execute(session.client,
      { capability: 'reasoned', method: 'GET', path: '/v1/x', query: { tag }, reason: 'triage bug 12' });
    assert.notEqual(ok.isError, true, JSON.stringify(ok));
    assert.equal(upstreamRequestsWith(stack, tag).length, 1);
    const record = auditRecords(stack).find((r) => r.request_id === ok.structuredContent.request_id && r.source !== 'intent');
    assert.equal(record.agent_reason, 'triage bug 12');
  });
  test('INVALID_REQUEST for a reason over the capability limit, naming it', async () => {
    const s = await denied({ capability: 'reasoned', method: 'GET', path: '/v1/x', reason: 'r'.repeat(41) },
      'INVALID_REQUEST');
    assert.match(s.message, /at most 40 bytes/);
  });
  test('RATE_LIMITED with retry_after_seconds', async () => {
    const first = await execute(session.client, { capability: 'limited', method: 'GET', path: '/v1/x' });
    assert.notEqual(first.isError, true, JSON.stringify(first));
    const s = await denied({ capability: 'limited', method: 'GET', path: '/v1/x' }, 'RATE_LIMITED');
    assert.ok(s.retry_after_seconds > 0);
  });
  test('ORIGIN_REFUSED: the secret is not bound to the capability origin', () => denied(
    { capability: 'wrong-origin', method: 'GET', path: '/v1/x' }, 'ORIGIN_REFUSED'));
  test('SECRET_UNAVAILABLE', () => denied(
    { capability: 'no-secret', method: 'GET', path: '/v1/x' }, 'SECRET_UNAVAILABLE'));
  test('UPSTREAM_ERROR: nothing listens on the origin', () => denied(
    { capability: 'dead-upstream', method: 'GET', path: '/v1/x' }, 'UPSTREAM_ERROR'));
  test('VAULT_SEALED until an operator unseals', async () => {
    await ctlJson(stack, 'vault', 'seal');
    try {
      const s = await denied({ method: 'GET', path: '/v1/x' }, 'VAULT_SEALED');
      assert.match(s.next_step, /unseal/);
    } finally {
      await unsealVault(stack);
    }
    const ok = await execute(session.client, { method: 'GET', path: '/v1/x' });
    assert.notEqual(ok.isError, true, JSON.stringify(ok));
  });
});
