// "The bank": a real FAPI resource server on loopback for fapi-agent's egress-proxy tests.
//
//   node tests/rs/bank.mjs CONFIG.json
//
// stdout: exactly one line once both listeners are up:
//   {"url": "https://127.0.0.1:PORT", "port": PORT, "control_url": "http://127.0.0.1:CPORT"}
// Then it serves until SIGTERM or SIGINT. Logs go to stderr; every refusal logs one line
//   bank: REFUSED <reason>: <METHOD> <path> -> <status>: <what exactly failed>
//
// What it enforces on every request (README.md beside this file has the contract):
//   mTLS (RFC 8705 transport), DPoP-bound tokens (RFC 9449 §4.3, §7, §9 nonces), mTLS-bound
//   tokens (RFC 8705 §3), bearer tokens (RFC 6750), token introspection (RFC 7662, or the test
//   authorization server's control API), RFC 9421 HTTP message signatures with RFC 9530
//   Content-Digest (FAPI 2.0 component set), UK Open Banking x-jws-signature (detached JWS,
//   v3.1.3 with RFC 7797 b64=false, v3.1.4+ without b64) and Berlin Group NextGenPSD2
//   draft-cavage-http-signatures-10 with Digest and TPP-Signature-Certificate.
//
// Verification is done by libraries nobody on the project wrote: jose (JWS, RFC 7638
// thumbprints), http-message-signatures (RFC 9421), structured-headers (RFC 8941/9651),
// node:crypto and node:tls/https/http2 (OpenSSL).
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import crypto from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as jose from 'jose';
import hms from 'http-message-signatures';
import { parseDictionary, serializeDictionary } from 'structured-headers';

const { httpbis, createVerifier, createSigner } = hms;

// ---------------------------------------------------------------------------------------------
// logging

const log = (...parts) => process.stderr.write(`bank: ${parts.join(' ')}\n`);
// stdout carries exactly one line (the listening line); anything a library prints goes to stderr.
console.log = console.info = (...args) => console.error(...args);

// ---------------------------------------------------------------------------------------------
// configuration

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write('usage: node bank.mjs CONFIG.json\n');
  process.exit(2);
}
const baseDir = path.dirname(path.resolve(configPath));
const rawConfig = JSON.parse(fs.readFileSync(configPath, 'utf8'));

// A PEM value may be given inline ("-----BEGIN ...") or as a file path (relative to the config).
function pemOrFile(value, what) {
  if (typeof value !== 'string' || value === '') throw new Error(`config: ${what} must be a PEM string or a file path`);
  if (value.includes('-----BEGIN')) return value;
  return fs.readFileSync(path.resolve(baseDir, value), 'utf8');
}
function pemList(value, what) {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map((v, i) => pemOrFile(v, `${what}[${i}]`));
}
// A JWKS may be given inline ({"keys": [...]}) or as a file path.
function jwksOrFile(value, what) {
  const jwks = typeof value === 'string' ? JSON.parse(fs.readFileSync(path.resolve(baseDir, value), 'utf8')) : value;
  if (!jwks || !Array.isArray(jwks.keys)) throw new Error(`config: ${what} must be a JWKS {"keys": [...]} or a path to one`);
  return jwks;
}

const BINDINGS = ['dpop', 'mtls', 'bearer', 'none'];
const DEFAULT_DPOP_ALGS = ['ES256', 'PS256', 'EdDSA', 'Ed25519'];
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

// Runtime-changeable settings (POST /config on the control port). Built by applyPatch.
const cfg = {
  token_binding: 'dpop',
  require_dpop_nonce: false,
  dpop_algs: DEFAULT_DPOP_ALGS,
  dpop_iat_window_s: 60,
  dpop_nonce_rotate_every: 0,
  introspection: null,
  required_scope: null,
  audience: null,
  public_url: null,
  max_body_bytes: 16 * 1024 * 1024,
  signatures: {}, // raw config, for GET /config
  response_signing: null, // prepared response signer (RFC 9421, tag fapi-2-response), or null
  brasil_response_signing: null, // prepared Open Finance Brasil response signer (PS256 JWT), or null
};
const sig = { rfc9421: null, ob_uk: null, cavage: null, brasil: null }; // prepared verifiers

function prepareIntrospection(conf) {
  if (conf === null) return null;
  if (typeof conf !== 'object') throw new Error('config: introspection must be an object');
  if (typeof conf.control_url === 'string') return { control_url: conf.control_url.replace(/\/+$/, '') };
  if (typeof conf.url !== 'string') throw new Error('config: introspection needs "url" (RFC 7662) or "control_url"');
  return {
    url: conf.url,
    client_id: conf.client_id ?? null,
    client_secret: conf.client_secret ?? null,
    ca: conf.ca ? pemList(conf.ca, 'introspection.ca') : null,
  };
}

// RFC 9421 §3.3 algorithm for a JWK (when Signature-Input has no alg parameter).
function httpSigAlgForJwk(jwk) {
  if (jwk.kty === 'RSA') return jwk.alg === 'RS256' ? 'rsa-v1_5-sha256' : 'rsa-pss-sha512';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ecdsa-p256-sha256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ecdsa-p384-sha384';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'ed25519';
  throw new Error(`config: signatures.rfc9421: no RFC 9421 algorithm for a ${jwk.kty}/${jwk.crv ?? ''} key`);
}
const HTTPSIG_ALGS_FOR_KTY = {
  RSA: ['rsa-pss-sha512', 'rsa-v1_5-sha256'],
  'EC:P-256': ['ecdsa-p256-sha256'],
  'EC:P-384': ['ecdsa-p384-sha384'],
  'OKP:Ed25519': ['ed25519'],
};

async function prepareRfc9421(conf) {
  const jwks = jwksOrFile(conf.jwks, 'signatures.rfc9421.jwks');
  const keys = [];
  for (const jwk of jwks.keys) {
    const { d, p, q, dp, dq, qi, k, ...pub } = jwk;
    if (d || k) throw new Error('config: signatures.rfc9421.jwks must hold public keys only');
    const keyObject = crypto.createPublicKey({ key: pub, format: 'jwk' });
    const defaultAlg = httpSigAlgForJwk(pub);
    const algs = HTTPSIG_ALGS_FOR_KTY[pub.kty === 'RSA' ? 'RSA' : `${pub.kty}:${pub.crv}`];
    keys.push({ kid: pub.kid ?? null, thumbprint: await jose.calculateJwkThumbprint(pub, 'sha256'), keyObject, defaultAlg, algs });
  }
  return {
    required: conf.required === true,
    tag: conf.tag === undefined ? 'fapi-2-request' : conf.tag,
    fapi_components: conf.fapi_components !== false,
    max_age_s: conf.max_age_s ?? 300,
    tolerance_s: conf.tolerance_s ?? 60,
    keys,
  };
}

async function prepareObUk(conf) {
  const version = conf.version ?? '3.1.4';
  if (!['3.1.3', '3.1.4'].includes(version)) throw new Error('config: signatures.ob_uk.version must be "3.1.3" or "3.1.4" (3.1.4 covers every later 3.1.x)');
  const jwks = jwksOrFile(conf.jwks, 'signatures.ob_uk.jwks');
  const keys = new Map();
  for (const jwk of jwks.keys) {
    if (jwk.d || jwk.k) throw new Error('config: signatures.ob_uk.jwks must hold public keys only');
    if (typeof jwk.kid !== 'string') throw new Error('config: signatures.ob_uk.jwks: every key needs a "kid" (OB looks keys up by kid)');
    keys.set(jwk.kid, jwk);
  }
  const list = (v) => (v === undefined || v === null ? null : Array.isArray(v) ? v : [v]);
  return {
    version,
    required: conf.required === true,
    algs: conf.algs ?? ['PS256'],
    iss: list(conf.iss),
    tan: list(conf.tan),
    iat_skew_s: conf.iat_skew_s ?? 60,
    keys,
    imported: new Map(),
  };
}

function prepareCavage(conf) {
  const pem = pemOrFile(conf.cert_pem, 'signatures.cavage.cert_pem');
  const cert = new crypto.X509Certificate(pem);
  if (cert.publicKey.asymmetricKeyType !== 'rsa') throw new Error('config: signatures.cavage.cert_pem must be an RSA certificate (rsa-sha256)');
  return {
    required: conf.required === true,
    cert,
    der: cert.raw,
    publicKey: cert.publicKey,
    require_headers: conf.require_headers ?? ['digest', 'x-request-id'],
    // Berlin Group: these are signed when present in the request.
    signed_when_present: conf.signed_when_present ?? ['psu-id', 'psu-corporate-id', 'tpp-redirect-uri'],
  };
}

// RFC 9421 response signing (FAPI 2.0 Message Signing §5.6.3): only when configured, so a bank
// without "response_signing" answers exactly as before.
function prepareResponseSigning(conf) {
  if (conf === null || conf === false) return null;
  if (typeof conf !== 'object') throw new Error('config: response_signing must be an object or null');
  const privateKey = crypto.createPrivateKey(pemOrFile(conf.key_pem, 'response_signing.key_pem'));
  const publicJwk = crypto.createPublicKey(privateKey).export({ format: 'jwk' });
  const alg = conf.alg ?? httpSigAlgForJwk(publicJwk);
  if (!['rsa-pss-sha512', 'ecdsa-p256-sha256', 'ed25519'].includes(alg)) {
    throw new Error(`config: response_signing.alg ${alg} (rsa-pss-sha512, ecdsa-p256-sha256, ed25519)`);
  }
  const tamper = conf.tamper ?? null;
  if (![null, 'body'].includes(tamper)) throw new Error('config: response_signing.tamper must be null or "body"');
  const keyid = conf.keyid ?? null;
  if (keyid !== null && typeof keyid !== 'string') throw new Error('config: response_signing.keyid must be a string');
  // RFC 9421 §3.3.1 wants a 64-byte PSS salt; node's default is the maximum.
  const signer = alg === 'rsa-pss-sha512'
    ? { alg, sign: async (data) => crypto.sign('sha512', data, { key: privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }) }
    : createSigner(privateKey, alg);
  return { alg, keyid, tamper, tag: conf.tag === undefined ? 'fapi-2-response' : conf.tag, signer, publicJwk };
}

