"""Stand-ins for Ryot, CrossWatch and goplaxt: the self-hosted trackers that read Plex's
webhook from the raw body (a regex) or from any of several encodings. See
:mod:`tests.fake_selfhosted` for what every stand-in does and keeps."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from tests.fake_selfhosted import Recorded, SelfHosted, form_field, guid_ids

PLAYBACK = ("media.scrobble", "media.play", "media.pause", "media.resume", "media.stop")
CROSSWATCH_ACTIONS = {"media.play": "start", "media.resume": "start", "media.pause": "pause",
                      "media.stop": "stop", "media.scrobble": "stop"}
TRAKT_ACTIONS = {"media.play": ("start", 0), "media.pause": ("stop", 0), "media.resume": ("start", 0),
                 "media.stop": ("stop", 0), "media.scrobble": ("stop", 90)}  # goplaxt's getAction


class Ryot(SelfHosted):
    """Ryot's Plex sink, from IgnisDa/ryot at commit 9c37d60b2da20fb5707ebcd07859f0ea485d5c5a:
    ``ci/Caddyfile`` (``/_i/*`` rewritten to ``/webhooks/integrations/*``),
    ``apps/backend/src/common.rs``, ``crates/resolvers/router/src/lib.rs``
    (``integration_webhook_handler``), ``crates/services/integration/src/webhook_handler.rs``
    and ``.../sink/plex.rs``.

    ``POST /_i/<slug>``: the body must be UTF-8 (axum's ``String``: else 400); every request
    is queued and answered 202 ``Webhook queued for processing``, a wrong slug too. The job
    then: no such integration: an error nobody sees; the JSON cut out of the body by
    ``\\{.*\\}`` (no newlines) and read strictly (``user``, ``owner``, ``event``,
    ``Account.title``, ``Metadata.duration``, ``type``, ``Guid``), else the integration's last
    trigger shows the error; a Plex user name set on it must equal ``Account.title``;
    play, pause, resume, stop and scrobble only; a tmdb id; an episode's show must already
    be in Ryot; progress ``viewOffset / duration * 100`` (a scrobble without one: 100).
    """

    routes = (("POST", "/_i/{slug}"),)

    def __init__(self, slug: str = "ry" * 12, plex_user: str | None = None,
                 shows: tuple[str, ...] = ("Breaking Bad",)) -> None:
        super().__init__()
        self.slug = slug
        self.plex_user = plex_user
        self.shows = set(shows)
        self.progress: list[Recorded] = []
        self.last_trigger: tuple[float, str | None] | None = None  # (when, error): Ryot's integration page
        self.unseen_errors: list[str] = []  # job errors for no integration (in its log only)

    def url(self, slug: str | None = None) -> str:
        return f"http://{self.host}:{self.port}/_i/{slug or self.slug}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.Response(status=400, text="Failed to buffer the request body: invalid utf-8")
        if request.match_info["slug"] != self.slug:
            self.unseen_errors.append("Integration does not exist")
        else:
            error = self._sink(body)
            if error is not False:
                self.last_trigger = (time.time(), error)
        return web.Response(status=202, text="Webhook queued for processing")

    def _sink(self, body: str) -> str | bool | None:
        """The job: an error (str), a progress recorded (None), or nothing to do (False)."""
        found = re.search(r"\{.*\}", body)
        try:
            hook = self.read(found.group(0) if found else "")
            meta = hook["Metadata"]
            for need in (hook["user"], hook["owner"], hook["event"], hook["Account"]["title"],
                         meta["duration"], meta["type"], meta["Guid"]):
                assert need is not None
        except (ValueError, KeyError, TypeError, AssertionError):
            return "Error during JSON payload deserialization"
        if self.plex_user and self.plex_user.strip() != hook["Account"]["title"]:
            return False
        if hook["event"] not in PLAYBACK:
            return False
        if "tmdb" not in guid_ids(meta):
            return "No TMDb ID associated with this media"
        if meta["type"] == "episode" and meta.get("grandparentTitle") not in self.shows:
            return "Show not found"
        if meta["type"] not in ("movie", "episode"):
            return "Only movies and shows supported"
        if meta.get("viewOffset") is not None:
            progress = meta["viewOffset"] / meta["duration"] * 100
        elif hook["event"] == "media.scrobble":
            progress = 100
        else:
            return "No position associated with this media"
        self.progress.append(Recorded(hook["event"], meta["type"], {"progress": progress}))
        return None


class CrossWatch(SelfHosted):
    """CrossWatch's Plex webhook, from cenodude/CrossWatch at commit
    8c64973cbb09bfae040cf5026fccf17eabe95bba: ``api/scrobbleAPI.py`` (``webhook_trakt``,
    ``_resolve_media_webhook_request``, ``_extract_url_token``), ``crosswatch.py`` (the
    ``WebhookAuthError`` handler), ``api/scrobblerManagementAPI.py`` (the URL it shows) and
    ``providers/webhooks/plex.py`` (``process_webhook``).

    ``POST /webhook/plex?profile=<token>`` (or the legacy ``/webhook/plextrakt?<token>``):
    a wrong profile token is 200 ``{"ok": true, "ignored": true, "error": "invalid_profile"}``
    (so are a profile's settings that turn it off), a wrong legacy token 401
    ``{"detail": "invalid_webhook_token"}``. Reads multipart, urlencoded or JSON (a body it
    cannot read: 200 ``{"ok": true}``). A Plex webhook secret set in it wants
    ``X-Plex-Signature`` (none: ``{"ok": false}``); a user name list keeps others' plays
    out; movies and episodes only; play, pause, resume, stop, scrobble (to its sinks) and
    rate; the same event of a session within 1 s is a ``dedup``.
    """

    routes = (("POST", "/webhook/plex"), ("POST", "/webhook/plextrakt"))

    def __init__(self, profile: str = "cw" * 16, legacy: str = "cwlegacy" * 4, gate: str | None = None,
                 usernames: tuple[str, ...] = (), webhook_secret: str = "") -> None:
        super().__init__()
        self.profile, self.legacy, self.gate = profile, legacy, gate  # gate: e.g. "no_destinations"
        self.usernames, self.webhook_secret = set(usernames), webhook_secret
        self.scrobbles: list[Recorded] = []
        self._last: dict[str, tuple[str, float]] = {}

    def url(self, profile: str | None = None) -> str:
        return f"http://{self.host}:{self.port}/webhook/plex?profile={profile or self.profile}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        params = {k.lower(): v[0].strip() for k, v in parse_qs(request.query_string, keep_blank_values=True).items()}
        if "profile" in params:
            if not params["profile"] or params["profile"] != self.profile:
                return web.json_response({"ok": True, "ignored": True, "error": "invalid_profile"})
        else:
            q = request.query_string.strip()
            token = q if q and "&" not in q and "=" not in q else next(
                (params[k] for k in ("token", "id", "secret", "uid") if params.get(k)), "")
            if token != self.legacy:
                return web.json_response({"detail": "invalid_webhook_token"}, status=401)
        if self.gate:
            return web.json_response({"ok": True, "ignored": True, "error": self.gate})
        try:
            if request.content_type.startswith("multipart/"):
                text = await form_field(request, "payload")
                if text is None:
                    raise ValueError("multipart: no 'payload' part")
            elif request.content_type == "application/x-www-form-urlencoded":
                text = parse_qs((await request.read()).decode("utf-8", "replace"))["payload"][0]
            else:
                text = (await request.read()).decode("utf-8", "replace") or "{}"
            payload = self.read(text)
        except (ValueError, KeyError):
            return web.json_response({"ok": True})
        return web.json_response({"ok": True, **{k: v for k, v in self._process(request, payload).items()
                                                 if k != "error"}})

    def _process(self, request: web.Request, payload: dict[str, Any]) -> dict[str, Any]:
        if self.webhook_secret and not request.headers.get("X-Plex-Signature"):
            return {"ok": False, "error": "invalid_signature"}
        account = ((payload.get("Account") or {}).get("title") or "").strip()
        if self.usernames and account not in self.usernames:
            return {"ok": True, "ignored": True}
        md = payload.get("Metadata") or {}
        event, media = (payload.get("event") or "").lower(), (md.get("type") or "").lower()
        if media not in (("movie", "show", "episode") if event == "media.rate" else ("movie", "episode")):
            return {"ok": True, "ignored": True}
        if event == "media.rate":
            self.scrobbles.append(Recorded(event, media, {"rating": md.get("userRating")}))
            return {"ok": True, "action": "rating", "media_type": media}
        if event not in CROSSWATCH_ACTIONS:
            return {"ok": True, "ignored": True}
        session = f"{account}|{md.get('ratingKey')}"
        last = self._last.get(session)
        if last and last[0] == event and time.monotonic() - last[1] < 1.0:
            return {"ok": True, "dedup": True}
        self._last[session] = (event, time.monotonic())
        self.scrobbles.append(Recorded(event, media, {"action": CROSSWATCH_ACTIONS[event]}))
        return {"ok": True, "action": CROSSWATCH_ACTIONS[event], "status": 201}


class Goplaxt(SelfHosted):
    """goplaxt's webhook, from XanderStrike/goplaxt at commit
    1607349dea8ce7fb3b8e7ccfb0370d8103d31d61: ``main.go`` (``api``) and ``lib/trakt/main.go``
    (``Handle``, ``getAction``).

    ``POST /api?id=<id>``: 404 ``"user not found"`` for an id it does not know; 401
    ``"fail"`` when renewing the user's Trakt sign-in fails (and the user is deleted). The
    JSON is cut out of the raw body by ``({.*})`` (no newlines); a body without one makes
    the handler panic (the connection is dropped). A play counts only when the lower-cased
    ``Account.title`` equals the user name; ``librarySectionType`` show or movie goes to
    Trakt as start (play, resume), stop (pause, stop) or stop at 90 % (scrobble). 200
    ``"success"`` otherwise.
    """

    routes = (("POST", "/api"),)

    def __init__(self, user_id: str = "0b5e4c7a-3f1d-4e2b-8a9c-6d7e8f901234", username: str = "homeowner",
                 expired: bool = False) -> None:
        super().__init__()
        self.users = {user_id: username}
        self.user_id, self.expired = user_id, expired
        self.to_trakt: list[Recorded] = []

    def url(self, user_id: str | None = None) -> str:
        return f"http://{self.host}:{self.port}/api?id={user_id or self.user_id}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ids = request.query.getall("id", [])
        if not ids:
            return self._panic(request)
        username = self.users.get(ids[0])
        if username is None:
            return web.Response(status=404, text='"user not found"\n', content_type="application/json")
        if self.expired:
            del self.users[ids[0]]
            return web.Response(status=401, text='"fail"\n', content_type="application/json")
        match = re.search(r"\{.*\}", (await request.read()).decode("utf-8", "replace"))
        if match is None:
            return self._panic(request)
        try:
            hook = self.read(match.group(0))
        except ValueError:
            return self._panic(request)
        if str((hook.get("Account") or {}).get("title", "")).lower() == username:
            meta = hook.get("Metadata") or {}
            if meta.get("librarySectionType") in ("show", "movie"):
                action, progress = TRAKT_ACTIONS.get(hook.get("event"), ("", 0))
                self.to_trakt.append(Recorded(hook.get("event", ""), meta.get("type"),
                                              {"action": action, "progress": progress}))
        return web.Response(status=200, text='"success"\n', content_type="application/json")

    def _panic(self, request: web.Request) -> web.StreamResponse:
        """Go's net/http recovers the handler's panic by closing the connection unanswered."""
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)

