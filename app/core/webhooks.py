"""The webhook server: ``POST /webhook/<secret>`` and nothing else.

Limits come first (secret, rate, size, content type), the bounded body is read whole and
its ``payload`` field cut out (``app.core.form``), and the 200 goes out only after the
event is committed to the inbox.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from app.core.config import Settings
from app.core.errors import AppError
from app.core.form import FormError, boundary, form_field
from app.core.payload import PayloadError, load_payload
from app.core.types import SELF_TEST_EVENT, WebhookStats
from app.core.urls import WEBHOOK_PATH

log = logging.getLogger("scrobbletray.webhooks")


class _Reject(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


SAFETY_VALVE = 6000  # authenticated requests a minute per address: far beyond any Plex server


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> float:
        """0 when allowed; otherwise the seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        rate = self.per_minute / 60.0
        tokens, stamp = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - stamp) * rate)
        if len(self._buckets) > 10_000:  # forget clients whose bucket is full again
            self._buckets = {k: v for k, v in self._buckets.items()
                             if v[0] + (now - v[1]) * rate < self.per_minute}
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0


class Backoff:
    """Failed authentication per client: ``per_minute`` tries (a :class:`RateLimiter`), then
    none for a lockout that doubles with each one in a row (1 min, 2, 4, ... at most an
    hour), forgotten after an hour without one."""

    FIRST, LONGEST, FORGET = 60.0, 3600.0, 3600.0

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.bucket = RateLimiter(per_minute, clock)
        self._clock = clock
        self._locked: dict[str, tuple[float, int]] = {}  # client: (locked until, lockouts in a row)

    @property
    def per_minute(self) -> int:
        return self.bucket.per_minute

    @per_minute.setter
    def per_minute(self, value: int) -> None:
        self.bucket.per_minute = value

    def allow(self, key: str) -> float:
        """0 when allowed; otherwise the seconds to wait."""
        now = self._clock()
        until, lockouts = self._locked.get(key, (0.0, 0))
        if now < until:
            return until - now
        if now - until > self.FORGET:
            lockouts = 0
        if not self.bucket.allow(key):
            return 0.0
        if len(self._locked) > 10_000:  # forget the clients that are free again
            self._locked = {k: v for k, v in self._locked.items() if now - v[0] <= self.FORGET}
        lock = min(self.FIRST * 2 ** lockouts, self.LONGEST)
        self._locked[key] = (now + lock, lockouts + 1)
        log.warning("%s gave a wrong webhook secret too often: refused for %.0f s", key, lock)
        return lock