// Open Finance Brasil signed bodies (PS256 compact JWS, typ JWT, claims aud iss jti iat data).
async function prepareBrasil(conf) {
  const jwks = jwksOrFile(conf.jwks, 'signatures.brasil.jwks');
  const keys = [];
  for (const jwk of jwks.keys) {
    if (jwk.d || jwk.k) throw new Error('config: signatures.brasil.jwks must hold public keys only');
    // A key without a kid is found by its RFC 7638 thumbprint.
    keys.push({ ...jwk, kid: jwk.kid ?? await jose.calculateJwkThumbprint(jwk, 'sha256') });
  }
  for (const k of ['aud', 'iss']) if (typeof conf[k] !== 'string') throw new Error(`config: signatures.brasil.${k} must be a string`);
  return { required: conf.required === true, jwks: jose.createLocalJWKSet({ keys }), aud: conf.aud, iss: conf.iss, max_age_s: conf.max_age_s ?? 300 };
}

function prepareBrasilResponseSigning(conf) {
  if (conf === null || conf === false) return null;
  if (typeof conf !== 'object') throw new Error('config: brasil_response_signing must be an object or null');
  const privateKey = crypto.createPrivateKey(pemOrFile(conf.key_pem, 'brasil_response_signing.key_pem'));
  if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('config: brasil_response_signing.key_pem must be an RSA key (PS256)');
  for (const k of ['kid', 'aud', 'iss']) if (typeof conf[k] !== 'string') throw new Error(`config: brasil_response_signing.${k} must be a string`);
  const tamper = conf.tamper ?? null;
  if (![null, 'payload'].includes(tamper)) throw new Error('config: brasil_response_signing.tamper must be null or "payload"');
  return { privateKey, kid: conf.kid, aud: conf.aud, iss: conf.iss, tamper, publicJwk: crypto.createPublicKey(privateKey).export({ format: 'jwk' }) };
}

async function applyPatch(patch, { initial = false } = {}) {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new Error('config patch must be a JSON object');
  const next = { ...cfg };
  const nextSig = { ...sig };
  if ('token_binding' in patch) {
    if (!BINDINGS.includes(patch.token_binding)) throw new Error(`token_binding must be one of ${BINDINGS.join(', ')}`);
    next.token_binding = patch.token_binding;
  }
  for (const key of ['require_dpop_nonce']) {
    if (key in patch) {
      if (typeof patch[key] !== 'boolean') throw new Error(`${key} must be a boolean`);
      next[key] = patch[key];
    }
  }
  for (const key of ['dpop_iat_window_s', 'dpop_nonce_rotate_every', 'max_body_bytes']) {
    if (key in patch) {
      if (!Number.isInteger(patch[key]) || patch[key] < 0) throw new Error(`${key} must be a non-negative integer`);
      next[key] = patch[key];
    }
  }
  if ('dpop_algs' in patch) {
    if (!Array.isArray(patch.dpop_algs) || patch.dpop_algs.some((a) => typeof a !== 'string' || a === 'none' || /^HS/.test(a))) {
      throw new Error('dpop_algs must be a list of asymmetric JWS algorithms');
    }
    next.dpop_algs = patch.dpop_algs;
  }
  for (const key of ['required_scope', 'audience', 'public_url']) {
    if (key in patch) {
      if (patch[key] !== null && typeof patch[key] !== 'string') throw new Error(`${key} must be a string or null`);
      next[key] = patch[key];
    }
  }
  if ('introspection' in patch) next.introspection = prepareIntrospection(patch.introspection);
  if ('brasil_response_signing' in patch) next.brasil_response_signing = prepareBrasilResponseSigning(patch.brasil_response_signing);
  if ('response_signing' in patch) {
    next.response_signing = prepareResponseSigning(patch.response_signing);
    if (next.response_signing && next.response_signing.keyid === null) {
      next.response_signing.keyid = await jose.calculateJwkThumbprint(next.response_signing.publicJwk, 'sha256');
    }
  }
  if ('signatures' in patch) {
    const s = patch.signatures ?? {};
    if (typeof s !== 'object') throw new Error('signatures must be an object');
    const raw = { ...cfg.signatures };
    for (const [name, conf] of Object.entries(s)) {
      if (!['rfc9421', 'ob_uk', 'cavage', 'brasil'].includes(name)) throw new Error(`signatures: unknown kind "${name}" (rfc9421, ob_uk, cavage, brasil)`);
      if (conf === null || conf === false) {
        nextSig[name] = null;
        delete raw[name];
        continue;
      }
      nextSig[name] = name === 'rfc9421' ? await prepareRfc9421(conf) : name === 'ob_uk' ? await prepareObUk(conf) : name === 'brasil' ? await prepareBrasil(conf) : prepareCavage(conf);
      raw[name] = conf;
    }
    next.signatures = raw;
  }
  if (!initial && next.token_binding !== 'none' && !next.introspection) {
    throw new Error(`token_binding "${next.token_binding}" needs "introspection"`);
  }
  Object.assign(cfg, next);
  Object.assign(sig, nextSig);
}

const RUNTIME_KEYS = ['token_binding', 'require_dpop_nonce', 'dpop_algs', 'dpop_iat_window_s', 'dpop_nonce_rotate_every',
  'introspection', 'required_scope', 'audience', 'public_url', 'max_body_bytes', 'signatures', 'response_signing', 'brasil_response_signing'];
await applyPatch(Object.fromEntries(Object.entries(rawConfig).filter(([k]) => RUNTIME_KEYS.includes(k))), { initial: true });
if (cfg.token_binding !== 'none' && !cfg.introspection) {
  throw new Error(`config: token_binding "${cfg.token_binding}" needs "introspection"`);
}

const tlsConf = rawConfig.tls ?? {};
const requireClientCert = rawConfig.require_client_cert !== false;
const acceptSelfSigned = rawConfig.accept_self_signed_clients === true;
const useHttp2 = rawConfig.http2 === true;

// ---------------------------------------------------------------------------------------------
// state and counters

const counters = {
  requests: 0,
  by_path: {},
  refused: {},
  nonce_challenges: 0,
  client_certs: [],
  http_versions: {},
  tls_connections: 0,
};
const refusals = []; // most recent last, capped
let lastRefusal = null;
const memory = { stream_peak_rss: 0 };

function resetCounters() {
  counters.requests = 0;
  counters.by_path = {};
  counters.refused = {};
  counters.nonce_challenges = 0;
  counters.client_certs = [];
  counters.http_versions = {};
  counters.tls_connections = 0;
  refusals.length = 0;
  lastRefusal = null;
}

const nonce = { current: newNonce(), previous: null, accepted: 0, rotations: 0 };
function newNonce() {
  return crypto.randomBytes(18).toString('base64url');
}
function rotateNonce() {
  nonce.previous = nonce.current;
  nonce.current = newNonce();
  nonce.rotations += 1;
}

// jti -> expiry (ms). Purged lazily; a jti is remembered for longer than any iat it can carry.
const seenJti = new Map();
function purgeJti(now) {
  if (seenJti.size < 1000) return;
  for (const [jti, until] of seenJti) if (until < now) seenJti.delete(jti);
}

// The jtis of accepted Open Finance Brasil request bodies -> expiry (ms).
const seenBrasilJti = new Map();
function purgeBrasilJti(now) {
  if (seenBrasilJti.size < 1000) return;
  for (const [jti, until] of seenBrasilJti) if (until < now) seenBrasilJti.delete(jti);
}

