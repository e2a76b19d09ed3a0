// Self-test of bank.mjs: proves that the bank accepts what the standards accept and refuses,
// with the right status, challenge and reason, what they refuse.
//
//   node tests/rs/bank_selftest.mjs        (exits non-zero on any failure)
//
// Fixtures come from the openssl CLI (CA, server certificate with SAN IP:127.0.0.1, client
// certificates, a QSealC-like RSA certificate). Token introspection is a 20-line fake of the
// test authorization server's control API (POST /introspect) and, for the RFC 7662 form, a
// fake HTTPS introspection endpoint. Clients: node:https / node:http2 with jose for DPoP
// proofs; RFC 9421 signature bases, UK OB detached JWS and cavage signing strings are built
// by hand here and signed with node:crypto, so the bank's verifiers (http-message-signatures,
// jose) are checked against an independent signer.
//
// Synchronisation is by events only (responses, process output lines, 'exit'); timeouts are
// failure guards, never waits.
//
// Environment (for debugging): BANK=path runs another bank.mjs; BANK_LOG=file saves the bank's
// stderr there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import crypto from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
const bankPath = process.env.BANK ?? path.join(here, 'bank.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bank-selftest-'));
const MB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// tiny runner

const results = [];
let current = '';
async function test(name, fn) {
  current = name;
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    process.stdout.write(`ok - ${name} (${Date.now() - started} ms)\n`);
  } catch (err) {
    results.push({ name, ok: false, err });
    process.stdout.write(`not ok - ${name}\n  ${String(err.stack ?? err).split('\n').join('\n  ')}\n`);
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
function eq(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

// ---------------------------------------------------------------------------------------------
// fixtures

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}
const file = (name) => path.join(dir, name);
const read = (name) => fs.readFileSync(file(name), 'utf8');

function makeFixtures() {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-days', '2', '-subj', '/C=GB/O=Bank Test/CN=Bank Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const leaf = (name, subj, ext, keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], serial = null) => {
    fs.writeFileSync(file(`${name}.ext`), ext);
    openssl('req', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
      ...(serial ? ['-set_serial', serial] : ['-CAcreateserial']), '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  leaf('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  leaf('client1', '/O=TPP One/CN=tpp-1', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  leaf('client2', '/O=TPP Two/CN=tpp-2', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  leaf('qseal', '/C=DE/O=Test TPP GmbH/CN=Test QSealC', 'keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=CA:FALSE\n',
    ['-newkey', 'rsa:2048'], '0x1A2B3C4D5E');
  // A self-signed client certificate (RFC 8705 §2.2 self_signed_tls_client_auth).
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'self.key', '-out', 'self.pem',
    '-days', '2', '-subj', '/CN=self-signed-tpp', '-addext', 'extendedKeyUsage=clientAuth');
}

const x5tOf = (pemName) => crypto.createHash('sha256').update(new crypto.X509Certificate(read(pemName)).raw).digest('base64url');

// ---------------------------------------------------------------------------------------------
// fake introspection (the test AS's control API form) and an RFC 7662 HTTPS endpoint

const tokens = new Map();
let introspectCalls = 0;
function registerToken(info = {}) {
  const token = crypto.randomBytes(24).toString('base64url');
  tokens.set(token, { active: true, client_id: 'tpp-1', scope: 'accounts payments', exp: Math.floor(Date.now() / 1000) + 600, token_type: 'Bearer', ...info });
  return token;
}
function answerIntrospect(token) {
  introspectCalls += 1;
  return tokens.get(token) ?? { active: false };
}
async function startFakeControl() {
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    if (req.method !== 'POST' || req.url !== '/introspect') {
      res.writeHead(404).end();
      return;
    }
    const { token } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const body = JSON.stringify(answerIntrospect(token));
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return srv;
}
const rfc7662Seen = [];
async function startFakeRfc7662() {
  const srv = https.createServer({ cert: read('server.pem'), key: read('server.key') }, async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    rfc7662Seen.push({ authorization: req.headers.authorization, contentType: req.headers['content-type'], form: Object.fromEntries(form) });
    const want = `Basic ${Buffer.from('tpp%3A1+x:s%C3%A9cret%2B%2F').toString('base64')}`;
    if (req.url !== '/token/introspection' || req.headers.authorization !== want) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answerIntrospect(form.get('token'))));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return srv;
}

// ---------------------------------------------------------------------------------------------
// the bank process

async function startBank(name, config) {
  const configPath = file(`${name}.json`);
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [bankPath, configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const bank = { child, log: '', waiters: [], exited: null };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    bank.log += d;
    for (const w of [...bank.waiters]) w();
  });
  bank.exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    bank.exited = { code, signal };
    for (const w of [...bank.waiters]) w();
    resolve(bank.exited);
  }));
  // Resolves when `needle` appears in the log after `from`; fails after `ms` (a guard, not a wait).
  bank.waitForLog = (needle, from = 0, ms = 10000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const i = bank.log.indexOf(needle, from);
        if (i >= 0) {
          done();
          resolve(bank.log.slice(i, bank.log.indexOf('\n', i)));
        } else if (bank.exited) {
          done();
          reject(new Error(`bank exited (${JSON.stringify(bank.exited)}) before logging ${JSON.stringify(needle)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`bank did not log ${JSON.stringify(needle)} within ${ms} ms; log tail:\n${bank.log.slice(-2000)}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        bank.waiters = bank.waiters.filter((w) => w !== check);
      };
      bank.waiters.push(check);
      check();
    });
  const line = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    const onData = (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.stdout.off('data', onData);
        resolve(out.slice(0, nl));
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`bank ${name} exited ${code} before listening:\n${bank.log}`)));
  });
  Object.assign(bank, JSON.parse(line), { firstLine: line });
  bank.control = async (method, p, body) => {
    const res = await plainRequest(`${bank.control_url}${p}`, method, body);
    if (res.status !== 200) throw new Error(`control ${method} ${p} -> ${res.status} ${res.text}`);
    return res.json;
  };
  return bank;
}

function plainRequest(url, method = 'GET', body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const req = http.request(url, { method, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try {
          json = JSON.parse(text);
        } catch { /* not JSON */ }
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

// ---------------------------------------------------------------------------------------------
// HTTPS / HTTP/2 clients

const identities = {};
function identity(name) {
  if (name === null) return {};
  return identities[name] ??= { cert: read(`${name}.pem`), key: read(`${name}.key`) };
}

// One request on a fresh TLS connection. body: Buffer | Readable | null. sink(chunk) streams the
// response body instead of collecting it.
function request(bank, { method = 'GET', path: p, headers = {}, body = null, cert = 'client1', sink = null }) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port: bank.port,
      path: p,
      method,
      headers: { ...(Buffer.isBuffer(body) ? { 'content-length': body.length } : {}), ...headers },
      ca: read('ca.pem'),
      ...identity(cert),
      agent: false,
    }, (res) => {
      const chunks = [];
      let bytes = 0;
      res.on('data', (c) => {
        bytes += c.length;
        if (sink) sink(c);
        else chunks.push(c);
      });
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        let json = null;
        try {
          json = JSON.parse(buf.toString('utf8'));
        } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, trailers: res.trailers, body: buf, json, bytes, alpn: res.socket?.alpnProtocol });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body ?? undefined);
  });
}

function request2(bank, { method = 'GET', path: p, headers = {}, body = null, cert = 'client1' }) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(bank.url, { ca: read('ca.pem'), ...identity(cert) });
    session.on('error', reject);
    const stream = session.request({ ':method': method, ':path': p, ...headers }, { endStream: !body });
    let head = null;
    let trailers = {};
    const chunks = [];
    stream.on('response', (h) => { head = h; });
    stream.on('trailers', (t) => { trailers = t; });
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      const buf = Buffer.concat(chunks);
      let json = null;
      try {
        json = JSON.parse(buf.toString('utf8'));
      } catch { /* not JSON */ }
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ status: head[':status'], headers: head, trailers, body: buf, json, alpn });
    });
    stream.on('error', reject);
    if (body) stream.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// DPoP client (RFC 9449) on jose

