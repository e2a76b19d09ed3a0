// Self-test of exchange.mjs, independent of fapi-agent: keys from Node's
// crypto, assertions signed with jose (oidc-provider's own dependency),
// certificates from the openssl CLI. Runs exchange.mjs as a child process
// exactly as the Rust tests do and checks what the FAPI 2.0 server answers.
//
//   node tests/oidc/selftest.mjs     (exit 0 when every check passed)
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, exportJWK, calculateJwkThumbprint } from 'jose';

const EXCHANGE = fileURLToPath(new URL('exchange.mjs', import.meta.url));
const ISSUER = 'https://as.fapi-agent.test';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

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

// One signing key: its alg, public JWK with RFC 7638 kid, and a self-signed
// certificate made by the openssl CLI.
// Keys are generated as PEM and imported again: on Node 20, exporting a
// JWK from a key object straight from generateKeyPairSync can deadlock
// when garbage collection runs at the wrong moment (seen under gdb).
async function makeKey(dir, name, alg, type, options) {
  const pems = generateKeyPairSync(type, {
    ...options,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privateKey = createPrivateKey(pems.privateKey);
  const publicKey = createPublicKey(pems.publicKey);
  const jwk = await exportJWK(publicKey);
  jwk.kid = await calculateJwkThumbprint(jwk, 'sha256');
  const keyFile = join(dir, `${name}.key.pem`);
  const certFile = join(dir, `${name}.crt.pem`);
  writeFileSync(keyFile, pems.privateKey);
  execFileSync('openssl', ['req', '-x509', '-new', '-key', keyFile, '-subj', `/CN=${name}`,
    '-days', '30', '-out', certFile]);
  return { alg, privateKey, jwk, certPem: readFileSync(certFile, 'utf8') };
}

// A private_key_jwt client assertion; `claims` overrides the defaults.
function assertion(key, clientId, claims = {}) {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: clientId,
    sub: clientId,
    aud: ISSUER,
    iat,
    nbf: iat,
    exp: iat + 60,
    jti: randomBytes(16).toString('base64url'),
    ...claims,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.jwk.kid, typ: 'client-authentication+jwt' })
    .sign(key.privateKey);
}

function request(clientId, clientAssertion) {
  return { client_id: clientId, client_assertion: clientAssertion, client_assertion_type: JWT_BEARER };
}

// Runs exchange.mjs on `input` (an object, or raw text for the bad-input case).
function exchange(input) {
  const started = Date.now();
  const child = spawnSync(process.execPath, [EXCHANGE], {
    input: typeof input === 'string' ? input : JSON.stringify(input),
    encoding: 'utf8',
    timeout: 30_000,
  });
  const ms = Date.now() - started;
  process.stderr.write(child.stderr);
  return { child, ms, output: child.status === 0 ? JSON.parse(child.stdout) : null };
}

function accepted(result) {
  return result?.status === 200 && typeof result.body?.access_token === 'string'
    && result.body.token_type === 'Bearer' && result.server_error === null;
}

function rejected(result, reasonPart) {
  return [400, 401].includes(result?.status) && result.body?.error === 'invalid_client'
    && typeof result.server_error === 'string' && result.server_error.includes(reasonPart);
}