function recordRefusal(ctx, status, reason, message) {
  counters.refused[reason] = (counters.refused[reason] ?? 0) + 1;
  lastRefusal = {
    reason,
    status,
    message,
    method: ctx?.method ?? null,
    path: ctx?.path ?? null,
    interaction_id: ctx?.interactionId ?? null,
    http_version: ctx?.httpVersion ?? null,
    client_cert_x5t: ctx?.x5t ?? null,
    at: new Date().toISOString(),
  };
  refusals.push(lastRefusal);
  if (refusals.length > 200) refusals.shift();
  log(`REFUSED ${reason}: ${ctx ? `${ctx.method} ${ctx.path}` : 'TLS handshake'} -> ${status}: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// refusals

class Refusal extends Error {
  constructor({ status, reason, message, challenge = null, body = null, headers = {}, nonceChallenge = false }) {
    super(message);
    Object.assign(this, { status, reason, challenge, body, headers, nonceChallenge });
  }
}

const quote = (s) => `"${String(s).replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7e]/g, '?')}"`;

function challengeFor(scheme, error, description) {
  const params = [];
  if (error) params.push(`error=${quote(error)}`);
  if (description) params.push(`error_description=${quote(description)}`);
  if (scheme === 'DPoP') params.push(`algs=${quote(cfg.dpop_algs.join(' '))}`);
  return params.length ? `${scheme} ${params.join(', ')}` : scheme;
}

// RFC 6750 §3 / RFC 9449 §7.1 errors on the scheme the resource expects.
function oauthRefusal(status, error, reason, message, { scheme = null, nonceChallenge = false } = {}) {
  const s = scheme ?? (cfg.token_binding === 'dpop' ? 'DPoP' : 'Bearer');
  return new Refusal({
    status,
    reason,
    message,
    challenge: challengeFor(s, error, error ? message : null),
    body: error ? { error, error_description: message, reason } : { error: 'unauthorized', error_description: message, reason },
    nonceChallenge,
  });
}
const proofRefusal = (reason, message) => oauthRefusal(401, 'invalid_dpop_proof', reason, message, { scheme: 'DPoP' });
const tokenRefusal = (reason, message) => oauthRefusal(401, 'invalid_token', reason, message);

function obRefusal(ctx, code, reason, message) {
  return new Refusal({
    status: 400,
    reason,
    message,
    body: {
      Code: '400 Bad Request',
      Id: ctx.interactionId,
      Message: message,
      Errors: [{ ErrorCode: code, Message: message }],
      reason,
    },
  });
}
function bgRefusal(status, code, reason, message) {
  return new Refusal({
    status,
    reason,
    message,
    body: { tppMessages: [{ category: 'ERROR', code, text: message }], reason },
  });
}
function sig9421Refusal(status, reason, message, headers = {}) {
  return new Refusal({
    status,
    reason,
    message,
    headers,
    body: { error: status === 400 ? 'invalid_request' : 'invalid_signature', error_description: message, reason },
  });
}

// ---------------------------------------------------------------------------------------------
// helpers

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const sha256 = (data) => crypto.createHash('sha256').update(data).digest();

function rawHeaderCount(req, name) {
  let n = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === name) n += 1;
  return n;
}

// The header map as an HTTP/1.1 peer would see it (no HTTP/2 pseudo-headers).
function plainHeaders(req) {
  const out = {};
  for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(':')) out[k] = v;
  return out;
}

// RFC 3986 §6.2.2 syntax-based + §6.2.3 scheme-based normalisation, query and fragment dropped.
function normaliseUri(uri) {
  const u = new URL(uri);
  u.search = '';
  u.hash = '';
  const pathname = u.pathname
    .replace(/%[0-9a-fA-F]{2}/g, (m) => {
      const c = String.fromCharCode(parseInt(m.slice(1), 16));
      return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
    });
  return `${u.protocol}//${u.host}${pathname || '/'}`;
}

function effectiveOrigin(ctx) {
  if (cfg.public_url) return new URL(cfg.public_url).origin;
  const authority = ctx.req.headers[':authority'] ?? ctx.req.headers.host ?? `127.0.0.1:${boundPort}`;
  return `https://${authority}`;
}

function requestHasBody(req) {
  if (req.stream) return !req.stream.endAfterHeaders; // HTTP/2: END_STREAM on HEADERS means no body
  if (req.headers['transfer-encoding']) return true;
  const cl = Number(req.headers['content-length'] ?? 0);
  return cl > 0;
}

// Streams call this once per MiB. A minor GC every 2 MiB frees the chunks already hashed/sent, so
// RSS reflects what the bank retains rather than V8's external-memory slack (up to ~32 MiB).
v8.setFlagsFromString('--expose-gc');
const forceGc = vm.runInNewContext('gc');
let streamedMiB = 0;
function sampleRss() {
  streamedMiB += 1;
  if (streamedMiB % 2 === 0) forceGc({ type: 'minor' });
  const rss = process.memoryUsage.rss();
  if (rss > memory.stream_peak_rss) memory.stream_peak_rss = rss;
}

function httpJson(urlString, { method = 'POST', headers = {}, body = null, ca = null, timeoutMs = 10000 } = {}) {
  const url = new URL(urlString);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, ca: ca ?? undefined, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`${urlString} answered ${res.statusCode}: ${text.slice(0, 300)}`));
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(new Error(`${urlString} answered non-JSON: ${text.slice(0, 300)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${urlString} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function introspect(token) {
  const conf = cfg.introspection;
  if (conf.control_url) {
    const body = JSON.stringify({ token });
    return httpJson(`${conf.control_url}/introspect`, {
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      body,
    });
  }
  // RFC 7662 §2.1, client_secret_basic per RFC 6749 §2.3.1 (form-urlencode each part first).
  const body = new URLSearchParams({ token, token_type_hint: 'access_token' }).toString();
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'content-length': Buffer.byteLength(body) };
  if (conf.client_id !== null) {
    const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
    headers.authorization = `Basic ${Buffer.from(`${enc(conf.client_id)}:${enc(conf.client_secret ?? '')}`).toString('base64')}`;
  }
  return httpJson(conf.url, { headers, body, ca: conf.ca });
}

// ---------------------------------------------------------------------------------------------
// TLS client certificate of a request

const connInfo = new WeakMap(); // TLSSocket -> {cert, x5t, authorized}

function describeConnection(socket) {
  let info = connInfo.get(socket);
  if (info) return info;
  const peer = socket.getPeerCertificate(false);
  const has = peer && peer.raw && peer.raw.length > 0;
  info = {
    present: Boolean(has),
    authorized: socket.authorized === true,
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
    x5t: has ? b64url(sha256(peer.raw)) : null,
    subject: has ? peer.subject : null,
  };
  connInfo.set(socket, info);
  return info;
}

function tlsSocketOf(req) {
  return req.stream ? req.stream.session.socket : req.socket;
}

// ---------------------------------------------------------------------------------------------
// authentication: token + binding

function parseAuthorization(req) {
  const count = rawHeaderCount(req, 'authorization');
  if (count === 0) return null;
  if (count > 1) {
    throw oauthRefusal(400, 'invalid_request', 'authorization_multiple', `${count} Authorization headers (RFC 9449 §7.2: multiple methods)`);
  }
  const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +([A-Za-z0-9\-._~+/]+=*)$/.exec(req.headers.authorization.trim());
  if (!m) throw oauthRefusal(400, 'invalid_request', 'authorization_malformed', 'Authorization is not "<scheme> <token68>"');
  return { scheme: m[1].toLowerCase(), token: m[2] };
}

async function introspectOrRefuse(token) {
  let info;
  try {
    info = await introspect(token);
  } catch (err) {
    throw new Refusal({
      status: 503,
      reason: 'introspection_unavailable',
      message: `token introspection failed: ${err.message}`,
      body: { error: 'temporarily_unavailable', error_description: 'token introspection failed', reason: 'introspection_unavailable' },
    });
  }
  if (!info || typeof info !== 'object') throw new Refusal({ status: 503, reason: 'introspection_unavailable', message: 'introspection answered a non-object' });
  return info;
}

function checkActive(info) {
  if (info.active !== true) throw tokenRefusal('token_inactive', 'access token is not active (introspection active=false)');
  const now = Math.floor(Date.now() / 1000);
  if (typeof info.exp === 'number' && info.exp <= now) {
    throw tokenRefusal('token_expired', `access token expired at ${info.exp} (now ${now})`);
  }
  if (cfg.audience) {
    const aud = Array.isArray(info.aud) ? info.aud : info.aud === undefined ? [] : [info.aud];
    if (!aud.includes(cfg.audience)) throw tokenRefusal('token_audience', `access token aud ${JSON.stringify(info.aud)} does not include ${cfg.audience}`);
  }
  if (cfg.required_scope) {
    const scopes = typeof info.scope === 'string' ? info.scope.split(' ') : [];
    if (!scopes.includes(cfg.required_scope)) {
      const s = cfg.token_binding === 'dpop' ? 'DPoP' : 'Bearer';
      throw new Refusal({
        status: 403,
        reason: 'insufficient_scope',
        message: `access token scope "${info.scope ?? ''}" lacks "${cfg.required_scope}"`,
        challenge: `${s} error="insufficient_scope", scope=${quote(cfg.required_scope)}`,
        body: { error: 'insufficient_scope', error_description: `requires scope ${cfg.required_scope}`, reason: 'insufficient_scope' },
      });
    }
  }
}

function checkCertBinding(ctx, info, { required }) {
  const x5t = info.cnf?.['x5t#S256'];
  if (x5t === undefined) {
    if (required) throw tokenRefusal('token_not_mtls_bound', 'access token has no cnf["x5t#S256"] (not certificate-bound, RFC 8705 §3)');
    return;
  }
  if (!ctx.x5t) throw tokenRefusal('mtls_no_client_cert', 'certificate-bound access token over a connection without a client certificate');
  if (x5t !== ctx.x5t) {
    throw tokenRefusal('mtls_x5t_mismatch', `certificate-bound token: cnf["x5t#S256"]=${x5t} but the TLS client certificate is ${ctx.x5t} (RFC 8705 §3)`);
  }
}

// RFC 9449 §4.3 checks 1-12 (ath and key binding after introspection).
async function checkDpopProof(ctx, token) {
  const { req } = ctx;
  const count = rawHeaderCount(req, 'dpop');
  if (count === 0) throw proofRefusal('dpop_missing', 'Authorization: DPoP without a DPoP proof header');
  if (count > 1) throw proofRefusal('dpop_header_count', `${count} DPoP headers (RFC 9449 §4.3 check 1: exactly one)`);
  const proof = String(req.headers.dpop).trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) {
    throw proofRefusal('dpop_malformed', 'DPoP header is not a single compact JWS (check 2)');
  }
  let header;
  try {
    header = jose.decodeProtectedHeader(proof);
  } catch (err) {
    throw proofRefusal('dpop_malformed', `DPoP proof header does not decode: ${err.message}`);
  }
  if (header.typ !== 'dpop+jwt') throw proofRefusal('dpop_typ', `DPoP proof typ is ${JSON.stringify(header.typ)}, not "dpop+jwt" (check 4)`);
  if (typeof header.alg !== 'string' || !cfg.dpop_algs.includes(header.alg)) {
    throw proofRefusal('dpop_alg', `DPoP proof alg ${JSON.stringify(header.alg)} is not one of ${cfg.dpop_algs.join(', ')} (check 5)`);
  }
  if (!header.jwk || typeof header.jwk !== 'object' || Array.isArray(header.jwk)) {
    throw proofRefusal('dpop_jwk_missing', 'DPoP proof has no "jwk" header (check 6)');
  }
  const priv = PRIVATE_JWK_MEMBERS.filter((m) => m in header.jwk);
  if (priv.length) throw proofRefusal('dpop_jwk_private', `DPoP proof "jwk" carries private members ${priv.join(', ')} (check 7)`);
  let payload;
  try {
    ({ payload } = await jose.compactVerify(proof, jose.EmbeddedJWK, { algorithms: cfg.dpop_algs }));
  } catch (err) {
    throw proofRefusal('dpop_signature', `DPoP proof signature does not verify with its jwk: ${err.message} (check 6)`);
  }
  let claims;
  try {
    claims = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    throw proofRefusal('dpop_malformed', 'DPoP proof payload is not JSON');
  }
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw proofRefusal('dpop_malformed', 'DPoP proof payload is not a JSON object');
  const missing = [];
  if (typeof claims.jti !== 'string' || claims.jti === '') missing.push('jti');
  if (typeof claims.htm !== 'string') missing.push('htm');
  if (typeof claims.htu !== 'string') missing.push('htu');
  if (typeof claims.iat !== 'number') missing.push('iat');
  if (missing.length) throw proofRefusal('dpop_claims', `DPoP proof lacks required claims ${missing.join(', ')} (check 3)`);

  const nowMs = Date.now();
  const windowS = cfg.dpop_iat_window_s;
  // Replay (RFC 9449 §11.1): every proof whose signature verified is remembered by jti.
  purgeJti(nowMs);
  if (seenJti.has(claims.jti)) throw proofRefusal('dpop_jti_replay', `DPoP proof jti ${JSON.stringify(claims.jti)} was already used`);
  seenJti.set(claims.jti, nowMs + (2 * windowS + 60) * 1000);

  if (claims.htm !== req.method) throw proofRefusal('dpop_htm', `DPoP proof htm ${JSON.stringify(claims.htm)} != request method ${req.method} (check 8)`);
  const expectedHtu = normaliseUri(`${effectiveOrigin(ctx)}${ctx.path}`);
  let gotHtu;
  try {
    gotHtu = normaliseUri(claims.htu);
  } catch {
    throw proofRefusal('dpop_htu', `DPoP proof htu ${JSON.stringify(claims.htu)} is not a URI (check 9)`);
  }
  if (gotHtu !== expectedHtu) throw proofRefusal('dpop_htu', `DPoP proof htu ${JSON.stringify(claims.htu)} != ${expectedHtu} (check 9)`);
  const nowS = nowMs / 1000;
  if (Math.abs(nowS - claims.iat) > windowS) {
    throw proofRefusal('dpop_iat', `DPoP proof iat ${claims.iat} is more than ${windowS} s from now (${Math.floor(nowS)}) (check 11)`);
  }
  if (cfg.require_dpop_nonce) {
    const nonceChallenge = (reason, message) =>
      new Refusal({
        status: 401,
        reason,
        message,
        challenge: challengeFor('DPoP', 'use_dpop_nonce', 'Resource server requires nonce in DPoP proof'),
        body: { error: 'use_dpop_nonce', error_description: message, reason },
        nonceChallenge: true,
      });
    if (claims.nonce === undefined) throw nonceChallenge('dpop_nonce_missing', 'DPoP proof has no nonce; one is required (RFC 9449 §9)');
    if (claims.nonce !== nonce.current && (nonce.previous === null || claims.nonce !== nonce.previous)) {
      throw nonceChallenge('dpop_nonce_stale', `DPoP proof nonce ${JSON.stringify(claims.nonce)} is neither the current nor the previous nonce (check 10)`);
    }
  }
  if (claims.ath === undefined) throw proofRefusal('dpop_ath_missing', 'DPoP proof has no ath although an access token is presented (RFC 9449 §7)');
  const expectedAth = b64url(sha256(Buffer.from(token, 'ascii')));
  if (claims.ath !== expectedAth) throw proofRefusal('dpop_ath_mismatch', `DPoP proof ath ${JSON.stringify(claims.ath)} != base64url(SHA-256(token)) ${expectedAth} (check 12)`);
  return { jkt: await jose.calculateJwkThumbprint(header.jwk, 'sha256'), alg: header.alg, jti: claims.jti };
}

async function authenticate(ctx) {
  const binding = cfg.token_binding;
  if (binding === 'none') return;
  const auth = parseAuthorization(ctx.req);
  if (!auth) {
    // RFC 6750 §3.1: no error code when the request carries no authentication information.
    throw oauthRefusal(401, null, 'missing_authorization', 'no Authorization header');
  }
  ctx.tokenScheme = auth.scheme;
  if (binding === 'dpop') {
    if (auth.scheme !== 'dpop') {
      if (auth.scheme === 'bearer') {
        const info = await introspectOrRefuse(auth.token);
        if (info.active === true && info.cnf?.jkt) {
          throw tokenRefusal('dpop_token_as_bearer', 'DPoP-bound access token presented with the Bearer scheme (RFC 9449 §7.2)');
        }
        throw tokenRefusal('wrong_scheme', 'this resource accepts only DPoP-bound tokens with Authorization: DPoP');
      }
      throw tokenRefusal('wrong_scheme', `Authorization scheme "${auth.scheme}" is not DPoP`);
    }
    const proof = await checkDpopProof(ctx, auth.token);
    const info = await introspectOrRefuse(auth.token);
    checkActive(info);
    if (typeof info.cnf?.jkt !== 'string') throw tokenRefusal('token_not_dpop_bound', 'access token has no cnf.jkt (not DPoP-bound) but was sent with the DPoP scheme');
    if (info.cnf.jkt !== proof.jkt) {
      throw tokenRefusal('dpop_jkt_mismatch', `Invalid DPoP key binding: token cnf.jkt=${info.cnf.jkt}, proof key thumbprint=${proof.jkt} (RFC 9449 §7)`);
    }
    checkCertBinding(ctx, info, { required: false });
    ctx.token = info;
    ctx.jkt = proof.jkt;
    nonce.accepted += 1;
    if (cfg.require_dpop_nonce && cfg.dpop_nonce_rotate_every > 0 && nonce.accepted % cfg.dpop_nonce_rotate_every === 0) rotateNonce();
    return;
  }
  // mtls and bearer: RFC 6750 Bearer scheme.
  if (auth.scheme !== 'bearer') throw tokenRefusal('wrong_scheme', `Authorization scheme "${auth.scheme}" is not Bearer`);
  const info = await introspectOrRefuse(auth.token);
  checkActive(info);
  if (binding === 'mtls') checkCertBinding(ctx, info, { required: true });
  ctx.token = info;
}

// ---------------------------------------------------------------------------------------------
// RFC 9530 Content-Digest and Berlin Group Digest (checked against the body as received)

const CONTENT_DIGEST_ALGS = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

function parseContentDigest(ctx) {
  const value = ctx.req.headers['content-digest'];
  if (value === undefined) return null;
  let dict;
  try {
    dict = parseDictionary(value);
  } catch (err) {
    throw sig9421Refusal(400, 'content_digest_malformed', `Content-Digest is not an RFC 8941 dictionary: ${err.message}`);
  }
  const want = [];
  for (const [name, [item]] of dict) {
    if (!(name in CONTENT_DIGEST_ALGS)) continue; // RFC 9530: ignore unknown algorithms
    if (!(item instanceof ArrayBuffer)) {
      throw sig9421Refusal(400, 'content_digest_malformed', `Content-Digest ${name} is not a byte sequence`);
    }
    const bytes = Buffer.from(item);
    want.push({ name, hash: CONTENT_DIGEST_ALGS[name], bytes });
  }
  if (want.length === 0) {
    throw sig9421Refusal(400, 'content_digest_unsupported', `Content-Digest names no supported algorithm (sha-256, sha-512): ${value}`, {
      'Want-Content-Digest': 'sha-256=10, sha-512=3',
    });
  }
  return want;
}

function parseBgDigest(value) {
  const out = [];
  for (const part of value.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const alg = part.slice(0, i).trim().toUpperCase();
    const hash = alg === 'SHA-256' ? 'sha256' : alg === 'SHA-512' ? 'sha512' : null;
    if (hash) out.push({ name: alg, hash, bytes: Buffer.from(part.slice(i + 1).trim(), 'base64') });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RFC 9421 HTTP message signatures (http-message-signatures does the signature base + crypto)

function rsaPssSha512Verifier(keyObject) {
  // RFC 9421 §3.3.1: RSASSA-PSS, SHA-512, MGF1(SHA-512), salt length 64. The package's own
  // rsa-pss-sha512 verifier accepts any salt length; this one insists on 64.
  return Object.assign(
    async (data, signature) => crypto.verify('sha512', data, { key: keyObject, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, signature),
    { alg: 'rsa-pss-sha512' },
  );
}

async function checkRfc9421(ctx) {
  const conf = sig.rfc9421;
  const { req } = ctx;
  const sigHeader = req.headers.signature;
  const inputHeader = req.headers['signature-input'];
  const acceptSignature = () => {
    const comps = ['"@method"', '"@target-uri"'];
    if (req.headers.authorization) comps.push('"authorization"');
    if (req.headers.dpop) comps.push('"dpop"');
    if (ctx.hasBody) comps.push('"content-digest"');
    return `sig1=(${comps.join(' ')});created;keyid${conf.tag ? `;tag=${quote(conf.tag)}` : ''}`;
  };
  // With Berlin Group signatures also configured, a Signature header without Signature-Input is
  // the cavage one (both schemes use the header name "Signature").
  if (inputHeader === undefined && (sigHeader === undefined || sig.cavage)) {
    if (conf.required) {
      throw sig9421Refusal(401, 'sig9421_missing', 'RFC 9421 message signature required: no Signature / Signature-Input', { 'Accept-Signature': acceptSignature() });
    }
    return null;
  }
  if (sigHeader === undefined || inputHeader === undefined) {
    throw sig9421Refusal(401, 'sig9421_malformed', `RFC 9421: ${sigHeader === undefined ? 'Signature' : 'Signature-Input'} header missing`);
  }
  let sigs;
  let inputs;
  try {
    sigs = parseDictionary(sigHeader);
    inputs = parseDictionary(inputHeader);
  } catch (err) {
    throw sig9421Refusal(401, 'sig9421_malformed', `RFC 9421: Signature/Signature-Input are not RFC 8941 dictionaries: ${err.message}`);
  }
  if (inputs.size === 0) throw sig9421Refusal(401, 'sig9421_malformed', 'RFC 9421: empty Signature-Input');
  const targetUri = `${effectiveOrigin(ctx)}${req.url}`;
  const baseHeaders = plainHeaders(req);
  delete baseHeaders.signature;
  delete baseHeaders['signature-input'];
  const verified = [];
  for (const [label, input] of inputs) {
    if (!Array.isArray(input[0])) throw sig9421Refusal(401, 'sig9421_malformed', `RFC 9421: Signature-Input ${label} is not an inner list`);
    if (!sigs.has(label)) throw sig9421Refusal(401, 'sig9421_malformed', `RFC 9421: Signature has no entry for label ${label}`);
    const components = input[0].map(([name, params]) => (params.size ? `${name};${[...params.keys()].join(';')}` : name));
    const params = input[1];
    if (!params.has('created')) throw sig9421Refusal(401, 'sig9421_params', `RFC 9421 ${label}: no "created" parameter`);
    if (!params.has('keyid')) throw sig9421Refusal(401, 'sig9421_params', `RFC 9421 ${label}: no "keyid" parameter`);
    if (conf.tag && params.get('tag') !== conf.tag) {
      throw sig9421Refusal(401, 'sig9421_params', `RFC 9421 ${label}: tag ${JSON.stringify(params.get('tag') ?? null)} != ${JSON.stringify(conf.tag)}`);
    }
    if (conf.fapi_components) {
      const need = ['@method', '@target-uri'];
      if (req.headers.authorization !== undefined) need.push('authorization');
      if (req.headers.dpop !== undefined) need.push('dpop');
      if (ctx.hasBody) need.push('content-digest');
      const lacking = need.filter((c) => !components.includes(c));
      if (lacking.length) {
        throw sig9421Refusal(401, 'sig9421_components', `RFC 9421 ${label}: covered components (${components.join(' ')}) lack ${lacking.join(', ')} (FAPI 2.0 Message Signing)`, {
          'Accept-Signature': acceptSignature(),
        });
      }
    }
    const keyid = String(params.get('keyid'));
    const key = conf.keys.find((k) => k.kid === keyid) ?? conf.keys.find((k) => k.thumbprint === keyid);
    if (!key) throw sig9421Refusal(401, 'sig9421_unknown_key', `RFC 9421 ${label}: keyid ${JSON.stringify(keyid)} is in no configured JWK`);
    const alg = params.has('alg') ? String(params.get('alg')) : key.defaultAlg;
    if (!key.algs.includes(alg)) throw sig9421Refusal(401, 'sig9421_alg', `RFC 9421 ${label}: alg ${alg} does not fit the key (${key.algs.join(', ')})`);
    const verify = alg === 'rsa-pss-sha512' ? rsaPssSha512Verifier(key.keyObject) : createVerifier(key.keyObject, alg);
    const headers = {
      ...baseHeaders,
      signature: serializeDictionary(new Map([[label, sigs.get(label)]])),
      'signature-input': serializeDictionary(new Map([[label, input]])),
    };
    let result;
    try {
      result = await httpbis.verifyMessage(
        {
          keyLookup: async () => ({ id: keyid, algs: key.algs, verify }),
          requiredParams: ['created', 'keyid'],
          maxAge: conf.max_age_s,
          tolerance: conf.tolerance_s,
        },
        { method: req.method, url: targetUri, headers },
      );
    } catch (err) {
      const reason = err.name === 'ExpiredError' ? 'sig9421_expired' : 'sig9421_invalid';
      throw sig9421Refusal(401, reason, `RFC 9421 ${label}: ${err.message}`);
    }
    if (result !== true) {
      throw sig9421Refusal(401, 'sig9421_invalid', `RFC 9421 ${label}: signature does not verify over (${components.join(' ')}) with key ${keyid} (${alg}), @target-uri ${targetUri}`);
    }
    verified.push({ label, keyid, alg, components });
  }
  ctx.verified.push('rfc9421');
  ctx.rfc9421 = verified;
  return verified;
}

// ---------------------------------------------------------------------------------------------
// UK Open Banking x-jws-signature (detached JWS over the body)

const OB_CLAIMS = ['http://openbanking.org.uk/iat', 'http://openbanking.org.uk/iss', 'http://openbanking.org.uk/tan'];

function checkObHeader(ctx) {
  const conf = sig.ob_uk;
  const value = ctx.req.headers['x-jws-signature'];
  if (value === undefined) {
    if (conf.required && ctx.hasBody) throw obRefusal(ctx, 'UK.OBIE.Signature.Missing', 'ob_jws_missing', 'x-jws-signature is required on requests with a body');
    return null;
  }
  const parts = String(value).trim().split('.');
  if (parts.length !== 3 || parts[1] !== '' || !parts[0] || !parts[2]) {
    throw obRefusal(ctx, 'UK.OBIE.Signature.Malformed', 'ob_jws_malformed', 'x-jws-signature is not a detached JWS "header..signature"');
  }
  let header;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw obRefusal(ctx, 'UK.OBIE.Signature.Malformed', 'ob_jws_malformed', 'x-jws-signature JOSE header is not base64url JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw obRefusal(ctx, 'UK.OBIE.Signature.Malformed', 'ob_jws_malformed', 'JOSE header is not an object');
  const v313 = conf.version === '3.1.3';
  const allowed = ['alg', 'kid', 'typ', 'cty', 'crit', ...OB_CLAIMS, ...(v313 ? ['b64'] : [])];
  const extra = Object.keys(header).filter((k) => !allowed.includes(k));
  if (extra.length) throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', `JOSE header has claims not allowed in v${conf.version}: ${extra.join(', ')}`);
  if (!conf.algs.includes(header.alg)) throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', `alg ${JSON.stringify(header.alg)} is not ${conf.algs.join(' or ')}`);
  if (header.typ !== undefined && header.typ !== 'JOSE') throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', `typ ${JSON.stringify(header.typ)} is not "JOSE"`);
  if (header.cty !== undefined && typeof header.cty !== 'string') throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', 'cty is not a string');
  if (typeof header.kid !== 'string') throw obRefusal(ctx, 'UK.OBIE.Signature.MissingClaim', 'ob_jws_claims', 'kid is missing');
  if (v313) {
    if (header.b64 !== false) throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', `v3.1.3 requires b64=false (RFC 7797), got ${JSON.stringify(header.b64)}`);
  }
  const wantCrit = v313 ? ['b64', ...OB_CLAIMS] : OB_CLAIMS;
  const crit = Array.isArray(header.crit) ? header.crit : null;
  if (!crit) throw obRefusal(ctx, 'UK.OBIE.Signature.MissingClaim', 'ob_jws_claims', 'crit is missing');
  const critMissing = wantCrit.filter((c) => !crit.includes(c));
  const critExtra = crit.filter((c) => !wantCrit.includes(c));
  if (critMissing.length || critExtra.length || new Set(crit).size !== crit.length) {
    throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims',
      `crit must be exactly ${JSON.stringify(wantCrit)} for v${conf.version}, got ${JSON.stringify(crit)}`);
  }
  const missing = OB_CLAIMS.filter((c) => header[c] === undefined);
  if (missing.length) throw obRefusal(ctx, 'UK.OBIE.Signature.MissingClaim', 'ob_jws_claims', `JOSE header lacks ${missing.join(', ')}`);
  const iat = header['http://openbanking.org.uk/iat'];
  const iss = header['http://openbanking.org.uk/iss'];
  const tan = header['http://openbanking.org.uk/tan'];
  const now = Date.now() / 1000;
  if (typeof iat !== 'number') throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', 'http://openbanking.org.uk/iat is not a JSON number');
  if (iat > now + conf.iat_skew_s) throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', `http://openbanking.org.uk/iat ${iat} is in the future`);
  if (typeof iss !== 'string' || iss === '') throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', 'http://openbanking.org.uk/iss is not a string');
  if (conf.iss && !conf.iss.includes(iss)) throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', `http://openbanking.org.uk/iss ${JSON.stringify(iss)} is not the expected PSP`);
  if (typeof tan !== 'string' || tan === '') throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', 'http://openbanking.org.uk/tan is not a string');
  if (conf.tan && !conf.tan.includes(tan)) throw obRefusal(ctx, 'UK.OBIE.Signature.InvalidClaim', 'ob_jws_claims', `http://openbanking.org.uk/tan ${JSON.stringify(tan)} is not a trusted trust anchor`);
  const jwk = conf.keys.get(header.kid);
  if (!jwk) throw obRefusal(ctx, 'UK.OBIE.Signature.Invalid', 'ob_jws_unknown_kid', `kid ${JSON.stringify(header.kid)} is in no configured JWK`);
  return { protected: parts[0], signature: parts[2], header, jwk, v313 };
}

async function verifyObBody(ctx, ob, body) {
  const conf = sig.ob_uk;
  const cacheKey = `${ob.header.kid}|${ob.header.alg}`;
  let key = conf.imported.get(cacheKey);
  if (!key) {
    key = await jose.importJWK(ob.jwk, ob.header.alg);
    conf.imported.set(cacheKey, key);
  }
  try {
    await jose.flattenedVerify(
      { protected: ob.protected, signature: ob.signature, payload: ob.v313 ? body : b64url(body) },
      key,
      { algorithms: conf.algs, crit: Object.fromEntries(OB_CLAIMS.map((c) => [c, true])) },
    );
  } catch (err) {
    throw obRefusal(ctx, 'UK.OBIE.Signature.Invalid', 'ob_jws_invalid',
      `x-jws-signature (v${conf.version}, ${ob.v313 ? 'b64=false, unencoded body' : 'base64url(body)'}) does not verify over the ${body.length}-byte body: ${err.message}`);
  }
  ctx.verified.push('ob_uk');
}

// ---------------------------------------------------------------------------------------------
// Berlin Group NextGenPSD2: draft-cavage-http-signatures-10

function parseCavageSignature(value) {
  const out = {};
  const re = /\s*([A-Za-z]+)\s*=\s*"([^"]*)"\s*(,|$)/y;
  let m;
  let last = 0;
  while (last < value.length && (m = re.exec(value))) {
    out[m[1]] = m[2];
    last = re.lastIndex;
  }
  if (last !== value.length) return null;
  return out;
}

