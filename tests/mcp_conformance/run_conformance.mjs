// Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
// pinned in package-lock.json) against latchkey-mcp --http in front of the
// real stack, and turns its per-scenario checks into JUnit test cases.
//
// The suite's client cannot send headers of its own, so it talks to a
// loopback pass-through proxy that adds the bearer token and nothing else
// (Host and Origin go through untouched, so the suite's DNS-rebinding
// scenario still reaches the adapter's own checks).
//
// Scenarios listed in expected_failures.txt (one line each: name, then why)
// count as skipped when they fail; an expected failure that passes, or any
// other failing scenario, fails the test.
//
// Environment: LATCHKEY_MCP_CLIENT_DIR (tests/mcp_client, for the stack
// harness), LATCHKEY_CONFORMANCE_DIR (this directory, with node_modules),
// XML_OUTPUT_FILE (JUnit output, optional), TEST_TMPDIR,
// LATCHKEY_CONFORMANCE_SUITE (optional, default all: active, pending or all).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

const clientDir = process.env.LATCHKEY_MCP_CLIENT_DIR;
const here = process.env.LATCHKEY_CONFORMANCE_DIR;
const { startStack } = await import(path.join(clientDir, 'harness.mjs'));
const { startHttpAdapter } = await import(path.join(clientDir, 'http_adapter.mjs'));

function readExpectedFailures() {
  const expected = new Map();
  for (const raw of readFileSync(path.join(here, 'expected_failures.txt'), 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [name, ...why] = line.split(/\s+/);
    if (why.length === 0) throw new Error(`expected_failures.txt: ${name} has no explanation`);
    expected.set(name, why.join(' '));
  }
  return expected;
}

// startProxy forwards everything to `target`, adding the bearer token.
function startProxy(target, token) {
  const server = http.createServer((req, res) => {
    const upstream = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url,
      headers: { ...req.headers, authorization: `Bearer ${token}` },
    }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(error));
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}/mcp`,
      close: () => { server.closeAllConnections(); server.close(); },
    }));
  });
}

function runSuite(url, outputDir) {
  const cli = path.join(here, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
  const args = ['--import', path.join(here, 'fs_shim_register.mjs'), cli,
    'server', '--url', url, '-o', outputDir];
  // "all": the active scenarios and the pending ones (server-sse-polling,
  // json-schema-2020-12 in 0.1.16), so a pending scenario that becomes
  // active is already covered.
  args.push('--suite', process.env.LATCHKEY_CONFORMANCE_SUITE || 'all');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: outputDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`conformance suite: no end in 120 s\n${output}`)); }, 120_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

// collectScenarios reads <outputDir>/server-<scenario>-<timestamp>/checks.json.
function collectScenarios(outputDir) {
  const scenarios = new Map();
  const walk = (dir, depth) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && depth < 4) walk(full, depth + 1);
      if (entry.isFile() && entry.name === 'checks.json') {
        const folder = path.basename(dir);
        const name = folder.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT.*$/, '');
        scenarios.set(name, JSON.parse(readFileSync(full, 'utf8')));
      }
    }
  };
  walk(outputDir, 0);
  return scenarios;
}

function xmlEscape(text) {
  return String(text).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' }[c]))
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

const expected = readExpectedFailures();
const stack = await startStack();
let adapter;
let proxy;
let failed = 0;
try {
  adapter = await startHttpAdapter(stack);
  proxy = await startProxy(new URL(adapter.url), adapter.token);
  const outputDir = mkdtempSync(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'conformance-'));
  const run = await runSuite(proxy.url, outputDir);
  const scenarios = collectScenarios(outputDir);
  if (scenarios.size === 0) throw new Error(`the suite produced no results (exit ${run.code})\n${run.output}`);
  const cases = [];
  for (const [name, checks] of [...scenarios].sort()) {
    const failures = checks.filter((c) => c.status === 'FAILURE');
    const why = expected.get(name);
    let outcome;
    let message = '';
    if (failures.length > 0 && why) {
      outcome = 'skipped';
      message = `expected failure: ${why}`;
    } else if (failures.length > 0) {
      outcome = 'failure';
      message = failures.map((c) => `${c.id}: ${c.errorMessage ?? c.description}`).join('\n');
    } else if (why) {
      outcome = 'failure';
      message = `listed in expected_failures.txt but passed: remove it (${why})`;
    } else {
      outcome = 'passed';
    }
    if (outcome === 'failure') failed++;
    console.log(`${outcome.padEnd(8)} ${name}${message ? `\n         ${message.replace(/\n/g, '\n         ')}` : ''}`);
    cases.push({ name, outcome, message, checks: checks.length });
  }
  for (const name of expected.keys()) {
    if (!scenarios.has(name)) {
      failed++;
      console.log(`failure  ${name}\n         listed in expected_failures.txt but the suite has no such scenario`);
      cases.push({ name, outcome: 'failure', message: 'no such scenario in the suite' });
    }
  }
  const counts = (o) => cases.filter((c) => c.outcome === o).length;
  console.log(`conformance: ${counts('passed')} passed, ${counts('failure')} failed, ${counts('skipped')} expected failures`);
  if (process.env.XML_OUTPUT_FILE) {
    const body = cases.map((c) => {
      const inner = c.outcome === 'failure' ? `<failure message="${xmlEscape(c.message)}"/>`
        : c.outcome === 'skipped' ? `<skipped message="${xmlEscape(c.message)}"/>` : '';
      return `  <testcase classname="mcp_conformance" name="${xmlEscape(c.name)}">${inner}</testcase>`;
    }).join('\n');
    writeFileSync(process.env.XML_OUTPUT_FILE,
      `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n<testsuite name="mcp_conformance" tests="${cases.length}" failures="${counts('failure')}" skipped="${counts('skipped')}">\n${body}\n</testsuite>\n</testsuites>\n`);
  }
} finally {
  proxy?.close();
  const code = await adapter?.stop();
  if (code !== undefined && code !== 0) {
    failed++;
    console.log(`latchkey-mcp --http exited with ${code}\n${adapter.stderr()}`);
  }
  await stack.stop();
}
process.exit(failed > 0 ? 1 : 0);
