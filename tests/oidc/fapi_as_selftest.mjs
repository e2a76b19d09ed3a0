// Self-test of fapi_as.mjs, independent of fapi-agent: it starts the server
// exactly as the Rust tests do (node fapi_as.mjs CONFIG.json), with fixtures
// from the openssl CLI (CA, server certificate for IP 127.0.0.1, client
// certificates) and Node's crypto, and acts as a correct OAuth client would,
// signing with jose: client assertions, DPoP proofs, request objects.
//
//   node tests/oidc/fapi_as_selftest.mjs     (exit 0 when every check passed)
//
// No sleeps: every wait is for a condition (a line on stdout, a process
// exit, a response), each with a deadline.
import { spawn, execFileSync } from 'node:child_process';
import {
  X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes,
} from 'node:crypto';
import {
  mkdtempSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SignJWT, calculateJwkThumbprint, createLocalJWKSet, exportJWK, jwtVerify,
} from 'jose';

const SERVER = fileURLToPath(new URL('fapi_as.mjs', import.meta.url));
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const REDIRECT_URI = 'https://client.example/cb';
const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 20_000;

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed += 1;
    console.log(`ok - ${name}`);
  } else {
    failed += 1;
    console.log(`not ok - ${name}\n  ${JSON.stringify(detail)}`);
  }
}

// ------------------------------------------------------------ fixtures

const dir = mkdtempSync(join(tmpdir(), 'fapi-as-selftest-'));
const file = (name) => join(dir, name);
const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

function makeFixtures() {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', file('ca.key'), '-out', file('ca.crt'), '-subj', '/CN=fapi_as selftest CA', '-days', '2');
  const issue = (name, subject, ext) => {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject);
    const args = ['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'),
      '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-out', file(`${name}.crt`)];
    if (ext) {
      writeFileSync(file(`${name}.ext`), ext);
      args.push('-extfile', file(`${name}.ext`));
    }
    openssl(...args);
  };
  issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\n');
  issue('tls-client', '/O=fapi-agent test/CN=tls-client');
  issue('other-client', '/O=fapi-agent test/CN=other-client');
  // root -> intermediate -> chained-client, the client sending leaf + intermediate
  writeFileSync(file('intermediate.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', file('intermediate.key'), '-out', file('intermediate.csr'), '-subj', '/CN=fapi_as selftest intermediate');
  openssl('x509', '-req', '-in', file('intermediate.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'),
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-extfile', file('intermediate.ext'), '-out', file('intermediate.crt'));
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', file('chained.key'), '-out', file('chained.csr'), '-subj', '/O=fapi-agent test/CN=chained-client');
  openssl('x509', '-req', '-in', file('chained.csr'), '-CA', file('intermediate.crt'), '-CAkey', file('intermediate.key'),
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-out', file('chained.crt'));
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', file('self-signed.key'), '-out', file('self-signed.crt'), '-subj', '/CN=self-signed-client', '-days', '2');
  const pem = (name) => readFileSync(file(name), 'utf8');
  return {
    ca: pem('ca.crt'),
    tlsClient: { cert: pem('tls-client.crt'), key: pem('tls-client.key') },
    otherClient: { cert: pem('other-client.crt'), key: pem('other-client.key') },
    selfSigned: { cert: pem('self-signed.crt'), key: pem('self-signed.key') },
    chained: { cert: pem('chained.crt') + pem('intermediate.crt'), key: pem('chained.key') },
    chainedLeafOnly: { cert: pem('chained.crt'), key: pem('chained.key') },
  };
}

// A signing key: alg, private KeyObject, public JWK with RFC 7638 kid.
// Generated as PEM and re-imported: on Node 20, using a KeyObject straight
// from generateKeyPairSync can deadlock when a GC runs the key generation
// job's destructor meanwhile (both lock the key's mutex).
async function signingKey(alg, type, options) {
  const pair = generateKeyPairSync(type, {
    ...options,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const privateKey = createPrivateKey(pair.privateKey);
  const publicKey = createPublicKey(pair.publicKey);
  const jwk = await exportJWK(publicKey);
  jwk.kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { alg, privateKey, jwk };
}

function selfSignedPem(key, cn) {
  writeFileSync(file(`${cn}.key.pem`), key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  openssl('req', '-x509', '-new', '-key', file(`${cn}.key.pem`), '-subj', `/CN=${cn}`, '-days', '2', '-out', file(`${cn}.crt.pem`));
  return readFileSync(file(`${cn}.crt.pem`), 'utf8');
}

const x5tS256 = (pem) => createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');
const now = () => Math.floor(Date.now() / 1000);
const jti = () => randomBytes(16).toString('base64url');

// ------------------------------------------------------------ client side

function assertion(key, clientId, aud, claims = {}, header = { typ: 'client-authentication+jwt' }) {
  const iat = now();
  return new SignJWT({
    iss: clientId, sub: clientId, aud, iat, nbf: iat, exp: iat + 60, jti: jti(), ...claims,
  }).setProtectedHeader({ alg: key.alg, kid: key.jwk.kid, ...header }).sign(key.privateKey);
}

function dpopProof(key, htm, htu, { nonce, accessToken } = {}) {
  const claims = {
    jti: jti(), htm, htu, iat: now(),
  };
  if (nonce) claims.nonce = nonce;
  if (accessToken) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
  const { kid, ...publicJwk } = key.jwk;
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: publicJwk }).sign(key.privateKey);
}

// One HTTPS request (a new connection each time) trusting the test CA, with an
// optional client certificate. Resolves {status, headers, text, json}, or
// {error} when the connection failed.
function call(url, {
  method = 'POST', form, headers = {}, tls, ca, agent = false,
} = {}) {
  return new Promise((resolve) => {
    const body = form === undefined ? undefined : new URLSearchParams(form).toString();
    const h = { accept: 'application/json', ...headers };
    if (body !== undefined) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      h['content-length'] = Buffer.byteLength(body);
    }
    const req = https.request(url, {
      method, headers: h, ca, agent, cert: tls?.cert, key: tls?.key,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({
          status: res.statusCode, headers: res.headers, text, json,
        });
      });
      res.on('error', (error) => resolve({ error }));
    });
    req.on('error', (error) => resolve({ error }));
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('request timed out')));
    req.end(body);
  });
}

function control(as, method, path, body) {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const req = http.request(`${as.info.control_url}${path}`, {
      method, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }, agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('control request timed out')));
    req.end(text);
  });
}

const introspect = async (as, token) => (await control(as, 'POST', '/introspect', { token })).json;
const lastError = async (as) => (await control(as, 'GET', '/last_error')).json;

// ------------------------------------------------------------ the server

const logs = [];
const children = new Set();