function rdnSet(s) {
  return new Set(
    s.split(/\n|,(?=\s*[A-Za-z0-9.]+\s*=)/)
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => {
        const i = p.indexOf('=');
        return `${p.slice(0, i).trim().toUpperCase()}=${p.slice(i + 1).trim()}`;
      }),
  );
}

function checkCavage(ctx) {
  const conf = sig.cavage;
  const { req } = ctx;
  // With RFC 9421 also configured, a Signature that comes with Signature-Input is the RFC 9421 one.
  const value = sig.rfc9421 && req.headers['signature-input'] !== undefined ? undefined : req.headers.signature;
  if (value === undefined) {
    if (conf.required) throw bgRefusal(401, 'SIGNATURE_MISSING', 'cavage_missing', 'Berlin Group: Signature header required');
    return null;
  }
  const p = parseCavageSignature(String(value));
  if (!p || !p.keyId || !p.signature || !p.headers) {
    throw bgRefusal(400, 'FORMAT_ERROR', 'cavage_malformed', 'Berlin Group: Signature is not keyId="..",algorithm="..",headers="..",signature=".."');
  }
  if ((p.algorithm ?? '').toLowerCase() !== 'rsa-sha256') {
    throw bgRefusal(401, 'SIGNATURE_INVALID', 'cavage_algorithm', `Berlin Group: algorithm ${JSON.stringify(p.algorithm)} is not "rsa-sha256"`);
  }
  const headers = p.headers.trim().toLowerCase().split(/\s+/);
  const mustSign = [...conf.require_headers, ...conf.signed_when_present.filter((h) => req.headers[h] !== undefined)];
  const unsigned = mustSign.filter((h) => !headers.includes(h));
  if (unsigned.length) throw bgRefusal(401, 'SIGNATURE_INVALID', 'cavage_headers', `Berlin Group: headers="${p.headers}" does not sign ${unsigned.join(', ')}`);
  if (req.headers.digest === undefined) throw bgRefusal(400, 'FORMAT_ERROR', 'cavage_digest_missing', 'Berlin Group: Digest header missing');
  const digests = parseBgDigest(String(req.headers.digest));
  if (digests.length === 0) throw bgRefusal(400, 'FORMAT_ERROR', 'cavage_digest_missing', `Berlin Group: Digest ${JSON.stringify(req.headers.digest)} has no SHA-256/SHA-512 value`);
  // TPP-Signature-Certificate: base64 DER (PEM armour tolerated).
  const certHeader = req.headers['tpp-signature-certificate'];
  if (certHeader === undefined) throw bgRefusal(401, 'CERTIFICATE_INVALID', 'cavage_certificate', 'Berlin Group: TPP-Signature-Certificate header missing');
  const der = Buffer.from(String(certHeader).replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''), 'base64');
  if (!der.equals(conf.der)) throw bgRefusal(401, 'CERTIFICATE_INVALID', 'cavage_certificate', 'Berlin Group: TPP-Signature-Certificate is not the configured certificate');
  // keyId="SN=<serial hex>,CA=<issuer DN>"
  const km = /^SN=([0-9A-Fa-f]+),CA=(.+)$/.exec(p.keyId);
  if (!km) throw bgRefusal(401, 'SIGNATURE_INVALID', 'cavage_keyid', `Berlin Group: keyId ${JSON.stringify(p.keyId)} is not "SN=<hex>,CA=<issuer>"`);
  const strip = (h) => h.replace(/^0+/, '').toUpperCase();
  if (strip(km[1]) !== strip(conf.cert.serialNumber)) {
    throw bgRefusal(401, 'SIGNATURE_INVALID', 'cavage_keyid', `Berlin Group: keyId SN=${km[1]} != certificate serial ${conf.cert.serialNumber}`);
  }
  let ca = km[2];
  try {
    ca = decodeURIComponent(ca);
  } catch { /* keep as sent */ }
  const want = rdnSet(conf.cert.issuer);
  const got = rdnSet(ca);
  if (want.size !== got.size || [...want].some((r) => !got.has(r))) {
    throw bgRefusal(401, 'SIGNATURE_INVALID', 'cavage_keyid', `Berlin Group: keyId CA=${JSON.stringify(km[2])} != certificate issuer ${JSON.stringify(conf.cert.issuer.replace(/\n/g, ', '))}`);
  }
  const lines = [];
  for (const h of headers) {
    if (h === '(request-target)') {
      lines.push(`(request-target): ${req.method.toLowerCase()} ${req.url}`);
      continue;
    }
    const v = req.headers[h];
    if (v === undefined) throw bgRefusal(401, 'SIGNATURE_INVALID', 'cavage_headers', `Berlin Group: signed header ${h} is not in the request`);
    lines.push(`${h}: ${Array.isArray(v) ? v.join(', ') : String(v).trim()}`);
  }
  const signingString = lines.join('\n');
  const ok = crypto.verify('sha256', Buffer.from(signingString), { key: conf.publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, Buffer.from(p.signature, 'base64'));
  if (!ok) {
    throw bgRefusal(401, 'SIGNATURE_INVALID', 'cavage_invalid', `Berlin Group: RSA-SHA256 signature does not verify over the signing string ${JSON.stringify(signingString)}`);
  }
  return { digests };
}

