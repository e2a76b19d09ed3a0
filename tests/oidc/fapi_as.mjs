// A real OAuth 2.0 / FAPI 2.0 authorization server (oidc-provider 9.13.3) on
// loopback HTTPS, for the tests of fapi-agent as an OAuth client: token
// requests (client_credentials, authorization_code + PKCE, refresh_token,
// password), client authentication (private_key_jwt, tls_client_auth,
// self_signed_tls_client_auth, client_secret_basic, client_secret_post),
// DPoP (RFC 9449) and mTLS (RFC 8705) sender-constrained tokens, PAR (RFC 9126)
// with or without a signed request object (JAR, RFC 9101) and JARM.
//
//   node tests/oidc/fapi_as.mjs CONFIG.json
//
// stdout: exactly one JSON line once every listener is up (see FAPI_AS.md),
// then nothing. Logs, one line per request and every provider error event
// (with error_description and error_detail) go to stderr. It serves until
// SIGTERM or SIGINT, then exits 0. A bad config or a port that cannot be bound
// exits 2 with nothing on stdout.
//
// Three listeners:
//   main     HTTPS, the issuer https://127.0.0.1:PORT; no client certificate requested.
//   mtls     HTTPS, requests (does not require) a client certificate; the same
//            provider, published as mtls_endpoint_aliases (RFC 8705 §5).
//   control  plain HTTP on 127.0.0.1: counters, fault injection, introspection,
//            a programmatic user agent for the authorization step, last error.
import {
  X509Certificate, constants as cryptoConstants, createHash, createPrivateKey, generateKeyPairSync, randomBytes, timingSafeEqual,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { calculateJwkThumbprint, decodeJwt } from 'jose';
import Provider, { errors } from 'oidc-provider';
// oidc-provider has no public hooks for these; the package has no "exports"
// map and the version is pinned, so its own modules are imported directly.
// The memory adapter is the provider's own, with a store larger than its
// default 1000 entries (tokens, replay-detection entries, DPoP jtis).
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
// The helpers the built-in grants use (DPoP validation and replay check,
// mTLS binding, resource indicators, scope checks, token response): the
// password grant uses them too, so it binds tokens exactly like the others.
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';

// oidc-provider prints notices with console.info (stdout): stdout carries
// only the ready line.
console.log = console.info = (...args) => console.error(...args);

const ME = 'fapi_as.mjs';
const log = (...parts) => console.error(`${ME}: ${parts.join(' ')}`);

const ROUTES = {
  authorization: '/auth',
  introspection: '/token/introspection',
  jwks: '/jwks',
  pushed_authorization_request: '/request',
  revocation: '/token/revocation',
  token: '/token',
  userinfo: '/me',
};
const FAPI_ALGS = ['PS256', 'ES256', 'EdDSA'];
const AUTH_METHODS = new Set([
  'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth',
  'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'none',
]);
const FAULT_MODES = new Set(['none', 'reset', 'slow', 'http500', 'garbage', 'invalid_client']);
const UNKNOWN = '_unknown';
const BODY_LIMIT = 1024 * 1024;

class ConfigError extends Error {}
function bad(message) {
  throw new ConfigError(`bad config: ${message}`);
}

// ---------------------------------------------------------------- config

function readConfig(file) {
  if (!file) bad(`usage: node ${ME} CONFIG.json`);
  let cfg;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    bad(`cannot read ${file}: ${err.message}`);
  }
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) bad('must be a JSON object');
  cfg.profile ??= 'fapi2';
  if (!['fapi2', 'none'].includes(cfg.profile)) bad('"profile" must be "fapi2" or "none"');
  for (const key of ['port', 'mtls_port', 'control_port']) {
    cfg[key] ??= 0;
    if (!Number.isInteger(cfg[key]) || cfg[key] < 0 || cfg[key] > 65535) bad(`"${key}" must be a port number`);
  }
  if (typeof cfg.tls?.cert !== 'string' || typeof cfg.tls?.key !== 'string') {
    bad('"tls.cert" and "tls.key" (file paths) are required');
  }
  cfg.access_token_ttl ??= 300;
  if (!Number.isSafeInteger(cfg.access_token_ttl) || cfg.access_token_ttl < 1) bad('"access_token_ttl" must be a positive integer');
  cfg.refresh_token_ttl ??= 86400;
  if (!Number.isSafeInteger(cfg.refresh_token_ttl) || cfg.refresh_token_ttl < 1) bad('"refresh_token_ttl" must be a positive integer');
  cfg.require_dpop_nonce = cfg.require_dpop_nonce === true;
  cfg.omit_expires_in = cfg.omit_expires_in === true;
  cfg.issue_refresh_tokens = cfg.issue_refresh_tokens !== false;
  cfg.rotate_refresh_tokens = cfg.rotate_refresh_tokens === true;
  cfg.require_typ = cfg.require_typ === true;
  cfg.require_pushed_authorization_requests ??= cfg.profile === 'fapi2';
  cfg.log_requests = cfg.log_requests !== false;
  cfg.scopes ??= [];
  if (!Array.isArray(cfg.scopes) || !cfg.scopes.every((s) => typeof s === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) {
    bad('"scopes" must be an array of scope tokens');
  }
  cfg.accounts ??= [{ username: 'alice', password: 'alice-password', sub: 'alice' }];
  if (!Array.isArray(cfg.accounts) || !cfg.accounts.every((a) => ['username', 'password', 'sub'].every((k) => typeof a?.[k] === 'string' && a[k]))) {
    bad('"accounts" must be an array of {"username", "password", "sub"} (non-empty strings)');
  }
  if (!Array.isArray(cfg.clients)) bad('"clients" must be an array');
  for (const c of cfg.clients) {
    if (typeof c?.client_id !== 'string' || !c.client_id) bad('every client needs a "client_id"');
    c.token_endpoint_auth_method ??= 'private_key_jwt';
    if (!AUTH_METHODS.has(c.token_endpoint_auth_method)) bad(`client ${c.client_id}: unknown token_endpoint_auth_method`);
    if (c.certificates_pem !== undefined && !(Array.isArray(c.certificates_pem) && c.certificates_pem.every((p) => typeof p === 'string'))) {
      bad(`client ${c.client_id}: "certificates_pem" must be an array of PEM strings`);
    }
    if (c.scope !== undefined && typeof c.scope !== 'string') bad(`client ${c.client_id}: "scope" must be a string`);
  }
  return cfg;
}