// Starts fapi_as.mjs on `config`; resolves once its one stdout line arrived.
function startAs(name, config) {
  const cfgFile = file(`${name}.json`);
  writeFileSync(cfgFile, JSON.stringify(config));
  const child = spawn(process.execPath, [SERVER, cfgFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const log = { name, text: '' };
  logs.push(log);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { log.text += d; });
  let stdout = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no ready line within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(stdout.slice(0, nl)));
        } catch (err) {
          reject(err);
        }
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited (${code ?? signal}) before it was ready`));
    });
  });
  return ready.then((info) => ({
    info,
    child,
    stdout: () => stdout,
    exited,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  }));
}

// Polls `probe` until it returns a truthy value, at most `ms`.
async function waitFor(probe, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // a poll interval, not a synchronisation: the condition decides
    await new Promise((resolve) => { setTimeout(resolve, 50); });
  }
}

// ------------------------------------------------------------ tests

async function fapiTests(fx, keys) {
  const as = await startAs('fapi2', {
    profile: 'fapi2',
    port: 0,
    mtls_port: 0,
    control_port: 0,
    tls: { cert: file('server.crt'), key: file('server.key'), client_ca: file('ca.crt') },
    require_dpop_nonce: false,
    access_token_ttl: 300,
    scopes: ['admin'],
    clients: [
      {
        client_id: 'pkjwt-dpop',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [keys.es.jwk] },
        grant_types: ['client_credentials'],
        scope: 'accounts payments',
        dpop_bound_access_tokens: true,
      },
      { client_id: 'pkjwt-eddsa', jwks: { keys: [keys.ed.jwk] }, scope: 'accounts' },
      { client_id: 'pkjwt-ps-cert', certificates_pem: [keys.psCert], scope: 'accounts' },
      { client_id: 'pkjwt-rs', jwks: { keys: [keys.ps.jwk] }, scope: 'accounts' },
      {
        client_id: 'tls-client',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: 'CN=tls-client,O=fapi-agent test',
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        scope: 'accounts',
      },
      {
        client_id: 'tls-chained',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: 'CN=chained-client,O=fapi-agent test',
        tls_client_certificate_bound_access_tokens: true,
        scope: 'accounts',
      },
      {
        client_id: 'self-signed-client',
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        certificates_pem: [fx.selfSigned.cert],
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        scope: 'accounts',
      },
      {
        client_id: 'web-app',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [keys.es.jwk] },
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid accounts',
        require_signed_request_object: true,
        dpop_bound_access_tokens: true,
      },
    ],
  });
  const { info } = as;
  const { issuer } = info;
  const ca = fx.ca;
  const post = (url, form, opts = {}) => call(url, { form, ca, ...opts });
  const dpopJkt = await calculateJwkThumbprint((({ kid, ...k }) => k)(keys.dpop.jwk));

  try {
    // ---- the ready line and discovery
    check('ready line: issuer is https://127.0.0.1:PORT', issuer === `https://127.0.0.1:${info.port}`, info);
    check('ready line: endpoints', info.token_endpoint === `${issuer}/token`
      && info.mtls_token_endpoint === `https://127.0.0.1:${info.mtls_port}/token`
      && info.pushed_authorization_request_endpoint === `${issuer}/request`
      && info.authorization_endpoint === `${issuer}/auth`
      && info.introspection_endpoint === `${issuer}/token/introspection`
      && info.jwks_uri === `${issuer}/jwks`
      && /^http:\/\/127\.0\.0\.1:\d+$/.test(info.control_url), info);
    for (const wk of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const d = await call(`${issuer}${wk}`, { method: 'GET', ca });
      check(`discovery at ${wk}: issuer exact, mtls aliases, FAPI auth methods and algs`, d.status === 200
        && d.json.issuer === issuer
        && d.json.token_endpoint === info.token_endpoint
        && d.json.mtls_endpoint_aliases?.token_endpoint === info.mtls_token_endpoint
        && d.json.mtls_endpoint_aliases?.pushed_authorization_request_endpoint === `https://127.0.0.1:${info.mtls_port}/request`
        && d.json.tls_client_certificate_bound_access_tokens === true
        && d.json.require_pushed_authorization_requests === true
        && JSON.stringify(d.json.token_endpoint_auth_methods_supported) === JSON.stringify(['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'])
        && JSON.stringify(d.json.token_endpoint_auth_signing_alg_values_supported) === JSON.stringify(['PS256', 'ES256', 'EdDSA'])
        && JSON.stringify(d.json.dpop_signing_alg_values_supported) === JSON.stringify(['PS256', 'ES256', 'EdDSA'])
        && d.json.response_modes_supported.includes('jwt')
        && !d.json.grant_types_supported.includes('password'), d.json ?? d);
    }

    // ---- (1) client_credentials + private_key_jwt + DPoP
    const cc = (key, clientId, extra = {}, { url = info.token_endpoint, aud = issuer, dpop, tls } = {}) => (async () => {
      const headers = {};
      if (dpop) headers.dpop = await dpopProof(dpop.key, dpop.htm ?? 'POST', dpop.htu ?? url, dpop);
      return post(url, {
        grant_type: 'client_credentials',
        client_id: clientId,
        ...(key ? { client_assertion_type: JWT_BEARER, client_assertion: await assertion(key, clientId, aud) } : {}),
        ...extra,
      }, { headers, tls });
    })();

    const t1 = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' }, { dpop: { key: keys.dpop } });
    check('(1) client_credentials + private_key_jwt + DPoP: 200, token_type DPoP, scope, expires_in',
      t1.status === 200 && t1.json.token_type === 'DPoP' && t1.json.scope === 'accounts'
      && t1.json.expires_in === 300 && typeof t1.json.access_token === 'string' && !('refresh_token' in t1.json), t1.json);
    const i1 = await introspect(as, t1.json?.access_token);
    check('(1) introspection: active, cnf.jkt = RFC 7638 thumbprint of the proof key', i1.active === true
      && i1.cnf?.jkt === dpopJkt && i1.client_id === 'pkjwt-dpop' && i1.scope === 'accounts'
      && i1.token_type === 'DPoP' && i1.exp - i1.iat === 300 && i1.aud === undefined, { i1, dpopJkt });

    const t1r = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts admin', resource: 'https://rs.example/api' }, { dpop: { key: keys.dpop } });
    check('(1) a scope outside the client\'s registration: 400 invalid_scope', t1r.status === 400 && t1r.json.error === 'invalid_scope', t1r.json);
    const t1s = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts payments', resource: 'https://rs.example/api' }, { dpop: { key: keys.dpop } });
    const i1s = await introspect(as, t1s.json?.access_token);
    check('(1) resource indicator: aud = the resource, scope kept', t1s.status === 200
      && i1s.aud === 'https://rs.example/api' && i1s.scope === 'accounts payments' && i1s.cnf?.jkt === dpopJkt, { t1s: t1s.json, i1s });
    const t1h = await cc(keys.es, 'pkjwt-dpop', { resource: 'http://rs.example/api' }, { dpop: { key: keys.dpop } });
    check('(1) a non-https resource: 400 invalid_target', t1h.status === 400 && t1h.json.error === 'invalid_target', t1h.json);
    const t1n = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' });
    const e1n = await lastError(as);
    check('(1) dpop_bound_access_tokens client without a proof: 400 invalid_grant "DPoP proof JWT not provided"',
      t1n.status === 400 && t1n.json.error === 'invalid_grant' && e1n.error_detail === 'DPoP proof JWT not provided', { t1n: t1n.json, e1n });

    const ted = await cc(keys.ed, 'pkjwt-eddsa', { scope: 'accounts' });
    check('(1) EdDSA assertion (jwks): Bearer token', ted.status === 200 && ted.json.token_type === 'Bearer', ted.json);
    const tps = await cc(keys.ps, 'pkjwt-ps-cert', { scope: 'accounts' });
    check('(1) PS256 assertion (key from certificates_pem): Bearer token', tps.status === 200 && tps.json.token_type === 'Bearer', tps.json);
    const rs256 = { ...keys.ps, alg: 'RS256' };
    const trs = await cc(rs256, 'pkjwt-rs', { scope: 'accounts' });
    const ers = await lastError(as);
    check('(8) RS256 assertion under fapi2: 401 invalid_client "alg mismatch"', trs.status === 401
      && trs.json.error === 'invalid_client' && ers.error_detail === 'alg mismatch', { trs: trs.json, ers });

    const pw = await post(info.token_endpoint, {
      grant_type: 'password', username: 'alice', password: 'alice-password', client_id: 'pkjwt-eddsa',
      client_assertion_type: JWT_BEARER, client_assertion: await assertion(keys.ed, 'pkjwt-eddsa', issuer),
    });
    check('fapi2: the password grant does not exist (400 unsupported_grant_type)',
      pw.status === 400 && pw.json.error === 'unsupported_grant_type', pw.json);

    // ---- (8) negative cases a client can get wrong
    const reused = await assertion(keys.es, 'pkjwt-dpop', issuer);
    const form = (a) => ({
      grant_type: 'client_credentials', client_id: 'pkjwt-dpop', client_assertion_type: JWT_BEARER, client_assertion: a, scope: 'accounts',
    });
    const r1 = await post(info.token_endpoint, form(reused), { headers: { dpop: await dpopProof(keys.dpop, 'POST', info.token_endpoint) } });
    const r2 = await post(info.token_endpoint, form(reused), { headers: { dpop: await dpopProof(keys.dpop, 'POST', info.token_endpoint) } });
    const e2 = await lastError(as);
    check('(8) replayed assertion jti: first 200, then 401 invalid_client "client assertion tokens must only be used once"',
      r1.status === 200 && r2.status === 401 && r2.json.error === 'invalid_client'
      && r2.json.error_description === 'client authentication failed'
      && e2.error_detail === 'client assertion tokens must only be used once' && e2.event === 'grant.error', { r2: r2.json, e2 });
    const wrongAud = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' }, { aud: info.token_endpoint, dpop: { key: keys.dpop } });
    const e3 = await lastError(as);
    check('(8) assertion aud = token endpoint URL: 401 invalid_client, detail names the issuer rule',
      wrongAud.status === 401 && wrongAud.json.error === 'invalid_client'
      && e3.error_detail === 'audience (aud) must equal the issuer identifier url', { wrongAud: wrongAud.json, e3 });
    const arrayAud = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' }, { aud: [issuer], dpop: { key: keys.dpop } });
    check('(8) assertion aud = [issuer] (array): 401 invalid_client', arrayAud.status === 401
      && (await lastError(as)).error_detail === 'audience (aud) must equal the issuer identifier url', arrayAud.json);
    const wrongHtu = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' }, { dpop: { key: keys.dpop, htu: `${issuer}/oauth/token` } });
    const e4 = await lastError(as);
    check('(8) DPoP proof with a wrong htu: 400 invalid_dpop_proof "DPoP proof htu mismatch"',
      wrongHtu.status === 400 && wrongHtu.json.error === 'invalid_dpop_proof'
      && wrongHtu.json.error_description === 'DPoP proof htu mismatch', { wrongHtu: wrongHtu.json, e4 });
    const aliasHtu = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' }, { url: info.mtls_token_endpoint, dpop: { key: keys.dpop, htu: info.token_endpoint } });
    check('(8) at the mTLS alias, htu must be the alias URL: main token URL is a mismatch',
      aliasHtu.status === 400 && aliasHtu.json.error_description === 'DPoP proof htu mismatch', aliasHtu.json);
    const aliasOk = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' }, { url: info.mtls_token_endpoint, dpop: { key: keys.dpop } });
    check('private_key_jwt + DPoP at the mTLS alias (htu = alias, aud = issuer): 200', aliasOk.status === 200 && aliasOk.json.token_type === 'DPoP', aliasOk.json);
    const ath = await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' }, { dpop: { key: keys.dpop, htm: 'GET' } });
    check('(8) DPoP proof with htm GET at the token endpoint: 400 invalid_dpop_proof',
      ath.status === 400 && ath.json.error === 'invalid_dpop_proof', ath.json);

    // ---- (3) tls_client_auth and self_signed_tls_client_auth over the mTLS listener
    const tlsOk = await cc(null, 'tls-client', { scope: 'accounts' }, { url: info.mtls_token_endpoint, tls: fx.tlsClient });
    const iTls = await introspect(as, tlsOk.json?.access_token);
    check('(3) tls_client_auth at the mTLS alias: 200 Bearer, cnf.x5t#S256 = SHA-256 of the DER certificate',
      tlsOk.status === 200 && tlsOk.json.token_type === 'Bearer' && iTls.active
      && iTls.cnf?.['x5t#S256'] === x5tS256(fx.tlsClient.cert) && iTls.cnf.jkt === undefined, { tlsOk: tlsOk.json, iTls });
    const tlsMain = await cc(null, 'tls-client', { scope: 'accounts' }, { tls: fx.tlsClient });
    check('(3) tls_client_auth at the main listener (no certificate requested): 401 "client certificate was not provided"',
      tlsMain.status === 401 && (await lastError(as)).error_detail === 'client certificate was not provided', tlsMain.json);
    const tlsSelf = await cc(null, 'tls-client', { scope: 'accounts' }, { url: info.mtls_token_endpoint, tls: fx.selfSigned });
    check('(3) tls_client_auth with a certificate not from client_ca: 401 "client certificate was not verified"',
      tlsSelf.status === 401 && (await lastError(as)).error_detail === 'client certificate was not verified', tlsSelf.json);
    const tlsOther = await cc(null, 'tls-client', { scope: 'accounts' }, { url: info.mtls_token_endpoint, tls: fx.otherClient });
    check('(3) tls_client_auth with another subject DN: 401 "certificate subject value does not match the registered one"',
      tlsOther.status === 401 && (await lastError(as)).error_detail === 'certificate subject value does not match the registered one', tlsOther.json);
    const chained = await cc(null, 'tls-chained', { scope: 'accounts' }, { url: info.mtls_token_endpoint, tls: fx.chained });
    const iCh = await introspect(as, chained.json?.access_token);
    check('(3) tls_client_auth through an intermediate the client sends: 200, cnf.x5t#S256 of the leaf',
      chained.status === 200 && iCh.cnf?.['x5t#S256'] === x5tS256(fx.chainedLeafOnly.cert), { chained: chained.json, iCh });
    const resumingAgent = new https.Agent({ keepAlive: false, ca, cert: fx.chained.cert, key: fx.chained.key });
    const viaAgent = [];
    for (let i = 0; i < 2; i += 1) {
      viaAgent.push((await call(info.mtls_token_endpoint, {
        form: { grant_type: 'client_credentials', client_id: 'tls-chained', scope: 'accounts' }, ca, agent: resumingAgent,
      })).status);
    }
    resumingAgent.destroy();
    check('(3) intermediates still seen on a second connection from a session-caching client (no TLS resumption)',
      JSON.stringify(viaAgent) === '[200,200]', viaAgent);
    const leafOnly = await cc(null, 'tls-chained', { scope: 'accounts' }, { url: info.mtls_token_endpoint, tls: fx.chainedLeafOnly });
    check('(3) the same leaf without its intermediate: 401 "client certificate was not verified"',
      leafOnly.status === 401 && (await lastError(as)).error_detail === 'client certificate was not verified', leafOnly.json);
    const ssOk = await cc(null, 'self-signed-client', { scope: 'accounts' }, { url: info.mtls_token_endpoint, tls: fx.selfSigned });
    const iSs = await introspect(as, ssOk.json?.access_token);
    check('(3) self_signed_tls_client_auth at the mTLS alias: 200, cnf.x5t#S256 = SHA-256 of the DER certificate',
      ssOk.status === 200 && iSs.active && iSs.cnf?.['x5t#S256'] === x5tS256(fx.selfSigned.cert), { ssOk: ssOk.json, iSs });
    const ssWrong = await cc(null, 'self-signed-client', { scope: 'accounts' }, { url: info.mtls_token_endpoint, tls: fx.tlsClient });
    check('(3) self_signed_tls_client_auth with an unregistered certificate: 401 "unregistered client certificate provided"',
      ssWrong.status === 401 && (await lastError(as)).error_detail === 'unregistered client certificate provided', ssWrong.json);

    // Introspection at the provider's own endpoint, as a client would.
    const intro = await post(info.introspection_endpoint, {
      token: t1.json?.access_token, client_id: 'pkjwt-dpop', client_assertion_type: JWT_BEARER,
      client_assertion: await assertion(keys.es, 'pkjwt-dpop', issuer),
    });
    check('provider introspection endpoint (private_key_jwt, aud = issuer): active, cnf.jkt', intro.status === 200
      && intro.json.active === true && intro.json.cnf?.jkt === dpopJkt, intro.json);

    // ---- (4) PAR + signed request object -> /authorize -> code -> tokens -> refresh
    const par = async ({ claims = {}, aud = issuer, dpop, omitRequest, url = info.pushed_authorization_request_endpoint } = {}) => {
      const verifier = randomBytes(32).toString('base64url');
      const state = randomBytes(8).toString('hex');
      const iat = now();
      const requestObject = await new SignJWT({
        iss: 'web-app',
        aud: issuer,
        client_id: 'web-app',
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'openid accounts',
        state,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        iat,
        nbf: iat,
        exp: iat + 300,
        jti: jti(),
        ...claims,
      }).setProtectedHeader({ alg: 'ES256', kid: keys.es.jwk.kid, typ: 'oauth-authz-req+jwt' }).sign(keys.es.privateKey);
      const headers = dpop ? { dpop: await dpopProof(dpop, 'POST', url) } : {};
      const res = await post(url, {
        client_id: 'web-app',
        client_assertion_type: JWT_BEARER,
        client_assertion: await assertion(keys.es, 'web-app', aud),
        ...(omitRequest ? {
          response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', state, code_challenge_method: 'S256',
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        } : { request: requestObject }),
      }, { headers });
      return { res, verifier, state };
    };
    const authorizeUrl = (requestUri) => `${info.authorization_endpoint}?${new URLSearchParams({ client_id: 'web-app', request_uri: requestUri })}`;
    const exchange = async (code, verifier, dpopKey = keys.dpop) => post(info.token_endpoint, {
      grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier,
      client_id: 'web-app', client_assertion_type: JWT_BEARER, client_assertion: await assertion(keys.es, 'web-app', issuer),
    }, { headers: { dpop: await dpopProof(dpopKey, 'POST', info.token_endpoint) } });

    await control(as, 'POST', '/counters/reset');
    const p1 = await par({ dpop: keys.dpop });
    check('(4) PAR with a signed request object: 201, request_uri, expires_in <= 60', p1.res.status === 201
      && p1.res.json.request_uri?.startsWith('urn:ietf:params:oauth:request_uri:')
      && p1.res.json.expires_in > 0 && p1.res.json.expires_in <= 60, p1.res.json);
    const a1 = (await control(as, 'POST', '/authorize', { url: authorizeUrl(p1.res.json?.request_uri), username: 'alice' })).json;
    check('(4) /authorize: redirect to redirect_uri with code, state, iss', typeof a1.code === 'string'
      && a1.state === p1.state && a1.iss === issuer && a1.redirect?.startsWith(`${REDIRECT_URI}?`), a1);
    const x1 = await exchange(a1.code, p1.verifier);
    check('(4) code exchange with code_verifier + DPoP: access token (DPoP) and refresh token', x1.status === 200
      && x1.json.token_type === 'DPoP' && typeof x1.json.refresh_token === 'string' && x1.json.scope === 'openid accounts'
      && typeof x1.json.id_token === 'string', x1.json);
    const ix1 = await introspect(as, x1.json?.access_token);
    check('(4) introspection of the code-flow token: sub, cnf.jkt', ix1.active && ix1.sub === 'alice' && ix1.cnf?.jkt === dpopJkt
      && ix1.gty === 'authorization_code', ix1);
    const rf = await post(info.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: x1.json?.refresh_token,
      client_id: 'web-app', client_assertion_type: JWT_BEARER, client_assertion: await assertion(keys.es, 'web-app', issuer),
    }, { headers: { dpop: await dpopProof(keys.dpop, 'POST', info.token_endpoint) } });
    const irf = await introspect(as, rf.json?.access_token);
    check('(4) refresh_token grant: a new DPoP access token for the same account', rf.status === 200 && rf.json.token_type === 'DPoP'
      && rf.json.access_token !== x1.json?.access_token && irf.active && irf.sub === 'alice' && irf.cnf?.jkt === dpopJkt, { rf: rf.json, irf });
    const x1again = await exchange(a1.code, p1.verifier);
    check('(4) the same code again: 400 invalid_grant "authorization code already consumed"', x1again.status === 400
      && x1again.json.error === 'invalid_grant' && (await lastError(as)).error_detail === 'authorization code already consumed', x1again.json);
    const revoked = await Promise.all([x1.json?.access_token, x1.json?.refresh_token, rf.json?.access_token].map((t) => introspect(as, t)));
    check('(4) code replay revokes the whole grant: access, refresh and refreshed tokens are gone',
      revoked.every((i) => i.active === false && i.reason === 'not_found'), revoked);

    const otherDpop = await signingKey('ES256', 'ec', { namedCurve: 'P-256' });
    const p2 = await par({ dpop: keys.dpop });
    const a2 = (await control(as, 'POST', '/authorize', { url: authorizeUrl(p2.res.json?.request_uri) })).json;
    const x2 = await exchange(a2.code, p2.verifier, otherDpop);
    check('(4) code bound by DPoP at PAR (dpop_jkt), exchanged with another key: 400 invalid_grant',
      x2.status === 400 && x2.json.error === 'invalid_grant'
      && (await lastError(as)).error_detail === 'DPoP proof key thumbprint does not match dpop_jkt', x2.json);
    const a2again = (await control(as, 'POST', '/authorize', { url: authorizeUrl(p2.res.json?.request_uri) })).json;
    check('(4) a used request_uri: invalid_request_uri', a2again.error === 'invalid_request_uri', a2again);
    const p3 = await par();
    const x3bad = await (async () => {
      const a3 = (await control(as, 'POST', '/authorize', { url: authorizeUrl(p3.res.json?.request_uri) })).json;
      return post(info.token_endpoint, {
        grant_type: 'authorization_code', code: a3.code, redirect_uri: REDIRECT_URI, code_verifier: randomBytes(32).toString('base64url'),
        client_id: 'web-app', client_assertion_type: JWT_BEARER, client_assertion: await assertion(keys.es, 'web-app', issuer),
      }, { headers: { dpop: await dpopProof(keys.dpop, 'POST', info.token_endpoint) } });
    })();
    check('(4) a wrong code_verifier: 400 invalid_grant "code_verifier does not match code_challenge"', x3bad.status === 400
      && x3bad.json.error === 'invalid_grant' && (await lastError(as)).error_detail === 'code_verifier does not match code_challenge', x3bad.json);
    const pDeny = await par();
    const aDeny = (await control(as, 'POST', '/authorize', { url: authorizeUrl(pDeny.res.json?.request_uri), deny: true })).json;
    check('(4) /authorize with deny: access_denied at the redirect_uri', aDeny.error === 'access_denied' && aDeny.state === pDeny.state
      && aDeny.redirect?.startsWith(REDIRECT_URI), aDeny);
    const pBadPw = await par();
    const aBadPw = (await control(as, 'POST', '/authorize', { url: authorizeUrl(pBadPw.res.json?.request_uri), username: 'alice', password: 'wrong' })).json;
    check('(4) /authorize with a wrong password: login_failed, no redirect', aBadPw.redirect === null && aBadPw.error === 'login_failed', aBadPw);

    const parNoRo = await par({ omitRequest: true });
    check('(4) PAR without a request object for require_signed_request_object: 400 invalid_request',
      parNoRo.res.status === 400 && parNoRo.res.json.error === 'invalid_request'
      && parNoRo.res.json.error_description === 'Request Object must be used by this client', parNoRo.res.json);
    const parNoNbf = await par({ claims: { nbf: undefined } });
    check('(8) request object without nbf: 400 invalid_request_object', parNoNbf.res.status === 400
      && parNoNbf.res.json.error === 'invalid_request_object'
      && parNoNbf.res.json.error_description === "Request Object is missing the 'nbf' claim", parNoNbf.res.json);
    const parAudEndpoint = await par({ aud: info.pushed_authorization_request_endpoint });
    check('(8) PAR client assertion with aud = PAR endpoint URL: 401 invalid_client (aud must be the issuer at PAR too)',
      parAudEndpoint.res.status === 401 && (await lastError(as)).error_detail === 'audience (aud) must equal the issuer identifier url', parAudEndpoint.res.json);
    const parRoAud = await par({ claims: { aud: info.pushed_authorization_request_endpoint } });
    check('(8) request object with aud = PAR endpoint URL: 400 invalid_request_object', parRoAud.res.status === 400
      && parRoAud.res.json.error === 'invalid_request_object', parRoAud.res.json);
    const direct = (await control(as, 'POST', '/authorize', {
      url: `${info.authorization_endpoint}?${new URLSearchParams({ client_id: 'web-app', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge_method: 'S256', code_challenge: 'a'.repeat(43) })}`,
    })).json;
    check('(4) an authorization request without PAR under fapi2: invalid_request "Pushed Authorization Request must be used"',
      direct.error === 'invalid_request' && direct.error_description === 'Pushed Authorization Request must be used', direct);

    const pfp = await par({ claims: { response_mode: 'form_post' } });
    const afp = (await control(as, 'POST', '/authorize', { url: authorizeUrl(pfp.res.json?.request_uri) })).json;
    check('(4) response_mode=form_post: /authorize reads the auto-submitted form', afp.form_post === true
      && afp.redirect === REDIRECT_URI && typeof afp.code === 'string' && afp.state === pfp.state && afp.iss === issuer, afp);
    const pr = await par({ claims: { scope: 'accounts', resource: 'https://rs.example/api' } });
    const ar = (await control(as, 'POST', '/authorize', { url: authorizeUrl(pr.res.json?.request_uri) })).json;
    const xr = await exchange(ar.code, pr.verifier);
    const ixr = await introspect(as, xr.json?.access_token);
    check('(4) plain OAuth code flow (no openid) with a resource: no id_token, aud = resource', xr.status === 200
      && xr.json.id_token === undefined && xr.json.scope === 'accounts' && ixr.aud === 'https://rs.example/api' && ixr.sub === 'alice', { xr: xr.json, ixr });
    const rv = await post(info.revocation_endpoint, {
      token: xr.json?.access_token, client_id: 'web-app', client_assertion_type: JWT_BEARER, client_assertion: await assertion(keys.es, 'web-app', issuer),
    });
    const irv = await introspect(as, xr.json?.access_token);
    check('revocation endpoint (private_key_jwt): 200, the token is gone', rv.status === 200 && irv.active === false, { rv: rv.status, irv });

    // ---- (7) JARM
    const pj = await par({ claims: { response_mode: 'jwt' }, dpop: keys.dpop });
    const aj = (await control(as, 'POST', '/authorize', { url: authorizeUrl(pj.res.json?.request_uri) })).json;
    const jwks = (await call(info.jwks_uri, { method: 'GET', ca })).json;
    let jarm;
    try {
      jarm = await jwtVerify(aj.response, createLocalJWKSet(jwks), { issuer, audience: 'web-app', algorithms: ['PS256'] });
    } catch (err) {
      jarm = { error: err.message };
    }
    check('(7) JARM: response_mode=jwt gives a PS256 `response` verifiable with jwks_uri, carrying code and state',
      typeof aj.response === 'string' && aj.code === undefined && jarm.payload?.state === pj.state
      && typeof jarm.payload?.code === 'string' && jarm.protectedHeader?.alg === 'PS256' && jwks.keys.every((k) => !k.d), { aj, jarm });
    const xj = await exchange(jarm.payload?.code, pj.verifier);
    check('(7) the JARM code exchanges for tokens', xj.status === 200 && xj.json.token_type === 'DPoP', xj.json);

    // ---- (6) counters and faults
    const c0 = (await control(as, 'GET', '/counters')).json;
    check('(6) counters: every PAR POST counted per client (accepted and refused)', c0.par_requests['web-app'] === 12
      && c0.total_par_requests === 12 && c0.token_requests['web-app']?.authorization_code === 6
      && c0.token_requests['web-app']?.refresh_token === 1, c0);
    await control(as, 'POST', '/counters/reset');
    const concurrent = await Promise.all([1, 2, 3].map(() => cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' }, { dpop: { key: keys.dpop } })));
    await cc(keys.es, 'pkjwt-dpop', { scope: 'accounts' }, { aud: 'https://wrong.example', dpop: { key: keys.dpop } });
    await cc(null, 'tls-client', { scope: 'accounts' }, { url: info.mtls_token_endpoint, tls: fx.tlsClient });
    await post(info.token_endpoint, { grant_type: 'client_credentials' });
    const c1 = (await control(as, 'GET', '/counters')).json;
    check('(6) counters: 3 concurrent + 1 refused + 1 at the mTLS alias + 1 anonymous', concurrent.every((r) => r.status === 200)
      && c1.token_requests['pkjwt-dpop']?.client_credentials === 4 && c1.token_requests['tls-client']?.client_credentials === 1
      && c1.token_requests._unknown?.client_credentials === 1 && c1.total_token_requests === 6, c1);
    const reset = await control(as, 'POST', '/counters/reset');
    check('(6) POST /counters/reset zeroes them', reset.json.total_token_requests === 0
      && Object.keys(reset.json.token_requests).length === 0, reset.json);

    const good = () => cc(keys.ed, 'pkjwt-eddsa', { scope: 'accounts' });
    const setFault = async (body) => control(as, 'POST', '/fault', body);
    await setFault({ mode: 'reset' });
    const fReset = await good();
    const fResetMtls = await cc(null, 'tls-client', { scope: 'accounts' }, { url: info.mtls_token_endpoint, tls: fx.tlsClient });
    check('(6) fault reset: the connection is dropped without an answer (both listeners)',
      fReset.error?.code === 'ECONNRESET' && fResetMtls.error?.code === 'ECONNRESET', { fReset: fReset.error?.code ?? fReset.status, fResetMtls: fResetMtls.error?.code ?? fResetMtls.status });
    await setFault({ mode: 'http500' });
    const f500 = await good();
    check('(6) fault http500: 500 with an HTML body', f500.status === 500 && f500.headers['content-type'].startsWith('text/html')
      && f500.json === undefined, f500.status);
    await setFault({ mode: 'garbage' });
    const fg = await good();
    check('(6) fault garbage: 200 whose body is not JSON', fg.status === 200 && fg.json === undefined, fg.text);
    await setFault({ mode: 'invalid_client' });
    const fic = await good();
    check('(6) fault invalid_client: 401 {"error":"invalid_client"}', fic.status === 401 && fic.json.error === 'invalid_client'
      && typeof fic.json.error_description === 'string', fic.json);
    await setFault({ mode: 'slow', delay_ms: 400 });
    const slowStart = Date.now();
    const fs = await good();
    const slowMs = Date.now() - slowStart;
    check(`(6) fault slow: answered normally after >= delay_ms (${slowMs} ms)`, fs.status === 200 && slowMs >= 395, { status: fs.status, slowMs });
    const badFault = await setFault({ mode: 'explode' });
    check('(6) an unknown fault mode: 400', badFault.status === 400, badFault.json);
    await setFault({ mode: 'none' });
    const fn = await good();
    check('(6) fault none: normal again', fn.status === 200, fn.json);
    await setFault({ mode: 'http500', times: 2 });
    const ft = [await good(), await good(), await good()].map((r) => r.status);
    check('(6) fault with times: 2 applies to the next 2 token requests only', JSON.stringify(ft) === '[500,500,200]', ft);
    const fState = (await control(as, 'GET', '/fault')).json;
    check('(6) GET /fault after times ran out: none', fState.mode === 'none', fState);
    const cf = (await control(as, 'GET', '/counters')).json;
    check('(6) faulted requests are counted too', cf.token_requests['pkjwt-eddsa']?.client_credentials === 9
      && cf.token_requests['tls-client']?.client_credentials === 1, cf);
    const pf = await (async () => {
      await setFault({ mode: 'http500', endpoints: ['par'], times: 1 });
      const r = (await par()).res.status;
      const t = (await good()).status;
      return [r, t];
    })();
    check('(6) fault endpoints ["par"]: PAR faulted, token endpoint not', JSON.stringify(pf) === '[500,200]', pf);

    const ir = await introspect(as, 'no-such-token');
    check('/introspect of an unknown token: active false', ir.active === false, ir);
    const nf = await control(as, 'GET', '/nope');
    check('control API: unknown route 404', nf.status === 404, nf.json);
  } finally {
    const { code } = await as.stop();
    check('fapi2: SIGTERM exits 0, stdout carried exactly one line', code === 0 && as.stdout().split('\n').length === 2, { code, stdout: as.stdout() });
  }
}

