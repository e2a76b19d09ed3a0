// A real FAPI 2.0 authorization server (oidc-provider) on loopback, used
// once: it registers the given clients, performs the given client_credentials
// token requests with private_key_jwt in order (so a replayed jti is seen),
// and prints the outcomes as JSON on stdout. Logs go to stderr.
//
// stdin:  {"issuer": "https://as.example", "clients": [{"client_id": "...",
//          "certificates_pem": ["-----BEGIN CERTIFICATE-----..."], "jwks": {"keys": [...]}}],
//          "requests": [{"client_id": "...", "client_assertion": "...",
//          "client_assertion_type": "..."}]}
// stdout: {"token_endpoint": "...", "results": [{"status": 200, "body": {...},
//          "server_error": null | "the provider's precise rejection reason"}]}
//
// The issuer is an arbitrary https URL; the server listens on plain http on
// 127.0.0.1 and is told (proxy mode, X-Forwarded-*) that requests arrive at
// the issuer's origin, so audience checks compare against the issuer exactly
// as a deployed FAPI 2.0 server would.
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import { calculateJwkThumbprint } from 'jose';
import Provider from 'oidc-provider';

// stdout carries only the result document: the provider's notices go to stderr.
console.log = console.info = (...args) => console.error(...args);

const input = JSON.parse(await new Promise((resolve, reject) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
  process.stdin.on('error', reject);
}));

// Public JWKs built by Node from each certificate, independent of the
// daemon's JWK code; kid is jose's own RFC 7638 thumbprint.
async function keysOf(client) {
  const keys = [...(client.jwks?.keys ?? [])];
  for (const pem of client.certificates_pem ?? []) {
    const jwk = new X509Certificate(pem).publicKey.export({ format: 'jwk' });
    jwk.kid = await calculateJwkThumbprint(jwk, 'sha256');
    keys.push(jwk);
  }
  return keys;
}

const clients = await Promise.all(input.clients.map(async (c) => ({
  client_id: c.client_id,
  token_endpoint_auth_method: 'private_key_jwt',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'accounts',
  jwks: { keys: await keysOf(c) },
})));

const provider = new Provider(input.issuer, {
  clients,
  scopes: ['accounts'],
  features: {
    clientCredentials: { enabled: true },
    fapi: { enabled: true, profile: '2.0' },
    devInteractions: { enabled: false },
  },
  enabledJWA: { clientAuthSigningAlgValues: ['PS256', 'ES256', 'EdDSA'] },
  ttl: { ClientCredentials: 600 },
});
provider.proxy = true;

// The precise reason of the request in flight (requests run one at a time).
let reason = null;
const record = (_ctx, err) => {
  reason = [err?.error, err?.error_description, err?.error_detail].filter(Boolean).join(': ') || String(err);
};
provider.on('grant.error', record);
provider.on('server_error', record);

const server = http.createServer(provider.callback());
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const issuerUrl = new URL(input.issuer);
// Routes hang below the issuer's path; the token endpoint is `token`.
const tokenPath = new URL('token', issuerUrl.href.endsWith('/') ? issuerUrl : `${issuerUrl.href}/`).pathname;
const tokenEndpoint = `http://127.0.0.1:${port}${tokenPath}`;

const results = [];
try {
  for (const r of input.requests) {
    reason = null;
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: r.client_id,
      client_assertion: r.client_assertion,
      client_assertion_type: r.client_assertion_type,
      scope: 'accounts',
    });
    const res = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-proto': issuerUrl.protocol.replace(':', ''),
        'x-forwarded-host': issuerUrl.host,
      },
      body,
    });
    const text = await res.text();
    let parsed;
    try { parsed = JSON.parse(text); } catch { parsed = { raw: text }; }
    results.push({ status: res.status, body: parsed, server_error: reason });
    console.error(`${r.client_id}: HTTP ${res.status}${reason ? ` (${reason})` : ''}`);
  }
} finally {
  server.close();
  server.closeAllConnections?.();
}
process.stdout.write(JSON.stringify({ token_endpoint: tokenEndpoint, results }));