// The client's public keys: `jwks` as given plus one JWK per certificate
// (kid = RFC 7638 thumbprint, as in provider.mjs). For
// self_signed_tls_client_auth the certificate rides along as x5c: that is what
// oidc-provider matches the TLS client certificate against.
async function clientKeys(c) {
  const keys = (c.jwks?.keys ?? []).map((k) => ({ ...k }));
  for (const pem of c.certificates_pem ?? []) {
    const cert = new X509Certificate(pem);
    const jwk = cert.publicKey.export({ format: 'jwk' });
    jwk.kid = await calculateJwkThumbprint(jwk, 'sha256');
    if (c.token_endpoint_auth_method === 'self_signed_tls_client_auth') {
      jwk.x5c = [cert.raw.toString('base64')];
    }
    keys.push(jwk);
  }
  return keys;
}

// Client metadata as registered: every key of the config entry is client
// metadata (RFC 7591 names) except certificates_pem; defaults fill in what a
// test usually leaves out.
async function clientMetadata(cfg, c) {
  const md = { ...c };
  delete md.certificates_pem;
  const keys = await clientKeys(c);
  if (keys.length) md.jwks = { keys };
  else delete md.jwks;
  md.redirect_uris ??= [];
  md.response_types ??= md.redirect_uris.length ? ['code'] : [];
  if (!md.grant_types) {
    md.grant_types = ['client_credentials'];
    if (md.response_types.length) md.grant_types.push('authorization_code');
    if (cfg.issue_refresh_tokens) md.grant_types.push('refresh_token');
    if (cfg.profile === 'none') md.grant_types.push('password');
  }
  return md;
}

function asKeys(cfg) {
  if (cfg.as_jwks !== undefined) {
    if (!Array.isArray(cfg.as_jwks?.keys)) bad('"as_jwks" must be a private JWKS');
    return cfg.as_jwks.keys;
  }
  // Fresh per process: RSA (PS256/RS256), P-256 (ES256), Ed25519 (EdDSA).
  // Generated as PEM and re-imported: on Node 20, exporting a KeyObject
  // straight from generateKeyPairSync can deadlock when a GC runs the key
  // generation job's destructor meanwhile (both lock the key's mutex).
  const pem = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } };
  const pairs = [
    generateKeyPairSync('rsa', { modulusLength: 2048, ...pem }),
    generateKeyPairSync('ec', { namedCurve: 'P-256', ...pem }),
    generateKeyPairSync('ed25519', pem),
  ];
  return pairs.map(({ privateKey }) => {
    const jwk = createPrivateKey(privateKey).export({ format: 'jwk' });
    const pub = Object.fromEntries(Object.entries(jwk).filter(([k]) => ['kty', 'crv', 'x', 'y', 'n', 'e'].includes(k)));
    const kid = createHash('sha256').update(JSON.stringify(Object.fromEntries(Object.keys(pub).sort().map((k) => [k, pub[k]])))).digest('base64url');
    return { ...jwk, use: 'sig', kid };
  });
}

// ---------------------------------------------------------------- helpers

function readBody(req, limit = BODY_LIMIT) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

const isForm = (req) => /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');

function safeEqual(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

// Who the request says it is, read the way the provider will: client_id in
// the body, else the Basic header's user part (form-urldecoded), else the
// client assertion's sub.
function requestClientId(req, params) {
  if (params.get('client_id')) return params.get('client_id');
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^basic /i.test(auth)) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    const raw = i === -1 ? decoded : decoded.slice(0, i);
    try {
      return decodeURIComponent(raw.replace(/\+/g, '%20'));
    } catch {
      return raw;
    }
  }
  const assertion = params.get('client_assertion');
  if (assertion) {
    try {
      const { sub, iss } = decodeJwt(assertion);
      if (typeof (sub ?? iss) === 'string') return sub ?? iss;
    } catch { /* counted as unknown */ }
  }
  return UNKNOWN;
}

