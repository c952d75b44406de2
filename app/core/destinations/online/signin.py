"""Signing in to Trakt (device code) and Simkl (PIN), and refreshing Trakt's token.

Both flows show the user a short code and a web page, then poll until the user approves
there, declines, the code expires, or the app cancels. Sources: Trakt's contract
``trakt/trakt-api`` (``projects/api/src/contracts/oauth/``, commit 586224bf, 2026-07-30:
device code/token with 400 pending, 404 invalid, 409 used, 410 expired, 418 denied,
429 slow down; single-use refresh tokens; OAuth on ``https://auth.trakt.tv``) and Simkl's
``SIMKL/API`` ``apiary.apib`` ("Authentication - PIN", commit a1cabfd7, 2026-03-19).

Secrets (the client secret, device codes, tokens) are registered with
:func:`app.core.logs.add_secret` as soon as they are known, and no message here ever
carries one: a :class:`Tokens` prints its tokens masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from app.core.destinations.online.http import USER_AGENT, Answer, Unreachable, call, session_for
from app.core.errors import AppError
from app.core.lazy import lazy
from app.core.logs import add_secret

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy("aiohttp")  # (loaded when first used: see app.core.lazy)

log = logging.getLogger(__name__)

OOB_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"  # the redirect of an app without a web page
REASONS = frozenset({"expired", "denied", "cancelled", "used", "invalid", "limit", "network", "refused"})
T = TypeVar("T")


def trakt_api_url() -> str:
    return os.environ.get("SCROBBLETRAY_TRAKT_API_URL", "https://api.trakt.tv").rstrip("/")


def trakt_auth_url() -> str:
    """Trakt's OAuth host: "Use the https://auth.trakt.tv hostname for all OAuth requests"."""
    return os.environ.get("SCROBBLETRAY_TRAKT_AUTH_URL", "https://auth.trakt.tv").rstrip("/")


def simkl_api_url() -> str:
    return os.environ.get("SCROBBLETRAY_SIMKL_API_URL", "https://api.simkl.com").rstrip("/")


@dataclass(frozen=True)
class Prompt:
    """What the user must do: open ``verification_url`` and enter ``user_code``."""

    user_code: str
    verification_url: str
    expires_at: float  # epoch seconds
    interval: float  # seconds between polls


@dataclass(frozen=True)
class Tokens:
    """A signed-in account's tokens; ``expires_at`` (epoch seconds) is None when they never expire."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Tokens:
        """The tokens :meth:`to_json` wrote; ValueError (naming no secret) for anything else."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError("the stored sign-in is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
            raise ValueError("the stored sign-in has no access token")
        refresh, expires = data.get("refresh_token"), data.get("expires_at")
        if refresh is not None and not isinstance(refresh, str):
            raise ValueError("the stored sign-in's refresh token is not text")
        if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int | float)):
            raise ValueError("the stored sign-in's expiry is not a number")
        for secret in (data["access_token"], refresh):
            add_secret(secret)
        return cls(data["access_token"], refresh, None if expires is None else float(expires))

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """Whether the access token has expired, or will within ``seconds``."""
        return self.expires_at is not None and (time.time() if now is None else now) + seconds >= self.expires_at


class SignInFailed(AppError):
    """Signing in (or refreshing) did not work; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str, fix: str | None = None) -> None:
        assert reason in REASONS, reason
        super().__init__(message, fix)
        self.reason = reason


async def _unless_cancelled(work: Awaitable[T], cancel: asyncio.Event | None, service: str) -> T:
    """``work``'s result, or SignInFailed("cancelled") as soon as ``cancel`` is set."""
    if cancel is None:
        return await work
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if task.cancelled():
        raise SignInFailed("cancelled", f"Signing in to {service} was cancelled.")
    return task.result()


def _slower(interval: float) -> float:
    """The poll interval after a "slow down": 1 to 5 s longer (RFC 8628 says 5)."""
    return interval + min(5.0, max(1.0, interval))


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else default


async def _poll(service: str, prompt: Prompt, deadline: float, cancel: asyncio.Event | None,
                check: Callable[[], Awaitable[Tokens | bool | None]]) -> Tokens:
    """Calls ``check`` every ``prompt.interval`` seconds until it gives tokens; ``True``
    from it means "slow down", ``None`` pending. Stops at ``deadline`` (monotonic) or on
    ``cancel``; a service that cannot be reached is tried again until the deadline."""
    interval, unreachable = prompt.interval, ""
    while True:
        wait = min(interval, deadline - time.monotonic())
        if wait > 0:
            if cancel is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cancel.wait(), wait)
            else:
                await asyncio.sleep(wait)
        if cancel is not None and cancel.is_set():
            raise SignInFailed("cancelled", f"Signing in to {service} was cancelled.")
        if time.monotonic() >= deadline:
            if unreachable:
                raise SignInFailed("network", f"Could not finish signing in to {service}: {unreachable}.",
                                   "Check the connection, then start again.")
            raise SignInFailed("expired", f"The {service} code {prompt.user_code} expired before it was approved.",
                               "Start again, and enter the new code in time.")
        try:
            result = await _unless_cancelled(check(), cancel, service)
        except Unreachable as exc:
            unreachable = str(exc)
            continue
        unreachable = ""
        if isinstance(result, Tokens):
            return result
        if result is True:
            interval = _slower(interval)
            log.info("%s asked to poll slower: every %.1f s now", service, interval)


