// A long-running FAPI 2.0 authorization server (oidc-provider 9.13.3) on
// loopback, for the client packages' example programs: they POST a
// client_credentials token request with private_key_jwt, as a real app does.
//
//   node tests/oidc/server.mjs < input.json
//
// stdin:  {"issuer": "https://as.example",
//          "clients": [{"client_id": "...", "certificates_pem": ["-----BEGIN CERTIFICATE-----..."],
//                       "jwks": {"keys": [...]}}]}            (either or both)
// stdout: one line, once listening: {"token_endpoint": "http://127.0.0.1:PORT/token"}
// Then it serves until SIGTERM or SIGINT. Logs (and each provider error) go
// to stderr.
//
// Issuer vs loopback: as in exchange.mjs, the provider runs in proxy mode;
// this server adds X-Forwarded-Proto/-Host naming the issuer's origin to
// every request itself, so a plain POST to the loopback URL is seen as
// addressed to the issuer, whose string the assertion's `aud` must be.
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import { calculateJwkThumbprint } from 'jose';
import Provider from 'oidc-provider';

console.log = console.info = (...args) => console.error(...args);

async function readInput() {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk;
  const input = JSON.parse(text);
  if (typeof input?.issuer !== 'string') throw new Error('bad input: "issuer" must be a string');
  if (!Array.isArray(input.clients)) throw new Error('bad input: "clients" must be an array');
  return input;
}

async function keysOf(client) {
  const keys = [...(client.jwks?.keys ?? [])];
  for (const pem of client.certificates_pem ?? []) {
    const jwk = new X509Certificate(pem).publicKey.export({ format: 'jwk' });
    jwk.kid = await calculateJwkThumbprint(jwk, 'sha256');
    keys.push(jwk);
  }
  if (keys.length === 0) throw new Error(`bad input: client ${client.client_id} has no keys`);
  return keys;
}

const input = await readInput();
const issuer = new URL(input.issuer);
const clients = await Promise.all(input.clients.map(async (c) => ({
  client_id: c.client_id,
  token_endpoint_auth_method: 'private_key_jwt',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  jwks: { keys: await keysOf(c) },
})));
const provider = new Provider(input.issuer, {
  clients,
  features: {
    clientCredentials: { enabled: true },
    fapi: { enabled: true, profile: '2.0' },
    devInteractions: { enabled: false },
  },
  enabledJWA: { clientAuthSigningAlgValues: ['PS256', 'ES256', 'EdDSA'] },
  ttl: { ClientCredentials: 600 },
});
provider.proxy = true;
const report = (ctx, err) => console.error(
  `server.mjs: ${ctx.method} ${ctx.path}: ${[err.error, err.error_description, err.error_detail].filter(Boolean).join(': ')}`,
);
provider.on('grant.error', report);
provider.on('server_error', report);

const mountPath = issuer.pathname.replace(/\/$/, '');
const app = provider.callback();
const server = http.createServer((req, res) => {
  req.headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
  req.headers['x-forwarded-host'] = issuer.host;
  if (mountPath && req.url.startsWith(`${mountPath}/`)) {
    req.originalUrl = req.url;
    req.url = req.url.slice(mountPath.length);
  }
  app(req, res);
});
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const tokenPath = `${mountPath}${provider.pathFor('token', { mountPath: '' })}`;
process.stdout.write(`${JSON.stringify({ token_endpoint: `http://127.0.0.1:${server.address().port}${tokenPath}` })}\n`);
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