async function makeDpopKey(alg = 'ES256') {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await jose.calculateJwkThumbprint(jwk, 'sha256') };
}
const athOf = (token) => crypto.createHash('sha256').update(token, 'ascii').digest('base64url');

async function proof(key, { htm, htu, token, nonce, claims = {}, header = {}, omit = [] }) {
  const payload = { jti: crypto.randomBytes(16).toString('base64url'), htm, htu, iat: Math.floor(Date.now() / 1000), ...(token ? { ath: athOf(token) } : {}), ...(nonce ? { nonce } : {}), ...claims };
  for (const k of omit) delete payload[k];
  return new jose.SignJWT(payload).setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...header }).sign(key.privateKey);
}

// A DPoP request that keeps the bank's latest nonce (as a real client does).
const nonceJar = new Map();
async function dpopRequest(bank, key, token, opts = {}, proofOpts = {}) {
  const method = opts.method ?? 'GET';
  const htu = `${bank.url}${opts.path.split('?')[0]}`;
  const p = await proof(key, { htm: method, htu, token, nonce: nonceJar.get(bank.url), ...proofOpts });
  const send = opts.h2 ? request2 : request;
  const res = await send(bank, { ...opts, method, headers: { authorization: `DPoP ${token}`, dpop: p, ...(opts.headers ?? {}) } });
  if (res.headers['dpop-nonce']) nonceJar.set(bank.url, res.headers['dpop-nonce']);
  res.proof = p;
  return res;
}
// The same, retrying once on use_dpop_nonce (RFC 9449 §9).
async function dpopRequestRetry(bank, key, token, opts = {}) {
  const res = await dpopRequest(bank, key, token, opts);
  if (res.status === 401 && /error="use_dpop_nonce"/.test(res.headers['www-authenticate'] ?? '')) {
    const again = await dpopRequest(bank, key, token, opts);
    again.challenged = res;
    return again;
  }
  return res;
}

// Asserts a refusal: status, X-Bank-Refusal / body.reason, optional WWW-Authenticate error, the
// stderr line, and GET /last_refusal.
async function expectRefusal(bank, res, { status, reason, error = undefined, scheme = undefined, from }) {
  eq(res.status, status, `status (body ${res.body.toString('utf8').slice(0, 300)})`);
  eq(res.headers['x-bank-refusal'], reason, 'X-Bank-Refusal');
  eq(res.json?.reason, reason, 'body.reason');
  if (error !== undefined) {
    const www = res.headers['www-authenticate'] ?? '';
    if (error === null) assert(!/error=/.test(www), `WWW-Authenticate has no error: ${www}`);
    else assert(www.includes(`error="${error}"`), `WWW-Authenticate ${JSON.stringify(www)} carries error="${error}"`);
    if (scheme) assert(www.startsWith(`${scheme} `) || www === scheme, `WWW-Authenticate ${JSON.stringify(www)} uses scheme ${scheme}`);
  }
  await bank.waitForLog(`REFUSED ${reason}: `, from);
  const last = await bank.control('GET', '/last_refusal');
  eq(last.reason, reason, 'last_refusal.reason');
}

// ---------------------------------------------------------------------------------------------
// message signature helpers (independent of the bank's libraries)

const contentDigest = (body) => `sha-256=:${crypto.createHash('sha256').update(body).digest('base64')}:`;

// RFC 9421 §2.5 signature base, by hand.
function sign9421({ key, alg, keyid, method, targetUri, headers, components, created = Math.floor(Date.now() / 1000), tag = 'fapi-2-request', label = 'sig1' }) {
  const lines = [];
  for (const c of components) {
    let v;
    if (c === '@method') v = method;
    else if (c === '@target-uri') v = targetUri;
    else v = String(headers[c]).trim();
    lines.push(`"${c}": ${v}`);
  }
  const params = `(${components.map((c) => `"${c}"`).join(' ')});created=${created};keyid="${keyid}";alg="${alg}"${tag ? `;tag="${tag}"` : ''}`;
  lines.push(`"@signature-params": ${params}`);
  const base = Buffer.from(lines.join('\n'));
  let s;
  if (alg === 'ecdsa-p256-sha256') s = crypto.sign('sha256', base, { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'ed25519') s = crypto.sign(null, base, key);
  else if (alg === 'rsa-pss-sha512') s = crypto.sign('sha512', base, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 });
  else throw new Error(alg);
  return { 'signature-input': `${label}=${params}`, signature: `${label}=:${s.toString('base64')}:` };
}

