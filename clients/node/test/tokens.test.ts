// Access tokens through the Node client: the real daemon
// (target/debug/fapi-agent, with a [credentials.web.oauth] table) against a
// real FAPI 2.0 authorization server (tests/oidc/fapi_as.mjs, oidc-provider on
// loopback HTTPS), whose own introspection checks what the daemon got; and the example
// examples/call_resource.ts against a real resource server (tests/rs/bank.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { inspect, promisify } from 'node:util';
import { AccessToken, AgentError, FapiAgentClient } from '../src';

const root = path.resolve(__dirname, '../../../..');
const bin = process.env.FAPI_AGENT_BIN ?? path.join(root, 'target/debug/fapi-agent');
const REDIRECT = 'https://client.example/cb';
const FAILED_PRECONDITION = 9;
const web = { name: 'web' };

let dir: string;
let as: ChildProcess;
let daemon: ChildProcess;
let control: string;
let sock: string;
let agent: FapiAgentClient;

const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const b64url = (b: Buffer) => b.toString('base64url');
const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest();

async function controlCall(method: string, p: string, body?: unknown): Promise<any> {
  const res = await fetch(`${control}${p}`, {
    method, headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

/** The first line `child` prints, or its stderr if it exits first. */
function firstLine(child: ChildProcess, logFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.once('line', (l) => { rl.close(); resolve(l); });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${fs.readFileSync(logFile, 'utf8')}`)));
  });
}

/** Resolves once the daemon answers on `sock` (polls the socket, bounded). */
async function daemonReady(sock: string, child: ChildProcess) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited: ${fs.readFileSync(path.join(dir, 'daemon.log'), 'utf8')}`);
    if (fs.existsSync(sock)) {
      const c = new FapiAgentClient(sock, { retries: 0 });
      try { await c.listCredentials(); return; } catch { /* not yet */ } finally { c.close(); }
    }
    if (Date.now() > deadline) throw new Error('daemon did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fapi-node-tokens-'));
  // A CA, the AS's certificate for 127.0.0.1, and the client's key and certificate.
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=fapi-agent node test CA', '-days', '2');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-out', 'server.crt', '-extfile', 'server.ext');
  for (const name of ['web', 'bare']) {
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
    fs.chmodSync(path.join(dir, `${name}.key`), 0o600);
    openssl('req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-days', '365', '-out', `${name}.crt`);
  }
  const asConfig = {
    profile: 'fapi2',
    tls: { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key'), client_ca: path.join(dir, 'ca.crt') },
    clients: [{
      client_id: 'web-app', certificates_pem: [fs.readFileSync(path.join(dir, 'web.crt'), 'utf8')],
      redirect_uris: [REDIRECT], scope: 'openid accounts offline_access',
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      dpop_bound_access_tokens: true,
    }],
  };
  fs.writeFileSync(path.join(dir, 'as.json'), JSON.stringify(asConfig));
  const asLog = path.join(dir, 'as.log');
  as = spawn('node', [path.join(root, 'tests/oidc/fapi_as.mjs'), path.join(dir, 'as.json')],
    { stdio: ['ignore', 'pipe', fs.openSync(asLog, 'w')] });
  const ready = JSON.parse(await firstLine(as, asLog));
  control = ready.control_url;
  const f = (n: string) => JSON.stringify(path.join(dir, n));
  fs.writeFileSync(path.join(dir, 'agent.toml'), [
    '[credentials.web]', 'client_id = "web-app"', `issuer = ${JSON.stringify(ready.issuer)}`,
    `key = ${f('web.key')}`, `certificate = ${f('web.crt')}`, 'allow_plaintext_key = true',
    '[credentials.web.oauth]', `ca_file = ${f('ca.crt')}`, 'scopes = ["accounts"]',
    // A credential without an oauth table: no tokens, no DPoP proofs.
    '[credentials.bare]', 'client_id = "bare-app"', `issuer = ${JSON.stringify(ready.issuer)}`,
    `key = ${f('bare.key')}`, `certificate = ${f('bare.crt')}`, 'allow_plaintext_key = true', '',
  ].join('\n'));
  sock = path.join(dir, 'run/agent.sock');
  daemon = spawn(bin, ['run', '--config', path.join(dir, 'agent.toml'), '--socket', sock],
    { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'daemon.log'), 'w')] });
  await daemonReady(sock, daemon);
  agent = new FapiAgentClient(sock);
});

after(() => {
  agent?.close();
  daemon?.kill('SIGTERM');
  as?.kill('SIGTERM');
});

