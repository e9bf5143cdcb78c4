"""An MCP client on the official MCP Python SDK: it finds Tessera from the MCP server's 401,
registers itself (RFC 7591), sends the person to Tessera, and calls a tool.

Environment: MCP_URL, CALLBACK_PORT. Protocol on stdout, one line each:
`AUTHORIZE <url>` (open it in a browser), `TOOL <text>` (a call succeeded); it reads a line on
stdin before calling the tool a second time.
"""

import asyncio
import http.server
import os
import sys
import threading
import urllib.parse

from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

CALLBACK_PORT = int(os.environ["CALLBACK_PORT"])
CALLBACK = f"http://127.0.0.1:{CALLBACK_PORT}/callback"


class Memory(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


received: list[dict] = []


class Callback(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/callback":
            # The browser asks for /favicon.ico too: that is no answer.
            self.send_response(404)
            self.end_headers()
            return
        query = urllib.parse.parse_qs(url.query)
        received.append({k: v[0] for k, v in query.items()})
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>Done</title><p>You can close this page.</p>")

    def log_message(self, *args):
        pass


async def redirect_handler(url: str) -> None:
    print(f"AUTHORIZE {url}", flush=True)


async def callback_handler() -> tuple[str, str | None]:
    while not received:
        await asyncio.sleep(0.1)
    answer = received.pop()
    if "code" not in answer:
        raise RuntimeError(f"no code: {answer}")
    return answer["code"], answer.get("state")


async def main() -> None:
    server = http.server.HTTPServer(("127.0.0.1", CALLBACK_PORT), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    auth = OAuthClientProvider(
        server_url=os.environ["MCP_URL"],
        client_metadata=OAuthClientMetadata(
            client_name="Fleet agent",
            redirect_uris=[CALLBACK],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=Memory(),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with streamablehttp_client(os.environ["MCP_URL"], auth=auth) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("fleet_size", {})
            print(f"TOOL {result.content[0].text}", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            result = await session.call_tool("fleet_size", {})
            print(f"TOOL {result.content[0].text}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