// UK OB detached JWS, PS256 with node:crypto (RFC 7515 App. F; RFC 7797 for b64=false).
function obSign({ key, kid, body, version, extraHeader = {} }) {
  const claims = { 'http://openbanking.org.uk/iat': Math.floor(Date.now() / 1000) - 1, 'http://openbanking.org.uk/iss': '0015800001041RHAAY/HQuZPIt3ipkh33Uxytox1E', 'http://openbanking.org.uk/tan': 'openbanking.org.uk' };
  const crit = Object.keys(claims);
  const header = version === '3.1.3'
    ? { alg: 'PS256', kid, b64: false, ...claims, crit: ['b64', ...crit], ...extraHeader }
    : { alg: 'PS256', kid, ...claims, crit, ...extraHeader };
  const h64 = Buffer.from(JSON.stringify(header)).toString('base64url');
  const payload = version === '3.1.3' ? body : Buffer.from(body.toString('base64url'));
  const input = Buffer.concat([Buffer.from(`${h64}.`), payload]);
  const s = crypto.sign('sha256', input, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return `${h64}..${s.toString('base64url')}`;
}

// Berlin Group draft-cavage-http-signatures-10 signature.
function cavageSign({ key, cert, method, pathAndQuery, headers, signed = ['digest', 'x-request-id'] }) {
  const x = new crypto.X509Certificate(cert);
  const issuer = x.issuer.split('\n').reverse().join(',');
  const lines = signed.map((h) => (h === '(request-target)' ? `(request-target): ${method.toLowerCase()} ${pathAndQuery}` : `${h}: ${headers[h]}`));
  const s = crypto.sign('sha256', Buffer.from(lines.join('\n')), { key, padding: crypto.constants.RSA_PKCS1_PADDING });
  return {
    signature: `keyId="SN=${x.serialNumber},CA=${encodeURIComponent(issuer).replace(/%3D/g, '=').replace(/%2C/g, ',')}",algorithm="rsa-sha256",headers="${signed.join(' ')}",signature="${s.toString('base64')}"`,
    'tpp-signature-certificate': x.raw.toString('base64'),
  };
}

// Deterministic pseudo-random upload body, generated on demand (never held whole).
function generated(n, seed = 'upload') {
  const c = crypto.createCipheriv('aes-128-ctr', crypto.createHash('sha256').update(seed).digest().subarray(0, 16), Buffer.alloc(16));
  const zeros = Buffer.alloc(64 * 1024);
  const hash = crypto.createHash('sha256');
  let left = n;
  const stream = new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const len = Math.min(left, zeros.length);
      const chunk = c.update(len === zeros.length ? zeros : zeros.subarray(0, len));
      left -= len;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  stream.digest = () => hash.digest('hex');
  return stream;
}

// ---------------------------------------------------------------------------------------------
// the tests

makeFixtures();
const fake = await startFakeControl();
const fakeAs = await startFakeRfc7662();
const controlUrl = `http://127.0.0.1:${fake.address().port}`;

const bank = await startBank('bank', {
  port: 0,
  control_port: 0,
  tls: { cert: file('server.pem'), key: file('server.key'), client_ca: [file('ca.pem')] },
  require_client_cert: true,
  http2: true,
  introspection: { control_url: controlUrl },
  token_binding: 'dpop',
  require_dpop_nonce: true,
});
const x5t1 = x5tOf('client1.pem');
const x5t2 = x5tOf('client2.pem');
const key = await makeDpopKey('ES256');
const otherKey = await makeDpopKey('ES256');
const dpopToken = registerToken({ cnf: { jkt: key.jkt }, token_type: 'DPoP' });
const mark = () => bank.log.length;

await test('startup: exactly one JSON line with url, port, control_url', async () => {
  const parsed = JSON.parse(bank.firstLine);
  eq(Object.keys(parsed).sort(), ['control_url', 'port', 'url'], 'keys');
  eq(parsed.url, `https://127.0.0.1:${parsed.port}`, 'url');
  assert(/^http:\/\/127\.0\.0\.1:\d+$/.test(parsed.control_url), 'control_url');
});

await test('DPoP: a correct request succeeds after exactly one nonce challenge', async () => {
  await bank.control('POST', '/counters/reset');
  const first = await dpopRequest(bank, key, dpopToken, { path: '/accounts', headers: { 'x-fapi-interaction-id': '93bac548-d2de-4546-b106-880a5018460d' } });
  eq(first.status, 401, 'first status');
  eq(first.headers['www-authenticate'].startsWith('DPoP error="use_dpop_nonce"'), true, `challenge ${first.headers['www-authenticate']}`);
  assert(first.headers['dpop-nonce'], 'DPoP-Nonce on the challenge');
  const res = await dpopRequest(bank, key, dpopToken, { path: '/accounts', headers: { 'x-fapi-interaction-id': '93bac548-d2de-4546-b106-880a5018460d' } });
  eq(res.status, 200, `status ${res.body}`);
  eq(res.json.accounts.length > 0, true, 'accounts');
  eq(res.json.seen['x5t#S256'], x5t1, 'seen x5t');
  eq(res.json.seen.jkt, key.jkt, 'seen jkt');
  eq(res.json.seen.client_id, 'tpp-1', 'seen client_id');
  eq(res.json.seen.interaction_id, '93bac548-d2de-4546-b106-880a5018460d', 'seen interaction id');
  eq(res.headers['x-fapi-interaction-id'], '93bac548-d2de-4546-b106-880a5018460d', 'echoed interaction id');
  assert(res.headers['dpop-nonce'], 'fresh DPoP-Nonce on success');
  const c = await bank.control('GET', '/counters');
  eq(c.nonce_challenges, 1, 'nonce_challenges');
  eq(c.requests, 2, 'requests');
  eq(c.by_path['/accounts'], 2, 'by_path');
  eq(c.refused, { dpop_nonce_missing: 1 }, 'refused');
  eq(c.client_certs, [x5t1], 'client_certs');
});

await test('interaction id: generated (UUID) when absent, echoed on refusals too', async () => {
  const res = await dpopRequest(bank, key, dpopToken, { path: '/accounts' });
  eq(res.status, 200, 'status');
  assert(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(res.headers['x-fapi-interaction-id']), `uuid ${res.headers['x-fapi-interaction-id']}`);
  eq(res.json.seen.interaction_id_generated, true, 'generated flag');
  const bad = await request(bank, { path: '/accounts', headers: { 'x-fapi-interaction-id': 'abc-123' } });
  eq(bad.headers['x-fapi-interaction-id'], 'abc-123', 'echo on refusal');
});

await test('mTLS: no client certificate -> TLS handshake refused (certificate_required)', async () => {
  const from = mark();
  let err = null;
  try {
    await request(bank, { path: '/accounts', cert: null });
  } catch (e) {
    err = e;
  }
  assert(err, 'the request failed');
  assert(/certificate required|ECONNRESET|socket hang up|alert/i.test(`${err.code} ${err.message}`), `client error ${err.code} ${err.message}`);
  await bank.waitForLog('REFUSED no_client_cert: TLS handshake', from);
  const c = await bank.control('GET', '/counters');
  assert(c.refused.no_client_cert >= 1, 'counted');
});

await test('mTLS: a client certificate from an unknown CA -> TLS handshake refused', async () => {
  const from = mark();
  let err = null;
  try {
    await request(bank, { path: '/accounts', cert: 'self' });
  } catch (e) {
    err = e;
  }
  assert(err, 'the request failed');
  await bank.waitForLog('REFUSED client_cert_untrusted: TLS handshake', from);
});

await test('DPoP: no Authorization -> 401 DPoP challenge without error code (RFC 6750 §3.1)', async () => {
  const from = mark();
  const res = await request(bank, { path: '/accounts' });
  await expectRefusal(bank, res, { status: 401, reason: 'missing_authorization', error: null, scheme: 'DPoP', from });
  assert(/algs="ES256 /.test(res.headers['www-authenticate']), `algs in ${res.headers['www-authenticate']}`);
});

const violations = [
  ['wrong htu', { path: '/accounts' }, { claims: { htu: 'https://127.0.0.1:1/accounts' } }, 'dpop_htu', 'invalid_dpop_proof'],
  ['htu with another path', { path: '/accounts' }, { claims: { htu: 'PLACEHOLDER/payments' } }, 'dpop_htu', 'invalid_dpop_proof'],
  ['wrong htm', { path: '/accounts' }, { claims: { htm: 'POST' } }, 'dpop_htm', 'invalid_dpop_proof'],
  ['missing ath', { path: '/accounts' }, { omit: ['ath'] }, 'dpop_ath_missing', 'invalid_dpop_proof'],
  ['wrong ath', { path: '/accounts' }, { claims: { ath: athOf('another-token') } }, 'dpop_ath_mismatch', 'invalid_dpop_proof'],
  ['wrong typ', { path: '/accounts' }, { header: { typ: 'JWT' } }, 'dpop_typ', 'invalid_dpop_proof'],
  ['iat 120 s old', { path: '/accounts' }, { claims: { iat: Math.floor(Date.now() / 1000) - 120 } }, 'dpop_iat', 'invalid_dpop_proof'],
  ['iat 120 s ahead', { path: '/accounts' }, { claims: { iat: Math.floor(Date.now() / 1000) + 120 } }, 'dpop_iat', 'invalid_dpop_proof'],
  ['missing jti', { path: '/accounts' }, { omit: ['jti'] }, 'dpop_claims', 'invalid_dpop_proof'],
  ['stale nonce', { path: '/accounts' }, { nonce: 'not-a-nonce-we-issued' }, 'dpop_nonce_stale', 'use_dpop_nonce'],
];
for (const [name, opts, proofOpts, reason, error] of violations) {
  await test(`DPoP violation: ${name} -> 401 ${error} (${reason})`, async () => {
    const from = mark();
    if (proofOpts.claims?.htu?.startsWith('PLACEHOLDER')) proofOpts.claims.htu = proofOpts.claims.htu.replace('PLACEHOLDER', bank.url);
    const res = await dpopRequest(bank, key, dpopToken, opts, proofOpts);
    await expectRefusal(bank, res, { status: 401, reason, error, scheme: 'DPoP', from });
    if (error === 'use_dpop_nonce') assert(res.headers['dpop-nonce'], 'DPoP-Nonce on the challenge');
  });
}

await test('DPoP violation: replayed jti -> 401 invalid_dpop_proof (dpop_jti_replay)', async () => {
  const ok = await dpopRequest(bank, key, dpopToken, { path: '/accounts' });
  eq(ok.status, 200, 'first use');
  const from = mark();
  const replay = await request(bank, { path: '/accounts', headers: { authorization: `DPoP ${dpopToken}`, dpop: ok.proof } });
  await expectRefusal(bank, replay, { status: 401, reason: 'dpop_jti_replay', error: 'invalid_dpop_proof', from });
});

await test('DPoP violation: proof key is not the token\'s cnf.jkt -> 401 invalid_token (dpop_jkt_mismatch)', async () => {
  const from = mark();
  const res = await dpopRequest(bank, otherKey, dpopToken, { path: '/accounts' });
  await expectRefusal(bank, res, { status: 401, reason: 'dpop_jkt_mismatch', error: 'invalid_token', scheme: 'DPoP', from });
});

await test('DPoP violation: DPoP-bound token with the Bearer scheme -> 401 invalid_token (dpop_token_as_bearer)', async () => {
  const from = mark();
  const res = await request(bank, { path: '/accounts', headers: { authorization: `Bearer ${dpopToken}` } });
  await expectRefusal(bank, res, { status: 401, reason: 'dpop_token_as_bearer', error: 'invalid_token', scheme: 'DPoP', from });
});

await test('DPoP violation: inactive token -> 401 invalid_token (token_inactive)', async () => {
  const from = mark();
  const res = await dpopRequest(bank, key, 'never-issued-token', { path: '/accounts' });
  await expectRefusal(bank, res, { status: 401, reason: 'token_inactive', error: 'invalid_token', scheme: 'DPoP', from });
});

await test('DPoP violation: expired token -> 401 invalid_token (token_expired)', async () => {
  const expired = registerToken({ cnf: { jkt: key.jkt }, exp: Math.floor(Date.now() / 1000) - 5 });
  const from = mark();
  const res = await dpopRequest(bank, key, expired, { path: '/accounts' });
  await expectRefusal(bank, res, { status: 401, reason: 'token_expired', error: 'invalid_token', from });
});

await test('DPoP violation: token without cnf.jkt with the DPoP scheme -> 401 invalid_token (token_not_dpop_bound)', async () => {
  const plain = registerToken();
  const from = mark();
  const res = await dpopRequest(bank, key, plain, { path: '/accounts' });
  await expectRefusal(bank, res, { status: 401, reason: 'token_not_dpop_bound', error: 'invalid_token', from });
});

await test('DPoP violation: no DPoP header / two DPoP headers / HS256 / private jwk / bad signature', async () => {
  let from = mark();
  let res = await request(bank, { path: '/accounts', headers: { authorization: `DPoP ${dpopToken}` } });
  await expectRefusal(bank, res, { status: 401, reason: 'dpop_missing', error: 'invalid_dpop_proof', from });

  const htu = `${bank.url}/accounts`;
  const p1 = await proof(key, { htm: 'GET', htu, token: dpopToken, nonce: nonceJar.get(bank.url) });
  const p2 = await proof(key, { htm: 'GET', htu, token: dpopToken, nonce: nonceJar.get(bank.url) });
  from = mark();
  res = await request(bank, { path: '/accounts', headers: { authorization: `DPoP ${dpopToken}`, dpop: [p1, p2] } });
  await expectRefusal(bank, res, { status: 401, reason: 'dpop_header_count', error: 'invalid_dpop_proof', from });

  const hs = await new jose.SignJWT({ jti: 'hs-1', htm: 'GET', htu, iat: Math.floor(Date.now() / 1000), ath: athOf(dpopToken) })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } }).sign(Buffer.from('secret'));
  from = mark();
  res = await request(bank, { path: '/accounts', headers: { authorization: `DPoP ${dpopToken}`, dpop: hs } });
  await expectRefusal(bank, res, { status: 401, reason: 'dpop_alg', error: 'invalid_dpop_proof', from });

  const privJwk = await jose.exportJWK(key.privateKey);
  const leaky = await new jose.SignJWT({ jti: crypto.randomUUID(), htm: 'GET', htu, iat: Math.floor(Date.now() / 1000), ath: athOf(dpopToken), nonce: nonceJar.get(bank.url) })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: privJwk }).sign(key.privateKey);
  from = mark();
  res = await request(bank, { path: '/accounts', headers: { authorization: `DPoP ${dpopToken}`, dpop: leaky } });
  await expectRefusal(bank, res, { status: 401, reason: 'dpop_jwk_private', error: 'invalid_dpop_proof', from });

  const good = await proof(key, { htm: 'GET', htu, token: dpopToken, nonce: nonceJar.get(bank.url) });
  const [h, pl, s] = good.split('.');
  const claims = JSON.parse(Buffer.from(pl, 'base64url'));
  claims.htm = 'GET ';
  const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  from = mark();
  res = await request(bank, { path: '/accounts', headers: { authorization: `DPoP ${dpopToken}`, dpop: forged } });
  await expectRefusal(bank, res, { status: 401, reason: 'dpop_signature', error: 'invalid_dpop_proof', from });
});

