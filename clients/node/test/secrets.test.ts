// Secrets through the Node client against the real daemon, on the fixture
// of clients/testdata/secrets-fixture.sh: typed and redacted when they come
// back, and shared secrets that never come back (Node's crypto agrees with
// the daemon's HMAC and WS-Security digest).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { AgentError, FapiAgentClient, Secret } from '../src';

const root = path.resolve(__dirname, '../../../..');
const bin = process.env.FAPI_AGENT_BIN ?? path.join(root, 'target/debug/fapi-agent');
let daemon: ChildProcess;
let dir: string;
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
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fapi-node-secrets-'));
  const made = spawnSync('bash', [path.join(root, 'clients/testdata/secrets-fixture.sh'), dir], { stdio: 'inherit' });
  assert.equal(made.status, 0, 'secrets-fixture.sh failed');
  socket = path.join(dir, 'agent.sock');
  daemon = spawn(bin, ['run', '--config', path.join(dir, 'agent.toml'), '--socket', socket], { stdio: 'ignore' });
  await waitFor(socket);
});

after(() => { daemon.kill('SIGTERM'); });

const sel = { name: 'secrets' };

test('a decrypted secret and exported key are typed and print redacted', async () => {
  const c = new FapiAgentClient(socket);
  try {
    const want = fs.readFileSync(path.join(dir, 'plain.bin'));
    const plain = await c.decryptSecret(sel, fs.readFileSync(path.join(dir, 'plain.ct')));
    assert.ok(plain instanceof Secret);
    assert.ok(plain.equals(want) && plain.reveal().equals(want));
    const km = await c.keyMaterial(sel);
    for (const shown of [inspect(plain), String(plain), `${plain}`, JSON.stringify({ plain }),
      inspect(km), String(km), JSON.stringify(km), inspect({ nested: [plain, km] }, { depth: 5 })]) {
      assert.ok(shown.includes('REDACTED'), shown);
      assert.ok(!shown.includes(want.toString('hex').slice(0, 8)) && !shown.includes('PRIVATE KEY'), shown);
    }
    // The exported key is the certificate's, as Node's crypto reads both.
    const cert = new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'cert.pem')));
    const spki = (k: crypto.KeyObject) => k.export({ type: 'spki', format: 'der' });
    assert.ok(km.private_key_pem.revealString().startsWith('-----BEGIN PRIVATE KEY-----'));
    const pub = crypto.createPublicKey(crypto.createPrivateKey(km.private_key_pem.reveal()));
    assert.ok(spki(pub).equals(spki(cert.publicKey)));
    const enc = await c.keyMaterial(sel, 'KEY_FORMAT_ENCRYPTED_PKCS8_PEM', 'an export passphrase');
    const opened = crypto.createPrivateKey({ key: enc.private_key_pem.reveal(), passphrase: 'an export passphrase' });
    assert.ok(spki(crypto.createPublicKey(opened)).equals(spki(cert.publicKey)));
    // wipe() overwrites the buffer reveal() handed out.
    const held = km.private_key_pem.reveal();
    km.private_key_pem.wipe();
    assert.equal(km.private_key_pem.length, 0);
    assert.ok(held.every((b) => b === 0));
  } finally { c.close(); }
});

test('HMAC and password digest use the shared secret inside the daemon', async () => {
  const c = new FapiAgentClient(socket);
  try {
    const shared = fs.readFileSync(path.join(dir, 'shared.txt'));
    const mac = await c.hmac(sel, 'api', Buffer.from('GET /accounts'), 'HMAC_SHA512', 'MAC_ENCODING_BASE64URL');
    assert.equal(mac, crypto.createHmac('sha512', shared).update('GET /accounts').digest('base64url'));
    const nonce = Buffer.from('0123456789abcdef');
    const d = await c.passwordDigest(sel, 'api', { nonce, created: '2026-12-02T10:00:00Z' });
    const want = crypto.createHash('sha1').update(nonce).update('2026-12-02T10:00:00Z').update(shared).digest('base64');
    assert.equal(d.password_digest, want);
    assert.equal(d.nonce, nonce.toString('base64'));
    const chosen = await c.passwordDigest(sel, 'api');
    assert.ok(chosen.nonce.length > 0 && chosen.created.length > 0, 'the daemon chose nonce and created');
    await assert.rejects(c.hmac(sel, 'nope', Buffer.from('x')),
      (e: unknown) => e instanceof AgentError && e.code === 5);
  } finally { c.close(); }
});