class ListenError(AppError, OSError):
    """The webhook server cannot listen: a sentence naming the port or host, and the fix."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}. {fix}", fix)

    @classmethod
    def of(cls, exc: OSError, host: str, port: int) -> "ListenError":
        if exc.errno == errno.EADDRINUSE:
            return cls(f"Port {port} is in use by another program (another Scrobble Tray?)",
                       "Quit it, or choose another port in Settings (or 'serve --port N')")
        if exc.errno == errno.EACCES:
            return cls(f"Port {port} needs administrator rights", "Choose a port above 1024 in Settings")
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            return cls(f"Cannot listen on {host}: it is not an address of this computer",
                       "Use 127.0.0.1 (this computer) or 0.0.0.0 (the local network)")
        return cls(f"Cannot listen on {host}:{port}: {exc.strerror or exc}", "See the log file")


REFUSED_WORDS = {403: "wrong secret", 429: "too many wrong secrets", 400: "malformed", 413: "too large",
                 415: "not a Plex webhook's type", 405: "wrong method", 408: "too slow",
                 503: "not saved (database unavailable)"}


@dataclass
class ServerStats:
    """What the server saw, for diagnostics."""

    accepted: int = 0
    rejected: dict[int, int] = field(default_factory=dict)
    last_webhook_at: datetime | None = None
    last_source: str | None = None
    last_server: str | None = None  # the Plex server's name from the last payload
    last_user_agent: str | None = None

    def snapshot(self) -> WebhookStats:
        by_why: dict[str, int] = {}
        for status, n in self.rejected.items():
            why = REFUSED_WORDS.get(status, f"HTTP {status}")
            by_why[why] = by_why.get(why, 0) + n
        refused = tuple(sorted(by_why.items(), key=lambda item: (-item[1], item[0])))
        return WebhookStats(self.accepted, sum(self.rejected.values()), self.last_webhook_at,
                            self.last_source, self.last_server, refused)


def _bound_port(site: web.TCPSite) -> int:
    """The port a started site listens on (aiohttp only exposes it on the server)."""
    return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


Store = Callable[[str, str | None], Awaitable[int]]


HEADER_DEADLINE = 10.0  # seconds for a connection (new, or idle after a request) to send a request's headers
BODY_DEADLINE = 30.0  # seconds for a webhook's body, once its headers are in
STORE_DEADLINE = 8.0  # seconds to commit it; beyond that, a 503 (it may still land: no loss)
MAX_CONNECTIONS = 1024  # open at once, in all
MAX_PER_CLIENT = 64  # open at once from one address (loopback excepted: the tunnel's)


class _QuietErrors(RequestHandler):
    """aiohttp's request handler, with deadlines and caps it lacks: a connection that has
    not sent a whole request's headers within ``HEADER_DEADLINE`` is closed (a slow client
    holds nothing), and one over ``MAX_CONNECTIONS`` (or ``MAX_PER_CLIENT`` from one
    address not on loopback, where the tunnel's connections come from) is refused. Its
    answer to a request it cannot parse echoes nothing back (the request line holds the
    webhook secret) and names no aiohttp version."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        server = self._manager
        assert isinstance(server, _Server)
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
        if isinstance(server, _Server):
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


class _Server(web.Server):
    open_by_peer: Counter[str]
    header_deadline: float

    def __call__(self) -> RequestHandler:
        return _QuietErrors(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    header_deadline = HEADER_DEADLINE

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # aiohttp offers no other way in (tests/test_hostile.py pins it)
        assert isinstance(server, _Server)
        server.open_by_peer = Counter()
        server.header_deadline = self.header_deadline
        return server


DRAIN_AT_MOST = 64 * 1024  # a refused request's unread body over this: the connection is not kept
# Seconds a refused request's unread body is still taken in (and thrown away) after the
# answer before the connection closes: closing at once on unread data resets it, and the
# client never reads its 4xx (aiohttp's own: 10 s).
LINGER = 2.0


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
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


class WebhookServer:
    """The aiohttp application and its listening sites."""

    def __init__(self, settings: Settings, secret: Callable[[], str], store: Store) -> None:
        self.settings = settings
        self._secret = secret
        self._store = store
        self.stats = ServerStats()
        self.limiter = Backoff(settings.rate_limit_per_minute)  # failed authentication only
        self.valve = RateLimiter(SAFETY_VALVE)  # a runaway sender with the right secret
        self._runner: _Runner | None = None
        self._forwarded_ports: set[int] = set()
        self.port: int | None = None
        self.host: str | None = None
        self.app = web.Application(client_max_size=settings.max_body_bytes)
        self.app.router.add_route("*", WEBHOOK_PATH, self._handle)
        self.app.on_response_prepare.append(_on_prepare)

    # -- lifecycle -----------------------------------------------------------------
    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 picks a free port); returns the port."""
        # auto_decompress=False: aiohttp unpacks a compressed body as it arrives, before any
        # handler could refuse it (a 256 KB gzip bomb to a wrong secret stalled every webhook
        # for 0.5 s; four, for 2 s). Plex never compresses: such a body is refused (415).
        # An idle kept-alive connection has as long as a new one to send a whole request's
        # headers (aiohttp's own keep-alive: an hour).
        self._runner = _Runner(self.app, access_log=None, handle_signals=False, auto_decompress=False,
                               keepalive_timeout=_Runner.header_deadline, lingering_time=LINGER)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ListenError.of(exc, host, port) from None
        self.host, self.port = host, _bound_port(site)
        return self.port

    async def add_forwarded_site(self) -> int:
        """A loopback port for the tunnel, where ``X-Forwarded-For`` names the client."""
        assert self._runner is not None
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = _bound_port(site)
        self._forwarded_ports.add(port)
        return port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._forwarded_ports.clear()

    # -- the handler ---------------------------------------------------------------
    def client_address(self, request: web.Request) -> str:
        """The client: ngrok's forwarded address on the tunnel port only, else the peer."""
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        if sock and sock[1] in self._forwarded_ports:
            # ngrok appends the address it saw; anything before it came from the client.
            forwarded = request.headers.get("X-Forwarded-For", "")
            last = forwarded.split(",")[-1].strip()
            if last:
                return last[:100]
        return request.remote or "unknown"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        source = self.client_address(request)
        try:
            # Plex never retries: a request with the right secret is never refused by our
            # own limit. Guessing the secret is what is limited, per client address.
            if not hmac.compare_digest(request.match_info["secret"].encode(), self._secret().encode()):
                if wait := self.limiter.allow(source):
                    raise _Reject(429, f"too many refused requests; try again in {wait:.0f} s")
                raise _Reject(403, "unknown webhook secret: copy the URL again from Scrobble Tray")
            if self.valve.allow(source):
                log.error("%s sent more than %d webhooks in a minute with the right secret: refusing "
                          "the excess (a runaway sender?)", source, SAFETY_VALVE)
                raise _Reject(429, "far too many webhooks; try again in a minute")
            if request.method in ("GET", "HEAD"):
                return web.Response(text="Scrobble Tray is listening. Paste this URL into "
                                         "Plex: Settings > Webhooks.\n")
            if request.method != "POST":
                raise _Reject(405, "webhooks are sent with POST")
            payload = await self._read_payload(request)
            data = load_payload(payload)  # the full parse is the pipeline's
        except _Reject as exc:
            return self._reject(request, source, exc.status, exc.message)
        except PayloadError as exc:
            return self._reject(request, source, 400, str(exc))

        try:
            # Given up waiting, the row still lands with its group's commit (the inbox only
            # skips answering it): a 503 may be a duplicate, never a loss.
            async with asyncio.timeout(STORE_DEADLINE):
                event_id = await self._store(payload, source)
        except Exception as exc:  # locked, full, gone: never a 200 for what is not on disk
            why = "it took too long (the database is busy)" if isinstance(exc, TimeoutError) else str(exc)
            log.error("could not store a webhook from %s: %s", source, why)
            response = self._reject(request, source, 503, "Scrobble Tray could not save this webhook: "
                                    "its database is unavailable; see the app's status")
            response.headers["Retry-After"] = "30"
            return response
        log.debug("webhook %s stored as #%d (from %s)", data["event"], event_id, source)
        stats = self.stats
        stats.accepted += 1
        if data["event"] != SELF_TEST_EVENT:  # diagnostics' own request says nothing about Plex
            server = data.get("Server")
            title = server.get("title") if isinstance(server, dict) else None
            stats.last_webhook_at = datetime.now(timezone.utc)
            stats.last_source = source
            stats.last_server = title[:200] if isinstance(title, str) else None
            stats.last_user_agent = request.headers.get("User-Agent", "")[:200]
        return web.Response(text=f'{{"ok": true, "id": {event_id}}}', content_type="application/json")

    def _reject(self, request: web.Request, source: str, status: int, message: str) -> web.Response:
        self.stats.rejected[status] = self.stats.rejected.get(status, 0) + 1
        # The path holds the secret: log the method and outcome, never the path.
        log.warning("rejected %s webhook from %s: %d %s", request.method, source, status, message)
        headers = {"Allow": "GET, HEAD, POST"} if status == 405 else {}
        if status == 429:
            headers["Retry-After"] = "60"
        return web.Response(status=status, text=message + "\n", headers=headers)

    async def _read_payload(self, request: web.Request) -> str:
        s = self.settings
        if request.content_length is not None and request.content_length > s.max_body_bytes:
            raise _Reject(413, f"body too large (limit {s.max_body_bytes} bytes)")
        # Not request.content_type: aiohttp parses it with the email package, which cost a
        # fifth of the handler's time under load.
        content_type = request.headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
            raise _Reject(415, "expected multipart/form-data with a 'payload' field")
        if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
            raise _Reject(415, "compressed bodies are not accepted (Plex does not compress webhooks)")
        try:
            async with asyncio.timeout(BODY_DEADLINE):
                body = await request.read()  # at most client_max_size, chunked or not
        except web.HTTPRequestEntityTooLarge:
            raise _Reject(413, f"body too large (limit {s.max_body_bytes} bytes)") from None
        except TimeoutError:
            raise _Reject(408, f"the body did not arrive within {BODY_DEADLINE:g} s") from None
        try:
            payload = form_field(body, boundary(content_type), "payload", s.max_parts, s.max_payload_bytes)
        except FormError as exc:
            raise _Reject(exc.status, str(exc)) from None
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            raise _Reject(400, "payload is not UTF-8 text") from None
