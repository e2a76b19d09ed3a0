// The FAPI 2.0 authorization server both harnesses run: oidc-provider
// 9.13.3 with the given clients (private_key_jwt, client_credentials), on
// an ephemeral loopback port. Shared by exchange.mjs (one-shot) and
// server.mjs (long-running).
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import { calculateJwkThumbprint } from 'jose';
import Provider from 'oidc-provider';

function fail(message) {
  throw new Error(`bad input: ${message}`);
}

// The client's public keys: `jwks` as given plus one JWK per certificate,
// built by Node (independent of the daemon's JWK code). Its kid is the
// RFC 7638 thumbprint, computed by jose, because oidc-provider only
// considers keys whose kid equals the assertion header's kid.
export async function keysOf(client) {
  const keys = [...(client.jwks?.keys ?? [])];
  for (const pem of client.certificates_pem ?? []) {
    const jwk = new X509Certificate(pem).publicKey.export({ format: 'jwk' });
    jwk.kid = await calculateJwkThumbprint(jwk, 'sha256');
    keys.push(jwk);
  }
  if (keys.length === 0) fail(`client ${client.client_id} has no certificates_pem nor jwks`);
  return keys;
}

// With `forwardedFor`, every request is marked as addressed to that issuer
// (X-Forwarded-Proto/-Host), so plain loopback POSTs work.
export async function startProvider(input, { forwardedFor } = {}) {
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
      // Nothing here is interactive; left on, it prints a warning.
      devInteractions: { enabled: false },
    },
    enabledJWA: { clientAuthSigningAlgValues: ['PS256', 'ES256', 'EdDSA'] },
    // Set explicitly: the default function prints a "you SHOULD change it" notice.
    ttl: { ClientCredentials: 600 },
  });
  provider.proxy = true;

  // Routes are not prefixed with the issuer's path: strip it the way a
  // mounting framework would, so that the provider's own URLs keep it.
  const { pathname } = new URL(input.issuer);
  const mountPath = pathname.replace(/\/$/, '');
  const app = provider.callback();
  const server = http.createServer((req, res) => {
    if (forwardedFor) {
      req.headers['x-forwarded-proto'] = forwardedFor.protocol.slice(0, -1);
      req.headers['x-forwarded-host'] = forwardedFor.host;
    }
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
  return { provider, server, tokenPath: `${mountPath}${provider.pathFor('token', { mountPath: '' })}` };
}