// ---------------------------------------------------------------------------------------------
// body: streamed through hashes; buffered only when a route or the OB JWS needs the bytes

function consumeBody(ctx, { buffer, hashes }) {
  const { req } = ctx;
  return new Promise((resolve, reject) => {
    const hashers = { sha256: crypto.createHash('sha256') };
    for (const h of hashes) if (!hashers[h]) hashers[h] = crypto.createHash(h);
    const chunks = buffer ? [] : null;
    let bytes = 0;
    let nextSample = 1 << 20;
    let failed = false;
    req.on('data', (chunk) => {
      if (failed) return;
      bytes += chunk.length;
      for (const h of Object.values(hashers)) h.update(chunk);
      if (chunks) {
        if (bytes > cfg.max_body_bytes) {
          failed = true;
          reject(new Refusal({
            status: 413,
            reason: 'body_too_large',
            message: `body over ${cfg.max_body_bytes} bytes on a route that buffers it (${ctx.path}${sig.ob_uk ? ', or x-jws-signature verification' : ''})`,
            body: { error: 'payload_too_large', reason: 'body_too_large' },
          }));
          req.resume();
          return;
        }
        chunks.push(chunk);
      }
      if (bytes >= nextSample) {
        sampleRss();
        nextSample += 1 << 20;
      }
    });
    req.on('end', () => {
      if (failed) return;
      sampleRss();
      const digests = Object.fromEntries(Object.entries(hashers).map(([k, h]) => [k, h.digest()]));
      resolve({ bytes, digests, buf: chunks ? Buffer.concat(chunks) : null });
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
      failed = true;
    });
    req.on('aborted', () => {
      if (!failed) reject(new Error('client aborted the request body'));
      failed = true;
    });
  });
}