test('getAccessToken: a DPoP-bound token the AS confirms, cached, force-refreshed, printed redacted', async () => {
  const t = await agent.getAccessToken(web);
  assert.ok(t instanceof AccessToken);
  assert.equal(t.token_type, 'DPoP');
  assert.equal(t.jkt.length, 43, 'an RFC 7638 thumbprint');
  assert.equal(t.x5t_s256, '');
  assert.equal(t.scope, 'accounts');
  assert.equal(t.credential, 'web');
  assert.ok(t.expires_at > Date.now() / 1000);
  const seen = await controlCall('POST', '/introspect', { token: t.access_token });
  assert.equal(seen.active, true, JSON.stringify(seen));
  assert.equal(seen.client_id, 'web-app');
  assert.equal(seen.cnf.jkt, t.jkt);
  assert.equal(seen.scope, 'accounts');

  // The second call is the daemon's cache; force_refresh asks the AS again.
  const before = (await controlCall('GET', '/counters')).total_token_requests;
  const again = await agent.getAccessToken({ clientId: 'web-app' });
  assert.equal(again.cached, true);
  assert.equal(again.access_token, t.access_token);
  assert.equal((await controlCall('GET', '/counters')).total_token_requests, before);
  const fresh = await agent.getAccessToken(web, { forceRefresh: true, scopes: ['accounts'] });
  assert.equal(fresh.cached, false);
  assert.notEqual(fresh.access_token, t.access_token);
  assert.equal((await controlCall('GET', '/counters')).total_token_requests, before + 1);

  // Nothing that prints or serialises it shows the token.
  const printed = [inspect(t), inspect({ nested: [t] }, { depth: 5 }), JSON.stringify(t), String(t), `${t}`,
    JSON.stringify(Object.entries(t)), Object.keys(t).join()];
  for (const p of printed) assert.ok(!p.includes(t.access_token), `token leaked in ${p}`);
  const prefix = sha256(t.access_token).toString('hex').slice(0, 16);
  assert.equal(t.sha256Prefix, prefix);
  assert.match(inspect(t), new RegExp(`token_type: 'DPoP'.*REDACTED sha256:${prefix}`, 's'));
  assert.equal(JSON.parse(JSON.stringify(t)).access_token, `[REDACTED sha256:${prefix}]`);
  assert.equal(t.authorizationHeader(), `DPoP ${t.access_token}`);
});

