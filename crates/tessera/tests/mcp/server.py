"""A small MCP server protected by Tessera, built on the official MCP Python SDK (FastMCP).

It is a resource server: its RFC 9728 metadata names Tessera, and it checks each bearer token
by introspecting it at Tessera (RFC 7662) and refusing any whose `aud` is not this server.
Environment: TESSERA (issuer URL), MCP_PORT, INTROSPECT_ID, INTROSPECT_SECRET.
Prints `VERIFIED <sub>` or `REJECTED <why>` for each token it sees.
"""

import os

import httpx
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.fastmcp import FastMCP

ISSUER = os.environ["TESSERA"]
PORT = int(os.environ["MCP_PORT"])
RESOURCE = f"http://127.0.0.1:{PORT}/mcp"


class TesseraVerifier:
    async def verify_token(self, token: str) -> AccessToken | None:
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{ISSUER}/oauth2/introspect",
                data={"token": token},
                auth=(os.environ["INTROSPECT_ID"], os.environ["INTROSPECT_SECRET"]),
            )
        body = answer.json()
        if not body.get("active"):
            print("REJECTED inactive", flush=True)
            return None
        if body.get("aud") != RESOURCE:
            print(f"REJECTED aud {body.get('aud')}", flush=True)
            return None
        print(f"VERIFIED {body.get('sub')}", flush=True)
        return AccessToken(
            token=token,
            client_id=body["client_id"],
            scopes=body.get("scope", "").split(),
            expires_at=body.get("exp"),
            resource=RESOURCE,
        )


mcp = FastMCP(
    "Fleet tools",
    host="127.0.0.1",
    port=PORT,
    token_verifier=TesseraVerifier(),
    auth=AuthSettings(
        issuer_url=ISSUER,
        resource_server_url=RESOURCE,
        required_scopes=["assets:read"],
    ),
)


@mcp.tool()
def fleet_size() -> str:
    """How many trucks the fleet has."""
    return "42 trucks"


if __name__ == "__main__":
    mcp.run(transport="streamable-http")
