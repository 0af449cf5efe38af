// startHttpAdapter launches latchkey-mcp --http on a free loopback port
// (port 0; the adapter logs the one it got) against a running stack, with
// the agent token and the HTTP bearer token in its environment, never in
// argv. Used by http.test.mjs and by the conformance runner
// (tests/mcp_conformance/run_conformance.mjs).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';

export async function startHttpAdapter(stack, { extraArgs = [] } = {}) {
  const token = randomBytes(24).toString('base64url');
  const child = spawn(stack.mcp_binary,
    [`--broker_socket=${stack.broker_socket}`, '--http=127.0.0.1:0', ...extraArgs], {
      env: { LATCHKEY_AGENT_TOKEN: stack.agent_token, LATCHKEY_MCP_HTTP_TOKEN: token },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  let stderr = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stderr });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`latchkey-mcp --http: no http_listening line in 20 s\n${stderr}`)), 20_000);
    lines.on('line', (line) => {
      stderr += `${line}\n`;
      try {
        const event = JSON.parse(line);
        if (event.event === 'http_listening') { clearTimeout(timer); resolve(event.url); }
      } catch { /* not a log line */ }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`latchkey-mcp --http exited (${code}) before listening\n${stderr}`));
    });
  });
  return {
    url,
    token,
    headers: { Authorization: `Bearer ${token}` },
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