test('signDpopProof: ath, htu without query, nonce, signed by the key the token is bound to', async () => {
  const t = await agent.getAccessToken(web);
  const p = await agent.signDpopProof(web,
    { htm: 'GET', htu: 'https://rs.example/accounts?page=2#top', accessToken: t, nonce: 'server-nonce-1' });
  assert.equal(p.jkt, t.jkt);
  assert.equal(p.htu, 'https://rs.example/accounts');
  const [h, b, s] = p.proof.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  const claims = JSON.parse(Buffer.from(b, 'base64url').toString());
  assert.equal(header.typ, 'dpop+jwt');
  assert.equal(header.alg, 'ES256');
  const { crv, kty, x, y } = header.jwk;
  assert.equal(b64url(sha256(JSON.stringify({ crv, kty, x, y }))), t.jkt, 'the proof key is the token binding');
  const key = crypto.createPublicKey({ key: header.jwk, format: 'jwk' });
  assert.ok(crypto.verify('sha256', Buffer.from(`${h}.${b}`), { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(s, 'base64url')), 'the proof verifies');
  assert.equal(claims.htm, 'GET');
  assert.equal(claims.htu, 'https://rs.example/accounts');
  assert.equal(claims.ath, b64url(sha256(t.access_token)));
  assert.equal(claims.nonce, 'server-nonce-1');
  assert.equal(claims.jti, p.jti);
  // Without a token: no ath; every proof has a new jti.
  const q = await agent.signDpopProof(web, { htm: 'POST', htu: 'https://rs.example/payments' });
  const qc = JSON.parse(Buffer.from(q.proof.split('.')[1], 'base64url').toString());
  assert.equal(qc.ath, undefined);
  assert.equal(qc.nonce, undefined);
  assert.notEqual(q.jti, p.jti);
});

test('pushAuthorizationRequest, the user authorizes, exchangeAuthorizationCode, refreshAccessToken', async () => {
  const verifier = b64url(crypto.randomBytes(32));
  const pushed = await agent.pushAuthorizationRequest(web, {
    response_type: 'code', redirect_uri: REDIRECT, scope: 'openid accounts offline_access', state: 'st-1',
    nonce: 'n-1', code_challenge: b64url(sha256(verifier)), code_challenge_method: 'S256', prompt: 'consent',
  }, { signedRequestObject: true });
  assert.match(pushed.request_uri, /^urn:ietf:params:oauth:request_uri:/);
  assert.ok(pushed.expires_in > 0 && pushed.expires_in <= 600, String(pushed.expires_in));
  assert.equal(pushed.client_id, 'web-app');
  const url = new URL(pushed.authorization_url);
  assert.equal(url.searchParams.get('request_uri'), pushed.request_uri);
  assert.equal(url.searchParams.get('client_id'), 'web-app');
  const authorized = await controlCall('POST', '/authorize', { url: pushed.authorization_url });
  assert.equal(authorized.state, 'st-1', JSON.stringify(authorized));
  assert.ok(authorized.code, JSON.stringify(authorized));

  const t = await agent.exchangeAuthorizationCode(web,
    { code: authorized.code, codeVerifier: verifier, redirectUri: REDIRECT });
  assert.equal(t.token_type, 'DPoP');
  assert.equal(t.cached, false);
  assert.ok(t.refresh_token, 'offline_access gives a refresh token');
  const seen = await controlCall('POST', '/introspect', { token: t.access_token });
  assert.equal(seen.sub, 'alice', JSON.stringify(seen));
  assert.equal(seen.cnf.jkt, t.jkt);
  for (const p of [inspect(t), JSON.stringify(t)]) {
    assert.ok(!p.includes(t.refresh_token) && !p.includes(t.access_token), p);
  }

  const refreshed = await agent.refreshAccessToken(web, t);
  assert.notEqual(refreshed.access_token, t.access_token);
  const seenRefreshed = await controlCall('POST', '/introspect', { token: refreshed.access_token });
  assert.equal(seenRefreshed.active, true, JSON.stringify(seenRefreshed));
  assert.equal(seenRefreshed.cnf.jkt, t.jkt);

  // A replayed code is the AS's invalid_grant, quoted as FAILED_PRECONDITION.
  await assert.rejects(agent.exchangeAuthorizationCode(web,
    { code: authorized.code, codeVerifier: verifier, redirectUri: REDIRECT }),
  (e: unknown) => e instanceof AgentError && e.code === FAILED_PRECONDITION
    && e.details.includes('credential "web"') && e.details.includes('invalid_grant'));
});

test('a credential without an oauth table: FAILED_PRECONDITION naming the table to add', async () => {
  await assert.rejects(agent.getAccessToken({ name: 'bare' }),
    (e: unknown) => e instanceof AgentError && e.code === FAILED_PRECONDITION
      && e.details.includes('credential "bare" has no [credentials.bare.oauth] table'));
  await assert.rejects(agent.signDpopProof({ name: 'bare' }, { htm: 'GET', htu: 'https://rs.example/' }),
    (e: unknown) => e instanceof AgentError && e.code === FAILED_PRECONDITION
      && e.details.includes('credential "bare" has no [credentials.bare.oauth] table'));
  await assert.rejects(agent.refreshAccessToken({ name: 'bare' }, 'rt'),
    (e: unknown) => e instanceof AgentError && e.code === FAILED_PRECONDITION);
});

test('examples/call_resource: a DPoP-bound token at the bank, one use_dpop_nonce challenge, one retry', async () => {
  // The bank: DPoP-bound tokens introspected at the AS, nonces required, no client certificate;
  // TLS with the AS's certificate for 127.0.0.1 (the test CA).
  fs.writeFileSync(path.join(dir, 'bank.json'), JSON.stringify({
    port: 0, control_port: 0,
    tls: { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') },
    require_client_cert: false, token_binding: 'dpop', require_dpop_nonce: true,
    introspection: { control_url: control },
  }));
  const bankLog = path.join(dir, 'bank.log');
  const bank = spawn('node', [path.join(root, 'tests/rs/bank.mjs'), path.join(dir, 'bank.json')],
    { stdio: ['ignore', 'pipe', fs.openSync(bankLog, 'w')] });
  try {
    const ready = JSON.parse(await firstLine(bank, bankLog));
    const { stdout } = await promisify(execFile)('node', [path.join(__dirname, '../examples/call_resource.js'),
      '--url', `${ready.url}/accounts`, '--credential', 'web', '--ca-file', path.join(dir, 'ca.crt')],
    { env: { ...process.env, FAPI_AGENT_SOCKET: sock }, timeout: 30_000 })
      .catch((e) => { throw new Error(`${e.message}\n${e.stderr}\nbank: ${fs.readFileSync(bankLog, 'utf8')}`); });
    const answer = JSON.parse(stdout);
    assert.ok(Array.isArray(answer.accounts) && answer.accounts.length > 0, stdout);
    const t = await agent.getAccessToken(web);
    assert.equal(answer.seen.jkt, t.jkt, 'the bank saw the key the token is bound to');
    assert.equal(answer.seen.client_id, 'web-app');
    assert.equal(answer.seen.token_binding, 'dpop');
    const counters = await (await fetch(`${ready.control_url}/counters`)).json();
    assert.equal(counters.nonce_challenges, 1, JSON.stringify(counters));
    assert.equal(counters.requests, 2, JSON.stringify(counters));
    assert.deepEqual(counters.refused, { dpop_nonce_missing: 1 }, JSON.stringify(counters));
  } finally {
    bank.kill('SIGTERM');
  }
});
