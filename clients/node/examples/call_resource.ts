// What an app does with a DPoP-bound access token: get it from fapi-agent, have the daemon sign
// a DPoP proof for the request (htm GET, htu = the resource URL, ath from the token, the
// resource server's nonce) and call the protected resource over HTTPS with
// `Authorization: DPoP <token>` and `DPoP: <proof>`. A resource server that requires nonces
// (RFC 9449 §9) answers a proof without one with 401, `WWW-Authenticate: DPoP
// error="use_dpop_nonce"` and a `DPoP-Nonce` header; the example then retries once, with a new
// proof carrying that nonce. It prints the resource's JSON answer on stdout.
//
//   node dist/examples/call_resource.js --url https://rs.bank.example/accounts --credential acme \
//     [--ca-file rs-ca.pem] [--socket /run/fapi-agent/agent.sock]
//
// Each option may come from the environment instead:
//   --url         FAPI_RESOURCE_URL      the protected resource (GET)
//   --credential  FAPI_AGENT_CREDENTIAL  the credential's name in the daemon's config
//   --ca-file     FAPI_RESOURCE_CA_FILE  PEM CA certificate(s) for the resource server's TLS
//                                        (default: Node's bundled trust store)
//   --socket      FAPI_AGENT_SOCKET      the daemon's socket (default: the standard path)
import * as fs from 'node:fs';
import * as https from 'node:https';
import { parseArgs } from 'node:util';
import { AccessToken, FapiAgentClient, defaultSocketPath } from '../src';

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One GET over HTTPS, verifying the server against `ca` when given. */
function get(url: string, headers: Record<string, string>, ca: Buffer | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'GET', headers, ca, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'),
      }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The nonce of a `use_dpop_nonce` challenge (RFC 9449 §9), or undefined for any other answer. */
function nonceChallenge(a: Answer): string | undefined {
  const challenge = String(a.headers['www-authenticate'] ?? '');
  const nonce = a.headers['dpop-nonce'];
  if (a.status !== 401 || typeof nonce !== 'string' || nonce === '') return undefined;
  if (!/(^|,)\s*DPoP\b/i.test(challenge) || !/\berror="?use_dpop_nonce"?/.test(challenge)) return undefined;
  return nonce;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' }, credential: { type: 'string' },
      'ca-file': { type: 'string' }, socket: { type: 'string' },
    },
  });
  const url = values.url ?? process.env.FAPI_RESOURCE_URL;
  const credential = values.credential ?? process.env.FAPI_AGENT_CREDENTIAL;
  const caFile = values['ca-file'] ?? process.env.FAPI_RESOURCE_CA_FILE;
  if (!url || !credential) {
    console.error('usage: call_resource --url RESOURCE_URL --credential NAME [--ca-file CA.pem] [--socket SOCKET]');
    return 2;
  }
  const ca = caFile ? fs.readFileSync(caFile) : undefined;
  const agent = new FapiAgentClient(values.socket ?? defaultSocketPath());
  try {
    const token: AccessToken = await agent.getAccessToken({ name: credential });
    const call = async (nonce?: string) => {
      const proof = await agent.signDpopProof({ name: credential },
        { htm: 'GET', htu: url, accessToken: token, nonce });
      return get(url, { authorization: token.authorizationHeader(), dpop: proof.proof, accept: 'application/json' }, ca);
    };
    let answer = await call();
    const nonce = nonceChallenge(answer);
    if (nonce !== undefined) answer = await call(nonce);   // one retry, a fresh proof with the nonce
    if (answer.status < 200 || answer.status > 299) {
      console.error(`${url} answered ${answer.status} (WWW-Authenticate: ${answer.headers['www-authenticate'] ?? '-'}): ${answer.body}`);
      return 1;
    }
    console.log(JSON.stringify(JSON.parse(answer.body)));
    return 0;
  } finally {
    agent.close();
  }
}

main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
