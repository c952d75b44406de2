"""The webhook server's connections, guarded where aiohttp leaves them open: a deadline for
a request's headers, caps on open connections, refusals that echo nothing back, and a
refused request's unread body thrown away for a moment rather than reset."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from http import HTTPStatus

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger("scrobbletray.webhooks")

HEADER_DEADLINE = 10.0  # seconds for a connection (new, or idle after a request) to send a request's headers
MAX_CONNECTIONS = 1024  # open at once, in all
MAX_PER_CLIENT = 64  # open at once from one address (loopback excepted: the tunnel's)


def bound_port(site: web.TCPSite) -> int:
    """The port a started site listens on (aiohttp only exposes it on the server)."""
    return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]


class GuardedHandler(RequestHandler):
    """aiohttp's request handler, with deadlines and caps it lacks: a connection that has
    not sent a whole request's headers within ``HEADER_DEADLINE`` is closed (a slow client
    holds nothing), and one over ``MAX_CONNECTIONS`` (or ``MAX_PER_CLIENT`` from one
    address not on loopback, where the tunnel's connections come from) is refused. Its
    answer to a request it cannot parse echoes nothing back (the request line holds the
    webhook secret) and names no aiohttp version."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        server = self._manager
        assert isinstance(server, GuardedServer)
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else ""
        server.open_by_peer[self._peer] += 1
        too_many = len(server.connections) > MAX_CONNECTIONS or (
            not self._peer.startswith("127.") and self._peer != "::1"
            and server.open_by_peer[self._peer] > MAX_PER_CLIENT)
        if too_many:
            transport.close()
            return
        asyncio.get_running_loop().call_later(server.header_deadline, self._headers_due)

    def connection_lost(self, exc: BaseException | None) -> None:
        server = self._manager
        if isinstance(server, GuardedServer):
            server.open_by_peer[self._peer] -= 1
            if not server.open_by_peer[self._peer]:
                del server.open_by_peer[self._peer]
        super().connection_lost(exc)

    def _headers_due(self) -> None:
        if self._request_count == 0 and self.transport is not None:
            log.info("closed a connection from %s: no whole request in time", self._peer)
            self.force_close()
            self.transport.close()

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        answer = super().handle_error(request, status, exc, message)  # (logs it, redacted)
        phrase = HTTPStatus(answer.status).phrase
        plain = web.Response(status=answer.status, text=f"{answer.status} {phrase}: this is not a request "
                             "Scrobble Tray can read.\n", headers={"Server": "Scrobble Tray"})
        plain.force_close()
        return plain


class GuardedServer(web.Server):
    open_by_peer: Counter[str]
    header_deadline: float

    def __call__(self) -> RequestHandler:
        return GuardedHandler(self, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    header_deadline = HEADER_DEADLINE

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = GuardedServer  # aiohttp offers no other way in (tests/test_hostile.py pins it)
        assert isinstance(server, GuardedServer)
        server.open_by_peer = Counter()
        server.header_deadline = self.header_deadline
        return server


DRAIN_AT_MOST = 64 * 1024  # a refused request's unread body over this: the connection is not kept
# Seconds a refused request's unread body is still taken in (and thrown away) after the
# answer before the connection closes: closing at once on unread data resets it, and the
# client never reads its 4xx (aiohttp's own: 10 s).
LINGER = 2.0


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """No Python or aiohttp version for a scanner to look up. A refused request whose body
    is compressed, chunked, big or too slow gets ``Connection: close``: what the client
    goes on sending is thrown away unread for at most ``LINGER`` seconds, then the
    connection closes. It is never unpacked (``auto_decompress`` is off)."""
    response.headers["Server"] = "Scrobble Tray"
    if response.status >= 400 and not request.content.is_eof():
        length = request.content_length
        compressed = request.headers.get("Content-Encoding", "identity").strip().lower() != "identity"
        if response.status == 408 or compressed or length is None or length > DRAIN_AT_MOST:
            response.force_close()
            response.headers["Connection"] = "close"  # (its headers were made before this hook)
