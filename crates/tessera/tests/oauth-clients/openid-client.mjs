// panva's openid-client (on oauth4webapi), pinned in package.json: discovery, client
// credentials, the authorization code with PKCE S256 and RFC 9207 `iss` checked by the
// library, a refresh, introspection and revocation, against a running Tessera. Driven by
// crates/tessera/tests/it/clients.rs: prints `authorize: <url>`, reads the URL the person was
// sent back to on stdin, prints `result: <json>` (or `failed: <message>`).
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function main() {
  // Plain HTTP on 127.0.0.1 only: the test server has no certificate.
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined,
    client.ClientSecretBasic(CLIENT_SECRET), { execute: [client.allowInsecureRequests] });
  const machine = await client.clientCredentialsGrant(config, { scope: 'assets:read' });

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'assets:read events:read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  console.log(`authorize: ${url.href}`);
  const back = (await lines.next()).value;
  const person = await client.authorizationCodeGrant(config, new URL(back),
    { pkceCodeVerifier: verifier, expectedState: state });
  const refreshed = await client.refreshTokenGrant(config, person.refresh_token);
  const introspected = await client.tokenIntrospection(config, refreshed.access_token);
  await client.tokenRevocation(config, refreshed.refresh_token);
  let afterRevocation = 'accepted';
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
  } catch (e) {
    afterRevocation = e.error ?? e.code ?? String(e);
  }
  console.log('result: ' + JSON.stringify({
    client_credentials: { token_type: machine.token_type, scope: machine.scope },
    code: { token_type: person.token_type, scope: person.scope, has_refresh: !!person.refresh_token },
    refreshed: { scope: refreshed.scope, rotated: refreshed.refresh_token !== person.refresh_token },
    introspected: { active: introspected.active, sub: introspected.sub, client_id: introspected.client_id },
    after_revocation: afterRevocation,
  }));
}

main().then(() => process.exit(0), (e) => {
  console.log(`failed: ${e.name}: ${e.message} ${e.code ?? ''} ${JSON.stringify(e.cause ?? '')}`);
  process.exit(1);
});
