// A real OAuth 2.0 authorization server for the vault's oauth2 scheme tests
// (issue #18): oidc-provider (a certified OpenID Connect provider, MIT),
// pinned by package-lock.json next to this file, on 127.0.0.1 over HTTPS
// with the certificate the test made (--tls-cert, --tls-key, signed by a
// test CA), or plain HTTP without them. Loopback only: the vault is told
// the origin is internal.
//
// Clients (secrets are random per run and written to --secrets-file):
//   cc-basic      client_credentials, client_secret_basic
//   cc-post       client_credentials, client_secret_post
//   rt-client     refresh_token (client_secret_basic); its first refresh
//                 token is minted here at start (Grant + RefreshToken in
//                 the in-memory adapter) and written to --secrets-file.
//                 rotateRefreshToken is on: every refresh answers a new
//                 refresh token and consumes the old one.
//   rt-rotate     the same, for the rotation case: its access tokens live
//                 4 s, so a client refreshes again within seconds.
//   introspector  the resource server's client for the introspection
//                 endpoint (/token/introspection).
//
// Every token request adds one JSON line to --token-log (grant type, client
// id, the client authentication method used, HTTP status and OAuth error
// code; never a credential), so tests can count them. The port
// is written to --port-file (through a rename) last, once everything above
// is ready.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    'port-file': { type: 'string' },
    'secrets-file': { type: 'string' },
    'token-log': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
});
for (const name of ['port-file', 'secrets-file', 'token-log']) {
  if (!args[name]) {
    console.error(`authserver: --${name} is required`);
    process.exit(2);
  }
}

function writeAtomically(path, text) {
  fs.writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  fs.renameSync(`${path}.tmp`, path);
}

const secret = () => crypto.randomBytes(24).toString('base64url');
const secrets = {
  'cc-basic': secret(),
  'cc-post': secret(),
  'rt-client': secret(),
  'rt-rotate': secret(),
  introspector: secret(),
};

const ccClient = (id, method) => ({
  client_id: id,
  client_secret: secrets[id],
  token_endpoint_auth_method: method,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'api:read api:write',
});

const rtClient = (id) => ({
  client_id: id,
  client_secret: secrets[id],
  token_endpoint_auth_method: 'client_secret_basic',
  // A refresh token comes from an authorization code in real life; the
  // code step is skipped by minting the refresh token below.
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: ['https://client.example/cb'],
  scope: 'offline_access api:read',
});

const clients = [
  ccClient('cc-basic', 'client_secret_basic'),
  ccClient('cc-post', 'client_secret_post'),
  rtClient('rt-client'),
  rtClient('rt-rotate'),
  {
    client_id: 'introspector',
    client_secret: secrets.introspector,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  },
];

// Listen first to learn the port: the issuer names it.
const tls = Boolean(args['tls-cert']);
const server = tls
  ? https.createServer({
    cert: fs.readFileSync(args['tls-cert']),
    key: fs.readFileSync(args['tls-key']),
  })
  : http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients,
  scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
  features: {
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Only the resource server's client may ask about tokens.
      allowedPolicy: (ctx, client) => client.clientId === 'introspector',
    },
    devInteractions: { enabled: false },
  },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: (ctx, token, client) => (client?.clientId === 'rt-rotate' ? 4 : 3600),
    ClientCredentials: 600,
    Grant: 14 * 24 * 3600,
    RefreshToken: 14 * 24 * 3600,
  },
  cookies: { keys: [secret()] },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
});

function clientAuthUsed(ctx) {
  if (ctx.oidc?.params?.client_secret) return 'client_secret_post';
  if (/^basic /i.test(ctx.headers.authorization ?? '')) {
    return 'client_secret_basic';
  }
  return 'none';
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token') {
    const line = {
      event: 'token',
      grant_type: ctx.oidc?.params?.grant_type ?? null,
      client_id: ctx.oidc?.client?.clientId ?? null,
      // The method the request used: oidc-provider accepts either secret
      // method whatever the client registered, so the test checks this.
      client_auth: clientAuthUsed(ctx),
      status: ctx.status,
      error: ctx.body?.error ?? null,
    };
    fs.appendFileSync(args['token-log'], `${JSON.stringify(line)}\n`);
  }
});

// The refresh tokens the vault starts with, one per refresh client.
const account = 'svc-account';
const rtScope = 'offline_access api:read';
const refreshTokens = {};
for (const clientId of ['rt-client', 'rt-rotate']) {
  const grant = new provider.Grant({ accountId: account, clientId });
  grant.addOIDCScope(rtScope);
  const grantId = await grant.save();
  refreshTokens[clientId] = await new provider.RefreshToken({
    accountId: account,
    client: await provider.Client.find(clientId),
    grantId,
    scope: rtScope,
    gty: 'authorization_code',
  }).save();
}

server.on('request', provider.callback());
writeAtomically(args['secrets-file'],
  JSON.stringify({ clients: secrets, refresh_tokens: refreshTokens }));
writeAtomically(args['port-file'], String(port));
console.error(`authserver: listening on ${issuer}`);

// The test stops the process with SIGTERM; also stop if the parent dies
// first (the test crashed), so no server outlives it.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