async function nonceTests(fx, keys) {
  const as = await startAs('nonce', {
    profile: 'fapi2',
    tls: { cert: file('server.crt'), key: file('server.key'), client_ca: file('ca.crt') },
    require_dpop_nonce: true,
    access_token_ttl: 3,
    omit_expires_in: true,
    require_typ: true,
    clients: [
      { client_id: 'pkjwt-dpop', jwks: { keys: [keys.es.jwk] }, scope: 'accounts', dpop_bound_access_tokens: true },
      {
        client_id: 'web-app', jwks: { keys: [keys.es.jwk] }, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'],
      },
    ],
  });
  const { info } = as;
  const { issuer } = info;
  const ca = fx.ca;
  try {
    const url = info.token_endpoint;
    const form = async () => ({
      grant_type: 'client_credentials', client_id: 'pkjwt-dpop', scope: 'accounts',
      client_assertion_type: JWT_BEARER, client_assertion: await assertion(keys.es, 'pkjwt-dpop', issuer),
    });
    const first = await call(url, { form: await form(), ca, headers: { dpop: await dpopProof(keys.dpop, 'POST', url) } });
    const nonce = first.headers?.['dpop-nonce'];
    check('(2) require_dpop_nonce: first attempt 400 use_dpop_nonce with a DPoP-Nonce header', first.status === 400
      && first.json.error === 'use_dpop_nonce' && first.json.error_description === 'nonce is required in the DPoP proof'
      && typeof nonce === 'string' && nonce.length > 0, { status: first.status, json: first.json, headers: first.headers });
    const same = await (async () => {
      const f = await form();
      const a = await call(url, { form: f, ca, headers: { dpop: await dpopProof(keys.dpop, 'POST', url) } });
      const b = await call(url, { form: f, ca, headers: { dpop: await dpopProof(keys.dpop, 'POST', url, { nonce: a.headers['dpop-nonce'] }) } });
      return { a, b };
    })();
    check('(2) retrying with the nonce but the SAME assertion: 401 replayed jti', same.a.status === 400 && same.b.status === 401
      && (await lastError(as)).error_detail === 'client assertion tokens must only be used once', same.b.json);
    const retry = await call(url, { form: await form(), ca, headers: { dpop: await dpopProof(keys.dpop, 'POST', url, { nonce }) } });
    check('(2) retry with the nonce and a new assertion: 200 DPoP', retry.status === 200 && retry.json.token_type === 'DPoP', retry.json);
    check('omit_expires_in: the token response has no expires_in', retry.status === 200 && !('expires_in' in retry.json), retry.json);
    const badNonce = await call(url, { form: await form(), ca, headers: { dpop: await dpopProof(keys.dpop, 'POST', url, { nonce: 'not-a-nonce' }) } });
    check('(2) an invalid nonce: 400 use_dpop_nonce "invalid nonce in DPoP proof" with a fresh DPoP-Nonce',
      badNonce.status === 400 && badNonce.json.error === 'use_dpop_nonce'
      && badNonce.json.error_description === 'invalid nonce in DPoP proof' && typeof badNonce.headers['dpop-nonce'] === 'string', badNonce.json);
    const parUrl = info.pushed_authorization_request_endpoint;
    const parForm = async () => ({
      client_id: 'web-app', client_assertion_type: JWT_BEARER, client_assertion: await assertion(keys.es, 'web-app', issuer),
      response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge_method: 'S256',
      code_challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'),
    });
    const parFirst = await call(parUrl, { form: await parForm(), ca, headers: { dpop: await dpopProof(keys.dpop, 'POST', parUrl) } });
    const parRetry = await call(parUrl, {
      form: await parForm(), ca, headers: { dpop: await dpopProof(keys.dpop, 'POST', parUrl, { nonce: parFirst.headers['dpop-nonce'] }) },
    });
    check('(2) PAR with DPoP also demands the nonce (400 use_dpop_nonce), then 201', parFirst.status === 400
      && parFirst.json.error === 'use_dpop_nonce' && parRetry.status === 201, { parFirst: parFirst.json, parRetry: parRetry.json });
    const parNoDpop = await call(parUrl, { form: await parForm(), ca });
    check('(2) PAR without DPoP is not asked for a nonce: 201', parNoDpop.status === 201, parNoDpop.json);
    const noTyp = await call(parUrl, {
      form: { ...(await parForm()), client_assertion: await assertion(keys.es, 'web-app', issuer, {}, {}) }, ca,
    });
    check('require_typ: a client assertion without typ client-authentication+jwt: 401 invalid_client', noTyp.status === 401
      && (await lastError(as)).error_detail === "client assertion 'typ' header must be 'client-authentication+jwt'", noTyp.json);
    const roNoTyp = await (async () => {
      const iat = now();
      const ro = await new SignJWT({
        iss: 'web-app', aud: issuer, client_id: 'web-app', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid',
        code_challenge_method: 'S256', code_challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'),
        iat, nbf: iat, exp: iat + 300, jti: jti(),
      }).setProtectedHeader({ alg: 'ES256', kid: keys.es.jwk.kid, typ: 'JWT' }).sign(keys.es.privateKey);
      return call(parUrl, {
        form: {
          client_id: 'web-app', client_assertion_type: JWT_BEARER, client_assertion: await assertion(keys.es, 'web-app', issuer), request: ro,
        },
        ca,
      });
    })();
    check('require_typ: a request object with typ JWT: 400 invalid_request_object', roNoTyp.status === 400
      && roNoTyp.json.error === 'invalid_request_object'
      && roNoTyp.json.error_description === "Request Object 'typ' header must be 'oauth-authz-req+jwt'", roNoTyp.json);

    // access_token_ttl 3: active, then (waiting for the condition) inactive, never before exp.
    const token = retry.json?.access_token;
    const i0 = await introspect(as, token);
    check('access_token_ttl 3: exp - iat = 3 and active now', i0.active === true && i0.exp - i0.iat === 3, i0);
    const inactive = await waitFor(async () => {
      const i = await introspect(as, token);
      return i.active === false ? { i, at: Date.now() / 1000 } : null;
    }, 10_000, 'the short-lived token to expire');
    check('access_token_ttl 3: becomes inactive (expired), not before exp', inactive.i.reason === 'expired' && inactive.at >= i0.exp, inactive);
  } finally {
    const { code } = await as.stop();
    check('nonce AS: SIGTERM exits 0', code === 0, code);
  }
}

