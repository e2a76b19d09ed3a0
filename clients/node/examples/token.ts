// What an app does: get a client assertion from fapi-agent and exchange it
// for an access token (client_credentials with private_key_jwt).
//   node dist/examples/token.js TOKEN_ENDPOINT CLIENT_ID [SOCKET]
import { FapiAgentClient, defaultSocketPath } from '../src';

async function main(): Promise<number> {
  const [tokenEndpoint, clientId, socket] = process.argv.slice(2);
  if (!tokenEndpoint || !clientId) {
    console.error('usage: token TOKEN_ENDPOINT CLIENT_ID [SOCKET]');
    return 2;
  }
  const agent = new FapiAgentClient(socket ?? defaultSocketPath());
  try {
    const a = await agent.signClientAssertion({ clientId });
    const res = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials', client_id: clientId,
        client_assertion_type: a.assertion_type, client_assertion: a.assertion,
      }),
    });
    const text = await res.text();
    if (!res.ok) {
      console.error(`token endpoint answered ${res.status}: ${text}`);
      return 1;
    }
    console.log(text);
    return 0;
  } finally {
    agent.close();
  }
}

main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