await test('DPoP nonce rotation: current and previous accepted, older refused with use_dpop_nonce', async () => {
  const old = nonceJar.get(bank.url);
  const rotated = await bank.control('POST', '/dpop/nonce/rotate');
  eq(rotated.previous, old, 'previous is the nonce the client holds');
  const res = await dpopRequest(bank, key, dpopToken, { path: '/accounts' }); // uses the previous one
  eq(res.status, 200, 'previous nonce accepted');
  eq(res.headers['dpop-nonce'], rotated.current, 'response carries the current nonce');
  await bank.control('POST', '/dpop/nonce/rotate');
  await bank.control('POST', '/dpop/nonce/rotate');
  const from = mark();
  const stale = await dpopRequest(bank, key, dpopToken, { path: '/accounts' });
  await expectRefusal(bank, stale, { status: 401, reason: 'dpop_nonce_stale', error: 'use_dpop_nonce', from });
  const recovered = await dpopRequest(bank, key, dpopToken, { path: '/accounts' });
  eq(recovered.status, 200, 'the challenge\'s nonce works');
  // Automatic rotation on every accepted request: a client that always uses the latest works.
  await bank.control('POST', '/config', { dpop_nonce_rotate_every: 1 });
  for (let i = 0; i < 3; i += 1) {
    const before = nonceJar.get(bank.url);
    const r = await dpopRequest(bank, key, dpopToken, { path: '/accounts' });
    eq(r.status, 200, `rotating request ${i}`);
    assert(r.headers['dpop-nonce'] !== before, 'a fresh nonce each time');
  }
  await bank.control('POST', '/config', { dpop_nonce_rotate_every: 0 });
});

await test('scope: token without the required scope -> 403 insufficient_scope', async () => {
  await bank.control('POST', '/config', { required_scope: 'accounts' });
  const narrow = registerToken({ cnf: { jkt: key.jkt }, scope: 'payments' });
  const from = mark();
  const res = await dpopRequest(bank, key, narrow, { path: '/accounts' });
  await expectRefusal(bank, res, { status: 403, reason: 'insufficient_scope', error: 'insufficient_scope', from });
  const ok = await dpopRequest(bank, key, dpopToken, { path: '/accounts' });
  eq(ok.status, 200, 'token with the scope');
  await bank.control('POST', '/config', { required_scope: null });
});

await test('HTTP/2 (ALPN h2): DPoP with htu from :authority, nonce challenge, trailers', async () => {
  nonceJar.delete(bank.url);
  const res = await dpopRequestRetry(bank, key, dpopToken, { path: '/accounts', h2: true });
  eq(res.challenged?.status, 401, 'challenged once over h2');
  eq(res.status, 200, `status ${res.body}`);
  eq(res.alpn, 'h2', 'ALPN');
  eq(res.json.seen.http_version, '2.0', 'seen http_version');
  eq(res.json.seen['x5t#S256'], x5t1, 'client cert over h2');
  const dl = await dpopRequest(bank, key, dpopToken, { path: '/download?bytes=5000000&seed=h2&trailer=1', h2: true });
  eq(dl.status, 200, 'download status');
  eq(dl.body.length, 5000000, 'bytes');
  const d = crypto.createHash('sha256').update(dl.body).digest();
  eq(dl.trailers['content-digest'], `sha-256=:${d.toString('base64')}:`, 'Content-Digest trailer');
  const body = Buffer.from(JSON.stringify({ Data: { Amount: '2.00', Over: 'h2' } }));
  const pay = await dpopRequest(bank, key, dpopToken, { method: 'POST', path: '/payments', h2: true, headers: { 'content-type': 'application/json' }, body });
  eq(pay.status, 201, `h2 POST /payments ${pay.body}`);
  eq(pay.json.received_sha256, crypto.createHash('sha256').update(body).digest('hex'), 'h2 body received');
  const c = await bank.control('GET', '/counters');
  assert(c.http_versions['2.0'] >= 4, `http_versions ${JSON.stringify(c.http_versions)}`);
});

