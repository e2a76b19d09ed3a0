// A long-running FAPI 2.0 authorization server (oidc-provider 9.13.3) on
// loopback, for the client packages' example programs: they POST a
// client_credentials token request with private_key_jwt, as a real app does.
//
//   node tests/oidc/server.mjs < input.json
//
// stdin:  {"issuer": "https://as.example",
//          "clients": [{"client_id": "...", "certificates_pem": ["-----BEGIN CERTIFICATE-----..."],
//                       "jwks": {"keys": [...]}}]}            (either or both)
// stdout: one line, once listening: {"token_endpoint": "http://127.0.0.1:PORT/token"}
// Then it serves until SIGTERM or SIGINT. Logs (and each provider error) go
// to stderr.
//
// Issuer vs loopback: as in exchange.mjs, the provider runs in proxy mode;
// this server adds X-Forwarded-Proto/-Host naming the issuer's origin to
// every request itself, so a plain POST to the loopback URL is seen as
// addressed to the issuer, whose string the assertion's `aud` must be.
import { startProvider } from './provider.mjs';

console.log = console.info = (...args) => console.error(...args);

async function readInput() {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk;
  const input = JSON.parse(text);
  if (typeof input?.issuer !== 'string') throw new Error('bad input: "issuer" must be a string');
  if (!Array.isArray(input.clients)) throw new Error('bad input: "clients" must be an array');
  return input;
}

const input = await readInput();
const { provider, server, tokenPath } = await startProvider(input, { forwardedFor: new URL(input.issuer) });
const report = (ctx, err) => console.error(
  `server.mjs: ${ctx.method} ${ctx.path}: ${[err.error, err.error_description, err.error_detail].filter(Boolean).join(': ')}`,
);
provider.on('grant.error', report);
provider.on('server_error', report);
process.stdout.write(`${JSON.stringify({ token_endpoint: `http://127.0.0.1:${server.address().port}${tokenPath}` })}\n`);
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