def _network(service: str, exc: Unreachable) -> SignInFailed:
    return SignInFailed("network", f"Could not reach {service}: {exc}.",
                        "Check the connection; this can be retried.")


def _refused_status(service: str, answer: Answer) -> SignInFailed:
    if answer.status == 429:
        wait = answer.headers.get("Retry-After")
        return SignInFailed("limit", f"{service} is limiting requests right now.",
                            f"Try again in {wait} s." if wait else "Try again in a few minutes.")
    if answer.status >= 500:
        return SignInFailed("network", f"{service} is not working right now (HTTP {answer.status}).",
                            "This can be retried in a few minutes.")
    return SignInFailed("refused", f"{service} refused the app's client id (HTTP {answer.status}).",
                        f"Check the client id (and secret) of your {service} app.")


# -- Trakt ---------------------------------------------------------------------------------
def _trakt_headers(client_id: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "trakt-api-version": "2", "trakt-api-key": client_id,
            "User-Agent": USER_AGENT}


def _trakt_tokens(body: Any) -> Tokens:
    """The token answer (``access_token, token_type, expires_in, refresh_token, scope,
    created_at``) as :class:`Tokens`; the expiry counts from now on this machine's clock."""
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise Unreachable("Trakt answered without a token")
    access, refresh = body["access_token"], body.get("refresh_token")
    add_secret(access)
    add_secret(refresh if isinstance(refresh, str) else None)
    # Without a usable expires_in, a day: an early refresh costs nothing, a late one a sign-in.
    expires_at = time.time() + _number(body.get("expires_in"), 86400)
    return Tokens(access, refresh if isinstance(refresh, str) else None, expires_at)


_TRAKT_POLL_FAILS = {
    404: ("invalid", "Trakt does not know this sign-in code.", "Start the sign-in again."),
    409: ("used", "This Trakt code was already used.", "Start the sign-in again for a new code."),
    410: ("expired", "The Trakt code expired before it was approved.", "Start again, and enter the new code in time."),
    418: ("denied", "You declined the request on trakt.tv.", "Start again and choose Allow on trakt.tv."),
    420: ("limit", "Your Trakt account has reached its limit of connected apps (a free account may connect one).",
          "Disconnect another app on trakt.tv, or use Trakt VIP, then start again."),
}


async def trakt_sign_in(client_id: str, client_secret: str, on_prompt: Callable[[Prompt], None],
                        cancel: asyncio.Event | None = None, *, session: aiohttp.ClientSession | None = None) -> Tokens:
    """Signs in with Trakt's device flow: ``on_prompt`` is called once with the code to show."""
    add_secret(client_secret)
    headers = _trakt_headers(client_id)
    async with session_for(session) as http:
        try:
            answer = await _unless_cancelled(call(http, "POST", f"{trakt_auth_url()}/oauth/device/code", headers,
                                                   {"client_id": client_id}), cancel, "Trakt")
        except Unreachable as exc:
            raise _network("Trakt", exc) from None
        body = answer.body
        if answer.status != 200 or not isinstance(body, dict) or not all(
                isinstance(body.get(k), str) for k in ("device_code", "user_code", "verification_url")):
            if answer.status == 200:
                raise SignInFailed("network", "Trakt answered the sign-in request with something unexpected.",
                                   "This can be retried.")
            raise _refused_status("Trakt", answer)
        device_code = body["device_code"]
        add_secret(device_code)
        expires_in = _number(body.get("expires_in"), 600)
        prompt = Prompt(body["user_code"], body["verification_url"], time.time() + expires_in,
                        _number(body.get("interval"), 5))
        deadline = time.monotonic() + expires_in
        on_prompt(prompt)
        form = {"code": device_code, "client_id": client_id, "client_secret": client_secret}

        async def check() -> Tokens | bool | None:
            got = await call(http, "POST", f"{trakt_auth_url()}/oauth/device/token", headers, form)
            if got.status == 200:
                return _trakt_tokens(got.body)
            if got.status == 400:
                return None
            if got.status == 429:
                return True
            if got.status in _TRAKT_POLL_FAILS:
                raise SignInFailed(*_TRAKT_POLL_FAILS[got.status])
            if got.status >= 500:
                raise Unreachable(f"Trakt answered HTTP {got.status}")
            raise SignInFailed("refused", f"Trakt refused the app's client id or secret (HTTP {got.status}).",
                               "Check the client id and secret of your Trakt app.")

        return await _poll("Trakt", prompt, deadline, cancel, check)