await test('HTTP/1.1 still offered next to h2', async () => {
  const res = await dpopRequest(bank, key, dpopToken, { path: '/accounts' });
  eq(res.status, 200, 'status');
  eq(res.json.seen.http_version, '1.1', 'http_version');
});

// ---- mTLS-bound tokens (RFC 8705 §3)
const mtlsToken = registerToken({ cnf: { 'x5t#S256': x5t1 } });

await test('mTLS-bound: token over its own certificate succeeds; over another certificate -> 401 invalid_token', async () => {
  await bank.control('POST', '/config', { token_binding: 'mtls' });
  await bank.control('POST', '/counters/reset');
  const ok = await request(bank, { path: '/accounts', headers: { authorization: `Bearer ${mtlsToken}` } });
  eq(ok.status, 200, `status ${ok.body}`);
  eq(ok.json.seen['x5t#S256'], x5t1, 'seen x5t');
  eq(ok.headers['dpop-nonce'], undefined, 'no DPoP-Nonce outside DPoP');
  const from = mark();
  const bad = await request(bank, { path: '/accounts', headers: { authorization: `Bearer ${mtlsToken}` }, cert: 'client2' });
  await expectRefusal(bank, bad, { status: 401, reason: 'mtls_x5t_mismatch', error: 'invalid_token', scheme: 'Bearer', from });
  const c = await bank.control('GET', '/counters');
  eq(c.client_certs, [x5t1, x5t2], 'distinct client certs in order');
});

await test('mTLS-bound: unbound token / DPoP scheme / no Authorization are refused', async () => {
  let from = mark();
  let res = await request(bank, { path: '/accounts', headers: { authorization: `Bearer ${registerToken()}` } });
  await expectRefusal(bank, res, { status: 401, reason: 'token_not_mtls_bound', error: 'invalid_token', scheme: 'Bearer', from });
  from = mark();
  res = await request(bank, { path: '/accounts', headers: { authorization: `DPoP ${mtlsToken}` } });
  await expectRefusal(bank, res, { status: 401, reason: 'wrong_scheme', error: 'invalid_token', scheme: 'Bearer', from });
  from = mark();
  res = await request(bank, { path: '/accounts' });
  await expectRefusal(bank, res, { status: 401, reason: 'missing_authorization', error: null, scheme: 'Bearer', from });
  eq(res.headers['www-authenticate'], 'Bearer', 'bare Bearer challenge');
});

await test('endpoints: /status/:code passes through, /slow answers after ms, /payments echoes, 404', async () => {
  const auth = { authorization: `Bearer ${mtlsToken}` };
  for (const code of [400, 404, 418, 429, 500, 503]) {
    const res = await request(bank, { path: `/status/${code}`, headers: auth });
    eq(res.status, code, `status ${code}`);
    eq(res.json.status, code, 'json status');
    eq(res.headers['x-bank-refusal'], undefined, 'not a refusal');
  }
  const t0 = Date.now();
  const slow = await request(bank, { path: '/slow?ms=150', headers: auth });
  eq(slow.status, 200, 'slow status');
  assert(slow.json.slept_ms >= 149 && Date.now() - t0 >= 149, `slept ${slow.json.slept_ms}`);
  const body = Buffer.from(JSON.stringify({ Data: { Initiation: { InstructedAmount: { Amount: '10.00', Currency: 'GBP' } } } }));
  const pay = await request(bank, { method: 'POST', path: '/payments', headers: { ...auth, 'content-type': 'application/json' }, body });
  eq(pay.status, 201, 'payments status');
  eq(pay.json.received_sha256, crypto.createHash('sha256').update(body).digest('hex'), 'received_sha256');
  eq(pay.json.bytes, body.length, 'bytes');
  eq(pay.json.body, JSON.parse(body), 'body');
  const nf = await request(bank, { path: '/nowhere', headers: auth });
  eq(nf.status, 404, 'unknown path');
  const notJson = await request(bank, { method: 'POST', path: '/payments', headers: auth, body: Buffer.from('not json') });
  eq(notJson.status, 400, 'non-JSON payment');
});

await test('streaming: 50 MB upload and download, RSS of bank.mjs stays far below the data size', async () => {
  const auth = { authorization: `Bearer ${mtlsToken}` };
  const N = 50 * MB;
  const before = await bank.control('POST', '/memory/reset');
  const up = generated(N, 'fifty');
  const res = await request(bank, { method: 'POST', path: '/upload', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: up });
  eq(res.status, 200, `upload status ${res.body}`);
  eq(res.json.bytes, N, 'upload bytes');
  eq(res.json.sha256, up.digest(), 'upload sha256');
  const afterUp = await bank.control('GET', '/memory');
  const beforeDown = await bank.control('POST', '/memory/reset');
  const h = crypto.createHash('sha256');
  const dl = await request(bank, { path: `/download?bytes=${N}&seed=fifty`, headers: auth, sink: (c) => h.update(c) });
  eq(dl.status, 200, 'download status');
  eq(dl.bytes, N, 'download bytes');
  eq(Number(dl.headers['content-length']), N, 'content-length');
  const d = h.digest();
  eq(dl.headers['x-content-sha256'], d.toString('hex'), 'x-content-sha256');
  eq(dl.headers['content-digest'], `sha-256=:${d.toString('base64')}:`, 'content-digest');
  const afterDown = await bank.control('GET', '/memory');
  const growUp = afterUp.stream_peak_rss - before.rss;
  const growDown = afterDown.stream_peak_rss - beforeDown.rss;
  process.stdout.write(`  # rss before ${(before.rss / MB).toFixed(1)} MB; peak during the 50 MB upload +${(growUp / MB).toFixed(1)} MB, during the 50 MB download +${(growDown / MB).toFixed(1)} MB\n`);
  assert(growUp < 12 * MB, `upload grew RSS by ${(growUp / MB).toFixed(1)} MB`);
  assert(growDown < 12 * MB, `download grew RSS by ${(growDown / MB).toFixed(1)} MB`);
  // Negative control: the same measurement does see a route that buffers (POST /payments, 32 MB).
  await bank.control('POST', '/config', { max_body_bytes: 48 * MB });
  const beforeBuf = await bank.control('POST', '/memory/reset');
  const big = Buffer.concat([Buffer.from('{"pad":"'), Buffer.alloc(32 * MB, 0x61), Buffer.from('"}')]);
  const buffered = await request(bank, { method: 'POST', path: '/payments', headers: { ...auth, 'content-type': 'application/json' }, body: big });
  eq(buffered.status, 201, 'buffered payment');
  const afterBuf = await bank.control('GET', '/memory');
  const growBuf = afterBuf.stream_peak_rss - beforeBuf.rss;
  process.stdout.write(`  # control: a buffered 32 MB body grew RSS by +${(growBuf / MB).toFixed(1)} MB\n`);
  assert(growBuf > 20 * MB, `the buffering control grew RSS by only ${(growBuf / MB).toFixed(1)} MB`);
  await bank.control('POST', '/config', { max_body_bytes: 16 * MB });
  const tooBig = await request(bank, { method: 'POST', path: '/payments', headers: auth, body: big });
  eq(tooBig.status, 413, 'over max_body_bytes on a buffering route');
});

