// Shared helpers of the MCP SDK end-to-end tests: start the real Latchkey
// stack (//tests:stack_runner), launch latchkey-mcp through the official SDK
// client's StdioClientTransport, and look at what the upstream received.
//
// Run by //tests:mcp_sdk_test. By hand, from the workspace root:
//   bazel build //tests:stack_runner //tests:stack_binaries //ctl:latchkeyctl
//   LATCHKEY_STACK_RUNNER=$PWD/bazel-bin/tests/stack_runner \
//     node --test tests/mcp_client/*.test.mjs
import { spawn, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const execFileAsync = promisify(execFile);

export const SUPPORTED_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];
export const NEWEST_VERSION = '2025-11-25';

function stackRunnerPath() {
  if (process.env.LATCHKEY_STACK_RUNNER) return process.env.LATCHKEY_STACK_RUNNER;
  const runfiles = process.env.LATCHKEY_RUNFILES ?? process.cwd();
  return `${runfiles}/tests/stack_runner`;
}

// startStack starts audit, vault, broker and the echo upstream; resolves to
// the runner's JSON line plus stop(). The stack goes down when stop() closes
// the runner's stdin, or when this process exits (the pipe closes).
export async function startStack() {
  const path = stackRunnerPath();
  if (!existsSync(path)) throw new Error(`stack_runner not found at ${path}`);
  const child = spawn(path, [], {
    cwd: process.env.LATCHKEY_RUNFILES ?? process.cwd(),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('stack_runner: no line in 60 s')), 60_000);
    lines.once('line', (line) => { clearTimeout(timer); resolve(line); });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stack_runner exited (${code}) before printing its line`));
    });
  });
  const info = JSON.parse(first);
  if (info.error) throw new Error(`stack did not start: ${info.error}`);
  info.stop = async () => {
    child.stdin.end();
    await exited;
  };
  return info;
}

// RecordingTransport wraps the SDK's StdioClientTransport: it keeps the
// raw text of every message the client receives (to scan it for the
// secret), and can rewrite the protocolVersion the SDK's Client sends in
// initialize (the SDK always asks for its newest revision), so a handshake
// on any revision is driven by the real SDK client.
export class RecordingTransport {
  constructor(inner, { protocolVersion } = {}) {
    this.inner = inner;
    this.pinnedVersion = protocolVersion;
    this.received = [];
    this.sent = [];
    this.initializeResult = undefined;
    this._initializeId = undefined;
  }

  get sessionId() { return undefined; }
  get stderr() { return this.inner.stderr; }
  get pid() { return this.inner.pid; }

  async start() {
    this.inner.onmessage = (message) => {
      this.received.push(JSON.stringify(message));
      if (this._initializeId !== undefined && message.id === this._initializeId) {
        this.initializeResult = message.result;
      }
      this.onmessage?.(message);
    };
    this.inner.onerror = (error) => this.onerror?.(error);
    this.inner.onclose = () => this.onclose?.();
    await this.inner.start();
  }

  async send(message, options) {
    if (message.method === 'initialize') {
      this._initializeId = message.id;
      if (this.pinnedVersion !== undefined) {
        message = { ...message, params: { ...message.params, protocolVersion: this.pinnedVersion } };
      }
    }
    this.sent.push(JSON.stringify(message));
    return this.inner.send(message, options);
  }

  async close() { return this.inner.close(); }

  receivedText() { return this.received.join('\n'); }
}

// connect launches latchkey-mcp as an MCP client would (token in the
// environment, never in argv) and completes the handshake with the SDK's
// Client. Returns { client, transport, stderr(), errors, close() }.
export async function connect(stack, { protocolVersion, name = 'latchkey-sdk-test' } = {}) {
  const inner = new StdioClientTransport({
    command: stack.mcp_binary,
    args: [`--broker_socket=${stack.broker_socket}`],
    env: { LATCHKEY_AGENT_TOKEN: stack.agent_token },
    stderr: 'pipe',
  });
  let stderr = '';
  inner.stderr.on('data', (chunk) => { stderr += chunk.toString(); });
  const transport = new RecordingTransport(inner, { protocolVersion });
  const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
  const errors = [];
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  return {
    client,
    transport,
    errors,
    stderr: () => stderr,
    close: () => client.close(),
  };
}

export function nonce() { return randomUUID(); }

export function upstreamRequests(stack) {
  if (!existsSync(stack.upstream_record_path)) return [];
  return readFileSync(stack.upstream_record_path, 'utf8')
    .split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line));
}

// upstreamRequestsWith returns the upstream's records whose query carries
// `tag` (each test call sends a unique tag, so tests can run in parallel).
export function upstreamRequestsWith(stack, tag) {
  return upstreamRequests(stack).filter((r) => r.query?.tag === tag);
}

export async function waitFor(predicate, { timeoutMs = 10_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await predicate();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// secretForms mirrors tests/leak_scan.cc: raw, base64 (both alphabets,
// with and without padding), hex in both cases, URL-encoded.
export function secretForms(secret) {
  const bytes = Buffer.from(secret, 'utf8');
  const hex = bytes.toString('hex');
  return [...new Set([
    secret,
    bytes.toString('base64'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
    hex,
    hex.toUpperCase(),
    encodeURIComponent(secret),
  ])];
}

export function leakedForms(text, secret) {
  return secretForms(secret).filter((form) => text.includes(form));
}

// ctl runs latchkeyctl against the stack's sockets; resolves to parsed
// JSON output (the commands used here print one JSON object).
export async function ctl(stack, ...args) {
  const { stdout } = await execFileAsync(stack.ctl_binary, [`--run_dir=${stack.run_dir}`, '--json', ...args]);
  return JSON.parse(stdout);
}

export function execute(client, args, options) {
  return client.callTool({ name: 'execute', arguments: { capability: 'demo-api', ...args } },
    undefined, options);
}
