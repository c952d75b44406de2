"""Trakt as a destination, and its kind: device sign-in, a token renewed before it expires
(a refresh token is single-use: the new pair is kept before it is used), at most one POST a
second, 420 (an account limit) said in words, never retried in a loop.

The contract: Trakt's API (``trakt/trakt-api``; ../shared/TRACKERS.md section 4). The
hosts can be pointed elsewhere with ``SCROBBLETRAY_TRAKT_API_URL`` and
``SCROBBLETRAY_TRAKT_AUTH_URL`` (tests' stand-ins).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, ClassVar

from app.core.destinations.base import Attempt, Context, Field, Kind, Option, Target, Verdict
from app.core.destinations.online.apps import carried
from app.core.destinations.online.destination import OnlineTracker, SignedOut
from app.core.destinations.online.http import Answer, Unreachable
from app.core.destinations.online.items import Play, parse_stamp, stamp
from app.core.destinations.online.signin import (
    SignInFailed,
    Tokens,
    trakt_api_url,
    trakt_refresh,
    trakt_sign_in,
)
from app.core.destinations.online.target import TraktTarget
from app.core.errors import SettingsInvalid
from app.core.logs import add_secret

APPS_URL = "https://trakt.tv/oauth/applications"


class TraktTracker(OnlineTracker):
    """One Trakt account."""

    kind: ClassVar[str] = "trakt"
    service: ClassVar[str] = "Trakt"
    min_interval: float = 1.2  # Trakt: at most one POST, PUT or DELETE a second (arrivals jitter)

    def __init__(self, target: TraktTarget, context: Context) -> None:
        super().__init__(target, context, TRAKT.default_label(target))
        self.client_id = target.client_id or carried("trakt", "client_id") or ""
        self.client_secret = (context.secret(target.secret_key) if target.client_id else None) \
            or carried("trakt", "client_secret") or ""
        add_secret(self.client_secret)
        self._renewing = asyncio.Lock()

    def api_url(self) -> str:
        return trakt_api_url()

    def headers(self, token: str | None) -> dict[str, str]:
        return {"Content-Type": "application/json", "trakt-api-version": "2", "trakt-api-key": self.client_id,
                **({"Authorization": f"Bearer {token}"} if token else {})}

    async def refreshed(self, tokens: Tokens) -> Tokens | None:
        async with self._renewing:
            if self.tokens is not None and self.tokens.access_token != tokens.access_token:
                return self.tokens  # (renewed meanwhile, by the call beside this one)
            if not tokens.refresh_token:
                return None
            try:
                new = await trakt_refresh(self.client_id, self.client_secret, tokens.refresh_token,
                                          session=self.session())
            except SignInFailed as exc:
                if exc.reason == "network":
                    raise Unreachable(f"renewing the sign-in: {exc}", maybe_arrived=False) from None
                return None
            return new

    def limit(self, answer: Answer) -> Attempt | None:
        if answer.status == 420:
            return Attempt(Verdict.REFUSED, f"the Trakt account's limit is reached ({answer.said()}): a free "
                           "account may keep only so many items", 420, outcome="account_limit", answer=answer.said(),
                           fix="Trakt VIP lifts the limit (or remove items on trakt.tv); then press Retry.")
        if answer.status == 403:
            return Attempt(Verdict.REFUSED, f"Trakt refused the API app ({answer.said()})", 403,
                           fix=f"Check the client id (and secret) of your app at {APPS_URL}.", answer=answer.said())
        if answer.status in (423, 426):
            return Attempt(Verdict.REFUSED, f"Trakt refused the account ({answer.said()}: "
                           + ("locked" if answer.status == 423 else "a VIP account is needed") + ")",
                           answer.status, fix="See your account on trakt.tv.", answer=answer.said())
        return None

    async def in_history(self, item: Play) -> bool:
        at = parse_stamp(item.watched_at)
        assert at is not None
        kind = "movies" if item.movie else "episodes"
        answer = await self.authorised("GET", f"/sync/history/{kind}", params={
            "start_at": stamp(at - timedelta(seconds=1)), "end_at": stamp(at + timedelta(seconds=1)), "limit": "100"})
        if answer.status != 200 or not isinstance(answer.body, list):
            raise RuntimeError(f"its history could not be read ({answer.said()})")
        return any(item.matches(entry) for entry in answer.body)

    async def whoami(self, token: str) -> str:
        answer = await self.api("GET", "/users/settings", token)
        if answer.status == 401:
            raise SignedOut(f"Trakt refused the sign-in ({answer.said()})")
        user = answer.body.get("user") if isinstance(answer.body, dict) else None
        if answer.status != 200 or not isinstance(user, dict):
            raise RuntimeError(f"Trakt: {answer.said()}")
        return str(user.get("username") or user.get("name") or "?")


class TraktKind(Kind):
    """Trakt accounts."""

    name = "trakt"
    label = "Trakt account"
    settings_key = "trakt"
    target = TraktTarget
    add_help = "mark plays in a Trakt account's history (then: destinations login ID)"
    url_help = ""
    takes_url = False
    signs_in = True
    fields = (Field("client_id", "--client-id", f"your Trakt API app's client id ({APPS_URL}; since July 2026 "
                    "making an app needs Trakt VIP, and a free account may connect one app)",
                    required=carried("trakt", "client_id") is None),
              Field("client_secret", "--client-secret", "its client secret", secret=True,
                    required=carried("trakt", "client_secret") is None))
    options = (Option("live", "--no-live", "do not show what is playing now on Trakt (default: shown)",
                      "shows what is playing now", "history only", default=True),)

    def url_problem(self, url: str) -> str | None:
        return None

    def new_target(self, id: str, url: str, label: str = "", **options: Any) -> tuple[Target, dict[str, str | None]]:
        client_id = str(options.pop("client_id", "") or "").strip()
        secret = str(options.pop("client_secret", "") or "").strip()
        if not client_id and carried("trakt", "client_id") is None:
            raise SettingsInvalid([f"Trakt needs your API app's client id and secret (make one at {APPS_URL})"])
        if client_id and not secret:
            raise SettingsInvalid(["Trakt needs the client secret of that app too"])
        target = TraktTarget(id, client_id=client_id, label=label.strip(), live=bool(options.get("live", True)))
        return target, ({target.secret_key: secret} if client_id else {})

    def secrets(self, target: Any) -> list[str]:
        return [target.tokens_key, target.secret_key]

    def default_label(self, target: Any) -> str:
        return f"Trakt ({target.account})" if target.account else "Trakt"

    def shown_url(self, target: Any) -> str:
        return str(target.shown)

    def sends(self, target: Any) -> str:
        return str(target.sends)

    def build(self, target: Any, context: Context) -> TraktTracker:
        return TraktTracker(target, context)

    async def sign_in(self, target: Any, context: Context, on_prompt: Any, cancel: Any = None) -> str:
        tracker = await asyncio.to_thread(TraktTracker, target, context)  # (reads the keyring)
        try:
            if not tracker.client_id or not tracker.client_secret:
                raise SettingsInvalid([f"{target.id} has no client id and secret: add it again with them"])
            tokens = await trakt_sign_in(tracker.client_id, tracker.client_secret, on_prompt, cancel,
                                         session=tracker.session())
            return await tracker.adopt(tokens)
        finally:
            await tracker.close()


TRAKT = TraktKind()