await test('download: deterministic per seed, different across seeds, chunked trailer form', async () => {
  const auth = { authorization: `Bearer ${mtlsToken}` };
  const a = await request(bank, { path: '/download?bytes=1000001&seed=s1', headers: auth });
  const b = await request(bank, { path: '/download?bytes=1000001&seed=s1', headers: auth });
  const c = await request(bank, { path: '/download?bytes=1000001&seed=s2', headers: auth });
  assert(a.body.equals(b.body), 'same seed, same bytes');
  assert(!a.body.equals(c.body), 'another seed, other bytes');
  const t = await request(bank, { path: '/download?bytes=1000001&seed=s1&trailer=1', headers: auth });
  eq(t.headers['transfer-encoding'], 'chunked', 'chunked');
  assert(t.body.equals(a.body), 'trailer form has the same bytes');
  eq(t.trailers['x-content-sha256'], crypto.createHash('sha256').update(a.body).digest('hex'), 'trailer sha256');
});

// ---- RFC 9421 (FAPI 2.0 message signing)
const ecSig = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const edSig = crypto.generateKeyPairSync('ed25519');
const rsaSig = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherBrasilKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const bankBrasilKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }); // the bank's Brasil key
const jwkOf = (kp, kid, extra = {}) => ({ ...kp.publicKey.export({ format: 'jwk' }), kid, ...extra });

async function signedPayment({ keyPair = ecSig, alg = 'ecdsa-p256-sha256', keyid = 'sig-ec', body, sendBody = body, components, extraHeaders = {}, tag } = {}) {
  const headers = { authorization: `Bearer ${mtlsToken}`, 'content-type': 'application/json', 'content-digest': contentDigest(body), ...extraHeaders };
  const comps = components ?? ['@method', '@target-uri', 'authorization', 'content-digest'];
  const sigHeaders = sign9421({ key: keyPair.privateKey, alg, keyid, method: 'POST', targetUri: `${bank.url}/payments`, headers, components: comps, ...(tag !== undefined ? { tag } : {}) });
  return request(bank, { method: 'POST', path: '/payments', headers: { ...headers, ...sigHeaders }, body: sendBody });
}

await test('RFC 9421: correct signatures (ecdsa-p256-sha256, ed25519, rsa-pss-sha512) accepted', async () => {
  await bank.control('POST', '/config', {
    signatures: { rfc9421: { jwks: { keys: [jwkOf(ecSig, 'sig-ec'), jwkOf(edSig, 'sig-ed'), jwkOf(rsaSig, 'sig-rsa')] }, required: true } },
  });
  const body = Buffer.from('{"Data":{"Amount":"1.00"}}');
  for (const [kp, alg, keyid] of [[ecSig, 'ecdsa-p256-sha256', 'sig-ec'], [edSig, 'ed25519', 'sig-ed'], [rsaSig, 'rsa-pss-sha512', 'sig-rsa']]) {
    const res = await signedPayment({ keyPair: kp, alg, keyid, body });
    eq(res.status, 201, `${alg}: ${res.body}`);
    eq(res.json.seen.signatures, ['rfc9421'], 'seen signatures');
  }
});

await test('RFC 9421: body changed by one byte -> 400 content_digest_mismatch (digest checked on the body received)', async () => {
  const body = Buffer.from('{"Data":{"Amount":"1.00"}}');
  const tampered = Buffer.from(body);
  tampered[tampered.length - 3] ^= 1;
  const from = mark();
  const res = await signedPayment({ body, sendBody: tampered });
  await expectRefusal(bank, res, { status: 400, reason: 'content_digest_mismatch', from });
});

await test('RFC 9421: re-digested tampered body (signature no longer matches) -> 401 sig9421_invalid', async () => {
  const body = Buffer.from('{"Data":{"Amount":"1.00"}}');
  const headers = { authorization: `Bearer ${mtlsToken}`, 'content-type': 'application/json', 'content-digest': contentDigest(body) };
  const sigHeaders = sign9421({ key: ecSig.privateKey, alg: 'ecdsa-p256-sha256', keyid: 'sig-ec', method: 'POST', targetUri: `${bank.url}/payments`, headers, components: ['@method', '@target-uri', 'authorization', 'content-digest'] });
  const tampered = Buffer.from('{"Data":{"Amount":"9.00"}}');
  const from = mark();
  const res = await request(bank, { method: 'POST', path: '/payments', headers: { ...headers, ...sigHeaders, 'content-digest': contentDigest(tampered) }, body: tampered });
  await expectRefusal(bank, res, { status: 401, reason: 'sig9421_invalid', from });
});

await test('RFC 9421: missing signature, missing FAPI component, wrong tag, unknown key -> refused', async () => {
  const body = Buffer.from('{"a":1}');
  let from = mark();
  let res = await request(bank, { method: 'POST', path: '/payments', headers: { authorization: `Bearer ${mtlsToken}`, 'content-digest': contentDigest(body) }, body });
  await expectRefusal(bank, res, { status: 401, reason: 'sig9421_missing', from });
  assert(res.headers['accept-signature']?.includes('"content-digest"'), `Accept-Signature ${res.headers['accept-signature']}`);
  from = mark();
  res = await signedPayment({ body, components: ['@method', '@target-uri', 'authorization'] });
  await expectRefusal(bank, res, { status: 401, reason: 'sig9421_components', from });
  from = mark();
  res = await signedPayment({ body, tag: 'something-else' });
  await expectRefusal(bank, res, { status: 401, reason: 'sig9421_params', from });
  from = mark();
  res = await signedPayment({ body, keyid: 'nobody' });
  await expectRefusal(bank, res, { status: 401, reason: 'sig9421_unknown_key', from });
  await bank.control('POST', '/config', { signatures: { rfc9421: null } });
});

// ---- signed responses (only when asked for: response_signing, brasil_response_signing)

await test('response_signing: an RFC 9421 response signature that verifies over a hand-built base; tamper changes the body', async () => {
  const body = Buffer.from('{"Data":{"Amount":"1.00"}}');
  const headers = { authorization: `Bearer ${mtlsToken}`, 'content-type': 'application/json', 'content-digest': contentDigest(body) };
  const unsigned = await request(bank, { method: 'POST', path: '/payments', headers, body });
  eq(unsigned.status, 201, `unsigned ${unsigned.body}`);
  assert(unsigned.headers.signature === undefined, 'no signature unless asked for');
  const pem = ecSig.privateKey.export({ format: 'pem', type: 'pkcs8' });
  await bank.control('POST', '/config', { response_signing: { key_pem: pem, keyid: 'rs-ec' } });
  for (const tamper of [false, true]) {
    if (tamper) await bank.control('POST', '/config', { response_signing: { key_pem: pem, keyid: 'rs-ec', tamper: 'body' } });
    const res = await request(bank, { method: 'POST', path: '/payments', headers, body });
    eq(res.status, 201, `status ${res.body}`);
    const input = res.headers['signature-input'];
    const m = /^sig1=(.*)$/.exec(input);
    assert(m, `Signature-Input ${input}`);
    const params = m[1];
    assert(params.includes(';keyid="rs-ec"') && params.includes(';tag="fapi-2-response"') && params.includes(';alg="ecdsa-p256-sha256"'), params);
    const values = {
      '"@status"': String(res.status),
      '"content-type"': res.headers['content-type'],
      '"content-digest"': res.headers['content-digest'],
      '"@method";req': 'POST',
      '"@target-uri";req': `${bank.url}/payments`,
      '"authorization";req': headers.authorization,
      '"content-digest";req': headers['content-digest'],
    };
    const covered = /^\(([^)]*)\)/.exec(params)[1].split(' ');
    eq(covered, Object.keys(values), 'covered components');
    const base = Buffer.from([...covered.map((c) => `${c}: ${values[c]}`), `"@signature-params": ${params}`].join('\n'));
    const sig = Buffer.from(/^sig1=:(.*):$/.exec(res.headers.signature)[1], 'base64');
    assert(crypto.verify('sha256', base, { key: ecSig.publicKey, dsaEncoding: 'ieee-p1363' }, sig), 'the response signature verifies');
    eq(res.headers['content-digest'] === contentDigest(res.body), !tamper, 'Content-Digest matches the body sent');
  }
  await bank.control('POST', '/config', { response_signing: null });
  const after = await request(bank, { method: 'POST', path: '/payments', headers, body });
  assert(after.headers.signature === undefined && after.json, 'off again');
});

