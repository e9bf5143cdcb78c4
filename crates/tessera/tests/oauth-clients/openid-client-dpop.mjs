// panva's openid-client (on oauth4webapi) with DPoP (RFC 9449), against a running Tessera
// that asks for nonces: a client-credentials token bound to the library's own key, the
// library's retry with the server's `DPoP-Nonce`, then /v2/assets called the library's way
// (a fresh proof with `ath` per call) and, for contrast, the bound token sent as a bearer.
// Driven by crates/tessera/tests/it/clients.rs: prints `result: <json>` or `failed: <message>`.
import * as client from 'openid-client';

const { ISSUER, CLIENT_ID, CLIENT_SECRET } = process.env;

async function main() {
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined,
    client.ClientSecretBasic(CLIENT_SECRET), { execute: [client.allowInsecureRequests] });
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const tokens = await client.clientCredentialsGrant(config, { scope: 'assets:read' }, { DPoP });
  const assets = new URL(`${ISSUER}/v2/assets`);
  const first = await client.fetchProtectedResource(config, tokens.access_token, assets, 'GET',
    undefined, undefined, { DPoP });
  const second = await client.fetchProtectedResource(config, tokens.access_token, assets, 'GET',
    undefined, undefined, { DPoP });
  const asBearer = await fetch(assets, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  console.log('result: ' + JSON.stringify({
    token_type: tokens.token_type,
    first: first.status,
    second: second.status,
    as_bearer: asBearer.status,
    as_bearer_challenge: asBearer.headers.get('www-authenticate'),
  }));
}

main().then(() => process.exit(0), (e) => {
  console.log(`failed: ${e.name}: ${e.message} ${e.code ?? ''} ${JSON.stringify(e.cause ?? '')}`);
  process.exit(1);
});
