// The Node client against the real daemon (target/debug/fapi-agent) and a
// real authorization server (tests/oidc/server.mjs, oidc-provider).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { AgentError, FapiAgentClient, SocketTrustError } from '../src';

const root = path.resolve(__dirname, '../../../..');
const bin = process.env.FAPI_AGENT_BIN ?? path.join(root, 'target/debug/fapi-agent');
let daemon: ChildProcess;
let socket: string;

async function waitFor(sock: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (fs.existsSync(sock)) {
      const c = new FapiAgentClient(sock);
      try { await c.listCredentials(); return; } catch { /* not yet */ } finally { c.close(); }
    }
    if (Date.now() > deadline) throw new Error('daemon did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fapi-node-'));
  socket = path.join(dir, 'run/agent.sock');
  daemon = spawn(bin, ['run', '--dev', '--socket', socket], { stdio: 'ignore' });
  await waitFor(socket);
});

after(() => { daemon.kill('SIGTERM'); });

test('signs an assertion that verifies against the credential JWK', async () => {
  const c = new FapiAgentClient(socket);
  try {
    const a = await c.signClientAssertion({ clientId: 'dev-client' });
    const cred = await c.getCredential({ name: 'dev' });
    assert.equal(a.kid, cred.kid);
    const [h, p, s] = a.assertion.split('.');
    const key = crypto.createPublicKey({ key: JSON.parse(cred.public_jwk_json), format: 'jwk' });
    const ok = crypto.verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(s, 'base64url'));
    assert.ok(ok, 'ES256 signature verifies');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    assert.equal(claims.iss, 'dev-client');
    assert.equal(claims.aud, 'https://as.dev.fapi-agent.invalid');
    const jwks = await c.jwks('dev-client');
    assert.deepEqual(jwks.keys.map((k) => k.kid), [cred.kid]);
  } finally { c.close(); }
});

test('unknown credential is NOT_FOUND', async () => {
  const c = new FapiAgentClient(socket);
  try {
    await assert.rejects(c.signClientAssertion({ name: 'nope' }),
      (e: unknown) => e instanceof AgentError && e.code === 5 && e.details.includes('nope'));
  } finally { c.close(); }
});

test('watch starts with a snapshot', async () => {
  const c = new FapiAgentClient(socket);
  try {
    for await (const ev of c.watchCredentials()) {
      assert.equal(ev.kind, 'CREDENTIAL_EVENT_KIND_SNAPSHOT');
      assert.deepEqual(ev.snapshot.map((x) => x.name), ['dev']);
      break;
    }
    assert.ok((await c.status()).pid > 0);
  } finally { c.close(); }
});

test('a socket owned by another uid is refused before connecting', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fapi-impostor-'));
  const sock = path.join(dir, 'agent.sock');
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    fs.chownSync(sock, 65534, 65534);
    assert.throws(() => new FapiAgentClient(sock, { expectedUid: undefined }),
      (e: unknown) => e instanceof SocketTrustError && /owned by uid 65534/.test((e as Error).message));
    // Trusting that uid explicitly passes the check.
    new FapiAgentClient(sock, { expectedUid: 65534 }).close();
  } finally { server.close(); }
});

test('the example gets an access token from oidc-provider', async () => {
  const c = new FapiAgentClient(socket);
  const jwks = await c.jwks('dev-client');
  c.close();
  const as = spawn('node', [path.join(root, 'tests/oidc/server.mjs')], { stdio: ['pipe', 'pipe', 'ignore'] });
  try {
    as.stdin!.end(JSON.stringify({ issuer: 'https://as.dev.fapi-agent.invalid',
      clients: [{ client_id: 'dev-client', jwks }] }));
    const line: string = await new Promise((r) => readline.createInterface({ input: as.stdout! }).once('line', r));
    const { token_endpoint } = JSON.parse(line);
    const out = spawnSync('node', [path.join(__dirname, '../examples/token.js'), token_endpoint, 'dev-client', socket],
      { encoding: 'utf8', timeout: 30_000 });
    assert.equal(out.status, 0, out.stderr);
    const token = JSON.parse(out.stdout);
    assert.equal(token.token_type, 'Bearer');
    assert.ok(token.access_token);
  } finally { as.kill('SIGTERM'); }
});

test('generated code is fresh against proto/', () => {
  const out = spawnSync('node', [path.join(root, 'clients/node/scripts/generate.js'), '--check'], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
});
