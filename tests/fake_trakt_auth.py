"""Trakt's OAuth host, as the stand-in serves it (``tests/fake_trakt.py`` is the API host
and names the sources): the device flow and the token exchange.

- ``POST /oauth/device/code {client_id}`` → 200 ``device_code, user_code,
  verification_url, expires_in, interval``.
- ``POST /oauth/device/token {code, client_id, client_secret}`` → 200 the token; 400
  pending; 404 invalid code; 409 already used; 410 expired; 418 denied; 429 polled faster
  than ``interval`` (contract ``oauth/index.ts``, "Status Codes").
- ``POST /oauth/token {grant_type: refresh_token, refresh_token, client_id, client_secret,
  redirect_uri}`` → 200 a new pair. "Refresh tokens are single-use. Each successful refresh
  returns a new refresh_token and invalidates the previous one"; a refused exchange is
  "a 400 response with an OAuth error and description" (``invalid_grant``). The stand-in
  also ends the old access token (the contract does not say it lives on).
- ``POST /oauth/revoke {token, client_id, client_secret}`` → 200.

A wrong client id or secret answers 401 ``invalid_client`` (not in the contract: the
stand-in's choice). Access tokens expire ``token_lifetime`` seconds after they are issued.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fake_online import read_json

VERIFICATION_URL = "https://auth.trakt.tv/activate"  # the contract's activation page


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    expires_at: float  # time.monotonic()
    state: str = "pending"  # pending / approved / denied / used / expired
    last_poll: float | None = None


@dataclass
class Grant:
    access_token: str
    refresh_token: str
    expires_at: float  # time.monotonic()
    valid: bool = True

    def alive(self) -> bool:
        return self.valid and time.monotonic() < self.expires_at


def _seconds(value: float) -> float:
    """Whole seconds, as the contract has them (``int``), unless a test asked for less."""
    return int(value) if value >= 1 else value


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


class TraktOAuth:
    """The OAuth half of :class:`tests.fake_trakt.FakeTrakt` (a mixin: it sets the fields)."""

    client_id: str
    client_secret: str
    token_lifetime: float
    device_expires_in: float
    interval: float  # advertised in the device code answer
    min_poll: float  # what is enforced (429 under it): the interval unless a test asks for slower
    refreshes: int
    on_refresh: Callable[[], None] | None  # called once a refresh has spent the old pair
    codes: dict[str, DeviceCode]  # by device_code
    grants: dict[str, Grant]  # by access token
    _refresh: dict[str, Grant]  # by refresh token, only the usable ones

    def auth_routes(self, app: web.Application) -> None:
        app.router.add_post("/oauth/device/code", self._device_code)
        app.router.add_post("/oauth/device/token", self._device_token)
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/oauth/revoke", self._revoke)

    # -- test hooks ----------------------------------------------------------------------
    def _by_user_code(self, user_code: str) -> DeviceCode:
        for code in self.codes.values():
            if code.user_code == user_code:
                return code
        raise KeyError(user_code)

    def approve(self, user_code: str) -> None:
        """The user entered the code on trakt.tv and allowed the app."""
        self._by_user_code(user_code).state = "approved"

    def deny(self, user_code: str) -> None:
        self._by_user_code(user_code).state = "denied"

    def expire(self, user_code: str) -> None:
        self._by_user_code(user_code).state = "expired"

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is past its lifetime (refresh tokens still work)."""
        for grant in self.grants.values():
            grant.expires_at = time.monotonic()

    def issue(self) -> Grant:
        """A new token pair (as an approved device code or a refresh gets)."""
        grant = Grant(secrets.token_hex(32), secrets.token_hex(32), time.monotonic() + self.token_lifetime)
        self.grants[grant.access_token] = grant
        self._refresh[grant.refresh_token] = grant
        return grant

    def _token_body(self, grant: Grant) -> dict[str, Any]:
        return {"access_token": grant.access_token, "token_type": "bearer", "expires_in": _seconds(self.token_lifetime),
                "refresh_token": grant.refresh_token, "scope": "public", "created_at": int(time.time())}

    def _client_ok(self, body: Any, secret: bool = True) -> bool:
        return (isinstance(body, dict) and body.get("client_id") == self.client_id
                and (not secret or body.get("client_secret") == self.client_secret))

    # -- the endpoints ---------------------------------------------------------------------
    async def _device_code(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not self._client_ok(body, secret=False):
            return web.json_response({"error": "invalid API key or unapproved app"}, status=403)
        code = DeviceCode(secrets.token_hex(32), secrets.token_hex(4).upper(),
                          time.monotonic() + self.device_expires_in)
        self.codes[code.device_code] = code
        return web.json_response({"device_code": code.device_code, "user_code": code.user_code,
                                  "verification_url": VERIFICATION_URL, "expires_in": _seconds(self.device_expires_in),
                                  "interval": self.interval})

    async def _device_token(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not self._client_ok(body):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        code = self.codes.get(str(body.get("code")))
        if code is None:
            return web.json_response(status=404)
        now = time.monotonic()
        too_fast = code.last_poll is not None and now - code.last_poll < self.min_poll - 0.002
        code.last_poll = now
        if too_fast:
            return web.json_response(status=429)
        if code.state == "expired" or (now >= code.expires_at and code.state != "used"):
            code.state = "expired"
            return web.json_response(status=410)
        if code.state == "denied":
            return web.json_response(status=418)
        if code.state == "used":
            return web.json_response(status=409)
        if code.state == "approved":
            code.state = "used"
            return web.json_response(self._token_body(self.issue()))
        return web.json_response(status=400)  # pending

    async def _token(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not self._client_ok(body):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        if not body.get("redirect_uri"):
            return _oauth_error(400, "invalid_request", "The request is missing a required parameter: redirect_uri.")
        if body.get("grant_type") != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type", "The stand-in exchanges refresh tokens only.")
        grant = self._refresh.pop(str(body.get("refresh_token")), None)
        if grant is None:
            return _oauth_error(400, "invalid_grant", "The provided authorization grant is invalid, expired, "
                                "revoked, does not match the redirection URI used in the authorization request, "
                                "or was issued to another client.")
        grant.valid = False
        self.refreshes += 1
        answer = web.json_response(self._token_body(self.issue()))
        if self.on_refresh is not None:  # (a test's: e.g. the client dies before the answer reaches it)
            self.on_refresh()
        return answer

    async def _revoke(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not self._client_ok(body):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        grant = self.grants.get(str(body.get("token")))
        if grant is not None:
            grant.valid = False
            self._refresh.pop(grant.refresh_token, None)
        return web.json_response({})