// RFC 4514 (CN=a,O=b: most specific first) or Node's X509Certificate.subject
// ("O=b\nCN=a") -> list of TYPE=value.
function dnParts(dn) {
  const parts = [];
  let cur = '';
  for (let i = 0; i < dn.length; i += 1) {
    const ch = dn[i];
    if (ch === '\\' && i + 1 < dn.length) {
      cur += dn[i + 1];
      i += 1;
    } else if (ch === ',' || ch === '\n') {
      parts.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter(Boolean).map((p) => {
    const j = p.indexOf('=');
    return j === -1 ? p : `${p.slice(0, j).trim().toUpperCase()}=${p.slice(j + 1).trim()}`;
  });
}

const sameList = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

function sanValues(cert, type) {
  const san = cert.subjectAltName ?? '';
  return san.split(/,\s*/).map((entry) => {
    const i = entry.indexOf(':');
    return [entry.slice(0, i), entry.slice(i + 1).replace(/^"(.*)"$/, '$1')];
  }).filter(([t]) => t === type).map(([, v]) => v);
}

function certificateSubjectMatches(ctx, property, expected) {
  const cert = getCertificate(ctx);
  if (!cert) return false;
  switch (property) {
    case 'tls_client_auth_subject_dn': {
      const want = dnParts(expected);
      const have = dnParts(cert.subject);
      return sameList(want, [...have].reverse()) || sameList(want, have);
    }
    case 'tls_client_auth_san_dns':
      return sanValues(cert, 'DNS').includes(expected);
    case 'tls_client_auth_san_uri':
      return sanValues(cert, 'URI').includes(expected);
    case 'tls_client_auth_san_ip':
      return sanValues(cert, 'IP Address').includes(expected);
    case 'tls_client_auth_san_email':
      return sanValues(cert, 'email').includes(expected);
    default:
      return false;
  }
}

// The client certificate of this request's TLS connection and the
// intermediates the client sent after it (mtls listener only: the main
// listener never asks for one). Read once per connection with
// getPeerCertificate(true): on Node 20, calling getPeerX509Certificate() first
// leaves getPeerCertificate(true) without the chain.
const peerCertificates = new WeakMap();
function peer(socket) {
  if (typeof socket?.getPeerCertificate !== 'function') return { leaf: undefined, chain: [] };
  let entry = peerCertificates.get(socket);
  if (!entry) {
    const first = socket.getPeerCertificate(true);
    const chain = [];
    let cert = first;
    while (cert?.issuerCertificate && cert.issuerCertificate !== cert && chain.length < 10) {
      cert = cert.issuerCertificate;
      if (cert.raw) chain.push(new X509Certificate(cert.raw));
    }
    entry = { leaf: first?.raw ? new X509Certificate(first.raw) : undefined, chain };
    peerCertificates.set(socket, entry);
  }
  return entry;
}

function getCertificate(ctx) {
  return peer(ctx.socket).leaf;
}

// Certificates in PEM bundles (tls.client_ca may be one file or a list).
function pemCertificates(text) {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)]
    .map(([pem]) => new X509Certificate(pem));
}

const validNow = (cert) => {
  const now = Date.now();
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
};

// tls_client_auth: the client certificate chains to a tls.client_ca
// certificate (directly or through intermediates the client sent), every
// certificate on the way valid now. Verified here rather than by the TLS
// stack, so that the mtls listener can send an empty certificate_authorities
// list (a client that filters its certificates by that list still offers a
// self-signed one) and still accept self-signed certificates.
function makeCertificateAuthorized(clientCas) {
  return function certificateAuthorized(ctx) {
    const leaf = getCertificate(ctx);
    if (!leaf || !clientCas.length) return false;
    const intermediates = peer(ctx.socket).chain.filter((c) => c.ca);
    let cert = leaf;
    for (let depth = 0; depth < 10; depth += 1) {
      if (!validNow(cert)) return false;
      const issuedBy = (issuer) => cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
      const anchor = clientCas.find(issuedBy);
      if (anchor) return validNow(anchor);
      const next = intermediates.find((c) => c.fingerprint256 !== cert.fingerprint256 && issuedBy(c));
      if (!next) return false;
      cert = next;
    }
    return false;
  };
}

// A path-aware cookie jar, as much of one as the provider's cookies need.
class CookieJar {
  #cookies = new Map(); // `${path}\0${name}` -> { name, value, path }

  store(url, setCookie) {
    for (const line of [setCookie ?? []].flat()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'path') path = v.trim() || '/';
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
      }
      const id = `${path}\0${name}`;
      if (expired) this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    const matching = [...this.#cookies.values()].filter(({ path }) => pathname === path
      || pathname.startsWith(path.endsWith('/') ? path : `${path}/`));
    return matching.map(({ name, value }) => `${name}=${value}`).join('; ');
  }
}

function uaRequest(url, { method = 'GET', body, cookie } = {}) {
  return new Promise((resolve, reject) => {
    const headers = { accept: 'application/json', 'user-agent': 'fapi_as.mjs user agent' };
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = https.request(url, {
      method, headers, rejectUnauthorized: false, agent: false,
    }, (res) => {
      readBody(res).then((buf) => resolve({ status: res.statusCode, headers: res.headers, text: buf.toString('utf8') }), reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`user agent: ${method} ${url} timed out`)));
    req.end(body);
  });
}

const unescapeHtml = (s) => s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e) => ({
  amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'",
}[e]));

