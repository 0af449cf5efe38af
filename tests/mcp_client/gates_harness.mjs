// Helpers of the agent-tools, reason-code and approval SDK tests: add
// capabilities to a running stack with latchkeyctl (before the adapter
// opens its session, so the session covers them), store extra secrets,
// and read the audit log the sink wrote.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function run(stack, args, input) {
  return new Promise((resolve, reject) => {
    const child = execFile(stack.ctl_binary, [`--run_dir=${stack.run_dir}`, '--json', ...args],
      (error, stdout, stderr) => {
        if (error) reject(new Error(`latchkeyctl ${args.join(' ')}: ${stderr || error.message}`));
        else resolve(stdout);
      });
    child.stdin.end(input ?? '');
  });
}

// ctlJson runs latchkeyctl and parses its JSON reply (proto3 JSON names).
export async function ctlJson(stack, ...args) {
  return JSON.parse(await run(stack, args));
}

// ctlFails runs latchkeyctl expecting a refusal; resolves to its message.
export async function ctlFails(stack, ...args) {
  try {
    await run(stack, args);
  } catch (error) {
    return error.message;
  }
  throw new Error(`latchkeyctl ${args.join(' ')} unexpectedly succeeded`);
}

// createCapability adds a capability (protobuf text format fields) that
// uses the stack's demo secret and upstream unless `fields` says otherwise.
export async function createCapability(stack, name, fields, {
  secretId = 'demo-token', origin = stack.upstream_origin, agents = ['demo-agent'],
} = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'lk-cap-'));
  const file = join(dir, `${name}.textproto`);
  writeFileSync(file, [
    `name: "${name}"`,
    `description: "SDK test capability ${name}."`,
    `secret_id: "${secretId}"`,
    `origin: "${origin}"`,
    'rules { effect: ALLOW methods: "GET" methods: "POST" path: "/v1/**" }',
    'rules { effect: DENY methods: "*" path: "/v1/admin/**" }',
    ...agents.map((a) => `agents: "${a}"`),
    fields ?? '',
  ].join('\n'));
  return ctlJson(stack, 'capability', 'create', file);
}

// putSecret stores a secret bound to `origin`, its value on stdin.
export async function putSecret(stack, id, origin, value) {
  return JSON.parse(await run(stack, ['secret', 'put', id, `--internal_origin=${origin}`], `${value}\n`));
}

export async function unsealVault(stack) {
  return run(stack, ['vault', 'unseal'], `${stack.unseal_key}\n`);
}

// auditRecords returns every record of the stack's audit log.
export function auditRecords(stack) {
  if (!existsSync(stack.audit_log_path)) return [];
  return readFileSync(stack.audit_log_path, 'utf8').split('\n')
    .filter((line) => line.startsWith('{"seq"')).map((line) => JSON.parse(line));
}

export function call(client, name, args = {}) {
  return client.callTool({ name, arguments: args });
}