// ---------------------------------------------------------------------------------------------
// deterministic download data: xoshiro128** seeded from SHA-256(seed), written little-endian into
// a few recycled buffers (no per-chunk allocation, so RSS does not depend on the size sent)

const CHUNK = 64 * 1024;
function generator(seed) {
  const st = new Uint32Array(4);
  const h = sha256(`fapi-agent bank download seed:${seed}`);
  for (let i = 0; i < 4; i += 1) st[i] = h.readUInt32LE(i * 4);
  if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1;
  const next = () => {
    const r = Math.imul(((Math.imul(st[1], 5) << 7) | (Math.imul(st[1], 5) >>> 25)), 9) >>> 0;
    const t = st[1] << 9;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = (st[3] << 11) | (st[3] >>> 21);
    return r;
  };
  return {
    // Fills buf (whose byteOffset is 4-aligned) with the next buf.length bytes of the stream.
    fill(buf) {
      const words = buf.length >>> 2;
      const view = new Uint32Array(buf.buffer, buf.byteOffset, words);
      for (let i = 0; i < words; i += 1) view[i] = next();
      if (buf.length & 3) {
        const r = next();
        for (let i = words * 4, k = 0; i < buf.length; i += 1, k += 1) buf[i] = (r >>> (8 * k)) & 0xff;
      }
    },
  };
}
const digestCache = new Map();
function downloadDigest(seed, n) {
  const k = `${seed}|${n}`;
  if (digestCache.has(k)) return digestCache.get(k);
  const g = generator(seed);
  const h = crypto.createHash('sha256');
  const buf = Buffer.alloc(CHUNK);
  for (let left = n; left > 0; left -= CHUNK) {
    const view = left >= CHUNK ? buf : buf.subarray(0, left);
    g.fill(view);
    h.update(view);
  }
  const d = h.digest();
  if (digestCache.size > 32) digestCache.clear();
  digestCache.set(k, d);
  return d;
}
// Writes n generated bytes to res with at most 4 chunks in flight; a buffer is reused only after
// its write callback (the bytes have left for the socket). Resolves true when all were written,
// false if the client went away first.
function pumpDownload(res, seed, n, onChunk = null) {
  return new Promise((resolve, reject) => {
    const g = generator(seed);
    const pool = Array.from({ length: 4 }, () => Buffer.alloc(CHUNK));
    const total = pool.length;
    let left = n;
    let blocked = false;
    let done = false;
    let sent = 0;
    let nextSample = 1 << 20;
    const finish = (value, err) => {
      if (done) return;
      done = true;
      if (err) reject(err);
      else resolve(value);
    };
    res.on('close', () => finish(false));
    res.on('drain', () => {
      blocked = false;
      step();
    });
    const step = () => {
      while (!done && !blocked && left > 0 && pool.length) {
        const buf = pool.pop();
        const len = Math.min(left, CHUNK);
        const view = len === CHUNK ? buf : buf.subarray(0, len);
        g.fill(view);
        left -= len;
        sent += len;
        if (onChunk) onChunk(view);
        if (sent >= nextSample) {
          sampleRss();
          nextSample += 1 << 20;
        }
        const ok = res.write(view, (err) => {
          if (err) return finish(false, err);
          pool.push(buf);
          step();
        });
        if (!ok) blocked = true;
      }
      if (!done && left === 0 && pool.length === total) finish(true);
    };
    step();
  });
}

// ---------------------------------------------------------------------------------------------
// responses

function commonHeaders(ctx) {
  const { res } = ctx;
  res.setHeader('x-fapi-interaction-id', ctx.interactionId);
  res.setHeader('cache-control', 'no-store');
  if (cfg.token_binding === 'dpop' && cfg.require_dpop_nonce) res.setHeader('dpop-nonce', nonce.current);
}

function sendJson(ctx, status, obj, headers = {}) {
  const { res } = ctx;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  commonHeaders(ctx);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  const body = status === 204 || status === 304 ? Buffer.alloc(0) : Buffer.from(`${JSON.stringify(obj)}\n`);
  if (body.length) res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', body.length);
  if (!cfg.response_signing && !cfg.brasil_response_signing) {
    res.writeHead(status);
    res.end(body);
    return;
  }
  const brasil = cfg.brasil_response_signing;
  const rfc9421 = cfg.response_signing;
  (async () => {
    let out = body;
    if (brasil) out = await signBrasilBody(ctx, obj, brasil);
    return rfc9421 ? signResponse(ctx, status, out, rfc9421) : out;
  })().then(
    (sent) => {
      res.writeHead(status);
      res.end(sent);
    },
    (err) => {
      log(`ERROR signing the response to ${ctx.method} ${ctx.path}: ${err.stack ?? err}`);
      res.destroy();
    },
  );
}