function authorizationResult(redirect, params) {
  const out = { redirect };
  for (const key of ['code', 'state', 'iss', 'response', 'error', 'error_description']) {
    if (params.has(key)) out[key] = params.get(key);
  }
  return out;
}

// ---------------------------------------------------------------- main

async function main() {
  const cfg = readConfig(process.argv[2]);
  const tlsOptions = { cert: readFileSync(cfg.tls.cert), key: readFileSync(cfg.tls.key) };
  const clientCas = [cfg.tls.client_ca ?? []].flat().flatMap((f) => pemCertificates(readFileSync(f, 'utf8')));
  const fapi = cfg.profile === 'fapi2';

  // Counters, faults and errors, shared by both HTTPS listeners.
  let counters;
  const resetCounters = () => {
    counters = {
      token_requests: {}, par_requests: {}, total_token_requests: 0, total_par_requests: 0,
    };
  };
  resetCounters();
  let fault = { mode: 'none', delay_ms: 0, times: null, endpoints: ['token'] };
  let errorsSeen = [];
  const NO_ERROR = {
    event: null, error: null, error_description: null, error_detail: null, status: null, method: null, path: null, client_id: null, time: null,
  };

  let app = null; // the provider's callback, attached once it exists
  let tokenPath = ROUTES.token;
  let parPath = ROUTES.pushed_authorization_request;

  function takeFault(endpoint) {
    if (fault.mode === 'none' || !fault.endpoints.includes(endpoint)) return null;
    const taken = { ...fault };
    if (fault.times !== null) {
      fault.times -= 1;
      if (fault.times <= 0) fault = { mode: 'none', delay_ms: 0, times: null, endpoints: ['token'] };
    }
    return taken;
  }

  // Answers the request itself for every mode but slow; true when it did.
  async function applyFault(f, req, res) {
    switch (f.mode) {
      case 'reset':
        log(`fault reset: ${req.method} ${req.url}: socket destroyed`);
        try {
          req.socket.resetAndDestroy();
        } catch {
          req.socket.destroy();
        }
        return true;
      case 'slow':
        await delay(f.delay_ms);
        return false;
      case 'http500':
        res.writeHead(500, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end('<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>injected fault</p></body></html>\n');
        return true;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
        res.end('<html>this is not JSON {"access_token":');
        return true;
      case 'invalid_client':
        res.writeHead(401, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ error: 'invalid_client', error_description: 'client authentication failed (injected fault)' }));
        return true;
      default:
        return false;
    }
  }

  function makeHandler(listener) {
    return async (req, res) => {
      const started = Date.now();
      if (cfg.log_requests) {
        res.on('finish', () => log(`${listener} ${req.method} ${req.url} -> ${res.statusCode} (${Date.now() - started} ms)`));
      }
      try {
        if (!app) {
          res.writeHead(503).end();
          return;
        }
        const path = (req.url ?? '').split('?')[0];
        const endpoint = req.method === 'POST' && (path === tokenPath ? 'token' : path === parPath ? 'par' : null);
        if (endpoint) {
          // Counted before the provider sees it, whatever happens next. The
          // body is read here and handed on as req.body, which the provider
          // parses as it would the stream.
          const body = await readBody(req);
          req.body = body;
          const params = isForm(req) ? new URLSearchParams(body.toString('utf8')) : new URLSearchParams();
          const clientId = requestClientId(req, params);
          if (endpoint === 'token') {
            const grantType = params.get('grant_type') || UNKNOWN;
            counters.total_token_requests += 1;
            counters.token_requests[clientId] ??= {};
            counters.token_requests[clientId][grantType] = (counters.token_requests[clientId][grantType] ?? 0) + 1;
          } else {
            counters.total_par_requests += 1;
            counters.par_requests[clientId] = (counters.par_requests[clientId] ?? 0) + 1;
          }
          const f = takeFault(endpoint);
          if (f && await applyFault(f, req, res)) return;
        }
        app(req, res);
      } catch (err) {
        log(`${listener} ${req.method} ${req.url}: ${err.message}`);
        res.destroy();
      }
    };
  }

  const servers = {
    main: https.createServer(tlsOptions, makeHandler('main')),
    // Asks for a client certificate, takes whatever comes (or none); no `ca`:
    // see makeCertificateAuthorized.
    // No TLS session resumption (SSL_OP_NO_TICKET): a resumed session keeps
    // the client's leaf certificate but loses the intermediates it sent.
    mtls: https.createServer({
      ...tlsOptions, requestCert: true, rejectUnauthorized: false, secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    }, makeHandler('mtls')),
  };
  for (const [name, server] of Object.entries(servers)) {
    // Longer than any HTTP client's idle-pool timeout (reqwest: 90 s), so a
    // pooled connection is never closed by the server just as it is reused.
    server.keepAliveTimeout = 120_000;
    server.on('tlsClientError', (err) => log(`${name}: TLS handshake failed: ${err.message}`));
  }

  const listen = (server, port) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
  const port = await listen(servers.main, cfg.port);
  const mtlsPort = await listen(servers.mtls, cfg.mtls_port);

  const issuer = `https://127.0.0.1:${port}`;
  const mtlsOrigin = `https://127.0.0.1:${mtlsPort}`;
  const mtlsAliases = {
    token_endpoint: `${mtlsOrigin}${ROUTES.token}`,
    pushed_authorization_request_endpoint: `${mtlsOrigin}${ROUTES.pushed_authorization_request}`,
    introspection_endpoint: `${mtlsOrigin}${ROUTES.introspection}`,
    revocation_endpoint: `${mtlsOrigin}${ROUTES.revocation}`,
    userinfo_endpoint: `${mtlsOrigin}${ROUTES.userinfo}`,
  };

  // Every scope any client is registered for, plus "scopes": oidc-provider
  // silently drops scopes it does not know.
  const allScopes = new Set(['openid', 'offline_access', ...cfg.scopes]);
  for (const c of cfg.clients) for (const s of (c.scope ?? '').split(' ').filter(Boolean)) allScopes.add(s);

  const accountBySub = new Map(cfg.accounts.map((a) => [a.sub, a]));
  const clients = await Promise.all(cfg.clients.map((c) => clientMetadata(cfg, c)));
  const store = new LRU({ maxSize: 1_000_000 });
  const clockTolerance = cfg.clock_tolerance ?? 15;

  const provider = new Provider(issuer, {
    adapter: (name) => new MemoryAdapter(name, store, clockTolerance),
    clients,
    jwks: { keys: asKeys(cfg) },
    clockTolerance,
    routes: ROUTES,
    scopes: [...allScopes],
    responseTypes: ['code'],
    clientAuthMethods: fapi
      ? ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']
      : [...AUTH_METHODS],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: fapi ? 'private_key_jwt' : 'client_secret_basic',
      id_token_signed_response_alg: fapi ? 'PS256' : 'RS256',
      authorization_signed_response_alg: fapi ? 'PS256' : 'RS256',
    },
    enabledJWA: fapi ? {
      clientAuthSigningAlgValues: FAPI_ALGS,
      requestObjectSigningAlgValues: FAPI_ALGS,
      dPoPSigningAlgValues: FAPI_ALGS,
      idTokenSigningAlgValues: FAPI_ALGS,
      authorizationSigningAlgValues: FAPI_ALGS,
      userinfoSigningAlgValues: FAPI_ALGS,
      introspectionSigningAlgValues: FAPI_ALGS,
    } : {},
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    discovery: { mtls_endpoint_aliases: mtlsAliases },
    async findAccount(ctx, sub) {
      const account = accountBySub.get(sub);
      if (!account) return undefined;
      return { accountId: sub, async claims() { return { sub }; } };
    },
    expiresWithSession: async () => false,
    issueRefreshToken: async (ctx, client) => cfg.issue_refresh_tokens && client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => cfg.rotate_refresh_tokens,
    ttl: {
      AccessToken: cfg.access_token_ttl,
      ClientCredentials: cfg.access_token_ttl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: cfg.refresh_token_ttl,
      Grant: Math.max(cfg.refresh_token_ttl, 86400),
      Interaction: 600,
      Session: 86400,
    },
    interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
    // Errors that cannot go back to the client (bad client_id, redirect_uri,
    // request_uri...) are rendered as the JSON error object.
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      fapi: fapi ? { enabled: true, profile: '2.0' } : { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: async (ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
      },
      revocation: {
        enabled: true,
        async allowedPolicy(ctx, client, token) {
          if (token.clientId !== client.clientId) {
            throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          }
          return true;
        },
      },
      dPoP: {
        enabled: true,
        // Nonces only when demanded: a server that never sends one, or one
        // that demands it on every DPoP request (RFC 9449 §8).
        nonceSecret: cfg.require_dpop_nonce ? randomBytes(32) : undefined,
        requireNonce: () => cfg.require_dpop_nonce,
      },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate,
        certificateAuthorized: makeCertificateAuthorized(clientCas),
        certificateSubjectMatches,
      },
      pushedAuthorizationRequests: {
        enabled: true,
        requirePushedAuthorizationRequests: cfg.require_pushed_authorization_requests,
      },
      requestObjects: {
        enabled: true,
        requireSignedRequestObject: false,
        // oidc-provider's own check, plus the typ check with require_typ.
        async assertJwtClaimsAndHeader(ctx, claims, header) {
          if (ctx.oidc.isFapi('1.0 Final', '2.0')) {
            for (const claim of ['exp', 'aud', 'nbf']) {
              if (claims[claim] === undefined) {
                throw new errors.InvalidRequestObject(`Request Object is missing the '${claim}' claim`);
              }
            }
            const diff = claims.exp - claims.nbf;
            if (Math.sign(diff) !== 1 || diff > 3600) {
              throw new errors.InvalidRequestObject("Request Object 'exp' claim too far from 'nbf' claim");
            }
          }
          if (cfg.require_typ && header.typ !== 'oauth-authz-req+jwt') {
            throw new errors.InvalidRequestObject("Request Object 'typ' header must be 'oauth-authz-req+jwt'");
          }
        },
      },
      jwtResponseModes: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => true,
        // Any https resource is accepted; audience = the resource itself, and
        // it may carry any scope the AS knows.
        async getResourceServerInfo(ctx, resource) {
          if (URL.parse(resource)?.protocol !== 'https:') {
            throw new errors.InvalidTarget('this authorization server only accepts https resource indicators');
          }
          return {
            scope: [...allScopes].join(' '),
            audience: resource,
            accessTokenTTL: cfg.access_token_ttl,
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
    // oidc-provider's own check (aud = issuer under FAPI 2.0) plus the typ
    // check with require_typ.
    async assertJwtClientAuthClaimsAndHeader(ctx, claims, header) {
      if (ctx.oidc.isFapi('2.0') && claims.aud !== ctx.oidc.issuer) {
        throw new errors.InvalidClientAuth('audience (aud) must equal the issuer identifier url');
      }
      if (cfg.require_typ && header.typ !== 'client-authentication+jwt') {
        throw new errors.InvalidClientAuth("client assertion 'typ' header must be 'client-authentication+jwt'");
      }
    },
  });
  tokenPath = provider.pathFor('token');
  parPath = provider.pathFor('pushed_authorization_request');

  // Every error event the provider emits, to stderr and to /last_error.
  const emit = provider.emit.bind(provider);
  provider.emit = (event, ...args) => {
    if (event === 'server_error' || (typeof event === 'string' && event.endsWith('.error'))) {
      const [ctx, err] = args;
      const entry = {
        event,
        error: err?.error ?? err?.message ?? String(err),
        error_description: err?.error_description ?? null,
        error_detail: err?.error_detail ?? null,
        status: err?.statusCode ?? err?.status ?? 500,
        method: ctx?.method ?? null,
        path: ctx?.path ?? null,
        client_id: ctx?.oidc?.client?.clientId ?? null,
        time: Date.now(),
      };
      errorsSeen.push(entry);
      if (errorsSeen.length > 1000) errorsSeen = errorsSeen.slice(-1000);
      log(`${event}: ${entry.method} ${entry.path} client=${entry.client_id}: ${[entry.error, entry.error_description, entry.error_detail].filter(Boolean).join(': ')}`);
      if (event === 'server_error' && err?.stack) log(err.stack);
    }
    return emit(event, ...args);
  };
  provider.on('error', (err) => log(`koa error: ${err.stack ?? err}`));

  const helpers = Object.fromEntries(
    Object.entries(grantHelpers).map(([name, fn]) => [name, fn.bind(undefined, provider)]),
  );

  // token responses without expires_in
  if (cfg.omit_expires_in) {
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path === tokenPath && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
        delete ctx.body.expires_in;
      }
    });
  }

  // The interaction pages a browser would see: JSON instead of HTML forms.
  //   GET  /interaction/:uid           -> {"uid", "prompt": {"name", "reasons", "details"}, "params"}
  //   POST /interaction/:uid/login     username=&password=  -> 303 to the resume URL
  //   POST /interaction/:uid/consent   -> grants what was asked, 303 to the resume URL
  //   POST /interaction/:uid/abort     -> access_denied, 303 to the resume URL
  provider.use(async (ctx, next) => {
    const m = /^\/interaction\/([^/]+)(?:\/(login|consent|abort))?$/.exec(ctx.path);
    if (!m) return next();
    ctx.set('cache-control', 'no-store');
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== m[1]) throw new Error('interaction cookie does not match the URL');
      const action = m[2];
      if (!action && ctx.method === 'GET') {
        ctx.body = { uid: details.uid, prompt: details.prompt, params: details.params };
        return undefined;
      }
      if (!action || ctx.method !== 'POST') {
        ctx.status = 405;
        return undefined;
      }
      const form = new URLSearchParams((await readBody(ctx.req)).toString('utf8'));
      let result;
      if (action === 'login') {
        if (details.prompt.name !== 'login') throw new Error(`prompt is ${details.prompt.name}, not login`);
        const account = cfg.accounts.find((a) => a.username === form.get('username'));
        if (!account || !safeEqual(account.password, form.get('password') ?? '')) {
          ctx.status = 401;
          ctx.body = { error: 'login_failed', error_description: 'unknown username or wrong password' };
          return undefined;
        }
        result = { login: { accountId: account.sub } };
      } else if (action === 'consent') {
        if (details.prompt.name !== 'consent') throw new Error(`prompt is ${details.prompt.name}, not consent`);
        const { prompt: { details: missing }, params, session } = details;
        const grant = details.grantId
          ? await provider.Grant.find(details.grantId)
          : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
        if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
        if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
        for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
        const grantId = await grant.save();
        result = { consent: details.grantId ? {} : { grantId } };
      } else {
        result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
      }
      const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
      ctx.status = 303;
      ctx.redirect(returnTo);
    } catch (err) {
      log(`interaction ${ctx.method} ${ctx.path}: ${err.message}`);
      ctx.status = 400;
      ctx.body = { error: 'interaction_failed', error_description: err.message };
    }
    return undefined;
  });

  // Resource owner password credentials (RFC 6749 §4.3), profile none only.
  if (!fapi) {
    provider.registerGrantType('password', async (ctx) => {
      const { client, params } = ctx.oidc;
      if (!params.username || !params.password) {
        throw new errors.InvalidRequest('missing required parameter(s) (username, password)');
      }
      const account = cfg.accounts.find((a) => a.username === params.username);
      if (!account || !safeEqual(account.password, params.password)) {
        throw new errors.InvalidGrant('invalid resource owner credentials');
      }
      const dPoP = await helpers.validateDpop(ctx);
      const resourceServers = await helpers.resolveRequestedResources(ctx);
      const scopes = [...helpers.validateClientScope(ctx)];
      if (resourceServers.length > 1) {
        throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type');
      }
      const [resourceServer] = resourceServers;

      const grant = new provider.Grant({ accountId: account.sub, clientId: client.clientId });
      let scope;
      if (resourceServer) {
        scope = scopes.filter((s) => resourceServer.scopes.has(s)).join(' ') || undefined;
        grant.addResourceScope(resourceServer.identifier(), scope ?? '');
      } else {
        scope = scopes.join(' ') || undefined;
        if (scope) grant.addOIDCScope(scope);
      }
      const grantId = await grant.save();
      ctx.oidc.entity('Grant', grant);

      const at = new provider.AccessToken({
        accountId: account.sub, client, grantId, gty: 'password', expiresWithSession: false,
      });
      if (resourceServer) at.resourceServer = resourceServer;
      at.scope = scope;
      const cert = helpers.checkMtlsCert(ctx);
      if (cert) at.setThumbprint('x5t', cert);
      if (dPoP) {
        await helpers.checkDpopReplay(ctx, dPoP, client.clientId, errors.InvalidGrant);
        at.setThumbprint('jkt', dPoP.thumbprint);
      }
      helpers.checkDpopRequired(ctx, dPoP);
      ctx.oidc.entity('AccessToken', at);
      const accessToken = await at.save();

      let refreshToken;
      if (cfg.issue_refresh_tokens && client.grantTypeAllowed('refresh_token')) {
        const rt = new provider.RefreshToken({
          accountId: account.sub,
          client,
          grantId,
          gty: 'password',
          scope,
          resource: resourceServer?.identifier(),
          rotations: 0,
          expiresWithSession: false,
        });
        ctx.oidc.entity('RefreshToken', rt);
        refreshToken = await rt.save();
      }

      ctx.body = helpers.buildTokenResponse({
        accessToken,
        expiresIn: at.expiration,
        refreshToken,
        scope,
        tokenType: at.tokenType,
      });
    }, new Set(['username', 'password', 'scope', 'resource']), new Set(['resource']));
  }

  // Static clients are validated lazily: validate them now, so that a bad one
  // fails the start rather than a request.
  for (const c of cfg.clients) {
    try {
      await provider.Client.find(c.client_id);
    } catch (err) {
      bad(`client ${c.client_id}: ${[err.error_description ?? err.message, err.error_detail].filter(Boolean).join(': ')}`);
    }
  }

  app = provider.callback();

  // ------------------------------------------------------------ control API

  async function introspect(value) {
    if (typeof value !== 'string' || !value) return { status: 400, body: { error: 'invalid_request', error_description: '"token" is required' } };
    const opts = { ignoreExpiration: true };
    const token = await provider.AccessToken.find(value, { ...opts, ignoreSessionBinding: true })
      ?? await provider.ClientCredentials.find(value, opts)
      ?? await provider.RefreshToken.find(value, opts);
    if (!token) return { status: 200, body: { active: false, reason: 'not_found' } };
    const cnf = {};
    if (token.jkt) cnf.jkt = token.jkt;
    if (token['x5t#S256']) cnf['x5t#S256'] = token['x5t#S256'];
    const active = token.isValid && !token.consumed;
    const body = {
      active,
      ...(active ? {} : { reason: token.consumed ? 'consumed' : 'expired' }),
      kind: token.kind,
      client_id: token.clientId,
      scope: token.scope || undefined,
      exp: token.exp,
      iat: token.iat,
      aud: token.aud,
      sub: token.accountId,
      gty: token.gty,
      cnf: Object.keys(cnf).length ? cnf : undefined,
      token_type: token.kind === 'RefreshToken' ? undefined : token.tokenType,
    };
    return { status: 200, body };
  }

  async function authorize({ url, username, password, deny }) {
    let current;
    try {
      current = new URL(url);
    } catch {
      return { status: 400, body: { error: 'invalid_request', error_description: '"url" must be an absolute URL' } };
    }
    const asOrigins = new Set([issuer, mtlsOrigin]);
    if (!asOrigins.has(current.origin)) {
      return { status: 400, body: { error: 'invalid_request', error_description: `"url" must be on ${issuer}` } };
    }
    const account = username === undefined
      ? cfg.accounts[0]
      : cfg.accounts.find((a) => a.username === username) ?? { username, password: password ?? '' };
    const jar = new CookieJar();
    let method = 'GET';
    let body;
    for (let hop = 0; hop < 30; hop += 1) {
      const res = await uaRequest(current, { method, body, cookie: jar.header(current) });
      jar.store(current, res.headers['set-cookie']);
      if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location) {
        const next = new URL(res.headers.location, current);
        if (!asOrigins.has(next.origin) || !/^\/(auth|interaction)(\/|$)/.test(next.pathname)) {
          const params = new URLSearchParams(next.hash ? next.hash.slice(1) : next.search);
          return { status: 200, body: authorizationResult(next.href, params) };
        }
        current = next;
        method = 'GET';
        body = undefined;
        continue;
      }
      if (res.status === 200 && current.pathname.startsWith('/interaction/') && method === 'GET') {
        const { uid, prompt } = JSON.parse(res.text);
        const base = new URL(`/interaction/${uid}/`, current);
        method = 'POST';
        if (deny) {
          current = new URL('abort', base);
          body = '';
        } else if (prompt.name === 'login') {
          current = new URL('login', base);
          body = new URLSearchParams({ username: account.username, password: password ?? account.password }).toString();
        } else if (prompt.name === 'consent') {
          current = new URL('consent', base);
          body = '';
        } else {
          return { status: 500, body: { error: 'user_agent_failed', error_description: `unknown prompt ${prompt.name}` } };
        }
        continue;
      }
      const form = /<form method="post" action="([^"]*)">/.exec(res.text);
      if (res.headers['content-type']?.startsWith('text/html') && form) {
        const params = new URLSearchParams();
        for (const [, name, value] of res.text.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\/>/g)) {
          params.append(name, unescapeHtml(value));
        }
        return { status: 200, body: { ...authorizationResult(unescapeHtml(form[1]), params), form_post: true } };
      }
      // The provider answered with an error page, or login failed.
      let parsed;
      try {
        parsed = JSON.parse(res.text);
      } catch {
        parsed = { raw: res.text };
      }
      return {
        status: 200,
        body: {
          redirect: null, stopped_at: current.href, http_status: res.status, ...parsed,
        },
      };
    }
    return { status: 500, body: { error: 'user_agent_failed', error_description: 'too many redirects' } };
  }

  function setFault(input) {
    const mode = input?.mode ?? 'none';
    if (!FAULT_MODES.has(mode)) return { error: `"mode" must be one of ${[...FAULT_MODES].join(', ')}` };
    const delayMs = input.delay_ms ?? 0;
    if (!Number.isSafeInteger(delayMs) || delayMs < 0) return { error: '"delay_ms" must be a non-negative integer' };
    const times = input.times ?? null;
    if (times !== null && (!Number.isSafeInteger(times) || times < 1)) return { error: '"times" must be a positive integer' };
    const endpoints = input.endpoints ?? ['token'];
    if (!Array.isArray(endpoints) || !endpoints.length || !endpoints.every((e) => e === 'token' || e === 'par')) {
      return { error: '"endpoints" must be a non-empty array of "token", "par"' };
    }
    fault = {
      mode, delay_ms: delayMs, times: mode === 'none' ? null : times, endpoints,
    };
    log(`fault set: ${JSON.stringify(fault)}`);
    return null;
  }

  const routes = {
    'GET /counters': () => ({ body: counters }),
    'POST /counters/reset': () => {
      resetCounters();
      return { body: counters };
    },
    'GET /fault': () => ({ body: fault }),
    'POST /fault': (input) => {
      const problem = setFault(input);
      return problem ? { status: 400, body: { error: 'invalid_request', error_description: problem.error } } : { body: fault };
    },
    'POST /introspect': (input) => introspect(input?.token),
    'POST /authorize': (input) => authorize(input ?? {}),
    'GET /last_error': () => ({ body: errorsSeen.at(-1) ?? NO_ERROR }),
    'GET /errors': () => ({ body: errorsSeen }),
    'POST /errors/reset': () => {
      errorsSeen = [];
      return { body: errorsSeen };
    },
  };

  const control = http.createServer(async (req, res) => {
    const send = (status, body) => {
      const text = `${JSON.stringify(body)}\n`;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      const route = routes[`${req.method} ${(req.url ?? '').split('?')[0]}`];
      const raw = (await readBody(req)).toString('utf8');
      if (!route) {
        send(404, { error: 'not_found', error_description: `no control route ${req.method} ${req.url}` });
        return;
      }
      let input;
      try {
        input = raw.trim() ? JSON.parse(raw) : undefined;
      } catch {
        send(400, { error: 'invalid_request', error_description: 'the body must be JSON' });
        return;
      }
      const { status = 200, body } = await route(input);
      send(status, body);
    } catch (err) {
      log(`control ${req.method} ${req.url}: ${err.stack ?? err}`);
      send(500, { error: 'server_error', error_description: err.message });
    }
  });
  const controlPort = await listen(control, cfg.control_port);

  const url = (name) => `${issuer}${provider.pathFor(name)}`;
  const ready = {
    issuer,
    port,
    mtls_port: mtlsPort,
    control_url: `http://127.0.0.1:${controlPort}`,
    token_endpoint: url('token'),
    mtls_token_endpoint: mtlsAliases.token_endpoint,
    pushed_authorization_request_endpoint: url('pushed_authorization_request'),
    authorization_endpoint: url('authorization'),
    introspection_endpoint: url('introspection'),
    revocation_endpoint: url('revocation'),
    jwks_uri: url('jwks'),
    mtls_endpoint_aliases: mtlsAliases,
    profile: cfg.profile,
  };

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    const all = [servers.main, servers.mtls, control];
    let open = all.length;
    for (const server of all) {
      server.close(() => {
        open -= 1;
        if (open === 0) process.exit(0);
      });
      server.closeAllConnections();
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  log(`ready: ${issuer} (profile ${cfg.profile}), mtls ${mtlsOrigin}, control ${ready.control_url}`);
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

try {
  await main();
} catch (err) {
  log(err instanceof ConfigError ? err.message : (err.stack ?? err));
  process.exit(2);
}
