// A real FAPI 2.0 authorization server (oidc-provider 9.13.3) on loopback,
// used once: it registers the given clients, performs the given
// client_credentials token requests with private_key_jwt one after the other
// (so a replayed jti is seen), prints the outcomes as one JSON document on
// stdout and exits. Logs go to stderr.
//
//   node tests/oidc/exchange.mjs < input.json
//
// stdin:  {"issuer": "https://as.example",
//          "clients": [{"client_id": "...",
//                       "certificates_pem": ["-----BEGIN CERTIFICATE-----..."],
//                       "jwks": {"keys": [...]}}],          (either or both)
//          "requests": [{"client_id": "...", "client_assertion": "...",
//                        "client_assertion_type": "..."}]}
// stdout: {"token_endpoint": "http://127.0.0.1:PORT/token",
//          "results": [{"status": 200, "body": {...},
//                       "server_error": null | "invalid_client: client authentication failed: <detail>"}]}
// Exit 0 whatever the provider answered; non-zero only when the harness
// itself failed (bad input, provider did not start, a request timed out).
//
// Issuer vs loopback: the server speaks plain http on 127.0.0.1 with Koa's
// proxy mode on, and every request carries X-Forwarded-Proto/-Host naming
// the issuer's origin. The provider therefore believes it is served at the
// issuer (its token endpoint URL is `${issuer}/token`), as a deployed server
// behind a TLS-terminating proxy would. Under the FAPI 2.0 profile it compares
// the assertion's aud with the issuer string itself. An issuer with a path
// (https://as.example/t) is served below that path: http://127.0.0.1:PORT/t/token.
import { startProvider } from './provider.mjs';

const REQUEST_TIMEOUT_MS = 10_000;
// Header tying a provider event to the request that caused it.
const INDEX_HEADER = 'x-harness-request';

// stdout carries only the result document: oidc-provider prints some notices
// with console.info (stdout), send them to stderr.
console.log = console.info = (...args) => console.error(...args);

function fail(message) {
  throw new Error(`bad input: ${message}`);
}

async function readInput() {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk;
  const input = JSON.parse(text);
  if (typeof input?.issuer !== 'string') fail('"issuer" must be a string');
  const issuer = new URL(input.issuer);
  if (issuer.search || issuer.hash) fail('"issuer" must have no query or fragment');
  if (!Array.isArray(input.clients) || !Array.isArray(input.requests)) {
    fail('"clients" and "requests" must be arrays');
  }
  return input;
}

async function main() {
  const input = await readInput();
  const { provider, server, tokenPath } = await startProvider(input);
  const issuer = new URL(input.issuer);
  const tokenEndpoint = `http://127.0.0.1:${server.address().port}${tokenPath}`;

  // The provider's precise reason for each rejected request, by index.
  // `grant.error` is the token endpoint's event for a 4xx; `server_error`
  // is every endpoint's event for a 500.
  const reasons = new Map();
  const record = (ctx, err) => {
    const parts = [err.error, err.error_description, err.error_detail].filter(Boolean);
    reasons.set(ctx.get(INDEX_HEADER), parts.join(': ') || `server_error: ${err.message}`);
  };
  provider.on('grant.error', record);
  provider.on('server_error', record);

  const results = [];
  try {
    for (const [i, r] of input.requests.entries()) {
      const res = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-proto': issuer.protocol.slice(0, -1),
          'x-forwarded-host': issuer.host,
          [INDEX_HEADER]: String(i),
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: r.client_id,
          client_assertion: r.client_assertion,
          client_assertion_type: r.client_assertion_type,
        }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      let body;
      try { body = JSON.parse(text); } catch { body = { raw: text }; }
      const reason = reasons.get(String(i)) ?? null;
      results.push({ status: res.status, body, server_error: reason });
      console.error(`request ${i} (${r.client_id}): HTTP ${res.status}${reason ? `: ${reason}` : ''}`);
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
  return { token_endpoint: tokenEndpoint, results };
}

try {
  const output = await main();
  // Exit once stdout is flushed: nothing else may keep the process alive.
  process.stdout.write(`${JSON.stringify(output)}\n`, () => process.exit(0));
} catch (err) {
  console.error(`exchange.mjs: ${err.stack ?? err}`);
  process.exit(2);
}
