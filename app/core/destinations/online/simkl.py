"""Simkl as a destination, and its kind: sign-in by PIN (no client secret; the token does
not expire), paced, and backing off on its limits (403, 412, 429).

The contract: Simkl's API (``SIMKL/API``; ../shared/TRACKERS.md section 4). The host can
be pointed elsewhere with ``SCROBBLETRAY_SIMKL_API_URL`` (tests' stand-ins).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, ClassVar

from app import __version__
from app.core.destinations.base import Attempt, Context, Field, Kind, Option, Target, Verdict
from app.core.destinations.online.apps import carried
from app.core.destinations.online.destination import OnlineTracker, SignedOut
from app.core.destinations.online.http import Answer
from app.core.destinations.online.items import Play, parse_stamp, stamp
from app.core.destinations.online.signin import simkl_api_url, simkl_sign_in
from app.core.destinations.online.target import SimklTarget
from app.core.errors import SettingsInvalid

APPS_URL = "https://simkl.com/settings/developer/"


class SimklTracker(OnlineTracker):
    """One Simkl account."""

    kind: ClassVar[str] = "simkl"
    service: ClassVar[str] = "Simkl"
    min_interval: float = 1.05  # Simkl publishes no figure: about one a second (5 % for jitter)

    def __init__(self, target: SimklTarget, context: Context) -> None:
        super().__init__(target, context, SIMKL.default_label(target))
        self.client_id = target.client_id or carried("simkl", "client_id") or ""

    def api_url(self) -> str:
        return simkl_api_url()

    def headers(self, token: str | None) -> dict[str, str]:
        return {"Content-Type": "application/json", "simkl-api-key": self.client_id,
                **({"Authorization": f"Bearer {token}"} if token else {})}

    def params(self) -> dict[str, str] | None:
        return {"client_id": self.client_id, "app-name": "scrobbletray", "app-version": __version__}

    def limit(self, answer: Answer) -> Attempt | None:
        if answer.status in (403, 412):  # its API limits (429 is documented as coming)
            return Attempt(Verdict.RETRY, f"Simkl's limit is reached ({answer.said()})", answer.status,
                           fix="Nothing to do: sending slows down and goes on later.", answer=answer.said(),
                           limited=True)
        return None

    async def in_history(self, item: Play) -> bool:
        at = parse_stamp(item.watched_at)
        assert at is not None
        kind = "movies" if item.movie else "shows"
        # date_from is when Simkl last changed an item: any recording of this play came after it was watched.
        answer = await self.authorised("GET", f"/sync/all-items/{kind}", params={
            "date_from": stamp(at - timedelta(minutes=1)), "extended": "full", "episode_watched_at": "yes"})
        if answer.status != 200:
            raise RuntimeError(f"its history could not be read ({answer.said()})")
        return any(item.matches(entry) for entry in _entries(answer.body, kind))

    async def whoami(self, token: str) -> str:
        answer = await self.api("POST", "/users/settings", token)
        if answer.status == 401:
            raise SignedOut(f"Simkl refused the sign-in ({answer.said()})")
        user = answer.body.get("user") if isinstance(answer.body, dict) else None
        if answer.status != 200 or not isinstance(user, dict):
            raise RuntimeError(f"Simkl: {answer.said()}")
        return str(user.get("name") or "?")


def _entries(body: Any, kind: str) -> list[dict[str, Any]]:
    """Simkl's all-items answer as history entries, one per watched episode or movie (the
    shape :meth:`Play.matches` reads)."""
    items = body.get(kind) if isinstance(body, dict) else None
    out: list[dict[str, Any]] = []
    for it in items if isinstance(items, list) else ():
        if not isinstance(it, dict):
            continue
        if kind == "movies":
            out.append({"watched_at": it.get("last_watched_at"), "movie": it.get("movie")})
            continue
        for season in it.get("seasons") or ():
            episodes = (season.get("episodes") or ()) if isinstance(season, dict) else ()
            out.extend({"watched_at": e.get("watched_at"), "show": it.get("show"),
                        "episode": {"season": season.get("number"), "number": e.get("number")}}
                       for e in episodes if isinstance(e, dict))
    return out


class SimklKind(Kind):
    """Simkl accounts."""

    name = "simkl"
    label = "Simkl account"
    settings_key = "simkl"
    target = SimklTarget
    add_help = "mark plays in a Simkl account's history (then: destinations login ID)"
    url_help = ""
    takes_url = False
    signs_in = True
    fields = (Field("client_id", "--client-id", f"your Simkl app's client id ({APPS_URL})",
                    required=carried("simkl", "client_id") is None),)
    options = (Option("live", "--live", "also show what is playing now on Simkl (default: history only)",
                      "shows what is playing now", "history only"),)

    def url_problem(self, url: str) -> str | None:
        return None

    def new_target(self, id: str, url: str, label: str = "", **options: Any) -> tuple[Target, dict[str, str | None]]:
        client_id = str(options.pop("client_id", "") or "").strip()
        if not client_id and carried("simkl", "client_id") is None:
            raise SettingsInvalid([f"Simkl needs your app's client id (make one at {APPS_URL})"])
        return SimklTarget(id, client_id=client_id, label=label.strip(), live=bool(options.get("live"))), {}

    def secrets(self, target: Any) -> list[str]:
        return [target.tokens_key]

    def default_label(self, target: Any) -> str:
        return f"Simkl ({target.account})" if target.account else "Simkl"

    def shown_url(self, target: Any) -> str:
        return str(target.shown)

    def sends(self, target: Any) -> str:
        return str(target.sends)

    def build(self, target: Any, context: Context) -> SimklTracker:
        return SimklTracker(target, context)

    async def sign_in(self, target: Any, context: Context, on_prompt: Any, cancel: Any = None) -> str:
        tracker = await asyncio.to_thread(SimklTracker, target, context)  # (reads the keyring)
        try:
            if not tracker.client_id:
                raise SettingsInvalid([f"{target.id} has no client id: add it again with one"])
            tokens = await simkl_sign_in(tracker.client_id, on_prompt, cancel, session=tracker.session())
            return await tracker.adopt(tokens)
        finally:
            await tracker.close()


SIMKL = SimklKind()