// An Open Finance Brasil response: the JSON object as a PS256 JWT signed by npm jose, with the
// bank's iss, the client's aud, a fresh jti and iat. tamper "payload" changes one character of
// the payload after signing. Returns the body to send (and sets its type and length).
async function signBrasilBody(ctx, obj, conf) {
  const { res } = ctx;
  let jwt = await new jose.SignJWT(obj && typeof obj === 'object' && !Array.isArray(obj) ? obj : { value: obj })
    .setProtectedHeader({ alg: 'PS256', typ: 'JWT', kid: conf.kid })
    .setIssuer(conf.iss)
    .setAudience(conf.aud)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .sign(conf.privateKey);
  if (conf.tamper === 'payload') {
    const [h, p, s] = jwt.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    claims.tampered = true;
    jwt = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  }
  const out = Buffer.from(jwt);
  res.setHeader('content-type', 'application/jwt');
  res.setHeader('content-length', out.length);
  return out;
}

// Checks an Open Finance Brasil request body (application/jwt) with npm jose: PS256, a kid of
// the configured keys, typ JWT, iss/aud as configured, iat within max_age_s, a jti.
async function checkBrasilBody(ctx, body) {
  const conf = sig.brasil;
  const type = String(ctx.req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/jwt') {
    if (conf.required && ctx.hasBody) throw new Refusal({ status: 400, reason: 'brasil_not_jwt', message: `Open Finance Brasil: the body must be application/jwt, not ${JSON.stringify(type)}` });
    return;
  }
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(body.buf.toString('utf8'), conf.jwks, {
      algorithms: ['PS256'], typ: 'JWT', issuer: conf.iss, audience: conf.aud, maxTokenAge: `${conf.max_age_s}s`, requiredClaims: ['jti', 'iat'],
    });
    ctx.brasil = { payload, kid: protectedHeader.kid };
  } catch (err) {
    throw new Refusal({ status: 400, reason: 'brasil_invalid', message: `Open Finance Brasil: ${err.code ?? ''} ${err.message}` });
  }
  // A signed body is accepted once: its jti is remembered for longer than its iat is accepted.
  const now = Date.now();
  purgeBrasilJti(now);
  if (seenBrasilJti.has(ctx.brasil.payload.jti)) {
    throw new Refusal({ status: 400, reason: 'brasil_jti_replay', message: `Open Finance Brasil: jti ${JSON.stringify(ctx.brasil.payload.jti)} was already used` });
  }
  seenBrasilJti.set(ctx.brasil.payload.jti, now + (conf.max_age_s + 60) * 1000);
  ctx.verified.push('brasil');
}

// Signs a response with http-message-signatures: @status, content-digest (RFC 9530, of the body)
// and content-type when there is a body, and the request's @method, @target-uri, authorization,
// dpop and content-digest (;req) where it had them. tamper "body" then changes one byte of what
// is sent, as a man in the middle would. Returns the body to send.
async function signResponse(ctx, status, body, conf) {
  const { req, res } = ctx;
  if (body.length) res.setHeader('content-digest', `sha-256=:${crypto.createHash('sha256').update(body).digest('base64')}:`);
  const fields = ['@status'];
  if (body.length) fields.push('content-type', 'content-digest');
  fields.push('@method;req', '@target-uri;req');
  for (const h of ['authorization', 'dpop', 'content-digest']) if (req.headers[h] !== undefined) fields.push(`${h};req`);
  const headers = Object.fromEntries(Object.entries(res.getHeaders()).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]));
  const signed = await httpbis.signMessage(
    {
      key: { id: conf.keyid, alg: conf.alg, sign: conf.signer.sign },
      fields,
      name: 'sig1',
      params: ['created', 'keyid', 'alg', ...(conf.tag ? ['tag'] : [])],
      paramValues: conf.tag ? { tag: conf.tag } : {},
    },
    { status, headers },
    { method: req.method, url: `${effectiveOrigin(ctx)}${req.url}`, headers: plainHeaders(req) },
  );
  res.setHeader('signature', signed.headers.Signature);
  res.setHeader('signature-input', signed.headers['Signature-Input']);
  if (conf.tamper !== 'body' || !body.length) return body;
  const changed = Buffer.from(body);
  changed[0] ^= 1;
  return changed;
}

function seen(ctx) {
  return {
    'x5t#S256': ctx.x5t,
    client_id: ctx.token?.client_id ?? null,
    jkt: ctx.jkt ?? null,
    interaction_id: ctx.interactionId,
    interaction_id_generated: ctx.interactionIdGenerated,
    token_binding: cfg.token_binding,
    scope: ctx.token?.scope ?? null,
    http_version: ctx.httpVersion,
    signatures: ctx.verified,
  };
}

const ACCOUNTS = [
  { AccountId: '22289', Currency: 'GBP', AccountType: 'Personal', AccountSubType: 'CurrentAccount', Nickname: 'Bills' },
  { AccountId: '31820', Currency: 'EUR', AccountType: 'Business', AccountSubType: 'Savings', Nickname: 'Reserve' },
];

// Route table: method list, whether the body must be buffered, handler(ctx, body).
const routes = [
  {
    match: (p) => p === '/accounts',
    methods: ['GET'],
    handler: (ctx) => sendJson(ctx, 200, { accounts: ACCOUNTS, seen: seen(ctx) }),
  },
  {
    match: (p) => p === '/payments',
    methods: ['POST'],
    buffer: true,
    handler: (ctx, body) => {
      let parsed;
      try {
        parsed = ctx.brasil ? ctx.brasil.payload : JSON.parse(body.buf.toString('utf8'));
      } catch (err) {
        const message = `POST /payments body is not JSON: ${err.message}`;
        recordRefusal(ctx, 400, 'payments_not_json', message);
        return sendJson(ctx, 400, { error: 'invalid_request', error_description: message, reason: 'payments_not_json' }, { 'x-bank-refusal': 'payments_not_json' });
      }
      return sendJson(ctx, 201, { received_sha256: body.digests.sha256.toString('hex'), bytes: body.bytes, body: parsed, seen: seen(ctx) });
    },
  },
  {
    match: (p) => p === '/upload',
    methods: ['POST', 'PUT'],
    handler: (ctx, body) => sendJson(ctx, 200, { sha256: body.digests.sha256.toString('hex'), bytes: body.bytes, seen: seen(ctx) }),
  },
  {
    match: (p) => p === '/download',
    methods: ['GET'],
    handler: (ctx) => {
      const q = ctx.url.searchParams;
      const n = Number(q.get('bytes') ?? '0');
      if (!Number.isInteger(n) || n < 0 || n > 4 * 1024 ** 3) {
        return sendJson(ctx, 400, { error: 'invalid_request', error_description: 'bytes must be an integer 0..4 GiB' });
      }
      const seed = q.get('seed') ?? '0';
      const trailer = q.get('trailer') === '1';
      const { res } = ctx;
      commonHeaders(ctx);
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('x-download-seed', seed);
      if (trailer) {
        // Digest only known at the end: chunked (HTTP/1.1) or HTTP/2 trailers.
        const h = crypto.createHash('sha256');
        res.setHeader('trailer', 'content-digest, x-content-sha256');
        res.writeHead(200);
        return pumpDownload(res, seed, n, (chunk) => h.update(chunk)).then((complete) => {
          if (!complete) return;
          const d = h.digest();
          res.addTrailers({ 'content-digest': `sha-256=:${d.toString('base64')}:`, 'x-content-sha256': d.toString('hex') });
          res.end();
        });
      }
      const d = downloadDigest(seed, n);
      res.setHeader('content-length', n);
      res.setHeader('content-digest', `sha-256=:${d.toString('base64')}:`);
      res.setHeader('x-content-sha256', d.toString('hex'));
      res.writeHead(200);
      return pumpDownload(res, seed, n).then((complete) => {
        if (complete) res.end();
      });
    },
  },
  {
    match: (p) => /^\/status\/\d{3}$/.test(p),
    methods: null,
    handler: (ctx) => {
      const code = Number(ctx.path.slice('/status/'.length));
      if (code < 200 || code > 599) return sendJson(ctx, 400, { error: 'invalid_request', error_description: 'status must be 200..599' });
      return sendJson(ctx, code, { status: code, error: code >= 400 ? `bank test status ${code}` : null, interaction_id: ctx.interactionId });
    },
  },
  {
    match: (p) => p === '/slow',
    methods: ['GET', 'POST'],
    handler: (ctx) => {
      const ms = Number(ctx.url.searchParams.get('ms') ?? '0');
      if (!Number.isInteger(ms) || ms < 0 || ms > 600000) return sendJson(ctx, 400, { error: 'invalid_request', error_description: 'ms must be an integer 0..600000' });
      const started = Date.now();
      const timer = setTimeout(() => sendJson(ctx, 200, { slept_ms: Date.now() - started, seen: seen(ctx) }), ms);
      ctx.res.on('close', () => clearTimeout(timer));
    },
  },
];

// ---------------------------------------------------------------------------------------------
// the request pipeline

let requestSeq = 0;

async function onRequest(req, res) {
  const url = new URL(req.url, 'https://bank.invalid');
  const ctx = {
    req,
    res,
    id: ++requestSeq,
    method: req.method,
    path: url.pathname,
    url,
    httpVersion: req.httpVersion,
    interactionId: req.headers['x-fapi-interaction-id'] ?? crypto.randomUUID(),
    interactionIdGenerated: req.headers['x-fapi-interaction-id'] === undefined,
    x5t: null,
    token: null,
    jkt: null,
    verified: [],
    hasBody: requestHasBody(req),
  };
  counters.requests += 1;
  counters.by_path[ctx.path] = (counters.by_path[ctx.path] ?? 0) + 1;
  counters.http_versions[ctx.httpVersion] = (counters.http_versions[ctx.httpVersion] ?? 0) + 1;
  res.on('finish', () => log(`${ctx.method} ${req.url} HTTP/${ctx.httpVersion} -> ${res.statusCode}`));
  try {
    await pipeline(ctx);
  } catch (err) {
    if (err instanceof Refusal) {
      recordRefusal(ctx, err.status, err.reason, err.message);
      if (err.nonceChallenge) counters.nonce_challenges += 1;
      const headers = { ...err.headers, 'x-bank-refusal': err.reason };
      if (err.challenge) headers['www-authenticate'] = err.challenge;
      sendJson(ctx, err.status, err.body ?? { error: 'refused', error_description: err.message, reason: err.reason }, headers);
      return;
    }
    log(`ERROR ${ctx.method} ${ctx.path}: ${err.stack ?? err}`);
    if (!res.headersSent) sendJson(ctx, 500, { error: 'server_error', error_description: String(err.message ?? err) });
    else res.destroy();
  }
}

