"""The webhook server: ``POST /webhook/<secret>`` and nothing else.

Limits come first (secret, rate, size, content type), the bounded body is read whole and
its ``payload`` field cut out (``app.core.form``), and the 200 goes out only after the
event is committed to the inbox. The limits per client are :mod:`app.core.webhook_limits`;
the guards on connections (deadlines, caps, quiet errors) :mod:`app.core.webhook_connections`.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from app.core.config import Settings
from app.core.errors import AppError
from app.core.form import FormError, boundary, form_field
from app.core.payload import PayloadError, load_payload
from app.core.types import SELF_TEST_EVENT, WebhookStats
from app.core.urls import WEBHOOK_PATH
from app.core.webhook_connections import LINGER, GuardedRunner, bound_port, on_prepare
from app.core.webhook_limits import SAFETY_VALVE, Backoff, RateLimiter

log = logging.getLogger("scrobbletray.webhooks")


class _Reject(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ListenError(AppError, OSError):
    """The webhook server cannot listen: a sentence naming the port or host, and the fix."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}. {fix}", fix)

    @classmethod
    def of(cls, exc: OSError, host: str, port: int) -> ListenError:
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


Store = Callable[[str, str | None], Awaitable[int]]

BODY_DEADLINE = 30.0  # seconds for a webhook's body, once its headers are in
STORE_DEADLINE = 8.0  # seconds to commit it; beyond that, a 503 (it may still land: no loss)


class WebhookServer:
    """The aiohttp application and its listening sites."""

    def __init__(self, settings: Settings, secret: Callable[[], str], store: Store) -> None:
        self.settings = settings
        self._secret = secret
        self._store = store
        self.stats = ServerStats()
        self.limiter = Backoff(settings.rate_limit_per_minute)  # failed authentication only
        self.valve = RateLimiter(SAFETY_VALVE)  # a runaway sender with the right secret
        self._runner: GuardedRunner | None = None
        self._forwarded_ports: set[int] = set()
        self.port: int | None = None
        self.host: str | None = None
        self.app = web.Application(client_max_size=settings.max_body_bytes)
        self.app.router.add_route("*", WEBHOOK_PATH, self._handle)
        self.app.on_response_prepare.append(on_prepare)

    # -- lifecycle -----------------------------------------------------------------
    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 picks a free port); returns the port."""
        # auto_decompress=False: aiohttp unpacks a compressed body as it arrives, before any
        # handler could refuse it (a 256 KB gzip bomb to a wrong secret stalled every webhook
        # for 0.5 s; four, for 2 s). Plex never compresses: such a body is refused (415).
        # An idle kept-alive connection has as long as a new one to send a whole request's
        # headers (aiohttp's own keep-alive: an hour).
        self._runner = GuardedRunner(self.app, access_log=None, handle_signals=False, auto_decompress=False,
                                     keepalive_timeout=GuardedRunner.header_deadline, lingering_time=LINGER)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ListenError.of(exc, host, port) from None
        self.host, self.port = host, bound_port(site)
        return self.port

    async def add_forwarded_site(self) -> int:
        """A loopback port for the tunnel, where ``X-Forwarded-For`` names the client."""
        assert self._runner is not None
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = bound_port(site)
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
            stats.last_webhook_at = datetime.now(UTC)
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