async def trakt_refresh(client_id: str, client_secret: str, refresh_token: str, *,
                        session: aiohttp.ClientSession | None = None) -> Tokens:
    """A new token pair for ``refresh_token`` (single-use: store the new pair before using it)."""
    add_secret(client_secret)
    add_secret(refresh_token)
    form = {"refresh_token": refresh_token, "client_id": client_id, "client_secret": client_secret,
            "redirect_uri": OOB_REDIRECT, "grant_type": "refresh_token"}
    async with session_for(session) as http:
        try:
            answer = await call(http, "POST", f"{trakt_auth_url()}/oauth/token", _trakt_headers(client_id), form)
            if answer.status == 200:
                return _trakt_tokens(answer.body)
        except Unreachable as exc:
            raise SignInFailed("network", f"Could not refresh the Trakt sign-in: {exc}.",
                               "This can be retried; the sign-in is kept.") from None
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    if answer.status in (400, 401, 403) and error != "invalid_client":
        raise SignInFailed("refused", "Trakt no longer accepts this sign-in.", "Sign in to Trakt again.")
    if answer.status in (400, 401, 403):
        raise SignInFailed("refused", "Trakt refused the app's client id or secret.",
                           "Check the client id and secret of your Trakt app, then sign in again.")
    if answer.status == 429:
        raise SignInFailed("limit", "Trakt is limiting requests; the sign-in could not be refreshed yet.",
                           "This is retried later; the sign-in is kept.")
    raise SignInFailed("network", f"Trakt could not refresh the sign-in (HTTP {answer.status}).",
                       "This can be retried; the sign-in is kept.")


async def trakt_revoke(client_id: str, client_secret: str, access_token: str, *,
                       session: aiohttp.ClientSession | None = None) -> None:
    """Ends ``access_token`` on Trakt (signing out); the app's own sign-out stands either way."""
    add_secret(client_secret)
    add_secret(access_token)
    form = {"token": access_token, "client_id": client_id, "client_secret": client_secret}
    async with session_for(session) as http:
        try:
            answer = await call(http, "POST", f"{trakt_auth_url()}/oauth/revoke", _trakt_headers(client_id), form)
        except Unreachable as exc:
            raise SignInFailed("network", f"Could not tell Trakt to end the sign-in: {exc}.",
                               "Remove the app at trakt.tv (Settings, Connected apps) if it should end there too.",
                               ) from None
    if answer.status != 200:
        raise SignInFailed("refused" if answer.status < 500 else "network",
                           f"Trakt did not end the sign-in (HTTP {answer.status}).",
                           "Remove the app at trakt.tv (Settings, Connected apps) if it should end there too.")


# -- Simkl ---------------------------------------------------------------------------------
def _simkl_headers(client_id: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "simkl-api-key": client_id, "User-Agent": USER_AGENT}


async def simkl_sign_in(client_id: str, on_prompt: Callable[[Prompt], None], cancel: asyncio.Event | None = None,
                        *, session: aiohttp.ClientSession | None = None) -> Tokens:
    """Signs in with Simkl's PIN flow (no client secret; the token never expires)."""
    headers, query = _simkl_headers(client_id), f"client_id={quote(client_id, safe='')}"
    async with session_for(session) as http:
        try:
            answer = await _unless_cancelled(call(http, "GET", f"{simkl_api_url()}/oauth/pin?{query}", headers),
                                             cancel, "Simkl")
        except Unreachable as exc:
            raise _network("Simkl", exc) from None
        body = answer.body
        if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("user_code"), str):
            if answer.status == 200:
                raise SignInFailed("network", "Simkl answered the sign-in request with something unexpected.",
                                   "This can be retried.")
            raise _refused_status("Simkl", answer)
        user_code = body["user_code"]
        expires_in = _number(body.get("expires_in"), 900)
        prompt = Prompt(user_code, str(body.get("verification_url") or "https://simkl.com/pin/"),
                        time.time() + expires_in, _number(body.get("interval"), 5))
        deadline = time.monotonic() + expires_in
        on_prompt(prompt)
        url = f"{simkl_api_url()}/oauth/pin/{quote(user_code, safe='')}?{query}"

        async def check() -> Tokens | bool | None:
            got = await call(http, "GET", url, headers)
            reply = got.body if isinstance(got.body, dict) else {}
            if got.status == 200 and reply.get("result") == "OK" and isinstance(reply.get("access_token"), str):
                add_secret(reply["access_token"])
                return Tokens(reply["access_token"])
            if got.status == 200:
                return True if str(reply.get("message", "")).lower() == "slow down" else None
            if got.status == 404:
                raise SignInFailed("invalid", "Simkl does not know this PIN.", "Start the sign-in again.")
            if got.status in (403, 412, 429):
                return True  # refused "due to API limits": poll slower
            if got.status >= 500:
                raise Unreachable(f"Simkl answered HTTP {got.status}")
            raise SignInFailed("refused", f"Simkl refused the app's client id (HTTP {got.status}).",
                               "Check the Simkl client id.")

        return await _poll("Simkl", prompt, deadline, cancel, check)
