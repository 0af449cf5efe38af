// The two reason codes that need a daemon to die, provoked for real: the
// test kills this stack's own vault, then its own audit sink (found by the
// socket path on their command lines, never by name), and checks what the
// SDK client is told. Runs on a stack of its own, which it leaves broken.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { connect, execute, nonce, startStack, upstreamRequestsWith, waitFor } from './harness.mjs';
import { auditRecords } from './gates_harness.mjs';

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

// pidListeningOn returns the pid of the daemon started with --socket=PATH.
function pidListeningOn(socketPath) {
  const flag = `--socket=${socketPath}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv;
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;  // exited meanwhile
    }
    if (argv.includes(flag)) return Number(entry);
  }
  throw new Error(`no process has ${flag}`);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function kill(socketPath) {
  const pid = pidListeningOn(socketPath);
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !alive(pid) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'),
    { what: `pid ${pid} to die` });
}

async function deniedWith(code) {
  const tag = nonce();
  const result = await execute(session.client, { method: 'GET', path: '/v1/x', query: { tag } });
  assert.equal(result.isError, true, JSON.stringify(result));
  assert.equal(result.structuredContent.code, code, JSON.stringify(result.structuredContent));
  assert.match(result.structuredContent.next_step, /retry later/);
  assert.deepEqual(upstreamRequestsWith(stack, tag), []);
  return result.structuredContent;
}

describe('outages', () => {
  test('VAULT_UNAVAILABLE when the vault is gone, and the refusal is audited', async () => {
    const ok = await execute(session.client, { method: 'GET', path: '/v1/x' });
    assert.notEqual(ok.isError, true, JSON.stringify(ok));
    await kill(stack.vault_socket);
    const s = await deniedWith('VAULT_UNAVAILABLE');
    const record = auditRecords(stack).find((r) => r.request_id === s.request_id && r.source !== 'intent');
    assert.equal(record.reason_code, 'VAULT_UNAVAILABLE');
  });

  test('AUDIT_UNAVAILABLE when the audit sink is gone: fail closed', async () => {
    await kill(stack.audit_socket);
    await deniedWith('AUDIT_UNAVAILABLE');
  });
});