await test('Open Finance Brasil: a hand-made PS256 request JWT accepted (bad ones refused); the answer a JWT jose verifies', async () => {
  const jwk = { ...rsaSig.publicKey.export({ format: 'jwk' }), kid: 'tpp-br' };
  await bank.control('POST', '/config', { signatures: { brasil: { jwks: { keys: [jwk] }, aud: 'bank-org', iss: 'client-org', required: true } } });
  const jwtBy = (key, claims, header = { alg: 'PS256', typ: 'JWT', kid: 'tpp-br' }) => {
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const s = crypto.sign('sha256', Buffer.from(input), { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    return `${input}.${s.toString('base64url')}`;
  };
  const claims = { aud: 'bank-org', iss: 'client-org', jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), data: { amount: '1.00' } };
  const send = (jwt, type = 'application/jwt') => request(bank, { method: 'POST', path: '/payments', headers: { authorization: `Bearer ${mtlsToken}`, 'content-type': type }, body: Buffer.from(jwt) });
  let res = await send(jwtBy(rsaSig.privateKey, claims));
  eq(res.status, 201, `accepted ${res.body}`);
  eq(res.json.body.data, claims.data, 'the verified claims');
  eq(res.json.seen.signatures, ['brasil'], 'seen');
  const replayed = await send(jwtBy(rsaSig.privateKey, claims));
  eq(replayed.status, 400, 'a signed body sent twice');
  eq(replayed.json.reason, 'brasil_jti_replay', 'refused as a replay');
  for (const [what, jwt, type, reason] of [
    ['wrong aud', jwtBy(rsaSig.privateKey, { ...claims, aud: 'other' }), undefined, 'brasil_invalid'],
    ['wrong key', jwtBy(otherBrasilKey.privateKey, claims), undefined, 'brasil_invalid'],
    ['JSON body', JSON.stringify(claims), 'application/json', 'brasil_not_jwt'],
  ]) {
    const from = mark();
    res = await send(jwt, type);
    await expectRefusal(bank, res, { status: 400, reason, from }).catch((e) => { throw new Error(`${what}: ${e.message}`); });
  }
  await bank.control('POST', '/config', {
    brasil_response_signing: { key_pem: bankBrasilKey.privateKey.export({ format: 'pem', type: 'pkcs8' }), kid: 'bank-br', iss: 'bank-org', aud: 'client-org' },
  });
  res = await send(jwtBy(rsaSig.privateKey, { ...claims, jti: crypto.randomUUID() }));
  eq(res.status, 201, `signed answer ${res.body}`);
  eq(res.headers['content-type'], 'application/jwt', 'content-type');
  const { payload, protectedHeader } = await jose.jwtVerify(res.body.toString('utf8'), bankBrasilKey.publicKey, { algorithms: ['PS256'], issuer: 'bank-org', audience: 'client-org' });
  eq([protectedHeader.kid, protectedHeader.typ], ['bank-br', 'JWT'], 'header');
  eq(payload.body.data, claims.data, 'the answer carries the verified request');
  assert(typeof payload.jti === 'string' && Number.isInteger(payload.iat), 'jti, iat');
  await bank.control('POST', '/config', { brasil_response_signing: null, signatures: { brasil: null } });
});

// ---- UK Open Banking x-jws-signature
const obKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const obJwks = { keys: [{ ...obKey.publicKey.export({ format: 'jwk' }), kid: 'ob-signing-1', alg: 'PS256', use: 'sig' }] };

for (const version of ['3.1.4', '3.1.3']) {
  await test(`UK OB v${version}: correct detached JWS accepted, one-byte tampered body refused (400 UK.OBIE.Signature.Invalid)`, async () => {
    await bank.control('POST', '/config', { signatures: { ob_uk: { jwks: obJwks, version, required: true } } });
    const body = Buffer.from('{"Data":{"Initiation":{"InstructionIdentification":"ACME412"}},"Risk":{}}');
    const jws = obSign({ key: obKey.privateKey, kid: 'ob-signing-1', body, version });
    const auth = { authorization: `Bearer ${mtlsToken}`, 'content-type': 'application/json' };
    const ok = await request(bank, { method: 'POST', path: '/payments', headers: { ...auth, 'x-jws-signature': jws }, body });
    eq(ok.status, 201, `status ${ok.body}`);
    eq(ok.json.seen.signatures, ['ob_uk'], 'seen signatures');
    const tampered = Buffer.from(body);
    tampered[10] ^= 1;
    let from = mark();
    const bad = await request(bank, { method: 'POST', path: '/payments', headers: { ...auth, 'x-jws-signature': jws }, body: tampered });
    await expectRefusal(bank, bad, { status: 400, reason: 'ob_jws_invalid', from });
    eq(bad.json.Errors[0].ErrorCode, 'UK.OBIE.Signature.Invalid', 'OB error code');
    from = mark();
    const missing = await request(bank, { method: 'POST', path: '/payments', headers: auth, body });
    await expectRefusal(bank, missing, { status: 400, reason: 'ob_jws_missing', from });
    eq(missing.json.Errors[0].ErrorCode, 'UK.OBIE.Signature.Missing', 'OB error code');
    // The other version's header shape is refused.
    const wrongShape = obSign({ key: obKey.privateKey, kid: 'ob-signing-1', body, version: version === '3.1.3' ? '3.1.4' : '3.1.3' });
    from = mark();
    const shape = await request(bank, { method: 'POST', path: '/payments', headers: { ...auth, 'x-jws-signature': wrongShape }, body });
    await expectRefusal(bank, shape, { status: 400, reason: 'ob_jws_claims', from });
    // GET without body needs no signature.
    const get = await request(bank, { path: '/accounts', headers: auth });
    eq(get.status, 200, 'GET without x-jws-signature');
  });
}

await test('UK OB: extra crit member and future iat refused', async () => {
  const body = Buffer.from('{"x":1}');
  const auth = { authorization: `Bearer ${mtlsToken}` };
  let jws = obSign({ key: obKey.privateKey, kid: 'ob-signing-1', body, version: '3.1.3', extraHeader: { crit: ['b64', 'http://openbanking.org.uk/iat', 'http://openbanking.org.uk/iss', 'http://openbanking.org.uk/tan', 'exp'] } });
  let from = mark();
  let res = await request(bank, { method: 'POST', path: '/payments', headers: { ...auth, 'x-jws-signature': jws }, body });
  await expectRefusal(bank, res, { status: 400, reason: 'ob_jws_claims', from });
  jws = obSign({ key: obKey.privateKey, kid: 'ob-signing-1', body, version: '3.1.3', extraHeader: { 'http://openbanking.org.uk/iat': Math.floor(Date.now() / 1000) + 3600 } });
  from = mark();
  res = await request(bank, { method: 'POST', path: '/payments', headers: { ...auth, 'x-jws-signature': jws }, body });
  await expectRefusal(bank, res, { status: 400, reason: 'ob_jws_claims', from });
  await bank.control('POST', '/config', { signatures: { ob_uk: null } });
});

// ---- Berlin Group (draft-cavage-http-signatures-10)
await test('Berlin Group cavage: correct signature accepted, one-byte tampered body refused (401 SIGNATURE_INVALID)', async () => {
  await bank.control('POST', '/config', { signatures: { cavage: { cert_pem: file('qseal.pem'), required: true } } });
  const qkey = crypto.createPrivateKey(read('qseal.key'));
  const body = Buffer.from('{"instructedAmount":{"currency":"EUR","amount":"123.50"}}');
  const headers = {
    authorization: `Bearer ${mtlsToken}`,
    'content-type': 'application/json',
    digest: `SHA-256=${crypto.createHash('sha256').update(body).digest('base64')}`,
    'x-request-id': crypto.randomUUID(),
    'psu-id': 'PSU-1234',
  };
  const signed = cavageSign({ key: qkey, cert: read('qseal.pem'), method: 'POST', pathAndQuery: '/payments', headers, signed: ['digest', 'x-request-id', 'psu-id', '(request-target)'] });
  const ok = await request(bank, { method: 'POST', path: '/payments', headers: { ...headers, ...signed }, body });
  eq(ok.status, 201, `status ${ok.body}`);
  eq(ok.json.seen.signatures, ['cavage'], 'seen signatures');
  const tampered = Buffer.from(body);
  tampered[20] ^= 1;
  let from = mark();
  const bad = await request(bank, { method: 'POST', path: '/payments', headers: { ...headers, ...signed }, body: tampered });
  await expectRefusal(bank, bad, { status: 401, reason: 'cavage_digest_mismatch', from });
  eq(bad.json.tppMessages[0].code, 'SIGNATURE_INVALID', 'BG code');
  // A signed header changed after signing.
  from = mark();
  const changed = await request(bank, { method: 'POST', path: '/payments', headers: { ...headers, ...signed, 'psu-id': 'PSU-9999' }, body });
  await expectRefusal(bank, changed, { status: 401, reason: 'cavage_invalid', from });
  // psu-id present but not signed.
  const partial = cavageSign({ key: qkey, cert: read('qseal.pem'), method: 'POST', pathAndQuery: '/payments', headers });
  from = mark();
  const unsigned = await request(bank, { method: 'POST', path: '/payments', headers: { ...headers, ...partial }, body });
  await expectRefusal(bank, unsigned, { status: 401, reason: 'cavage_headers', from });
  // Another certificate in TPP-Signature-Certificate.
  from = mark();
  const otherCert = await request(bank, { method: 'POST', path: '/payments', headers: { ...headers, ...signed, 'tpp-signature-certificate': new crypto.X509Certificate(read('client1.pem')).raw.toString('base64') }, body });
  await expectRefusal(bank, otherCert, { status: 401, reason: 'cavage_certificate', from });
  eq(otherCert.json.tppMessages[0].code, 'CERTIFICATE_INVALID', 'BG code');
  // Missing signature when required.
  from = mark();
  const none = await request(bank, { method: 'POST', path: '/payments', headers, body });
  await expectRefusal(bank, none, { status: 401, reason: 'cavage_missing', from });
  // A GET signs the digest of the empty body.
  const getHeaders = { authorization: `Bearer ${mtlsToken}`, digest: `SHA-256=${crypto.createHash('sha256').update('').digest('base64')}`, 'x-request-id': crypto.randomUUID() };
  const get = await request(bank, { path: '/accounts', headers: { ...getHeaders, ...cavageSign({ key: qkey, cert: read('qseal.pem'), method: 'GET', pathAndQuery: '/accounts', headers: getHeaders }) } });
  eq(get.status, 200, `signed GET ${get.body}`);
  await bank.control('POST', '/config', { signatures: { cavage: null } });
});

// ---- bearer and none
await test('bearer binding: active token accepted, inactive -> 401 invalid_token', async () => {
  await bank.control('POST', '/config', { token_binding: 'bearer' });
  const ok = await request(bank, { path: '/accounts', headers: { authorization: `Bearer ${registerToken({ client_id: 'plain' })}` } });
  eq(ok.status, 200, 'status');
  eq(ok.json.seen.client_id, 'plain', 'client_id');
  const from = mark();
  const bad = await request(bank, { path: '/accounts', headers: { authorization: 'Bearer nope' } });
  await expectRefusal(bank, bad, { status: 401, reason: 'token_inactive', error: 'invalid_token', scheme: 'Bearer', from });
  await bank.control('POST', '/config', { token_binding: 'none' });
  const open = await request(bank, { path: '/accounts' });
  eq(open.status, 200, 'token_binding none: no Authorization needed');
  eq(open.json.seen.client_id, null, 'no token seen');
  await bank.control('POST', '/config', { token_binding: 'bearer' });
});

await test('control API: counters shape, reset, bad config refused, GET /config', async () => {
  const c = await bank.control('GET', '/counters');
  for (const k of ['requests', 'by_path', 'refused', 'nonce_challenges', 'client_certs']) assert(k in c, `counters.${k}`);
  const reset = await bank.control('POST', '/counters/reset');
  eq([reset.requests, reset.nonce_challenges, reset.refused, reset.client_certs], [0, 0, {}, []], 'after reset');
  const bad = await plainRequest(`${bank.control_url}/config`, 'POST', { token_binding: 'magic' });
  eq(bad.status, 400, 'bad config status');
  const conf = await bank.control('GET', '/config');
  eq(conf.token_binding, 'bearer', 'config unchanged by the bad patch');
  eq(await bank.control('GET', '/last_refusal'), null, 'last_refusal after reset');
});

// ---- a second bank: self-signed clients, RFC 7662 introspection with client_secret_basic
await test('self-signed clients + RFC 7662 introspection (client_secret_basic, form-urlencoded first)', async () => {
  const bank2 = await startBank('bank2', {
    port: 0,
    control_port: 0,
    tls: { cert: file('server.pem'), key: file('server.key') },
    require_client_cert: true,
    accept_self_signed_clients: true,
    http2: false,
    introspection: { url: `https://127.0.0.1:${fakeAs.address().port}/token/introspection`, client_id: 'tpp:1 x', client_secret: 'sécret+/', ca: file('ca.pem') },
    token_binding: 'mtls',
  });
  try {
    const selfX5t = x5tOf('self.pem');
    const t = registerToken({ cnf: { 'x5t#S256': selfX5t } });
    const ok = await request(bank2, { path: '/accounts', headers: { authorization: `Bearer ${t}` }, cert: 'self' });
    eq(ok.status, 200, `status ${ok.body}`);
    eq(ok.json.seen['x5t#S256'], selfX5t, 'self-signed cert used for cnf');
    const seenAs = rfc7662Seen.at(-1);
    eq(seenAs.form, { token: t, token_type_hint: 'access_token' }, 'RFC 7662 form');
    eq(seenAs.contentType, 'application/x-www-form-urlencoded', 'content-type');
    const from = bank2.log.length;
    let err = null;
    try {
      await request(bank2, { path: '/accounts', headers: { authorization: `Bearer ${t}` }, cert: null });
    } catch (e) {
      err = e;
    }
    assert(err, 'no certificate: the connection is closed');
    await bank2.waitForLog('REFUSED no_client_cert: TLS handshake', from);
  } finally {
    bank2.child.kill('SIGTERM');
    const exit = await bank2.exitPromise;
    eq(exit.code, 0, 'bank2 exit code');
  }
});

await test('SIGTERM: the bank exits 0', async () => {
  bank.child.kill('SIGTERM');
  const exit = await bank.exitPromise;
  eq(exit, { code: 0, signal: null }, 'exit');
});

fake.close();
fakeAs.close();
if (!bank.exited) bank.child.kill('SIGTERM');
if (process.env.BANK_LOG) fs.writeFileSync(process.env.BANK_LOG, bank.log);
const failed = results.filter((r) => !r.ok);
if (failed.length) {
  process.stdout.write(`\nbank stderr tail:\n${bank.log.slice(-4000)}\n`);
} else {
  fs.rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`\n${results.length - failed.length} passed, ${failed.length} failed\n`);
process.exit(failed.length ? 1 : 0);
