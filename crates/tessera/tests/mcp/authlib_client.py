"""Authlib (pinned in requirements.txt) as an application's OAuth client against a running
Tessera: RFC 8414 metadata validated by Authlib's own model, client credentials, the
authorization code with PKCE S256, a refresh, introspection and revocation. Driven by
crates/tessera/tests/it/clients.rs: prints `authorize: <url>`, reads the URL the person was
sent back to on stdin, prints `result: <json>` (or `failed: <message>`)."""

import json
import os
import sys

# Plain HTTP on 127.0.0.1 only: the test server has no certificate.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

import httpx  # noqa: E402
from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.httpx_client import OAuth2Client  # noqa: E402
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata  # noqa: E402


def main() -> None:
    issuer = os.environ["ISSUER"]
    document = httpx.get(f"{issuer}/.well-known/oauth-authorization-server").json()
    metadata = AuthorizationServerMetadata(document)
    metadata.validate()
    if metadata["issuer"] != issuer:
        raise ValueError(f"issuer {metadata['issuer']} is not {issuer}")
    token_url = metadata["token_endpoint"]

    def session(**kw) -> OAuth2Client:
        return OAuth2Client(
            os.environ["CLIENT_ID"],
            os.environ["CLIENT_SECRET"],
            token_endpoint_auth_method="client_secret_basic",
            **kw,
        )

    with session(scope="assets:read") as machine:
        cc = machine.fetch_token(token_url, grant_type="client_credentials")

    with session(
        scope="assets:read events:read",
        redirect_uri=os.environ["REDIRECT_URI"],
        code_challenge_method="S256",
    ) as app:
        verifier = generate_token(48)
        url, state = app.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier
        )
        print(f"authorize: {url}", flush=True)
        back = sys.stdin.readline().strip()
        person = app.fetch_token(
            token_url, authorization_response=back, code_verifier=verifier, state=state
        )
        refreshed = app.refresh_token(token_url, refresh_token=person["refresh_token"])
        introspected = app.introspect_token(
            metadata["introspection_endpoint"], token=refreshed["access_token"]
        ).json()
        revoked = app.revoke_token(
            metadata["revocation_endpoint"],
            token=refreshed["refresh_token"],
            token_type_hint="refresh_token",
        )
        try:
            app.refresh_token(token_url, refresh_token=refreshed["refresh_token"])
            after = "accepted"
        except Exception as e:  # Authlib raises OAuthError with the server's `error`.
            after = getattr(e, "error", str(e))

    print(
        "result: "
        + json.dumps(
            {
                "client_credentials": {"token_type": cc["token_type"], "scope": cc.get("scope")},
                "code": {
                    "token_type": person["token_type"],
                    "scope": person.get("scope"),
                    "has_refresh": "refresh_token" in person,
                },
                "refreshed": {
                    "scope": refreshed.get("scope"),
                    "rotated": refreshed["refresh_token"] != person["refresh_token"],
                },
                "introspected": {
                    "active": introspected.get("active"),
                    "sub": introspected.get("sub"),
                    "client_id": introspected.get("client_id"),
                },
                "revoked": revoked.status_code,
                "after_revocation": after,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(f"failed: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