const dir = mkdtempSync(join(tmpdir(), 'oidc-selftest-'));
try {
  const es = await makeKey(dir, 'es256', 'ES256', 'ec', { namedCurve: 'P-256' });
  const ps = await makeKey(dir, 'ps256', 'PS256', 'rsa', { modulusLength: 2048 });
  const ed = await makeKey(dir, 'eddsa', 'EdDSA', 'ed25519');
  // Same kid as `es`, but not registered anywhere.
  const stranger = { ...(await makeKey(dir, 'stranger', 'ES256', 'ec', { namedCurve: 'P-256' })), jwk: es.jwk };

  const clients = [
    { client_id: 'acme-es256', jwks: { keys: [es.jwk] } },
    { client_id: 'acme-ps256', jwks: { keys: [ps.jwk] } },
    { client_id: 'acme-eddsa', jwks: { keys: [ed.jwk] } },
    { client_id: 'cert-es256', certificates_pem: [es.certPem] },
    { client_id: 'cert-ps256', certificates_pem: [ps.certPem] },
    { client_id: 'cert-eddsa', certificates_pem: [ed.certPem] },
    { client_id: 'union', jwks: { keys: [es.jwk] }, certificates_pem: [ed.certPem] },
  ];
  const first = await assertion(es, 'acme-es256');
  const audIsNotIssuer = (r) => rejected(r, 'audience (aud) must equal the issuer identifier url');
  // [what is checked, client_id, assertion, expectation], sent in this order.
  const cases = [
    ['ES256 via jwks is accepted', 'acme-es256', first, accepted],
    ['PS256 via jwks is accepted', 'acme-ps256', await assertion(ps, 'acme-ps256'), accepted],
    ['EdDSA via jwks is accepted', 'acme-eddsa', await assertion(ed, 'acme-eddsa'), accepted],
    ['ES256 via certificates_pem is accepted', 'cert-es256', await assertion(es, 'cert-es256'), accepted],
    ['PS256 via certificates_pem is accepted', 'cert-ps256', await assertion(ps, 'cert-ps256'), accepted],
    ['EdDSA via certificates_pem is accepted', 'cert-eddsa', await assertion(ed, 'cert-eddsa'), accepted],
    ['jwks + certificates_pem: the jwks key is accepted', 'union', await assertion(es, 'union'), accepted],
    ['jwks + certificates_pem: the certificate key is accepted', 'union', await assertion(ed, 'union'), accepted],
    ['a replayed assertion (same jti) is rejected', 'acme-es256', first,
      (r) => rejected(r, 'client assertion tokens must only be used once')],
    ['aud = token endpoint URL is rejected', 'acme-es256',
      await assertion(es, 'acme-es256', { aud: `${ISSUER}/token` }), audIsNotIssuer],
    ['aud = [issuer] (an array) is rejected', 'acme-es256',
      await assertion(es, 'acme-es256', { aud: [ISSUER] }), audIsNotIssuer],
    ['a signature by an unregistered key is rejected', 'cert-es256',
      await assertion(stranger, 'cert-es256'), (r) => rejected(r, 'signature verification failed')],
  ];

  const { child, ms, output } = exchange({
    issuer: ISSUER,
    clients,
    requests: cases.map(([, clientId, jwt]) => request(clientId, jwt)),
  });
  check(`exchange.mjs exits 0 (${ms} ms)`, child.status === 0, { status: child.status, signal: child.signal });
  check('token_endpoint is on loopback', /^http:\/\/127\.0\.0\.1:\d+\/token$/.test(output?.token_endpoint), output?.token_endpoint);
  cases.forEach(([name, , , ok], i) => check(name, ok(output?.results[i]), output?.results[i]));

  // An issuer with a path: the endpoints live below it.
  const tenant = `${ISSUER}/tenant-a`;
  const tenantRun = exchange({
    issuer: tenant,
    clients: [clients[0]],
    requests: [
      request('acme-es256', await assertion(es, 'acme-es256', { aud: tenant })),
      request('acme-es256', await assertion(es, 'acme-es256', { aud: `${tenant}/token` })),
    ],
  });
  const [tenantOk, tenantAud] = tenantRun.output?.results ?? [];
  check('issuer with a path: token endpoint below it', tenantRun.output?.token_endpoint?.endsWith('/tenant-a/token'), tenantRun.output);
  check('issuer with a path: aud = issuer is accepted', accepted(tenantOk), tenantOk);
  check('issuer with a path: aud = its token endpoint is rejected',
    audIsNotIssuer(tenantAud), tenantAud);

  const bad = exchange('not json');
  check('bad stdin: non-zero exit, nothing on stdout', bad.child.status !== 0 && bad.child.stdout === '', bad.child.status);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