async function plainTests(fx, keys) {
  const basicId = 'basic:client%+id';
  const basicSecret = 'se:cr%et+/= x';
  const config = {
    profile: 'none',
    tls: { cert: file('server.crt'), key: file('server.key'), client_ca: file('ca.crt') },
    accounts: [{ username: 'finapi-user', password: 'p@ss:w%rd+', sub: 'user-42' }],
    clients: [
      {
        client_id: basicId,
        token_endpoint_auth_method: 'client_secret_basic',
        client_secret: basicSecret,
        grant_types: ['client_credentials', 'password', 'refresh_token'],
        scope: 'accounts',
      },
      {
        client_id: 'post-client',
        token_endpoint_auth_method: 'client_secret_post',
        client_secret: 'post-secret',
        grant_types: ['client_credentials', 'password'],
      },
      {
        client_id: 'pkjwt-plain',
        jwks: { keys: [keys.es.jwk] },
        grant_types: ['client_credentials'],
      },
      {
        client_id: 'plain-web',
        token_endpoint_auth_method: 'client_secret_basic',
        client_secret: 'web-secret',
        redirect_uris: [REDIRECT_URI],
        scope: 'accounts',
      },
    ],
  };
  let as = await startAs('none', config);
  const ca = fx.ca;
  const formEncode = (s) => new URLSearchParams({ x: s }).toString().slice(2);
  const basic = (id, secret) => `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;
  const naive = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  try {
    const { info } = as;
    const url = info.token_endpoint;
    const d = (await call(`${info.issuer}/.well-known/oauth-authorization-server`, { method: 'GET', ca })).json;
    check('profile none: discovery offers client secrets and the password grant', d.issuer === info.issuer
      && d.token_endpoint_auth_methods_supported.includes('client_secret_basic')
      && d.token_endpoint_auth_methods_supported.includes('client_secret_post')
      && d.grant_types_supported.includes('password'), d);

    const ok = await call(url, { form: { grant_type: 'client_credentials', scope: 'accounts' }, ca, headers: { authorization: basic(basicId, basicSecret) } });
    check('(5) client_secret_basic with : % + in id and secret, each form-urlencoded before base64: 200',
      ok.status === 200 && ok.json.token_type === 'Bearer' && ok.json.scope === 'accounts', ok.json);
    const bad = await call(url, { form: { grant_type: 'client_credentials' }, ca, headers: { authorization: naive(basicId, basicSecret) } });
    check('(5) client_secret_basic without the form-urlencoding: refused', [400, 401].includes(bad.status)
      && ['invalid_request', 'invalid_client'].includes(bad.json.error), bad.json);
    const plusOnly = await call(url, {
      form: { grant_type: 'client_credentials' }, ca, headers: { authorization: `Basic ${Buffer.from(`${formEncode(basicId)}:${basicSecret.replace('%', '%25')}`).toString('base64')}` },
    });
    check('(5) client_secret_basic with a raw "+" in the secret (decoded as a space): 401 invalid_client',
      plusOnly.status === 401 && plusOnly.json.error === 'invalid_client'
      && (await lastError(as)).error_detail === 'invalid secret provided', plusOnly.json);
    const post = await call(url, { form: { grant_type: 'client_credentials', client_id: 'post-client', client_secret: 'post-secret' }, ca });
    check('(5) client_secret_post: 200', post.status === 200 && post.json.token_type === 'Bearer', post.json);
    const postWrong = await call(url, { form: { grant_type: 'client_credentials', client_id: 'post-client', client_secret: 'nope' }, ca });
    check('(5) client_secret_post with a wrong secret: 401 invalid_client', postWrong.status === 401 && postWrong.json.error === 'invalid_client', postWrong.json);
    const aud = await call(url, {
      form: {
        grant_type: 'client_credentials', client_id: 'pkjwt-plain', client_assertion_type: JWT_BEARER,
        client_assertion: await assertion(keys.es, 'pkjwt-plain', url),
      },
      ca,
    });
    check('profile none: private_key_jwt with aud = token endpoint URL is accepted', aud.status === 200, aud.json);

    const pw = await call(url, {
      form: { grant_type: 'password', username: 'finapi-user', password: 'p@ss:w%rd+', scope: 'accounts' },
      ca,
      headers: { authorization: basic(basicId, basicSecret) },
    });
    const ipw = await introspect(as, pw.json?.access_token);
    check('(5) password grant: 200 Bearer with a refresh token; introspection sub, gty password', pw.status === 200
      && pw.json.token_type === 'Bearer' && pw.json.scope === 'accounts' && typeof pw.json.refresh_token === 'string'
      && ipw.active && ipw.sub === 'user-42' && ipw.gty === 'password' && ipw.client_id === basicId, { pw: pw.json, ipw });
    const rf = await call(url, {
      form: { grant_type: 'refresh_token', refresh_token: pw.json?.refresh_token }, ca, headers: { authorization: basic(basicId, basicSecret) },
    });
    const irf = await introspect(as, rf.json?.access_token);
    check('(5) refresh_token after the password grant: a new token for the same account', rf.status === 200
      && rf.json.access_token !== pw.json?.access_token && irf.sub === 'user-42' && irf.scope === 'accounts', { rf: rf.json, irf });
    const pwWrong = await call(url, {
      form: { grant_type: 'password', username: 'finapi-user', password: 'wrong' }, ca, headers: { authorization: basic(basicId, basicSecret) },
    });
    check('(5) password grant with a wrong password: 400 invalid_grant', pwWrong.status === 400 && pwWrong.json.error === 'invalid_grant'
      && (await lastError(as)).error_detail === 'invalid resource owner credentials', pwWrong.json);
    const pwDpop = await call(url, {
      form: {
        grant_type: 'password', username: 'finapi-user', password: 'p@ss:w%rd+', client_id: 'post-client', client_secret: 'post-secret',
      },
      ca,
      headers: { dpop: await dpopProof(keys.dpop, 'POST', url) },
    });
    const ipd = await introspect(as, pwDpop.json?.access_token);
    const jkt = await calculateJwkThumbprint((({ kid, ...k }) => k)(keys.dpop.jwk));
    check('(5) password grant + client_secret_post + DPoP: token_type DPoP, cnf.jkt', pwDpop.status === 200
      && pwDpop.json.token_type === 'DPoP' && ipd.cnf?.jkt === jkt && !('refresh_token' in pwDpop.json), { pwDpop: pwDpop.json, ipd });
    const pwResource = await call(url, {
      form: {
        grant_type: 'password', username: 'finapi-user', password: 'p@ss:w%rd+', scope: 'accounts', resource: 'https://api.example/v2',
      },
      ca,
      headers: { authorization: basic(basicId, basicSecret) },
    });
    const ipr = await introspect(as, pwResource.json?.access_token);
    check('(5) password grant with a resource: aud = the resource', pwResource.status === 200 && ipr.aud === 'https://api.example/v2'
      && ipr.scope === 'accounts', { pwResource: pwResource.json, ipr });

    const verifier = randomBytes(32).toString('base64url');
    const az = (await control(as, 'POST', '/authorize', {
      url: `${info.authorization_endpoint}?${new URLSearchParams({
        client_id: 'plain-web', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'accounts', state: 's-1',
        code_challenge_method: 'S256', code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      })}`,
      username: 'finapi-user',
    })).json;
    const xz = await call(url, {
      form: {
        grant_type: 'authorization_code', code: az.code, redirect_uri: REDIRECT_URI, code_verifier: verifier,
      },
      ca,
      headers: { authorization: basic('plain-web', 'web-secret') },
    });
    const ixz = await introspect(as, xz.json?.access_token);
    check('(5) profile none: code flow without PAR (query parameters) + client_secret_basic: tokens for the account',
      az.state === 's-1' && az.iss === info.issuer && xz.status === 200 && xz.json.token_type === 'Bearer'
      && typeof xz.json.refresh_token === 'string' && ixz.sub === 'user-42', { az, xz: xz.json, ixz });
    const counted = (await control(as, 'GET', '/counters')).json;
    check('(6) counters key Basic-authenticated requests by the decoded client_id', counted.token_requests[basicId]?.client_credentials === 2
      && counted.token_requests[basicId]?.password === 3 && counted.token_requests[basicId]?.refresh_token === 1
      && counted.token_requests['post-client']?.password === 1 && counted.token_requests['plain-web']?.authorization_code === 1, counted);

    // Restart on the same port: same issuer, tokens of the old process gone.
    const { port } = info;
    const { code } = await as.stop();
    check('profile none: SIGTERM exits 0', code === 0, code);
    as = await startAs('none-restarted', { ...config, port });
    check('restart with a fixed port: the same issuer', as.info.issuer === info.issuer && as.info.port === port, as.info);
    const again = await call(url, { form: { grant_type: 'client_credentials', scope: 'accounts' }, ca, headers: { authorization: basic(basicId, basicSecret) } });
    const old = await introspect(as, ok.json?.access_token);
    check('restart: serves again; the old process\'s tokens are unknown', again.status === 200 && old.active === false && old.reason === 'not_found', { again: again.json, old });
  } finally {
    await as.stop();
  }
}

async function badConfigTests() {
  const run = (cfgText) => new Promise((resolve) => {
    writeFileSync(file('bad.json'), cfgText);
    const child = spawn(process.execPath, [SERVER, file('bad.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => resolve({ code, out, err }));
  });
  const notJson = await run('not json');
  check('bad config (not JSON): exit 2, nothing on stdout', notJson.code === 2 && notJson.out === '', notJson);
  const badClient = await run(JSON.stringify({
    profile: 'fapi2',
    tls: { cert: file('server.crt'), key: file('server.key') },
    clients: [{ client_id: 'secret-client', token_endpoint_auth_method: 'client_secret_basic', client_secret: 'x' }],
  }));
  check('bad config (client_secret_basic under fapi2): exit 2, the reason on stderr', badClient.code === 2 && badClient.out === ''
    && /client secret-client/.test(badClient.err), badClient.err);
}

try {
  const fx = makeFixtures();
  const keys = {
    es: await signingKey('ES256', 'ec', { namedCurve: 'P-256' }),
    ps: await signingKey('PS256', 'rsa', { modulusLength: 2048 }),
    ed: await signingKey('EdDSA', 'ed25519'),
    dpop: await signingKey('ES256', 'ec', { namedCurve: 'P-256' }),
  };
  keys.psCert = selfSignedPem(keys.ps, 'ps256-client');
  await fapiTests(fx, keys);
  await nonceTests(fx, keys);
  await plainTests(fx, keys);
  await badConfigTests();
} catch (err) {
  failed += 1;
  console.log(`not ok - harness error: ${err.stack ?? err}`);
} finally {
  // A server left running by a failed check must not outlive the test.
  for (const child of children) child.kill('SIGKILL');
  if (failed || process.env.FAPI_AS_VERBOSE) {
    for (const { name, text } of logs) process.stderr.write(`---- stderr of ${name}\n${text}`);
  }
  rmSync(dir, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