async function pipeline(ctx) {
  const { req } = ctx;
  // 1. mTLS (the handshake already refused a missing/untrusted certificate when required).
  const conn = describeConnection(tlsSocketOf(req));
  ctx.x5t = conn.x5t;
  if (requireClientCert && !conn.present) {
    throw new Refusal({ status: 401, reason: 'no_client_cert', message: 'no TLS client certificate', body: { error: 'invalid_client', error_description: 'TLS client certificate required', reason: 'no_client_cert' } });
  }
  if (conn.present && !conn.authorized && !acceptSelfSigned) {
    // Only reachable with require_client_cert=false: a certificate was offered but does not chain.
    throw new Refusal({ status: 401, reason: 'client_cert_untrusted', message: `TLS client certificate does not chain to tls.client_ca: ${conn.authorizationError}`, body: { error: 'invalid_client', error_description: 'untrusted TLS client certificate', reason: 'client_cert_untrusted' } });
  }
  // 2. access token and its binding.
  await authenticate(ctx);
  // 3. signatures over headers; digests and body signatures after the body is in.
  if (sig.rfc9421) await checkRfc9421(ctx);
  const ob = sig.ob_uk ? checkObHeader(ctx) : null;
  const bg = sig.cavage ? checkCavage(ctx) : null;
  const contentDigest = parseContentDigest(ctx);

  const route = routes.find((r) => r.match(ctx.path));
  const methodOk = route && (route.methods === null || route.methods.includes(req.method));
  const hashes = [...(contentDigest ?? []).map((d) => d.hash), ...(bg?.digests ?? []).map((d) => d.hash)];
  const body = await consumeBody(ctx, { buffer: Boolean((methodOk && route.buffer) || ob || sig.brasil), hashes });
  if (sig.brasil) await checkBrasilBody(ctx, body);

  if (contentDigest) {
    for (const d of contentDigest) {
      if (!body.digests[d.hash].equals(d.bytes)) {
        throw sig9421Refusal(400, 'content_digest_mismatch',
          `Content-Digest ${d.name}=:${d.bytes.toString('base64')}: but the ${body.bytes}-byte body received hashes to :${body.digests[d.hash].toString('base64')}: (RFC 9530)`);
      }
    }
  }
  if (bg) {
    for (const d of bg.digests) {
      if (!body.digests[d.hash].equals(d.bytes)) {
        throw bgRefusal(401, 'SIGNATURE_INVALID', 'cavage_digest_mismatch',
          `Berlin Group: Digest ${d.name}=${d.bytes.toString('base64')} but the ${body.bytes}-byte body received hashes to ${body.digests[d.hash].toString('base64')}`);
      }
    }
    ctx.verified.push('cavage');
  }
  if (ob) await verifyObBody(ctx, ob, body.buf);

  if (!route) {
    return sendJson(ctx, 404, { error: 'not_found', error_description: `no route ${ctx.path}` });
  }
  if (!methodOk) {
    return sendJson(ctx, 405, { error: 'method_not_allowed', error_description: `${req.method} ${ctx.path}` }, { allow: route.methods.join(', ') });
  }
  return route.handler(ctx, body);
}

// ---------------------------------------------------------------------------------------------
// servers

const tlsOptions = {
  cert: pemOrFile(tlsConf.cert, 'tls.cert'),
  key: pemOrFile(tlsConf.key, 'tls.key'),
  requestCert: true,
  // With a CA list and no self-signed clients, OpenSSL refuses missing/untrusted certificates in
  // the handshake itself (TLS alert certificate_required / unknown_ca), as a real bank does.
  rejectUnauthorized: requireClientCert && !acceptSelfSigned,
  ...(tlsConf.client_ca ? { ca: pemList(tlsConf.client_ca, 'tls.client_ca') } : {}),
  minVersion: 'TLSv1.2',
};
if (requireClientCert && !acceptSelfSigned && !tlsConf.client_ca) throw new Error('config: tls.client_ca is required when require_client_cert is true');

const server = useHttp2
  ? http2.createSecureServer({ ...tlsOptions, allowHTTP1: true }, onRequest)
  : https.createServer(tlsOptions, onRequest);

server.on('secureConnection', (socket) => {
  counters.tls_connections += 1;
  const info = describeConnection(socket);
  if (info.present && !counters.client_certs.includes(info.x5t)) counters.client_certs.push(info.x5t);
  if (requireClientCert && acceptSelfSigned && !info.present) {
    recordRefusal(null, 0, 'no_client_cert', 'TLS handshake completed without a client certificate; closing the connection');
    socket.destroy();
  }
});
server.on('tlsClientError', (err, socket) => {
  const text = `${err.code ?? ''} ${err.message ?? ''}`;
  let reason = 'tls_error';
  let detail = text.trim();
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|certificate required/i.test(text)) reason = 'no_client_cert';
  else if (socket?.authorizationError) {
    // node verifies the chain after the handshake and drops the connection (no TLS alert).
    reason = 'client_cert_untrusted';
    detail = `client certificate does not chain to tls.client_ca: ${socket.authorizationError}`;
  }
  recordRefusal(null, 0, reason, `TLS handshake refused: ${detail}`);
  socket?.destroy();
});
if (useHttp2) {
  server.on('sessionError', (err) => log(`h2 session error: ${err.message}`));
}

// control API

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? {} : JSON.parse(text);
}

function memoryReport() {
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heap_total: m.heapTotal,
    heap_used: m.heapUsed,
    external: m.external,
    array_buffers: m.arrayBuffers,
    max_rss: process.resourceUsage().maxRSS * 1024,
    stream_peak_rss: memory.stream_peak_rss,
  };
}

function publicConfig() {
  return {
    token_binding: cfg.token_binding,
    require_dpop_nonce: cfg.require_dpop_nonce,
    dpop_algs: cfg.dpop_algs,
    dpop_iat_window_s: cfg.dpop_iat_window_s,
    dpop_nonce_rotate_every: cfg.dpop_nonce_rotate_every,
    introspection: cfg.introspection && (cfg.introspection.control_url ? { control_url: cfg.introspection.control_url } : { url: cfg.introspection.url, client_id: cfg.introspection.client_id }),
    required_scope: cfg.required_scope,
    audience: cfg.audience,
    public_url: cfg.public_url,
    max_body_bytes: cfg.max_body_bytes,
    signatures: Object.fromEntries(Object.entries(sig).filter(([, v]) => v).map(([k, v]) => [k, { required: v.required, ...(v.version ? { version: v.version } : {}) }])),
    brasil_response_signing: cfg.brasil_response_signing && { kid: cfg.brasil_response_signing.kid, tamper: cfg.brasil_response_signing.tamper, public_jwk: cfg.brasil_response_signing.publicJwk },
    response_signing: cfg.response_signing && { alg: cfg.response_signing.alg, keyid: cfg.response_signing.keyid, tamper: cfg.response_signing.tamper, public_jwk: cfg.response_signing.publicJwk },
    require_client_cert: requireClientCert,
    accept_self_signed_clients: acceptSelfSigned,
    http2: useHttp2,
  };
}

const control = http.createServer(async (req, res) => {
  const reply = (status, obj) => {
    const body = Buffer.from(`${JSON.stringify(obj)}\n`);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  };
  const { pathname } = new URL(req.url, 'http://control.invalid');
  try {
    const key = `${req.method} ${pathname}`;
    switch (key) {
      case 'GET /counters':
        return reply(200, counters);
      case 'POST /counters/reset':
        resetCounters();
        return reply(200, counters);
      case 'GET /config':
        return reply(200, publicConfig());
      case 'POST /config': {
        let patch;
        try {
          patch = await readJson(req);
          await applyPatch(patch);
        } catch (err) {
          return reply(400, { error: String(err.message ?? err) });
        }
        log(`config changed: ${JSON.stringify(Object.keys(patch))} -> token_binding=${cfg.token_binding} require_dpop_nonce=${cfg.require_dpop_nonce} signatures=${Object.keys(sig).filter((k) => sig[k]).join(',') || 'none'}`);
        return reply(200, publicConfig());
      }
      case 'GET /last_refusal':
        return reply(200, lastRefusal);
      case 'GET /refusals':
        return reply(200, refusals);
      case 'GET /memory':
        return reply(200, memoryReport());
      case 'POST /memory/reset':
        memory.stream_peak_rss = 0;
        return reply(200, memoryReport());
      case 'GET /dpop/nonce':
        return reply(200, { current: nonce.current, previous: nonce.previous, rotations: nonce.rotations });
      case 'POST /dpop/nonce/rotate':
        rotateNonce();
        log(`DPoP nonce rotated by control API (rotation ${nonce.rotations})`);
        return reply(200, { current: nonce.current, previous: nonce.previous, rotations: nonce.rotations });
      default:
        return reply(404, { error: `no control endpoint ${key}` });
    }
  } catch (err) {
    return reply(500, { error: String(err.message ?? err) });
  }
});

let boundPort = 0;
const listen = (srv, port) =>
  new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv.address().port));
  });
boundPort = await listen(server, rawConfig.port ?? 0);
const controlPort = await listen(control, rawConfig.control_port ?? 0);
log(`listening on https://127.0.0.1:${boundPort} (${useHttp2 ? 'h2 + http/1.1' : 'http/1.1'}, token_binding=${cfg.token_binding}, require_dpop_nonce=${cfg.require_dpop_nonce}), control on http://127.0.0.1:${controlPort}`);
process.stdout.write(`${JSON.stringify({ url: `https://127.0.0.1:${boundPort}`, port: boundPort, control_url: `http://127.0.0.1:${controlPort}` })}\n`);

const stop = (signal) => {
  log(`${signal}: stopping`);
  process.exit(0);
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
